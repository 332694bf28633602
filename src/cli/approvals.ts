/**
 * `invoke approvals …`: people decide approval requests on the local database (air-gapped sites).
 * The voter proves who they are with their own key (INVOKE_API_KEY); the four-eyes rules are the
 * service's, exactly as over REST. An approval that reaches its count is run by the server (its sweeper picks it up).
 */
import { APPROVAL_STATUSES, type ApprovalStatus, type ApprovalView } from "../approvals/model.ts";
import type { Caller } from "../governance/caller.ts";
import { isRefusal } from "../governance/access.ts";
import { ROLE_CEILINGS } from "../governance/profiles.ts";
import type { Services } from "../services.ts";
import { CommandFailure, UsageError, type Command } from "./command.ts";
import { dbFlag, jsonFlag, output, tenantFlag, withServices } from "./shared.ts";

const SUBCOMMANDS = ["list", "show", "approve", "reject"];

/**
 * The person deciding, proven by their own key (INVOKE_API_KEY), admitted by the same gate as over
 * HTTP: never an identity merely asserted on the command line. The vote lands in the key's tenant.
 */
async function voterOf(services: Services, key: string | undefined): Promise<Caller> {
  if (!key) throw new UsageError("a vote is cast with the voter's own key: set INVOKE_API_KEY to the deciding person's key");
  const admitted = await services.gate.admit(new Headers({ "x-api-key": key }), () => "cli");
  if (isRefusal(admitted)) throw new CommandFailure(`INVOKE_API_KEY: ${admitted.message}`);
  return admitted;
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
    as: { type: "string", value: "USER", help: "No longer accepted: a vote is cast with the voter's own key in INVOKE_API_KEY." },
    comment: { type: "string", value: "TEXT", help: "Why (approve, reject)." },
    status: { type: "string", value: "STATUS", help: `Filter (list): ${APPROVAL_STATUSES.join(", ")}.` },
    json: jsonFlag,
  },
  details: [
    "  invoke approvals list [--status pending]",
    "  invoke approvals show ID",
    "  INVOKE_API_KEY=<your key> invoke approvals approve ID [--comment TEXT]   the requester can never approve its own request",
    "  INVOKE_API_KEY=<your key> invoke approvals reject ID [--comment TEXT]    one rejection is final",
    "The vote is cast as the key's user (role admin, scope approvals:decide), in the key's tenant.",
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
        return withServices(values, async (services, { tenantId }) => {
          const page = await services.approvals.list(tenantId, admin, { status, limit: 200 });
          return output(values, page, page.approvals.length === 0 ? "No approval requests." : page.approvals.map(summary).join("\n"));
        });
      case "show":
        return withServices(values, async (services, { tenantId }) => {
          const approval = await services.approvals.get(tenantId, id!, admin);
          return output(values, approval, JSON.stringify(approval, null, 2));
        });
      default: {
        if (values.as !== undefined) throw new UsageError("--as is no longer accepted: a vote is cast with the voter's own key; set INVOKE_API_KEY to it");
        const decision = sub === "approve" ? "approve" : "reject";
        const result = await withServices(values, async (services) => {
          const voter = await voterOf(services, process.env.INVOKE_API_KEY);
          return services.approvals.decide(voter.tenantId, voter, id!, decision, (values.comment as string | undefined) ?? null, "invoke approvals (cli)");
        });
        const next = result.approvedNow ? " It has its approvals: the running server executes it within a second." : "";
        return output(values, result.approval, `${summary(result.approval)}${next}`);
      }
    }
  },
};
