/**
 * `invoke groups …`: approver groups on the local database — the groups a policy rule's `approvers`
 * names. Every change is recorded as the same change over REST is.
 */
import { addMember, createGroup, deleteGroup, listGroups, removeMember, type GroupView } from "../governance/groups.ts";
import { GROUP_NAME_PATTERN } from "../policy/model.ts";
import { UsageError, type Command } from "./command.ts";
import { dbFlag, jsonFlag, output, recordedChange, tenantFlag, withServices } from "./shared.ts";

const SUBCOMMANDS = ["list", "create", "delete", "add", "remove"];
const CLIENT = "invoke groups (cli)";

function describe(group: GroupView): string {
  return [`${group.name}  (${group.members.length} member${group.members.length === 1 ? "" : "s"})`, ...group.members.map((member) => `    ${member.email}  since ${member.added_at}`)].join("\n");
}

export const groupsCommand: Command = {
  name: "groups",
  summary: "List, create and delete approver groups, and add or remove their members.",
  args: `<${SUBCOMMANDS.join("|")}> [GROUP] [USER]`,
  flags: { db: dbFlag, tenant: tenantFlag, json: jsonFlag },
  details: [
    "  invoke groups list",
    "  invoke groups create finance-leads",
    "  invoke groups add finance-leads alice@example.com     counts for requests made from now on",
    "  invoke groups remove finance-leads alice@example.com",
    "  invoke groups delete finance-leads",
    "A policy rule restricts who may approve with `approvers: [finance-leads]`.",
  ].join("\n"),
  async run(values, positionals) {
    const [sub, name, user] = positionals;
    if (sub === undefined || !SUBCOMMANDS.includes(sub)) throw new UsageError(`expected one of: ${SUBCOMMANDS.join(", ")}`);
    if (sub !== "list" && !name) throw new UsageError(`${sub} needs a GROUP name`);
    if (sub === "create" && !new RegExp(GROUP_NAME_PATTERN).test(name!)) throw new UsageError("a group name is lower-case letters, digits, '.', '_' or '-' (at most 63)");
    if ((sub === "add" || sub === "remove") && !user) throw new UsageError(`${sub} needs a USER (email or id)`);
    return withServices(values, async (services, { tenantId }) => {
      const now = services.now();
      const change = <T>(route: string, params: Record<string, unknown>, body: unknown, work: () => Promise<T>) => recordedChange(services, { tenantId }, { client: CLIENT, route, params, body }, work);
      switch (sub) {
        case "list": {
          const groups = await listGroups(services.groups, tenantId);
          return output(values, { groups }, groups.length === 0 ? "No groups." : groups.map(describe).join("\n"));
        }
        case "create":
          return output(values, await change("POST /v1/beta/groups", {}, { name }, () => createGroup(services.groups, tenantId, name!, "cli", now)), `Created group ${name}.`);
        case "delete":
          return output(values, await change("DELETE /v1/beta/groups/:name", { name }, null, () => deleteGroup(services.groups, tenantId, name!)), `Deleted group ${name}.`);
        case "add": {
          const group = await change("POST /v1/beta/groups/:name/members", { name }, { user }, () => addMember(services, tenantId, name!, user!, "cli", now));
          return output(values, group, describe(group));
        }
        default: {
          const group = await change("DELETE /v1/beta/groups/:name/members/:user", { name, user }, null, () => removeMember(services.groups, tenantId, name!, user!));
          return output(values, group, describe(group));
        }
      }
    });
  },
};
