/** `invoke.policy.simulate`: what the policy would decide for an action, with the rules and reasons. Nothing is executed. */
import { Type } from "@sinclair/typebox";
import { defineTool } from "./tool.ts";

/** The action an agent intends, shared by simulate and preflight. */
export const IntendedActionInput = {
  agent_id: Type.String({ minLength: 1, maxLength: 200, description: "The agent that would act, e.g. finance_agent." }),
  action: Type.String({ minLength: 1, maxLength: 200, description: "The production tool, e.g. database.execute." }),
  params: Type.Record(Type.String(), Type.Unknown(), { description: "The tool's arguments, e.g. {\"sql\": \"…\"}." }),
};

/** A matched rule in an answer. */
export const MatchedRuleOutput = Type.Object({
  id: Type.String(),
  effect: Type.Union([Type.Literal("allow"), Type.Literal("deny"), Type.Literal("require_approval")]),
  reason: Type.String(),
});

const SimulateOutput = Type.Object({
  decision: Type.Union([Type.Literal("allow"), Type.Literal("deny"), Type.Literal("require_approval")]),
  matched_rules: Type.Array(MatchedRuleOutput),
  reasons: Type.Array(Type.String()),
  approvals_required: Type.Integer({ minimum: 0 }),
  analysis: Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()), { description: "What the analysers found, e.g. analysis.sql.kind." }),
  policy_version: Type.Integer({ minimum: 0, description: "0 is the built-in default pack." }),
  defaulted: Type.Boolean({ description: "True when no rule matched and the policy's default decided." }),
});

export const policySimulateTool = defineTool({
  name: "invoke.policy.simulate",
  title: "Simulate policy",
  description:
    "Ask what Invoke's policy would decide for an action before taking it: allow, deny or require_approval, with the matched rules, the reasons and the analysis (e.g. parsed SQL). Uses the same evaluator as enforcement; nothing is executed.",
  scope: "policy:simulate",
  readOnly: true,
  touchesCompanyData: false,
  input: Type.Object(
    {
      ...IntendedActionInput,
      policy_version: Type.Optional(Type.Integer({ minimum: 0, description: "Simulate against this version (e.g. a draft) instead of the active one." })),
    },
    { additionalProperties: false },
  ),
  output: SimulateOutput,
  uses: ["calls"],
  handler: ({ agent_id, action, params, policy_version }, { caller, calls }) =>
    calls.ask(caller, { agentId: agent_id, action, params }, { version: policy_version }),
});
