/** `invoke policy …`, `invoke smoke` and the checked-in smoke script, spawned as real processes on temporary databases. */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../support/harness.ts";
import { CLI, cleanEnv, initDatabase, REPO_ROOT, runCli, runOnFreshDatabase, runProcess, startServer } from "../support/process.ts";

const FREEZE = `version: 1
rules:
  - id: freeze-sql
    effect: deny
    reason: the database is frozen for the audit
    match: { action: "database.*" }
`;

describe("invoke policy", () => {
  test("check accepts a valid file and refuses an invalid one with every problem, exit 1", async () => {
    using dir = tempDir();
    const good = join(dir.path, "good.yaml");
    const bad = join(dir.path, "bad.yaml");
    await Bun.write(good, FREEZE);
    await Bun.write(bad, FREEZE.replace("effect: deny", "effect: deny-ish") + "  - id: everything\n    effect: allow\n    reason: x\n");
    const ok = await runCli(["policy", "check", good]);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain("valid, 1 rules");
    const refused = await runCli(["policy", "check", bad]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`${bad}:4: rule freeze-sql: effect:`);
  });

  test("publish, simulate, list, diff and rollback on the local database", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    const file = join(dir.path, "freeze.yaml");
    await Bun.write(file, FREEZE);
    await initDatabase(CLI, ["--db", db]);
    const simulateArgs = ["policy", "simulate", "--db", db, "--agent", "finance_agent", "--action", "database.execute", "--params", '{"sql":"select 1"}', "--json"];

    expect(JSON.parse((await runCli(simulateArgs)).stdout)).toMatchObject({ decision: "allow", policy_version: 0 });
    const published = await runCli(["policy", "publish", file, "--db", db, "--comment", "audit freeze"]);
    expect(published.stdout).toContain("Published policy version 1");
    expect(JSON.parse((await runCli(simulateArgs)).stdout)).toMatchObject({ decision: "deny", policy_version: 1, matched_rules: [{ id: "freeze-sql" }] });

    const diff = await runCli(["policy", "diff", "0", "1", "--db", db]);
    expect(diff.stdout).toContain("+  - id: freeze-sql");
    const rolled = await runCli(["policy", "rollback", "--db", db]);
    expect(rolled.stdout).toContain("Published policy version 2 (rollback to version 0)");
    const list = JSON.parse((await runCli(["policy", "list", "--db", db, "--json"])).stdout);
    expect(list.versions.map((version: { status: string }) => version.status)).toEqual(["active", "superseded", "builtin"]);
    expect((await runCli(["policy", "show", "--version", "0", "--db", db])).stdout).toContain("deny-destructive-sql");
    // Nine CLI processes in a row.
  }, 20_000);

  test("simulate of the seed example denies with the rule on the default pack", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    const result = await runCli(["policy", "simulate", "--db", db, "--agent", "finance_agent", "--action", "database.execute", "--params", '{"sql":"drop table invoices"}']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toStartWith("deny (policy version 0)");
    expect(result.stdout).toContain("deny-destructive-sql");
  });

  test.each([
    [["policy"], "expected one of"],
    [["policy", "simulate", "--action", "x.y"], "--agent"],
    [["policy", "simulate", "--agent", "a", "--action", "x.y", "--params", "[1]"], "--params"],
    [["policy", "diff", "one"], "FROM"],
    [["policy", "show", "--version", "latest"], "--version"],
  ])("%j is a usage error", async (args, fragment) => {
    const result = await runOnFreshDatabase(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(fragment);
  });
});

describe("invoke smoke", () => {
  test("passes against a freshly started server with an mcp_readonly key, mutating nothing", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    const init = await initDatabase(CLI, ["--db", db]);
    const key = JSON.parse((await runCli(["keys", "create", "--db", db, "--user", "admin@localhost", "--name", "smoke", "--profile", "mcp_readonly", "--json"])).stdout).key;
    await using server = await startServer([...CLI, "serve", "--port", "0", "--db", db]);
    const before = await Bun.file(db).size;
    const result = await runCli(["smoke", "--url", server.url], { env: cleanEnv({ INVOKE_API_KEY: key }) });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.match(/^ok {4}/gm)).toHaveLength(4);
    expect(result.stdout).toContain("drop table invoices → deny");
    expect(init.admin_key).not.toBe(key);
    // The checked-in Python script does the same four steps.
    const python = await runProcess(["python3", join(REPO_ROOT, "scripts", "test_mcp_smoke.py")], { env: cleanEnv({ INVOKE_BASE_URL: server.url, INVOKE_API_KEY: key }) });
    expect(python.exitCode).toBe(0);
    expect(python.stdout.match(/^ok {4}/gm)).toHaveLength(4);
    expect(python.stdout).toContain("drop table invoices -> deny");
    expect(await Bun.file(db).size).toBe(before);
  });

  test("fails with exit 1 when a step fails", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    await using server = await startServer([...CLI, "serve", "--port", "0", "--db", db]);
    const result = await runCli(["smoke", "--url", server.url], { env: cleanEnv({ INVOKE_API_KEY: `inv_live_${"0".repeat(40)}` }) });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain("FAIL  initialize");
    expect(result.stderr).toContain("smoke steps failed");
    const python = await runProcess(["python3", join(REPO_ROOT, "scripts", "test_mcp_smoke.py")], { env: cleanEnv({ INVOKE_BASE_URL: server.url, INVOKE_API_KEY: `inv_live_${"0".repeat(40)}` }) });
    expect(python.exitCode).toBe(1);
    expect(python.stdout).toContain("FAIL  initialize");
    expect(python.stdout).not.toContain("Traceback");
  });
});
