/**
 * `invoke.preflight.run`: a checklist for an intended action — credential and scope, the tool and its
 * connector, the arguments, the policy decision, rate-limit headroom, approvals — and an overall
 * verdict. Every check uses the mechanism enforcement uses; nothing is executed.
 */
import { Type } from "@sinclair/typebox";
import { authorizeTool } from "../governance/authorize.ts";
import { unknownTool } from "./model.ts";
import { IntendedActionInput } from "./policy-simulate.ts";
import { defineTool } from "./tool.ts";

const Status = Type.Union([Type.Literal("pass"), Type.Literal("warn"), Type.Literal("fail")]);

const PreflightOutput = Type.Object({
  verdict: Type.Union([Type.Literal("ready"), Type.Literal("needs_approval"), Type.Literal("blocked")]),
  checks: Type.Array(Type.Object({ check: Type.String(), status: Status, detail: Type.String() })),
  decision: Type.Union([Type.Literal("allow"), Type.Literal("deny"), Type.Literal("require_approval")]),
  approvals_required: Type.Integer({ minimum: 0 }),
  policy_version: Type.Integer({ minimum: 0 }),
});
type Check = { check: string; status: "pass" | "warn" | "fail"; detail: string };

export const preflightRunTool = defineTool({
  name: "invoke.preflight.run",
  title: "Preflight an action",
  description:
    "Check an intended action before taking it: whether your key may call the tool, whether the tool exists and its connector is healthy, whether the arguments are valid, what the policy decides, your rate-limit headroom, and whether approval is needed. Answers ready, needs_approval or blocked. Nothing is executed.",
  scope: "policy:simulate",
  readOnly: true,
  touchesCompanyData: false,
  input: Type.Object(IntendedActionInput, { additionalProperties: false }),
  output: PreflightOutput,
  uses: ["calls", "catalog", "gate"],
  handler: async ({ agent_id, action, params }, { caller, calls, catalog, gate }) => {
    const checks: Check[] = [];
    const tool = catalog.resolve(caller.tenantId, action);

    // The call path's own steps: authorise (an unknown name as the production tool it would be), validate, ask policy.
    const refusal = authorizeTool(caller, tool ?? unknownTool(action));
    checks.push(
      refusal
        ? { check: "credential", status: "fail", detail: `Your key may not call ${action}: ${refusal.message} (rule ${refusal.rule}).` }
        : { check: "credential", status: "pass", detail: `Your ${caller.profile} key (${caller.role}) may call ${action}.` },
    );

    if (tool && !tool.governed) checks.push({ check: "tool", status: "pass", detail: `${action} is one of Invoke's own tools.` });
    else if (!tool) checks.push({ check: "tool", status: "fail", detail: `No production tool named ${action} is configured for this tenant.` });
    else if (!tool.healthy) checks.push({ check: "tool", status: "fail", detail: `${action} exists but its connector ${tool.connector} is not healthy.` });
    else checks.push({ check: "tool", status: "pass", detail: `${action} exists and its connector ${tool.connector} is healthy.` });

    const argumentErrors = tool && calls.argumentErrors(tool, params);
    if (argumentErrors === undefined) {
      checks.push({ check: "arguments", status: "warn", detail: "The tool's input schema is unknown, so the arguments could not be checked." });
    } else {
      const errors = argumentErrors.map((error) => `${error.path}: ${error.message}`);
      checks.push(errors.length ? { check: "arguments", status: "fail", detail: `Invalid arguments: ${errors.join("; ")}` } : { check: "arguments", status: "pass", detail: "The arguments match the tool's schema." });
    }

    const answer = await calls.ask(caller, { agentId: agent_id, action, params });
    const why = answer.reasons.join(" ");
    checks.push(
      answer.decision === "deny"
        ? { check: "policy", status: "fail", detail: `Denied by policy version ${answer.policy_version}: ${why}` }
        : answer.decision === "require_approval"
          ? { check: "policy", status: "warn", detail: `Policy version ${answer.policy_version} requires approval: ${why}` }
          : { check: "policy", status: "pass", detail: `Allowed by policy version ${answer.policy_version}: ${why}` },
    );

    const headroom = gate.headroom(caller);
    checks.push(
      headroom.remaining === 0
        ? { check: "rate_limit", status: "fail", detail: `No requests left in the current ${headroom.window_seconds} s window.` }
        : headroom.remaining < headroom.limit / 10
          ? { check: "rate_limit", status: "warn", detail: `Only ${headroom.remaining} of ${headroom.limit} requests left in the window.` }
          : { check: "rate_limit", status: "pass", detail: `${headroom.remaining} of ${headroom.limit} requests left in the window.` },
    );

    checks.push(
      answer.decision === "require_approval"
        ? { check: "approval", status: "warn", detail: `Needs ${answer.approvals_required} approval${answer.approvals_required === 1 ? "" : "s"} from distinct people before it runs.` }
        : { check: "approval", status: "pass", detail: "No approval needed." },
    );

    const verdict: "ready" | "needs_approval" | "blocked" = checks.some((check) => check.status === "fail") ? "blocked" : answer.decision === "require_approval" ? "needs_approval" : "ready";
    return { verdict, checks, decision: answer.decision, approvals_required: answer.approvals_required, policy_version: answer.policy_version };
  },
});

