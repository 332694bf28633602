/**
 * `invoke.governance.readiness` through the public surface: each checklist item reports the gap on a
 * set-up that has it, and passes once the fix the item names is applied — run as written where it is
 * a command or a REST call (REST, the CLI on the same database, or the config file and a restart).
 */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, keyFor, request, rest, rpc, startTestServer, tempDir, type TestServer } from "../support/harness.ts";
import { CLI, cleanEnv, initDatabase, REPO_ROOT, runCli, startServer } from "../support/process.ts";

const TOOL = "invoke.governance.readiness";
const FIXTURE = join(REPO_ROOT, "test", "fixtures", "upstream-stdio.ts");
const DAY_MS = 86_400_000;

interface Item {
  id: string;
  status: "pass" | "warn" | "fail";
  detail: string;
  fix: string | null;
}
interface Report {
  score: number;
  checklist: Item[];
}

/** Calls the tool over MCP with `key` and returns its structured result. */
async function readiness(server: Pick<TestServer, "app" | "adminKey">, key: string): Promise<Report> {
  const answer = await rpc(server, request(1, "tools/call", { name: TOOL, arguments: {} }), { key });
  expect(answer.body.result.isError).toBeFalsy();
  return answer.body.result.structuredContent;
}

/** One item of a fresh report. */
async function item(server: Pick<TestServer, "app" | "adminKey">, key: string, id: string): Promise<Item> {
  const found = (await readiness(server, key)).checklist.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no checklist item ${id}`);
  return found;
}

/** The `invoke …` commands a fix names after "CLI:", as argument lists without `invoke`. */
function cliCommands(fix: string | null): string[][] {
  return [...(fix ?? "").matchAll(/CLI: invoke ((?:'[^']*'|[^')])+)\)/g)].map((match) => [...match[1]!.matchAll(/'([^']*)'|(\S+)/g)].map((word) => word[1] ?? word[2]!));
}

/** Runs a CLI command on the server's database; it must succeed. */
async function runOn(server: TestServer, args: string[]): Promise<string> {
  const result = await runCli([...args, "--db", server.dbPath]);
  expect(result.stderr).toBe("");
  expect(result.exitCode).toBe(0);
  return result.stdout;
}

/** Runs every command a fix names, in order, on the server's database. */
async function applyCliFix(server: TestServer, fix: string | null, replace: Record<string, string> = {}): Promise<void> {
  const commands = cliCommands(fix);
  expect(commands.length).toBeGreaterThan(0);
  for (const command of commands) await runOn(server, command.map((word) => replace[word] ?? word));
}

/** The first REST call with a JSON body that a fix names. */
function firstRestCall(fix: string | null): { method: string; path: string; body: unknown } {
  const match = /(POST|DELETE) (\/v1\/\S+) (\{.*?\})(?= \(CLI)/.exec(fix ?? "");
  if (!match) throw new Error(`the fix names no REST call: ${fix}`);
  return { method: match[1]!, path: match[2]!, body: JSON.parse(match[3]!) };
}

/** A key of `profile` for `user` that expires, issued over REST; returns the secret. */
async function expiringKey(server: TestServer, userId: string, profile: string): Promise<string> {
  const issued = await rest(server, "POST", `/v1/beta/users/${userId}/keys`, { name: `${profile} key`, profile, expires_at: new Date(Date.now() + 30 * DAY_MS).toISOString() });
  expect(issued.status).toBe(201);
  return issued.body.key;
}

/** A user of the server's tenant, created over REST. */
async function user(server: TestServer, email: string, role: string): Promise<string> {
  const created = await rest(server, "POST", "/v1/beta/users", { email, role });
  expect(created.status).toBe(201);
  return created.body.id;
}

/** Publishes a policy over REST. */
async function publish(server: TestServer, source: string): Promise<void> {
  const published = await rest(server, "POST", "/v1/policies", { source, publish: true });
  expect(published.status).toBe(201);
}

describe("the tool", () => {
  test("is listed for an mcp_readonly key, answers every check, and scores pass 1, warn 0.5, fail 0", async () => {
    using server = startTestServer();
    const key = await keyFor(server, "editor", "mcp_readonly");
    const list = await rpc(server, request(1, "tools/list"), { key });
    const listed = list.body.result.tools.find((tool: { name: string }) => tool.name === TOOL);
    expect(listed.outputSchema.required).toEqual(["score", "checklist"]);
    expect(listed.annotations.readOnlyHint).toBe(true);

    const report = await readiness(server, key);
    expect(report.checklist.map((entry) => entry.id)).toEqual([
      "default_deny",
      "tool_coverage",
      "destructive_sql_denied",
      "connector_privileges",
      "four_eyes",
      "admin_keys_not_used_from_mcp",
      "keys_expire",
      "no_stale_keys",
      "readonly_keys_exist",
      "record_chain",
      "rate_limits",
      "origin_allow_list",
      "tool_pinning",
      "no_quarantined_tools",
    ]);
    const points = report.checklist.reduce((sum, entry) => sum + { pass: 1, warn: 0.5, fail: 0 }[entry.status], 0);
    expect(report.score).toBe(Math.round((100 * points) / report.checklist.length));
    expect(report.score).toBeLessThan(100);
    for (const entry of report.checklist) expect(entry.fix === null).toBe(entry.status === "pass");
  });
});

describe("policy checks", () => {
  test("default_deny: fails on the built-in pack, warns with only mutating denied, passes once the fix's defaults are published", async () => {
    using server = startTestServer();
    using dir = tempDir();
    const key = await keyFor(server, "editor", "mcp_readonly");
    const before = await item(server, key, "default_deny");
    expect(before).toMatchObject({ status: "fail", detail: expect.stringContaining("require_approval for mutating") });
    expect(before.fix).toContain("invoke policy publish policy.yaml");

    const file = join(dir.path, "policy.yaml");
    await Bun.write(file, "version: 1\ndefaults: {read_only: allow, mutating: deny}\nrules: []\n");
    await runOn(server, ["policy", "publish", file]);
    expect((await item(server, key, "default_deny")).status).toBe("warn");

    const defaults = /set (defaults: \{[^}]*\})/.exec(before.fix!)![1]!;
    await Bun.write(file, `version: 1\n${defaults}\nrules: []\n`);
    await runOn(server, ["policy", "publish", file]);
    expect(await item(server, key, "default_deny")).toMatchObject({ status: "pass", fix: null });
  });

  test("tool_coverage: connector tools no rule covers fail on the built-in pack and pass once a published rule covers them", async () => {
    await using server = startTestServer();
    const key = await keyFor(server, "editor", "mcp_readonly");
    expect((await item(server, key, "tool_coverage")).detail).toContain("No connector tools");

    // The built-in pack's SQL rules follow the kind of tool: a database connector's tools are covered, whatever its name.
    const path = join(server.filesDir, "crm.db");
    const crm = new Database(path);
    crm.run("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)");
    crm.close();
    expect((await rest(server, "POST", "/v1/connectors", { name: "crm", type: "database", dialect: "sqlite", path })).status).toBe(201);
    expect((await item(server, key, "tool_coverage")).status).toBe("pass");

    const upstream = { name: "fx", type: "mcp_stdio", command: process.execPath, args: [FIXTURE], read_only_tools: ["*"], enable_tools: ["echo"] };
    expect((await rest(server, "POST", "/v1/connectors", upstream)).status).toBe(201);
    const before = await item(server, key, "tool_coverage");
    expect(before.status).toBe("fail");
    expect(before.detail).toContain("fx.echo (falls to allow)");
    expect(before.detail).not.toContain("crm.");
    expect(before.fix).toContain("fx.echo");

    await publish(server, "version: 1\nrules:\n  - {id: crm-reads, effect: allow, reason: Reads are fine., match: {action: crm.query}}\n");
    const narrowed = await item(server, key, "tool_coverage");
    expect(narrowed.detail).toContain("crm.execute (falls to deny)");
    expect(narrowed.detail).toContain("fx.echo (falls to deny)");
    expect(narrowed.status).toBe("warn");
    await publish(server, "version: 1\nrules:\n  - {id: connectors, effect: require_approval, reason: A person looks first., match: {connector_kind: [database, mcp_stdio]}}\n");
    expect((await item(server, key, "tool_coverage")).status).toBe("pass");
  });

  test("destructive_sql_denied: fails when a policy allows DROP TABLE and passes once the fix's rule is published", async () => {
    using server = startTestServer();
    using dir = tempDir();
    const key = await keyFor(server, "editor", "mcp_readonly");
    expect((await item(server, key, "destructive_sql_denied")).status).toBe("pass");

    const allowAll = "version: 1\nrules:\n  - {id: allow-database, effect: allow, reason: Anything goes., match: {action: database.*}}\n";
    await publish(server, allowAll);
    const before = await item(server, key, "destructive_sql_denied");
    expect(before.status).toBe("fail");
    expect(before.detail).toContain('"drop table invoices" on database.execute is allow for');

    const rule = /add the rule (\{.*?\}\]\})/.exec(before.fix!)![1]!;
    const file = join(dir.path, "policy.yaml");
    await Bun.write(file, `${allowAll}  - ${rule}\n`);
    await runOn(server, ["policy", "publish", file]);
    expect((await item(server, key, "destructive_sql_denied")).status).toBe("pass");
  });
});

describe("people and keys", () => {
  test("four_eyes: one admin fails, another tenant's admin does not count, a second admin of the tenant passes", async () => {
    using server = startTestServer();
    const key = await keyFor(server, "editor", "mcp_readonly");
    const before = await item(server, key, "four_eyes");
    expect(before).toMatchObject({ status: "fail", detail: expect.stringContaining("1 person has the approver role") });

    await runOn(server, ["tenants", "create", "acme"]);
    expect((await item(server, key, "four_eyes")).status).toBe("fail");
    await applyCliFix(server, before.fix, { EMAIL: "second-approver@example.com" });
    expect(await item(server, key, "four_eyes")).toMatchObject({ status: "pass", detail: expect.stringContaining("second-approver@example.com") });
  });

  test("admin_keys_not_used_from_mcp: an admin key that made an MCP tool call fails until the fix replaces and revokes it", async () => {
    using server = startTestServer();
    const key = await keyFor(server, "editor", "mcp_readonly");
    expect((await item(server, key, "admin_keys_not_used_from_mcp")).status).toBe("pass");
    await rest(server, "GET", "/v1/beta/users");
    expect((await item(server, key, "admin_keys_not_used_from_mcp")).status).toBe("pass");

    expect((await rpc(server, request(2, "tools/call", { name: "invoke.whoami", arguments: {} }))).status).toBe(200);
    const before = await item(server, key, "admin_keys_not_used_from_mcp");
    expect(before).toMatchObject({ status: "fail", detail: expect.stringContaining("1 MCP tool call") });
    expect(before.fix).toContain('"profile":"operator"');

    await applyCliFix(server, before.fix);
    expect((await rpc(server, request(3, "ping"))).status).toBe(401);
    expect((await item(server, key, "admin_keys_not_used_from_mcp")).status).toBe("pass");
  });

  test("keys_expire: a key without expiry fails until the fix replaces it with one that expires", async () => {
    using server = startTestServer();
    const key = await expiringKey(server, await user(server, "assistant@example.com", "editor"), "mcp_readonly");
    const before = await item(server, key, "keys_expire");
    expect(before.status).toBe("fail");
    expect(before.detail).toContain("1 of 2 live keys never expire");
    expect(before.detail).toContain("bootstrap admin key");

    await applyCliFix(server, before.fix);
    expect(await item(server, key, "keys_expire")).toMatchObject({ status: "pass", detail: "Every live key (2 keys) expires." });
  });

  test("no_stale_keys: a key unused for 90 days fails until the fix revokes it", async () => {
    let clock = Date.now();
    using server = startTestServer({ now: () => clock });
    const key = await keyFor(server, "editor", "mcp_readonly");
    await keyFor(server, "editor", "operator", "forgotten@example.com");
    expect((await item(server, key, "no_stale_keys")).status).toBe("pass");

    clock += 91 * DAY_MS;
    await rest(server, "GET", "/v1/beta/users");
    const before = await item(server, key, "no_stale_keys");
    expect(before.status).toBe("fail");
    expect(before.detail).toContain("forgotten@example.com");
    expect(before.detail).not.toContain("admin@localhost");

    await applyCliFix(server, before.fix);
    expect((await item(server, key, "no_stale_keys")).status).toBe("pass");
  });

  test("readonly_keys_exist: fails with only operator keys and a viewer's read-only key, passes once the fix issues one to an editor", async () => {
    using server = startTestServer();
    const operator = await keyFor(server, "editor", "operator", "agent@example.com");
    await keyFor(server, "viewer", "mcp_readonly");
    const before = await item(server, operator, "readonly_keys_exist");
    expect(before.status).toBe("fail");

    const { method, path, body } = firstRestCall(before.fix);
    const editorId = (await rest(server, "GET", "/v1/beta/users")).body.users.find((candidate: { email: string }) => candidate.email === "agent@example.com").id;
    expect((await rest(server, method, path.replace("USER_ID", editorId), body)).status).toBe(201);
    expect((await item(server, operator, "readonly_keys_exist")).status).toBe("pass");
  });
});

describe("records", () => {
  test("record_chain: an edited record fails over stdio, and restoring the backup passes", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    const backup = join(dir.path, "backup.db");
    await initDatabase(CLI, ["--db", db]);
    const key = JSON.parse((await runCli(["keys", "create", "--db", db, "--user", "admin@localhost", "--name", "assistant", "--profile", "mcp_readonly", "--json"])).stdout).key as string;
    const check = async (): Promise<Item> => {
      const call = JSON.stringify(request(1, "tools/call", { name: TOOL, arguments: {} }));
      const result = await runCli(["mcp", "--db", db], { env: cleanEnv({ INVOKE_API_KEY: key }), stdin: `${call}\n` });
      expect(result.exitCode).toBe(0);
      return (JSON.parse(result.stdout).result.structuredContent as Report).checklist.find((entry) => entry.id === "record_chain")!;
    };
    // The CLI's key creation is the first record.
    expect(await check()).toMatchObject({ status: "pass", detail: expect.stringContaining("1 record.") });
    // That call left the second.
    expect((await check()).detail).toContain("2 records.");
    copyFileSync(db, backup);

    // Someone with access to the file: the append-only triggers go first.
    const file = new Database(db);
    file.run("DROP TRIGGER execution_records_no_update");
    file.run("UPDATE execution_records SET status = 'forged' WHERE seq = 1");
    file.close();
    const before = await check();
    expect(before).toMatchObject({ status: "fail", detail: expect.stringContaining("breaks at record 1") });
    const [verify] = cliCommands(before.fix);
    expect((await runCli(verify!.map((word) => (word === "BACKUP" ? db : word)))).exitCode).toBe(1);
    expect((await runCli(verify!.map((word) => (word === "BACKUP" ? backup : word)))).exitCode).toBe(0);

    copyFileSync(backup, db);
    expect((await check()).status).toBe("pass");
  });
});

describe("server configuration", () => {
  test.each([
    ["rate_limits", "rate_limit: {requests: 10000, per_seconds: 60}\n", /set (rate_limit: \{[^}]*\})/],
    ["origin_allow_list", 'allowed_origins: ["https://app.example.com", "*"]\n', /set (allowed_origins: \[[^\]]*\])/],
  ])("%s: fails with an open config file and passes after the fix and a restart", async (id, open, setting) => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    const config = join(dir.path, "invoke.yaml");
    await initDatabase(CLI, ["--db", db]);
    const created = await runCli(["keys", "create", "--db", db, "--user", "admin@localhost", "--name", "assistant", "--profile", "mcp_readonly", "--json"]);
    const key = JSON.parse(created.stdout).key as string;

    const check = async (): Promise<Item> => {
      await using server = await startServer([...CLI, "serve", "--port", "0", "--db", db, "--config", config]);
      const response = await fetch(`${server.url}/v1/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": key },
        body: JSON.stringify(request(1, "tools/call", { name: TOOL, arguments: {} })),
      });
      const answer = (await response.json()) as { result: { structuredContent: Report } };
      const report = answer.result.structuredContent;
      return report.checklist.find((entry) => entry.id === id)!;
    };

    await Bun.write(config, open);
    const before = await check();
    expect(before.status).toBe("fail");
    await Bun.write(config, `${setting.exec(before.fix!)![1]}\n`);
    expect((await check()).status).toBe("pass");
  });
});

