/**
 * `invoke tenants|users|keys`: tenant, user and key administration on the local database, for
 * air-gapped sites. The same directory services as the admin REST routes; every change is recorded
 * as the same change over REST is, with the operating-system user as the actor.
 */
import { recordAdminChange } from "../records/admin-change.ts";
import { createTenant } from "../governance/bootstrap.ts";
import { isRole } from "../governance/caller.ts";
import {
  createUser,
  findKeyOwner,
  findUser,
  issueKey,
  listKeys,
  listTenants,
  listUsers,
  MAX_ROTATION_GRACE_SECONDS,
  removeUser,
  revokeKey,
  rotateKey,
  updateUser,
  type UserView,
} from "../governance/directory.ts";
import type { DirectoryRepository } from "../governance/repository.ts";
import { sqliteRepositories } from "../storage/sqlite/index.ts";
import { UsageError, type Command } from "./command.ts";
import { dbFlag, jsonFlag, osUser, output, recordedChange, tenantFlag, withDirectory, withLocalServices, withServices, withStore } from "./shared.ts";

type Values = Record<string, string | boolean | undefined>;

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `--grace` as whole seconds: `0`, `90`, `90s`, `15m`, `24h`, `7d`. */
export function parseGrace(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!match) throw new UsageError(`--grace must be a duration such as 0, 90s, 15m, 24h or 7d, not "${text}"`);
  const seconds = Number(match[1]) * DURATION_UNITS[match[2] || "s"]!;
  if (seconds > MAX_ROTATION_GRACE_SECONDS) throw new UsageError("--grace may be at most 30d");
  return seconds;
}

function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return "(none)";
  const cells = rows.map((row) => columns.map((column) => String(row[column] ?? "-")));
  const widths = columns.map((column, index) => Math.max(column.length, ...cells.map((row) => row[index]!.length)));
  return [columns, ...cells].map((row) => row.map((cell, index) => cell.padEnd(widths[index]!)).join("  ").trimEnd()).join("\n");
}

function required(values: Values, flag: string): string {
  const value = values[flag];
  if (typeof value !== "string" || value.length === 0) throw new UsageError(`--${flag} is required`);
  return value;
}

function subcommand(positionals: string[], known: string[]): string {
  const [sub] = positionals;
  if (sub === undefined || !known.includes(sub)) throw new UsageError(`expected one of: ${known.join(", ")}`);
  return sub;
}

export const tenantsCommand: Command = {
  name: "tenants",
  summary: "Create or list tenants, each with its own admin user and admin key.",
  args: "create NAME | list",
  flags: {
    db: dbFlag,
    "admin-email": { type: "string", env: "INVOKE_ADMIN_EMAIL", value: "EMAIL", default: "admin@localhost", help: "Email of the new tenant's admin user." },
    json: jsonFlag,
  },
  details: 'create --json prints {"tenant_id","user_id","admin_key"}; the key is shown once.',
  run(values, positionals) {
    const sub = subcommand(positionals, ["create", "list"]);
    if (sub === "list") {
      return withStore(values, async (store) => {
        const tenants = await listTenants(sqliteRepositories(store).directory);
        return output(values, { tenants }, () => table(tenants, ["id", "name", "created_at"]));
      });
    }
    const name = positionals[1];
    if (!name) throw new UsageError("tenants create needs a NAME");
    const email = values["admin-email"] as string;
    return withLocalServices(values, async (services) => {
      const started = performance.now();
      const result = await createTenant(services.directory, name, email);
      // Recorded in the new tenant (a refused creation has no tenant to be recorded in); never the key.
      await recordAdminChange(services.records, {
        tenantId: result.tenant_id,
        userId: null,
        keyId: "cli",
        clientName: `invoke tenants (cli) as ${osUser()}`,
        route: "invoke tenants create",
        params: { name },
        body: { admin_email: email },
        ok: true,
        result: { tenant_id: result.tenant_id, user_id: result.user_id },
        latencyMs: performance.now() - started,
      });
      return output(values, result, () => `Created tenant "${name}" (${result.tenant_id}) with admin ${email} (${result.user_id}).\nAdmin API key (shown once; store it now): ${result.admin_key}`);
    });
  },
};

const USER_COLUMNS = ["id", "email", "role", "created_at", "disabled_at"];

