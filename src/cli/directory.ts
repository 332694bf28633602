/**
 * `invoke tenants|users|keys`: tenant, user and key administration on the local database, for
 * air-gapped sites. The same directory services as the admin REST routes.
 */
import { createTenant } from "../governance/bootstrap.ts";
import { isRole } from "../governance/caller.ts";
import { createUser, findKeyOwner, issueKey, listKeys, listTenants, listUsers, revokeKey } from "../governance/directory.ts";
import { UsageError, type Command } from "./command.ts";
import { dbFlag, jsonFlag, output, tenantFlag, tenantScope, withStore } from "./shared.ts";

type Values = Record<string, string | boolean | undefined>;

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
      return withStore(values, (store) => {
        const tenants = listTenants(store);
        return output(values, { tenants }, () => table(tenants, ["id", "name", "created_at"]));
      });
    }
    const name = positionals[1];
    if (!name) throw new UsageError("tenants create needs a NAME");
    const email = values["admin-email"] as string;
    return withStore(values, (store) => {
      const result = createTenant(store, name, email);
      return output(values, result, () => `Created tenant "${name}" (${result.tenant_id}) with admin ${email} (${result.user_id}).\nAdmin API key (shown once; store it now): ${result.admin_key}`);
    });
  },
};

export const usersCommand: Command = {
  name: "users",
  summary: "Create or list the users of a tenant.",
  args: "create EMAIL --role ROLE | list",
  flags: {
    db: dbFlag,
    tenant: tenantFlag,
    role: { type: "string", value: "ROLE", help: "viewer, editor or admin (for create)." },
    json: jsonFlag,
  },
  run(values, positionals) {
    const sub = subcommand(positionals, ["create", "list"]);
    if (sub === "list") {
      return withStore(values, (store) => {
        const users = listUsers(tenantScope(store, values));
        return output(values, { users }, () => table(users as unknown as Record<string, unknown>[], ["id", "email", "role", "created_at"]));
      });
    }
    const email = positionals[1];
    if (!email) throw new UsageError("users create needs an EMAIL");
    const role = required(values, "role");
    if (!isRole(role)) throw new UsageError(`--role must be viewer, editor or admin, not "${role}"`);
    return withStore(values, (store) => {
      const user = createUser(tenantScope(store, values), { email, role });
      return output(values, user, () => `Created user ${user.email} (${user.id}) with role ${user.role}.`);
    });
  },
};

export const keysCommand: Command = {
  name: "keys",
  summary: "Create, list or revoke API keys of a tenant's users.",
  args: "create --user USER --name NAME --profile PROFILE | list --user USER | revoke KEY_ID",
  flags: {
    db: dbFlag,
    tenant: tenantFlag,
    user: { type: "string", value: "USER", help: "The key's user: id (usr_…) or email." },
    name: { type: "string", value: "NAME", help: "A name for the key (for create)." },
    profile: { type: "string", value: "PROFILE", help: "mcp_readonly, operator or admin (for create)." },
    "expires-at": { type: "string", value: "TIME", help: "ISO 8601 expiry (for create; default: never)." },
    json: jsonFlag,
  },
  details: "create prints the secret once. See GET /v1/mcp/key-profiles for what each profile grants.",
  run(values, positionals) {
    const sub = subcommand(positionals, ["create", "list", "revoke"]);
    if (sub === "create") {
      const input = { name: required(values, "name"), profile: required(values, "profile"), expires_at: values["expires-at"] as string | undefined };
      const user = required(values, "user");
      return withStore(values, (store) => {
        const key = issueKey(tenantScope(store, values), user, input, null);
        return output(values, key, () => `Created key ${key.id} (${key.profile}) for ${user}.\nAPI key (shown once; store it now): ${key.key}`);
      });
    }
    if (sub === "list") {
      const user = required(values, "user");
      return withStore(values, (store) => {
        const keys = listKeys(tenantScope(store, values), user);
        return output(values, { keys }, () => table(keys as unknown as Record<string, unknown>[], ["id", "name", "profile", "prefix", "last_used_at", "expires_at", "revoked_at"]));
      });
    }
    const keyId = positionals[1];
    if (!keyId) throw new UsageError("keys revoke needs a KEY_ID");
    return withStore(values, (store) => {
      const scope = tenantScope(store, values);
      const revoked = revokeKey(scope, findKeyOwner(scope, keyId), keyId);
      return output(values, revoked, () => `Revoked key ${revoked.id} at ${revoked.revoked_at}.`);
    });
  },
};
