/**
 * `invoke approvals …`: people decide approval requests on the local database (air-gapped sites).
 * The voter is a user of the tenant named by `--as`; the four-eyes rules are the service's, exactly
 * as over REST. An approval that reaches its count is run by the server (its sweeper picks it up).
 */
import { APPROVAL_STATUSES, type ApprovalStatus, type ApprovalView } from "../approvals/model.ts";
import type { Caller } from "../governance/caller.ts";
import { findUser } from "../governance/directory.ts";
import { ROLE_CEILINGS } from "../governance/profiles.ts";
import type { TenantScope } from "../storage/tenant-scope.ts";
import { UsageError, type Command } from "./command.ts";
import { dbFlag, jsonFlag, output, tenantFlag, withServices } from "./shared.ts";

const SUBCOMMANDS = ["list", "show", "approve", "reject"];

/** The person acting: a user of the tenant, with what their role allows. */
function person(scope: TenantScope, idOrEmail: string | undefined, tenantName: string): Caller {
  if (!idOrEmail) throw new UsageError("approve and reject need --as USER (the deciding person's email or id)");
  const user = findUser(scope, idOrEmail);
  return {
    tenantId: scope.tenantId,
    tenantName,
    userId: user.id,
    email: user.email,
    role: user.role,
    // No API key acts on the CLI: records show key "cli" for votes cast there.
    keyId: "cli",
    keyName: "cli",
    profile: "cli",
    expiresAt: null,
    scopes: ROLE_CEILINGS[user.role],
    allowedTools: [],
    readOnly: false,
  };
}

function summary(approval: ApprovalView): string {
  return `${approval.id}  ${approval.status.padEnd(9)}  ${approval.tool}  ${approval.approvals}/${approval.approvals_required} approvals  agent ${approval.agent_id}  expires ${approval.expires_at}`;
}

export const approvalsCommand: Command = {
  name: "approvals",
  summary: "List, show, approve and reject approval requests (four eyes).",
  args: `<${SUBCOMMANDS.join("|")}> [ID]`,
  flags: {
    db: dbFlag,
    tenant: tenantFlag,
    as: { type: "string", env: "INVOKE_AS", value: "USER", help: "The deciding person: email or user id (approve, reject). Needs the approver role (admin)." },
    comment: { type: "string", value: "TEXT", help: "Why (approve, reject)." },
    status: { type: "string", value: "STATUS", help: `Filter (list): ${APPROVAL_STATUSES.join(", ")}.` },
    json: jsonFlag,
  },
  details: [
    "  invoke approvals list [--status pending]",
    "  invoke approvals show ID",
    "  invoke approvals approve ID --as EMAIL [--comment TEXT]   the requester can never approve its own request",
    "  invoke approvals reject ID --as EMAIL [--comment TEXT]    one rejection is final",
  ].join("\n"),
  async run(values, positionals) {
    const [sub, id] = positionals;
    if (sub === undefined || !SUBCOMMANDS.includes(sub)) throw new UsageError(`expected one of: ${SUBCOMMANDS.join(", ")}`);
    if (sub !== "list" && !id) throw new UsageError(`${sub} needs an approval ID`);
    const status = values.status as ApprovalStatus | undefined;
    if (status !== undefined && !APPROVAL_STATUSES.includes(status)) throw new UsageError(`--status must be one of ${APPROVAL_STATUSES.join(", ")}`);
    const admin = { role: "admin" as const, scopes: ROLE_CEILINGS.admin };
    switch (sub) {
      case "list":
        return withServices(values, (services, scope) => {
          const page = services.approvals.list(scope, admin, { status, limit: 200 });
          return output(values, page, page.approvals.length === 0 ? "No approval requests." : page.approvals.map(summary).join("\n"));
        });
      case "show":
        return withServices(values, (services, scope) => {
          const approval = services.approvals.get(scope, id!, admin);
          return output(values, approval, JSON.stringify(approval, null, 2));
        });
      default: {
        const decision = sub === "approve" ? "approve" : "reject";
        const result = await withServices(values, (services, scope) => {
          const voter = person(scope, values.as as string | undefined, values.tenant as string);
          return services.approvals.decide(scope, voter, id!, decision, (values.comment as string | undefined) ?? null, "invoke approvals (cli)");
        });
        const next = result.approvedNow ? " It has its approvals: the running server executes it within a second." : "";
        return output(values, result.approval, `${summary(result.approval)}${next}`);
      }
    }
  },
};