export const usersCommand: Command = {
  name: "users",
  summary: "Create, list, update, disable, enable or remove the users of a tenant.",
  args: "create EMAIL --role ROLE | list | update USER --role ROLE | disable USER | enable USER | remove USER",
  flags: {
    db: dbFlag,
    tenant: tenantFlag,
    role: { type: "string", value: "ROLE", help: "viewer, editor or admin (for create and update)." },
    json: jsonFlag,
  },
  details: [
    "USER is an id (usr_…) or an email. Changes reach the user's keys on their next call, on every transport.",
    "disable refuses the user's keys until enable; remove revokes them for good and hides the user from lists.",
    "The last enabled admin of a tenant cannot be demoted, disabled or removed.",
  ].join("\n"),
  run(values, positionals) {
    const sub = subcommand(positionals, ["create", "list", "update", "disable", "enable", "remove"]);
    if (sub === "list") {
      return withDirectory(values, async (directory, tenantId) => {
        const users = await listUsers(directory, tenantId);
        return output(values, { users }, () => table(users as unknown as Record<string, unknown>[], USER_COLUMNS));
      });
    }
    const target = positionals[1];
    if (!target) throw new UsageError(`users ${sub} needs ${sub === "create" ? "an EMAIL" : "a USER (id or email)"}`);
    const role = sub === "create" || sub === "update" ? required(values, "role") : undefined;
    if (role !== undefined && !isRole(role)) throw new UsageError(`--role must be viewer, editor or admin, not "${role}"`);
    const client = "invoke users (cli)";
    return withServices(values, async (services, { tenantId }) => {
      const now = services.now();
      const { directory } = services;
      const change = <T>(route: string, params: Record<string, unknown>, body: unknown, work: () => Promise<T>) => recordedChange(services, { tenantId }, { client, route, params, body }, work);
      const describe = (user: UserView) => `${user.email} (${user.id}): role ${user.role}, ${user.disabled_at === null ? "enabled" : `disabled since ${user.disabled_at}`}.`;
      switch (sub) {
        case "create": {
          const user = await change("POST /v1/beta/users", {}, { email: target, role }, () => createUser(directory, tenantId, { email: target, role: role! as UserView["role"] }, now));
          return output(values, user, `Created user ${user.email} (${user.id}) with role ${user.role}.`);
        }
        case "remove": {
          const removed = await change("DELETE /v1/beta/users/:userId", { userId: await userIdFor(directory, tenantId, target) }, null, () => removeUser(directory, tenantId, target, now));
          return output(values, removed, `Removed ${removed.email} (${removed.id}); revoked ${removed.revoked_keys} key${removed.revoked_keys === 1 ? "" : "s"}.`);
        }
        default: {
          const body = sub === "update" ? { role } : { disabled: sub === "disable" };
          const user = await change("PATCH /v1/beta/users/:userId", { userId: await userIdFor(directory, tenantId, target) }, body, () => updateUser(directory, tenantId, target, body as { role?: UserView["role"]; disabled?: boolean }, now));
          return output(values, user, describe(user));
        }
      }
    });
  },
};

/** The id of USER when it names one (the route's `:userId`), else USER as given: a refused change is recorded with what was asked. */
async function userIdFor(directory: DirectoryRepository, tenantId: string, idOrEmail: string): Promise<string> {
  try {
    return (await findUser(directory, tenantId, idOrEmail)).id;
  } catch {
    return idOrEmail;
  }
}

export const keysCommand: Command = {
  name: "keys",
  summary: "Create, list, rotate or revoke API keys of a tenant's users.",
  args: "create --user USER --name NAME --profile PROFILE | list --user USER | rotate KEY_ID [--grace 24h] | revoke KEY_ID",
  flags: {
    db: dbFlag,
    tenant: tenantFlag,
    user: { type: "string", value: "USER", help: "The key's user: id (usr_…) or email." },
    name: { type: "string", value: "NAME", help: "A name for the key (for create)." },
    profile: { type: "string", value: "PROFILE", help: "mcp_readonly, operator or admin (for create)." },
    "expires-at": { type: "string", value: "TIME", help: "ISO 8601 expiry (for create; default: never)." },
    grace: { type: "string", value: "DURATION", default: "24h", help: "How long the old secret keeps working after rotate (0 = refused at once; at most 30d)." },
    json: jsonFlag,
  },
  details: [
    "create and rotate print the secret once. See GET /v1/mcp/key-profiles for what each profile grants.",
    "rotate keeps the key's id, name and profile and gives it a new secret; the old one works until --grace ends.",
  ].join("\n"),
  run(values, positionals) {
    const sub = subcommand(positionals, ["create", "list", "rotate", "revoke"]);
    const client = "invoke keys (cli)";
    if (sub === "create") {
      const input = { name: required(values, "name"), profile: required(values, "profile"), expires_at: values["expires-at"] as string | undefined };
      const user = required(values, "user");
      return withServices(values, async (services, { tenantId }) => {
        const params = { userId: await userIdFor(services.directory, tenantId, user) };
        const key = await recordedChange(services, { tenantId }, { client, route: "POST /v1/beta/users/:userId/keys", params, body: input }, () =>
          issueKey(services.directory, tenantId, user, input, null, services.now()),
        );
        return output(values, key, () => `Created key ${key.id} (${key.profile}) for ${user}.\nAPI key (shown once; store it now): ${key.key}`);
      });
    }
    if (sub === "list") {
      const user = required(values, "user");
      return withDirectory(values, async (directory, tenantId) => {
        const keys = await listKeys(directory, tenantId, user);
        return output(values, { keys }, () => table(keys as unknown as Record<string, unknown>[], ["id", "name", "profile", "prefix", "last_used_at", "expires_at", "revoked_at"]));
      });
    }
    const keyId = positionals[1];
    if (!keyId) throw new UsageError(`keys ${sub} needs a KEY_ID`);
    const grace = sub === "rotate" ? parseGrace(values.grace as string) : 0;
    return withServices(values, async (services, { tenantId }) => {
      const now = services.now();
      const { directory } = services;
      const owner = () => findKeyOwner(directory, tenantId, keyId);
      const params = { userId: await owner().catch(() => null), keyId };
      if (sub === "rotate") {
        const route = "POST /v1/beta/users/:userId/keys/:keyId/rotate";
        const rotated = await recordedChange(services, { tenantId }, { client, route, params, body: { grace_seconds: grace } }, async () =>
          rotateKey(directory, tenantId, await owner(), keyId, grace, now),
        );
        const until = rotated.previous_secret_valid_until === null ? "The old secret is refused from now on." : `The old secret works until ${rotated.previous_secret_valid_until}.`;
        return output(values, rotated, () => `Rotated key ${rotated.id} (${rotated.profile}). ${until}\nNew API key (shown once; store it now): ${rotated.key}`);
      }
      const revoked = await recordedChange(services, { tenantId }, { client, route: "DELETE /v1/beta/users/:userId/keys/:keyId", params, body: null }, async () =>
        revokeKey(directory, tenantId, await owner(), keyId, now),
      );
      return output(values, revoked, () => `Revoked key ${revoked.id} at ${revoked.revoked_at}.`);
    });
  },
};
