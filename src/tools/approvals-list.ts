/** `invoke.approvals.list`: the tenant's approval requests, newest first — agents follow them here; only people decide them (REST/CLI). */
import { Type } from "@sinclair/typebox";
import { APPROVAL_STATUSES, ApprovalView } from "../approvals/model.ts";
import { defineTool } from "./tool.ts";

export const approvalsListTool = defineTool({
  name: "invoke.approvals.list",
  title: "List approvals",
  description:
    "List approval requests of your tenant, newest first: actions that policy sent to human (four-eyes) approval, with status (pending, executed, rejected, expired, …), votes and, once executed, the outcome. Filter by status; page with cursor. Agents cannot approve or reject.",
  scope: "approvals:read",
  readOnly: true,
  touchesCompanyData: false,
  input: Type.Object(
    {
      status: Type.Optional(Type.Union(APPROVAL_STATUSES.map((status) => Type.Literal(status)))),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
      cursor: Type.Optional(Type.String()),
    },
    { additionalProperties: false },
  ),
  output: Type.Object({ approvals: Type.Array(ApprovalView), next_cursor: Type.Optional(Type.String()) }),
  uses: ["approvals"],
  handler: (args, { caller, approvals }) => approvals.list(caller.tenantId, caller, args),
});
