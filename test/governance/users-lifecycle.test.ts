/**
 * The lifecycle of people and keys, through the public surfaces: role changes, disabling, enabling and
 * removing users, and rotating keys, over REST (in-process) and the spawned CLI, with the effect seen
 * on the next call over HTTP and on a running stdio `invoke mcp`; every change is in the record.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { userInfo } from "node:os";
import { createTenant } from "../../src/governance/bootstrap.ts";
import { request, rest, rpc, startTestServer, type TestServer } from "../support/harness.ts";
import { CLI, cleanEnv, runCli, spawnProcess, type RunningProcess } from "../support/process.ts";

type Message = { jsonrpc: "2.0"; id?: string | number; result?: any; error?: { code: number; message: string; data?: any } };

const UNAUTHENTICATED = -31001;
const FORBIDDEN = -31003;
const OS_USER = userInfo().username;

const whoami = (id: number | string) => request(id, "tools/call", { name: "invoke.whoami", arguments: {} });

let server: TestServer;
beforeEach(() => {
  server = startTestServer();
});
afterEach(() => server[Symbol.dispose]());

/** A user (created with `role`) and a new key of `profile` for it, over REST. */
async function userWithKey(email: string, role: string, profile: string): Promise<{ userId: string; keyId: string; key: string }> {
  const user = await rest(server, "POST", "/v1/beta/users", { email, role });
  expect(user.status).toBe(201);
  const key = await rest(server, "POST", `/v1/beta/users/${user.body.id}/keys`, { name: `${profile} key`, profile });
  expect(key.status).toBe(201);
  return { userId: user.body.id, keyId: key.body.id, key: key.body.key };
}

/** The HTTP status and reason of a `whoami` over MCP with `key` (200 and null when admitted). */
async function mcpWith(key: string): Promise<{ status: number; reason: string | null }> {
  const answer = await rpc(server, whoami(1), { key });
  return { status: answer.status, reason: answer.body?.error?.data?.reason ?? answer.body?.error?.code ?? null };
}

/** The admin-mutation records of `tenantId`, newest first. */
async function adminRecords(key = server.adminKey): Promise<{ tool: string; status: string; client_name: string | null; error: string | null; key_id: string | null }[]> {
  await server.services.records.flush();
  const answer = await rest(server, "GET", "/v1/executions?kind=admin_mutation&limit=100", undefined, key);
  expect(answer.status).toBe(200);
  return answer.body.records;
}

