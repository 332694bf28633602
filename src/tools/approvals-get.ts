/** `invoke.approvals.get`: one approval request — how an agent polls the action it was told is pending. */
import { Type } from "@sinclair/typebox";
import { ApprovalView } from "../approvals/model.ts";
import { defineTool } from "./tool.ts";

export const approvalsGetTool = defineTool({
  name: "invoke.approvals.get",
  title: "Get an approval",
  description:
    "Show one approval request by id (the approval_id a pending_approval result gave you): its status, the votes so far and how many are needed, when it expires, and after execution the tool's outcome.",
  scope: "approvals:read",
  readOnly: true,
  touchesCompanyData: false,
  input: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
  output: ApprovalView,
  uses: ["approvals"],
  handler: (args, { caller, approvals }) => approvals.get(caller.tenantId, args.id, caller),
});
