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
import { json } from "./respond.ts";
import { restCaller, type AddressOf } from "./rest-access.ts";

const SourceBody = Type.Object(
  {
    source: Type.String({ minLength: 1, description: "The policy as YAML." }),
    comment: Type.Optional(Type.String({ maxLength: 500 })),
    publish: Type.Optional(Type.Boolean({ description: "Publish at once instead of storing a draft." })),
  },
  { additionalProperties: false },
);
const VersionParam = Type.Object({ version: Type.String({ pattern: "^\\d+$" }) });

/** The policy routes. */
export function policyRoutes(services: Services, addressOf: AddressOf) {
  const reader = (request: Request) => restCaller(services, request, () => addressOf(request), "policy:simulate");
  const admin = (request: Request) => restCaller(services, request, () => addressOf(request), "admin");
  const policy = services.policy;

  return new Elysia({ name: "policy-routes" })
    .get("/v1/policies", ({ request }) => ({ versions: policy.list(reader(request).scope) }))
    .get("/v1/policies/active", ({ request }) => {
      const { scope } = reader(request);
      return policy.get(scope, policy.active(scope).version);
    })
    .get("/v1/policies/diff", ({ request, query }) => {
      const { scope } = reader(request);
      const from = Number(query.from);
      const to = Number(query.to ?? policy.active(scope).version);
      if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to < 0) throw new BadRequest("from and to must be version numbers", undefined, "invalid_version");
      return { from, to, diff: policy.diff(scope, from, to) };
    })
    .get("/v1/policies/:version", ({ request, params }) => policy.get(reader(request).scope, Number(params.version)), { params: VersionParam })
    .post("/v1/policies/check", ({ request, body }) => {
      reader(request);
      return { valid: true, ...policy.check(body.source, "request body") };
    }, { body: SourceBody })
    .post("/v1/policies", ({ request, body }) => {
      const { caller, scope } = admin(request);
      const options = { comment: body.comment, by: caller.userId, file: "request body" };
      return json(body.publish ? policy.publishSource(scope, body.source, options) : policy.createDraft(scope, body.source, options), 201);
    }, { body: SourceBody })
    .post("/v1/policies/:version/publish", ({ request, params }) => {
      const { caller, scope } = admin(request);
      return policy.publish(scope, Number(params.version), caller.userId);
    }, { params: VersionParam })
    .post("/v1/policies/rollback", ({ request, body }) => {
      const { caller, scope } = admin(request);
      return policy.rollback(scope, { to: body?.to, by: caller.userId });
    }, { body: Type.Optional(Type.Object({ to: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false })) })
    .post("/v1/policies/simulate", ({ request, body }) => {
      const { caller } = reader(request);
      return askPolicy(services, caller, { agentId: body.agent_id, action: body.action, params: body.params }, body.policy_version);
    }, { body: Type.Object({ ...IntendedActionInput, policy_version: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }) })
    .post("/v1/policies/backtest", ({ request, body }) => {
      const { scope } = reader(request);
      return runBacktest(services, scope, { source: body.source, file: "request body", version: body.policy_version }, body.days ?? 7);
    }, {
      body: Type.Object(
        {
          source: Type.Optional(Type.String({ minLength: 1 })),
          policy_version: Type.Optional(Type.Integer({ minimum: 0 })),
          days: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 })),
        },
        { additionalProperties: false },
      ),
    });
}
