/**
 * REST for four eyes: people list and read approval requests (scope approvals:read) and decide them
 * (an admin key: scope approvals:decide, role admin, in the request's tenant). An approval that
 * reaches its count runs before the answer, which then shows the outcome. Agents have no way to decide
 * over MCP.
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { APPROVAL_STATUSES, type ApprovalStatus } from "../approvals/model.ts";
import { BadRequest } from "../errors.ts";
import { runApproved } from "../execution/approved.ts";
import type { Services } from "../services.ts";
import { restCaller, type AddressOf } from "./rest-access.ts";

const DecisionBody = Type.Optional(Type.Object({ comment: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false }));

/** The approval routes. */
export function approvalRoutes(services: Services, addressOf: AddressOf) {
  const reader = (request: Request) => restCaller(services, request, () => addressOf(request), "approvals:read");
  const decider = (request: Request) => restCaller(services, request, () => addressOf(request), "approvals:decide");

  const decide = async (request: Request, id: string, decision: "approve" | "reject", comment: string | null) => {
    const { caller, scope } = decider(request);
    const { approvedNow } = services.approvals.decide(scope, caller, id, decision, comment, request.headers.get("user-agent")?.slice(0, 200) ?? null);
    if (approvedNow) await runApproved(services, caller.tenantId, id);
    return services.approvals.get(scope, id, caller);
  };

  return new Elysia({ name: "approval-routes" })
    .get("/v1/approvals", ({ request, query }) => {
      const { caller, scope } = reader(request);
      const status = query.status as ApprovalStatus | undefined;
      if (status !== undefined && !APPROVAL_STATUSES.includes(status)) throw new BadRequest(`status must be one of ${APPROVAL_STATUSES.join(", ")}`, undefined, "invalid_status");
      const limit = query.limit === undefined ? undefined : Number(query.limit);
      if (limit !== undefined && !Number.isInteger(limit)) throw new BadRequest("limit must be an integer", undefined, "invalid_limit");
      return services.approvals.list(scope, caller, { status, limit, cursor: query.cursor });
    })
    .get("/v1/approvals/:id", ({ request, params }) => {
      const { caller, scope } = reader(request);
      return services.approvals.get(scope, params.id, caller);
    })
    .post("/v1/approvals/:id/approve", ({ request, params, body }) => decide(request, params.id, "approve", body?.comment ?? null), { body: DecisionBody })
    .post("/v1/approvals/:id/reject", ({ request, params, body }) => decide(request, params.id, "reject", body?.comment ?? null), { body: DecisionBody });
}