/** Runs the CLI on the test server's database with `--json`; fails the test with stderr on a non-zero exit. */
async function cliJson(args: string[]): Promise<any> {
  const result = await runCli([...args, "--db", server.dbPath, "--json"]);
  if (result.exitCode !== 0) throw new Error(`invoke ${args.join(" ")} failed (${result.exitCode}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** One `invoke mcp` process on the test server's database. */
class StdioSession implements AsyncDisposable {
  private constructor(readonly process: RunningProcess) {}

  static start(key: string): StdioSession {
    return new StdioSession(spawnProcess([...CLI, "mcp", "--db", server.dbPath], { env: cleanEnv({ INVOKE_API_KEY: key }) }));
  }

  async call(message: { id: number | string }): Promise<Message> {
    this.process.write(`${JSON.stringify(message)}\n`);
    const line = await this.process.waitForLine((candidate) => (JSON.parse(candidate) as Message).id === message.id, `the answer to ${message.id}`);
    return JSON.parse(line) as Message;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.process[Symbol.asyncDispose]();
  }
}

function expectRefused(answer: Message, code: number, reason: string): void {
  expect(answer.result).toBeUndefined();
  expect(answer.error?.code).toBe(code);
  expect(answer.error?.data?.reason).toBe(reason);
}

describe("PATCH and DELETE /v1/beta/users/:userId", () => {
  test("a role change cuts the user's keys down on their next call", async () => {
    const editor = await userWithKey("ed@example.com", "editor", "operator");
    expect(await mcpWith(editor.key)).toEqual({ status: 200, reason: null });

    const demoted = await rest(server, "PATCH", `/v1/beta/users/${editor.userId}`, { role: "viewer" });
    expect(demoted.status).toBe(200);
    expect(demoted.body).toMatchObject({ id: editor.userId, role: "viewer", disabled_at: null });
    expect(await mcpWith(editor.key)).toEqual({ status: 403, reason: "role_too_low" });

    await rest(server, "PATCH", `/v1/beta/users/${editor.userId}`, { role: "editor" });
    expect(await mcpWith(editor.key)).toEqual({ status: 200, reason: null });
  });

  test("demoting an admin takes its admin key's REST access away at once", async () => {
    const second = await userWithKey("second-admin@example.com", "admin", "admin");
    expect((await rest(server, "GET", "/v1/beta/users", undefined, second.key)).status).toBe(200);
    expect((await rest(server, "PATCH", `/v1/beta/users/${second.userId}`, { role: "editor" })).status).toBe(200);
    const refused = await rest(server, "GET", "/v1/beta/users", undefined, second.key);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("admin_required");
  });

  test("disable refuses the user's keys with 403 user_disabled; enable admits them again", async () => {
    const editor = await userWithKey("ed@example.com", "editor", "operator");
    const disabled = await rest(server, "PATCH", `/v1/beta/users/${editor.userId}`, { disabled: true });
    expect(disabled.status).toBe(200);
    expect(disabled.body.disabled_at).toBeString();

    const refused = await rpc(server, whoami(1), { key: editor.key });
    expect(refused.status).toBe(403);
    expect(refused.body.error.data.reason).toBe("user_disabled");
    expect(refused.body.error.message).toContain("disabled");
    const listed = (await rest(server, "GET", "/v1/beta/users")).body.users.find((user: { id: string }) => user.id === editor.userId);
    expect(listed.disabled_at).toBe(disabled.body.disabled_at);
    // Keys cannot be issued to a disabled user either.
    expect((await rest(server, "POST", `/v1/beta/users/${editor.userId}/keys`, { name: "x", profile: "operator" })).status).toBe(409);

    const enabled = await rest(server, "PATCH", `/v1/beta/users/${editor.userId}`, { disabled: false });
    expect(enabled.body.disabled_at).toBeNull();
    expect(await mcpWith(editor.key)).toEqual({ status: 200, reason: null });
  });

  test("remove refuses the user's keys, hides the user, lists its keys as revoked and frees its email", async () => {
    const editor = await userWithKey("ed@example.com", "editor", "operator");
    const removed = await rest(server, "DELETE", `/v1/beta/users/${editor.userId}`);
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ id: editor.userId, email: "ed@example.com", revoked_keys: 1 });

    expect(await mcpWith(editor.key)).toEqual({ status: 401, reason: "unknown_key" });
    const users = (await rest(server, "GET", "/v1/beta/users")).body.users as { id: string }[];
    expect(users.map((user) => user.id)).not.toContain(editor.userId);
    const keys = (await rest(server, "GET", `/v1/beta/users/${editor.userId}/keys`)).body.keys as { id: string; revoked_at: string | null }[];
    expect(keys).toEqual([expect.objectContaining({ id: editor.keyId, revoked_at: removed.body.removed_at })]);

    expect((await rest(server, "PATCH", `/v1/beta/users/${editor.userId}`, { disabled: false })).status).toBe(404);
    expect((await rest(server, "DELETE", `/v1/beta/users/${editor.userId}`)).status).toBe(404);
    const again = await rest(server, "POST", "/v1/beta/users", { email: "ed@example.com", role: "viewer" });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(editor.userId);
  });

  test("the last enabled admin cannot be demoted, disabled or removed (409 last_admin)", async () => {
    for (const [method, body] of [
      ["PATCH", { role: "editor" }],
      ["PATCH", { disabled: true }],
      ["DELETE", undefined],
    ] as const) {
      const refused = await rest(server, method, `/v1/beta/users/${server.userId}`, body);
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe("last_admin");
    }
    // A disabled admin does not count as another admin.
    const other = await userWithKey("other-admin@example.com", "admin", "admin");
    await rest(server, "PATCH", `/v1/beta/users/${other.userId}`, { disabled: true });
    expect((await rest(server, "DELETE", `/v1/beta/users/${server.userId}`)).status).toBe(409);
    expect(await mcpWith(server.adminKey)).toEqual({ status: 200, reason: null });

    // With another enabled admin, an admin may remove themselves; their key stops at once.
    await rest(server, "PATCH", `/v1/beta/users/${other.userId}`, { disabled: false });
    expect((await rest(server, "DELETE", `/v1/beta/users/${server.userId}`)).status).toBe(200);
    expect((await rest(server, "GET", "/v1/beta/users")).status).toBe(401);
    expect((await rest(server, "GET", "/v1/beta/users", undefined, other.key)).status).toBe(200);
  });

  test("bodies are validated and other tenants' users are out of reach", async () => {
    const editor = await userWithKey("ed@example.com", "editor", "operator");
    for (const body of [{}, { role: "root" }, { disabled: "yes" }, { role: "viewer", extra: 1 }]) {
      const refused = await rest(server, "PATCH", `/v1/beta/users/${editor.userId}`, body);
      expect(refused.status).toBe(400);
    }
    const other = await createTenant(server.services.directory, "other", "boss@other.example");
    expect((await rest(server, "PATCH", `/v1/beta/users/${other.user_id}`, { role: "viewer" })).status).toBe(404);
    expect((await rest(server, "DELETE", `/v1/beta/users/${other.user_id}`)).status).toBe(404);
    expect((await rest(server, "PATCH", `/v1/beta/users/${editor.userId}`, { role: "viewer" }, other.admin_key)).status).toBe(404);
    expect((await rest(server, "GET", "/v1/beta/users")).body.users.find((user: { id: string }) => user.id === editor.userId).role).toBe("editor");
  });

  test("a non-admin key cannot change users", async () => {
    const editor = await userWithKey("ed@example.com", "editor", "operator");
    const refused = await rest(server, "PATCH", `/v1/beta/users/${server.userId}`, { role: "viewer" }, editor.key);
    expect(refused.status).toBe(403);
    expect((await rest(server, "DELETE", `/v1/beta/users/${editor.userId}`, undefined, editor.key)).status).toBe(403);
  });
});

describe("POST /v1/beta/users/:userId/keys/:keyId/rotate", () => {
  test("gives the key a new secret; the old one works during the grace period and is refused after it", async () => {
    const editor = await userWithKey("ed@example.com", "editor", "operator");
    const rotated = await rest(server, "POST", `/v1/beta/users/${editor.userId}/keys/${editor.keyId}/rotate`, { grace_seconds: 1 });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ id: editor.keyId, user_id: editor.userId, profile: "operator" });
    expect(rotated.body.key).not.toBe(editor.key);

    expect(await mcpWith(rotated.body.key)).toEqual({ status: 200, reason: null });
    const old = await rpc(server, whoami(1), { key: editor.key });
    expect(old.status).toBe(200);
    expect(old.body.result.structuredContent.key.id).toBe(editor.keyId);

    await Bun.sleep(1100);
    expect(await mcpWith(editor.key)).toEqual({ status: 401, reason: "rotated_key" });
    expect(await mcpWith(rotated.body.key)).toEqual({ status: 200, reason: null });
    const [listed] = (await rest(server, "GET", `/v1/beta/users/${editor.userId}/keys`)).body.keys;
    expect(listed).toMatchObject({ id: editor.keyId, prefix: rotated.body.prefix, rotated_at: rotated.body.rotated_at, revoked_at: null });
  });

  test("grace_seconds 0 refuses the old secret at once; the default grace is 24 hours", async () => {
    const editor = await userWithKey("ed@example.com", "editor", "operator");
    const now = await rest(server, "POST", `/v1/beta/users/${editor.userId}/keys/${editor.keyId}/rotate`, { grace_seconds: 0 });
    expect(now.body.previous_secret_valid_until).toBeNull();
    expect(await mcpWith(editor.key)).toEqual({ status: 401, reason: "unknown_key" });
    expect(await mcpWith(now.body.key)).toEqual({ status: 200, reason: null });

    const later = await rest(server, "POST", `/v1/beta/users/${editor.userId}/keys/${editor.keyId}/rotate`);
    expect(later.status).toBe(200);
    expect(Date.parse(later.body.previous_secret_valid_until) - Date.parse(later.body.rotated_at)).toBe(24 * 3600 * 1000);
    expect(await mcpWith(now.body.key)).toEqual({ status: 200, reason: null });
    expect(await mcpWith(later.body.key)).toEqual({ status: 200, reason: null });
  });

  test("revoked keys and bad grace periods are refused", async () => {
    const editor = await userWithKey("ed@example.com", "editor", "operator");
    expect((await rest(server, "POST", `/v1/beta/users/${editor.userId}/keys/${editor.keyId}/rotate`, { grace_seconds: -1 })).status).toBe(400);
    expect((await rest(server, "POST", `/v1/beta/users/${editor.userId}/keys/${editor.keyId}/rotate`, { grace_seconds: 10_000_000 })).status).toBe(400);
    await rest(server, "DELETE", `/v1/beta/users/${editor.userId}/keys/${editor.keyId}`);
    const refused = await rest(server, "POST", `/v1/beta/users/${editor.userId}/keys/${editor.keyId}/rotate`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe("key_revoked");
    expect(await mcpWith(editor.key)).toEqual({ status: 401, reason: "unknown_key" });
  });

  test("every lifecycle change over REST is recorded, without the new secret", async () => {
    const editor = await userWithKey("ed@example.com", "editor", "operator");
    await rest(server, "PATCH", `/v1/beta/users/${editor.userId}`, { role: "viewer" });
    const rotated = await rest(server, "POST", `/v1/beta/users/${editor.userId}/keys/${editor.keyId}/rotate`, { grace_seconds: 0 });
    await rest(server, "PATCH", `/v1/beta/users/${server.userId}`, { disabled: true });
    await rest(server, "DELETE", `/v1/beta/users/${editor.userId}`);
    const records = await adminRecords();
    const routes = records.map((record) => `${record.tool} ${record.status}`);
    expect(routes).toContain("PATCH /v1/beta/users/:userId ok");
    expect(routes).toContain("PATCH /v1/beta/users/:userId error");
    expect(routes).toContain("POST /v1/beta/users/:userId/keys/:keyId/rotate ok");
    expect(routes).toContain("DELETE /v1/beta/users/:userId ok");
    const all = (await rest(server, "GET", "/v1/executions?limit=100")).text;
    expect(all).not.toContain(rotated.body.key.slice(9));
  });
});

describe("the CLI: invoke users update|disable|enable|remove and invoke keys rotate", () => {
  test("a role change cuts a key down on the next call over HTTP and on a running stdio session", async () => {
    const editor = await userWithKey("ed@example.com", "editor", "operator");
    await using session = StdioSession.start(editor.key);
    expect((await session.call(whoami(1))).result.structuredContent.key.id).toBe(editor.keyId);

    expect((await cliJson(["users", "update", "ed@example.com", "--role", "viewer"])).role).toBe("viewer");
    expectRefused(await session.call(whoami(2)), FORBIDDEN, "role_too_low");
    expect(await mcpWith(editor.key)).toEqual({ status: 403, reason: "role_too_low" });

    await cliJson(["users", "update", editor.userId, "--role", "editor"]);
    expect((await session.call(whoami(3))).result.structuredContent.key.id).toBe(editor.keyId);
    expect(await mcpWith(editor.key)).toEqual({ status: 200, reason: null });
  });

  test("disable refuses on the next call over HTTP and stdio; enable admits again", async () => {
    const editor = await userWithKey("ed@example.com", "editor", "operator");
    await using session = StdioSession.start(editor.key);
    expect((await session.call(whoami(1))).result).toBeDefined();

    expect((await cliJson(["users", "disable", "ed@example.com"])).disabled_at).toBeString();
    expectRefused(await session.call(whoami(2)), FORBIDDEN, "user_disabled");
    expect(await mcpWith(editor.key)).toEqual({ status: 403, reason: "user_disabled" });
    await session.process.stderr.waitFor((line) => line.includes("disabled"), "the refusal on stderr");

    expect((await cliJson(["users", "enable", "ed@example.com"])).disabled_at).toBeNull();
    expect((await session.call(whoami(3))).result.structuredContent.key.id).toBe(editor.keyId);
    expect(await mcpWith(editor.key)).toEqual({ status: 200, reason: null });
  });

  test("remove refuses, hides the user and lists its keys as revoked; the last admin is protected", async () => {
    const editor = await userWithKey("ed@example.com", "editor", "operator");
    await using session = StdioSession.start(editor.key);
    expect((await session.call(whoami(1))).result).toBeDefined();

    expect(await cliJson(["users", "remove", "ed@example.com"])).toMatchObject({ id: editor.userId, revoked_keys: 1 });
    expectRefused(await session.call(whoami(2)), UNAUTHENTICATED, "unknown_key");
    expect(await mcpWith(editor.key)).toEqual({ status: 401, reason: "unknown_key" });
    expect((await cliJson(["users", "list"])).users.map((user: { id: string }) => user.id)).not.toContain(editor.userId);
    const keys = (await cliJson(["keys", "list", "--user", editor.userId])).keys;
    expect(keys).toEqual([expect.objectContaining({ id: editor.keyId, revoked_at: expect.any(String) })]);

    for (const args of [["users", "remove", "admin@localhost"], ["users", "disable", "admin@localhost"], ["users", "update", "admin@localhost", "--role", "viewer"]]) {
      const refused = await runCli([...args, "--db", server.dbPath]);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain("last enabled admin");
    }
    expect(await mcpWith(server.adminKey)).toEqual({ status: 200, reason: null });
  });

  test("keys rotate --grace 1s: the new secret works, the old one until the grace ends; --grace 0 cuts at once", async () => {
    const editor = await userWithKey("ed@example.com", "editor", "operator");
    const rotated = await cliJson(["keys", "rotate", editor.keyId, "--grace", "1s"]);
    expect(rotated).toMatchObject({ id: editor.keyId, profile: "operator" });
    expect(await mcpWith(rotated.key)).toEqual({ status: 200, reason: null });
    expect(await mcpWith(editor.key)).toEqual({ status: 200, reason: null });
    await Bun.sleep(1100);
    expect(await mcpWith(editor.key)).toEqual({ status: 401, reason: "rotated_key" });

    await using session = StdioSession.start(rotated.key);
    expect((await session.call(whoami(1))).result).toBeDefined();
    const again = await cliJson(["keys", "rotate", editor.keyId, "--grace", "0"]);
    expect(again.previous_secret_valid_until).toBeNull();
    expectRefused(await session.call(whoami(2)), UNAUTHENTICATED, "unknown_key");
    expect(await mcpWith(rotated.key)).toEqual({ status: 401, reason: "unknown_key" });
    expect(await mcpWith(again.key)).toEqual({ status: 200, reason: null });
  });

  test("every CLI change is recorded with the operating-system user, refused ones too", async () => {
    const created = await cliJson(["users", "create", "cli@example.com", "--role", "editor"]);
    const key = await cliJson(["keys", "create", "--user", "cli@example.com", "--name", "k", "--profile", "operator"]);
    await cliJson(["keys", "rotate", key.id, "--grace", "0"]);
    await cliJson(["users", "update", "cli@example.com", "--role", "viewer"]);
    await cliJson(["users", "disable", created.id]);
    await cliJson(["users", "enable", created.id]);
    await cliJson(["keys", "revoke", key.id]);
    await cliJson(["users", "remove", "cli@example.com"]);
    expect((await runCli(["users", "remove", "admin@localhost", "--db", server.dbPath])).exitCode).toBe(1);
    const tenant = await cliJson(["tenants", "create", "second"]);

    const cli = (await adminRecords()).filter((record) => record.client_name?.includes("(cli)"));
    expect(cli.every((record) => record.client_name!.endsWith(` as ${OS_USER}`) && record.key_id === "cli")).toBe(true);
    expect(cli.map((record) => `${record.tool} ${record.status}`).reverse()).toEqual([
      "POST /v1/beta/users ok",
      "POST /v1/beta/users/:userId/keys ok",
      "POST /v1/beta/users/:userId/keys/:keyId/rotate ok",
      "PATCH /v1/beta/users/:userId ok",
      "PATCH /v1/beta/users/:userId ok",
      "PATCH /v1/beta/users/:userId ok",
      "DELETE /v1/beta/users/:userId/keys/:keyId ok",
      "DELETE /v1/beta/users/:userId ok",
      "DELETE /v1/beta/users/:userId error",
    ]);
    expect(cli[0]!.client_name).toBe(`invoke users (cli) as ${OS_USER}`);
    const tenantRecords = (await adminRecords(tenant.admin_key)).map((record) => `${record.tool} ${record.client_name}`);
    expect(tenantRecords).toEqual([`invoke tenants create invoke tenants (cli) as ${OS_USER}`]);
  });
});