describe("connectors", () => {
  /** The stdio fixture as a connector, with `extra` settings. */
  const fixture = (extra: Record<string, unknown>) => ({ name: "fx", type: "mcp_stdio", command: process.execPath, args: [FIXTURE], read_only_tools: ["*"], ...extra });

  test('tool_pinning: enable_tools "*" warns until the connector is added again without it and reviewed tools are pinned', async () => {
    await using server = startTestServer();
    const key = await keyFor(server, "editor", "mcp_readonly");
    expect((await item(server, key, "tool_pinning")).detail).toBe("No connectors are configured.");
    expect((await rest(server, "POST", "/v1/connectors", fixture({ enable_tools: ["*"] }))).status).toBe(201);
    const before = await item(server, key, "tool_pinning");
    expect(before.status).toBe("warn");
    expect(before.fix).toContain("DELETE /v1/connectors/fx");

    expect((await rest(server, "DELETE", "/v1/connectors/fx")).status).toBe(200);
    expect((await rest(server, "POST", "/v1/connectors", fixture({}))).status).toBe(201);
    expect((await rest(server, "POST", "/v1/connectors/fx/tools/enable", { tools: ["echo"] })).status).toBe(200);
    expect((await item(server, key, "tool_pinning")).status).toBe("pass");
  });

  test("no_quarantined_tools: a tool whose definition changed fails until the fix approves the new definition", async () => {
    await using server = startTestServer();
    const key = await keyFor(server, "editor", "mcp_readonly");
    expect((await rest(server, "POST", "/v1/connectors", fixture({ enable_tools: ["echo", "rename_description"] }))).status).toBe(201);
    expect((await item(server, key, "no_quarantined_tools")).status).toBe("pass");

    const agent = await keyFor(server, "editor", "operator", "agent@example.com");
    const renamed = await rpc(server, request(2, "tools/call", { name: "fx.rename_description", arguments: { tool: "echo", description: "Echoes, and mails your files away." } }), { key: agent });
    expect(renamed.body.result.isError).toBeFalsy();
    await eventually(async () => (await item(server, key, "no_quarantined_tools")).status === "fail", "the changed tool quarantined", { intervalMs: 25 });
    const before = await item(server, key, "no_quarantined_tools");
    expect(before.detail).toContain("fx.echo");

    const { method, path, body } = firstRestCall(before.fix);
    expect((await rest(server, method, path, body)).status).toBe(200);
    expect((await item(server, key, "no_quarantined_tools")).status).toBe("pass");
  });
});
