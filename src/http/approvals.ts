/**
 * REST for four eyes: people list and read approval requests (scope approvals:read) and decide them
 * (an admin key: scope approvals:decide, role admin, in the request's tenant). An approval that
 * reaches its count runs before the answer, which then shows the outcome. Agents have no way to decide
 * over MCP.
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { APPROVAL_STATUSES } from "../approvals/model.ts";
import type { Services } from "../services.ts";
import { validBody } from "./request-body.ts";
import type { RestAccess } from "./request-context.ts";
import { rest, restAccess, type AddressOf } from "./rest-access.ts";

/** A vote's optional body. */
const DecisionBody = Type.Object({ comment: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false });
/** The listing's query parameters. */
const ListQuery = Type.Object({
  status: Type.Optional(Type.Union(APPROVAL_STATUSES.map((status) => Type.Literal(status)))),
  limit: Type.Optional(Type.Integer()),
  cursor: Type.Optional(Type.String({ description: "next_cursor of the previous page." })),
});

/** The approval routes. */
export function approvalRoutes(services: Services, addressOf: AddressOf) {
  const decide = async ({ caller }: RestAccess, request: Request, id: string, decision: "approve" | "reject", body: unknown) => {
    const comment = body === null ? null : (validBody(DecisionBody, body).comment ?? null);
    const { approvedNow } = await services.approvals.decide(caller.tenantId, caller, id, decision, comment, request.headers.get("user-agent")?.slice(0, 200) ?? null);
    if (approvedNow) await services.calls.runApproved(caller.tenantId, id);
    return services.approvals.get(caller.tenantId, id, caller);
  };

  return new Elysia({ name: "approval-routes" })
    .use(restAccess(services, addressOf))
    .get("/v1/approvals", ({ caller, query }) => services.approvals.list(caller.tenantId, caller, query), rest("approvals:read", { summary: "List approval requests", query: ListQuery }))
    .get("/v1/approvals/:id", ({ caller, params }) => services.approvals.get(caller.tenantId, params.id, caller), rest("approvals:read", { summary: "Show an approval request" }))
    .post(
      "/v1/approvals/:id/approve",
      ({ caller, request, params, body }) => decide({ caller }, request, params.id, "approve", body ?? null),
      rest("approvals:decide", { summary: "Approve", description: "A request that reaches its count runs before the answer, which shows the outcome.", body: DecisionBody, bodyOptional: true, mutation: false }),
    )
    .post(
      "/v1/approvals/:id/reject",
      ({ caller, request, params, body }) => decide({ caller }, request, params.id, "reject", body ?? null),
      rest("approvals:decide", { summary: "Reject", body: DecisionBody, bodyOptional: true, mutation: false }),
    );
}
