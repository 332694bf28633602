/** The shapes of approval requests as people and agents see them: one TypeBox schema for REST, the MCP tools and the types. */
import { Type, type Static } from "@sinclair/typebox";

export const APPROVAL_STATUSES = ["pending", "approved", "executing", "executed", "failed", "rejected", "expired", "withdrawn"] as const;
/** Where a request is. `executing` is held by the one process that runs the approved action; `withdrawn`: by its requester, before a decision. */
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

const Iso = Type.String({ description: "ISO 8601" });

export const VoteView = Type.Object({
  user_id: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  decision: Type.Union([Type.Literal("approve"), Type.Literal("reject")]),
  comment: Type.Union([Type.String(), Type.Null()]),
  at: Iso,
});
export type VoteView = Static<typeof VoteView>;

export const ApprovalView = Type.Object({
  id: Type.String(),
  status: Type.Union(APPROVAL_STATUSES.map((status) => Type.Literal(status))),
  tool: Type.String(),
  arguments: Type.Unknown({ description: "The action's arguments; secrets redacted for everyone but approvers." }),
  arguments_redacted: Type.Boolean(),
  agent_id: Type.String(),
  client_name: Type.Union([Type.String(), Type.Null()]),
  requested_by: Type.String({ description: "The requesting user's id." }),
  policy_version: Type.Integer(),
  matched_rules: Type.Array(Type.Object({ id: Type.String(), effect: Type.String(), reason: Type.String() })),
  approvals_required: Type.Integer(),
  approver_groups: Type.Array(Type.String(), { description: "Groups every approver must belong to (members since before the request); empty: any approver." }),
  approvals: Type.Integer({ description: "Distinct approvals so far." }),
  votes: Type.Array(VoteView),
  created_at: Iso,
  expires_at: Iso,
  decided_at: Type.Union([Iso, Type.Null()]),
  outcome: Type.Optional(Type.Unknown({ description: "The tool's result, once executed." })),
  error: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export type ApprovalView = Static<typeof ApprovalView>;
