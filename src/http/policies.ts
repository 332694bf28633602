/**
 * REST for policies (admin key; reads and simulation: scope policy:simulate): versions, check,
 * draft, publish, roll back, diff, simulate and backtest. The same service as `invoke policy` and the
 * MCP tools.
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { BadRequest } from "../errors.ts";
import { askPolicy, runBacktest } from "../policy/ask.ts";
import type { Services } from "../services.ts";
import { IntendedActionInput } from "../tools/policy-simulate.ts";
import { validBody } from "./request-body.ts";
import { json } from "./respond.ts";
import { restAccess, type AddressOf } from "./rest-access.ts";

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

/** The policy routes. */
export function policyRoutes(services: Services, addressOf: AddressOf) {
  const policy = services.policy;
  const reader = { access: "policy:simulate" } as const;
  const admin = { access: "admin" } as const;

  return new Elysia({ name: "policy-routes" })
    .use(restAccess(services, addressOf))
    .get("/v1/policies", ({ scope }) => ({ versions: policy.list(scope) }), reader)
    .get("/v1/policies/active", ({ scope }) => policy.get(scope, policy.active(scope).version), reader)
    .get("/v1/policies/diff", ({ scope, query }) => {
      const from = Number(query.from);
      const to = Number(query.to ?? policy.active(scope).version);
      if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to < 0) throw new BadRequest("from and to must be version numbers", undefined, "invalid_version");
      return { from, to, diff: policy.diff(scope, from, to) };
    }, reader)
    .get("/v1/policies/:version", ({ scope, params }) => policy.get(scope, Number(params.version)), { ...reader, params: VersionParam })
    .post("/v1/policies/check", ({ body }) => ({ valid: true, ...policy.check(validBody(SourceBody, body).source, "request body") }), reader)
    .post("/v1/policies", ({ caller, scope, body }) => {
      const input = validBody(SourceBody, body);
      const options = { comment: input.comment, by: caller.userId, file: "request body" };
      return json(input.publish ? policy.publishSource(scope, input.source, options) : policy.createDraft(scope, input.source, options), 201);
    }, admin)
    .post("/v1/policies/:version/publish", ({ caller, scope, params }) => policy.publish(scope, Number(params.version), caller.userId), { ...admin, params: VersionParam })
    .post("/v1/policies/rollback", ({ caller, scope, body }) => policy.rollback(scope, { to: body == null ? undefined : validBody(RollbackBody, body).to, by: caller.userId }), admin)
    .post("/v1/policies/simulate", ({ caller, body }) => {
      const input = validBody(SimulateBody, body);
      return askPolicy(services, caller, { agentId: input.agent_id, action: input.action, params: input.params }, input.policy_version);
    }, reader)
    .post("/v1/policies/backtest", ({ scope, body }) => {
      const input = validBody(BacktestBody, body);
      return runBacktest(services, scope, { source: input.source, file: "request body", version: input.policy_version }, input.days ?? 7);
    }, reader);
}
