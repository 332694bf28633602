/**
 * `invoke tenants|users|keys` on the local database (air-gapped administration), and the access rules
 * of `invoke mcp` (role, rate limit), spawned as real processes.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../support/harness.ts";
import { cleanEnv, initDatabase, runCli, runOnFreshDatabase, CLI } from "../support/process.ts";

async function json(args: string[]): Promise<any> {
  const result = await runCli([...args, "--json"]);
  expect(result.stderr).toBe("");
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout);
}

async function mcpLines(db: string, key: string, messages: unknown[], extra: string[] = []) {
  const stdin = messages.map((message) => JSON.stringify(message)).join("\n") + "\n";
  const result = await runCli(["mcp", "--db", db, ...extra], { env: cleanEnv({ INVOKE_API_KEY: key }), stdin });
  return { ...result, lines: result.stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line)) };
}

describe("invoke tenants", () => {
  test("create --json adds a tenant with its own admin and key, isolated from the first", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    const first = await initDatabase(CLI, ["--db", db]);
    const second = await json(["tenants", "create", "acme", "--db", db, "--admin-email", "ops@acme.test"]);
    expect(Object.keys(second).sort()).toEqual(["admin_key", "tenant_id", "user_id"]);
    expect(second.tenant_id).not.toBe(first.tenant_id);
    const call = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "invoke.whoami", arguments: {} } };
    const { lines } = await mcpLines(db, second.admin_key, [call]);
    expect(lines[0].result.structuredContent).toMatchObject({ tenant: { id: second.tenant_id, name: "acme" }, user: { email: "ops@acme.test" } });
    const listed = await json(["tenants", "list", "--db", db]);
    expect(listed.tenants.map((tenant: { name: string }) => tenant.name)).toEqual(["default", "acme"]);
  });

  test("refuses a duplicate tenant name with exit 1", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    const result = await runCli(["tenants", "create", "default", "--db", db]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("already exists");
  });

  test("refuses to work on a database that does not exist, without creating it", async () => {
    using dir = tempDir();
    const db = join(dir.path, "typo.db");
    const result = await runCli(["tenants", "list", "--db", db]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("invoke init");
    expect(await Bun.file(db).exists()).toBe(false);
  });
});

describe("invoke users and keys", () => {
  test("creates a user and a key that works, lists it without its secret, and revokes it", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    const user = await json(["users", "create", "agent@example.com", "--role", "editor", "--db", db]);
    expect(user).toMatchObject({ email: "agent@example.com", role: "editor" });
    const key = await json(["keys", "create", "--user", "agent@example.com", "--name", "ci", "--profile", "operator", "--db", db]);
    expect(key.key).toMatch(/^inv_live_/);
    const ping = await mcpLines(db, key.key, [{ jsonrpc: "2.0", id: 1, method: "ping" }]);
    expect(ping.lines).toEqual([{ jsonrpc: "2.0", id: 1, result: {} }]);

    const listed = await runCli(["keys", "list", "--user", user.id, "--db", db, "--json"]);
    expect(listed.stdout).not.toContain(key.key);
    expect(JSON.parse(listed.stdout).keys.map((listedKey: { id: string }) => listedKey.id)).toEqual([key.id]);

    const revoked = await json(["keys", "revoke", key.id, "--db", db]);
    expect(revoked.id).toBe(key.id);
    const refused = await runCli(["mcp", "--db", db], { env: cleanEnv({ INVOKE_API_KEY: key.key }), stdin: "" });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain("revoked");
  });

  test("refuses a key stronger than the user's role", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    await json(["users", "create", "ed@example.com", "--role", "editor", "--db", db]);
    const result = await runCli(["keys", "create", "--user", "ed@example.com", "--name", "x", "--profile", "admin", "--db", db]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("needs role admin");
  });

  test.each([
    [["users", "create", "x@example.com", "--role", "root"], "--role"],
    [["users", "create"], "EMAIL"],
    [["keys", "create", "--user", "admin@localhost", "--name", "x"], "--profile"],
    [["keys", "revoke"], "KEY_ID"],
    [["keys", "rotate"], "KEY_ID"],
    [["keys", "rotate", "key_x", "--grace", "soon"], "--grace"],
    [["keys", "renew"], "expected one of"],
  ])("%j is a usage error (exit 2)", async (args, fragment) => {
    const result = await runOnFreshDatabase(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(fragment);
  });

  test("acts only on the named tenant", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    await json(["tenants", "create", "other", "--db", db]);
    await json(["users", "create", "only-other@example.com", "--role", "viewer", "--tenant", "other", "--db", db]);
    const defaults = await json(["users", "list", "--db", db]);
    expect(defaults.users.map((user: { email: string }) => user.email)).toEqual(["admin@localhost"]);
    const result = await runCli(["keys", "list", "--user", "only-other@example.com", "--db", db]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("no user");
  });
});

describe("invoke mcp access rules", () => {
  test("refuses a viewer's key: the MCP surface needs editor or admin", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    await json(["users", "create", "v@example.com", "--role", "viewer", "--db", db]);
    const key = await json(["keys", "create", "--user", "v@example.com", "--name", "x", "--profile", "mcp_readonly", "--db", db]);
    const result = await runCli(["mcp", "--db", db], { env: cleanEnv({ INVOKE_API_KEY: key.key }), stdin: "" });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain("role editor or admin");
  });

  test("rate-limits messages per key, answering refusals in JSON-RPC", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    const config = join(dir.path, "invoke.yaml");
    await Bun.write(config, "rate_limit:\n  requests: 3\n  per_seconds: 3600\n");
    const init = await initDatabase(CLI, ["--db", db]);
    const pings = Array.from({ length: 5 }, (_, id) => ({ jsonrpc: "2.0", id, method: "ping" }));
    const { lines, exitCode } = await mcpLines(db, init.admin_key, pings, ["--config", config]);
    expect(exitCode).toBe(0);
    expect(lines.filter((line) => "result" in line)).toHaveLength(3);
    expect(lines.filter((line) => line.error?.code === -31029)).toHaveLength(2);
  });
});
