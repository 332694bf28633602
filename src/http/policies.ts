/**
 * REST for policies (admin key; reads and simulation: scope policy:simulate): versions, check,
 * draft, publish, roll back, diff, simulate and backtest. The same service as `invoke policy` and the
 * MCP tools.
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { runBacktest } from "../policy/run-backtest.ts";
import type { Services } from "../services.ts";
import { IntendedActionInput } from "../tools/policy-simulate.ts";
import { validBody } from "./request-body.ts";
import { json } from "./respond.ts";
import { rest, restAccess, type AddressOf } from "./rest-access.ts";

const SourceBody = Type.Object(
  {
    source: Type.String({ minLength: 1, description: "The policy as YAML." }),
    comment: Type.Optional(Type.String({ maxLength: 500 })),
    publish: Type.Optional(Type.Boolean({ description: "Publish at once instead of storing a draft." })),
  },
  { additionalProperties: false },
);
const VersionParam = Type.Object({ version: Type.String({ pattern: "^\\d+$" }) });
const RollbackBody = Type.Object({ to: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false });
const SimulateBody = Type.Object({ ...IntendedActionInput, policy_version: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false });
const BacktestBody = Type.Object(
  {
    source: Type.Optional(Type.String({ minLength: 1 })),
    policy_version: Type.Optional(Type.Integer({ minimum: 0 })),
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 })),
  },
  { additionalProperties: false },
);
const DiffQuery = Type.Object({
  from: Type.Integer({ minimum: 0 }),
  to: Type.Optional(Type.Integer({ minimum: 0, description: "Default: the active version." })),
});

/** The policy routes. */
export function policyRoutes(services: Services, addressOf: AddressOf) {
  const policy = services.policy;
  return new Elysia({ name: "policy-routes" })
    .use(restAccess(services, addressOf))
    .get("/v1/policies", async ({ caller }) => ({ versions: await policy.list(caller.tenantId) }), rest("policy:simulate", { summary: "List policy versions" }))
    .get("/v1/policies/active", async ({ caller }) => policy.get(caller.tenantId, (await policy.active(caller.tenantId)).version), rest("policy:simulate", { summary: "Show the active policy" }))
    .get("/v1/policies/diff", async ({ caller, query }) => {
      const to = query.to ?? (await policy.active(caller.tenantId)).version;
      return { from: query.from, to, diff: await policy.diff(caller.tenantId, query.from, to) };
    }, rest("policy:simulate", { summary: "Diff two policy versions", query: DiffQuery }))
    .get("/v1/policies/:version", ({ caller, params }) => policy.get(caller.tenantId, Number(params.version)), { ...rest("policy:simulate", { summary: "Show a policy version" }), params: VersionParam })
    .post(
      "/v1/policies/check",
      ({ body }) => ({ valid: true, ...policy.check(validBody(SourceBody, body).source, "request body") }),
      rest("policy:simulate", { summary: "Check a policy", description: "Validates YAML without storing it.", body: SourceBody, mutation: false }),
    )
    .post("/v1/policies", async ({ caller, body }) => {
      const input = validBody(SourceBody, body);
      const options = { comment: input.comment, by: caller.userId, file: "request body" };
      return json(await (input.publish ? policy.publishSource(caller.tenantId, input.source, options) : policy.createDraft(caller.tenantId, input.source, options)), 201);
    }, rest("admin", { summary: "Store a policy draft", description: "Or publish it at once with `publish: true`.", body: SourceBody, status: 201 }))
    .post(
      "/v1/policies/:version/publish",
      ({ caller, params }) => policy.publish(caller.tenantId, Number(params.version), caller.userId),
      { ...rest("admin", { summary: "Publish a policy version" }), params: VersionParam },
    )
    .post(
      "/v1/policies/rollback",
      ({ caller, body }) => policy.rollback(caller.tenantId, { to: body == null ? undefined : validBody(RollbackBody, body).to, by: caller.userId }),
      rest("admin", { summary: "Roll back the active policy", description: "To `to`, else to the previous version.", body: RollbackBody, bodyOptional: true }),
    )
    .post("/v1/policies/simulate", ({ caller, body }) => {
      const input = validBody(SimulateBody, body);
      return services.calls.ask(caller, { agentId: input.agent_id, action: input.action, params: input.params }, { version: input.policy_version });
    }, rest("policy:simulate", { summary: "Simulate a decision", description: "What the policy would decide for an intended action.", body: SimulateBody, mutation: false }))
    .post("/v1/policies/backtest", ({ caller, body }) => {
      const input = validBody(BacktestBody, body);
      return runBacktest(services, caller.tenantId, { source: input.source, file: "request body", version: input.policy_version }, input.days ?? 7);
    }, rest("policy:simulate", { summary: "Backtest a policy", description: "Replays recorded calls of the last `days` against a source or version.", body: BacktestBody, mutation: false }));
}
