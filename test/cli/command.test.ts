/**
 * The `invoke` command line, spawned as `bun src/cli.ts …`: exit codes (0 ok, 1 failure with a one-line
 * reason on stderr, 2 bad usage), `init`, `serve`, help and version, each on its own temporary database.
 */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json";
import { tempDir } from "../support/harness.ts";
import { CLI, cleanEnv, initDatabase, runCli, startServer, type RunResult } from "../support/process.ts";

const KEY_SHAPE = /^inv_live_[0-9A-Za-z]{40}$/;

/** Asserts a failure: exit 1, nothing on stdout, one line on stderr that contains every `fragment`. */
function expectOneLineFailure(result: RunResult, ...fragments: string[]): void {
  expect(result.exitCode).toBe(1);
  expect(result.stdout).toBe("");
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  for (const fragment of fragments) expect(lines[0]).toContain(fragment);
}

/** Asserts bad usage: exit 2, nothing on stdout, a reason containing `fragment` on stderr. */
function expectUsageError(result: RunResult, fragment: string): void {
  expect(result.exitCode).toBe(2);
  expect(result.stdout).toBe("");
  expect(result.stderr).toContain(fragment);
}

/** The command names in the "Commands:" section of `invoke --help`. */
function listedCommands(help: string): string[] {
  const section = help.split("Commands:\n")[1] ?? "";
  return section
    .split("\n")
    .map((line) => /^ {2}(\S+) /.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

/** Every row of the tables that bootstrap writes. */
function dumpRows(path: string): unknown[] {
  const sqlite = new Database(path, { readonly: true });
  try {
    return ["tenants", "users", "api_keys"].map((table) => sqlite.query(`SELECT * FROM ${table} ORDER BY id`).all());
  } finally {
    sqlite.close();
  }
}

/** Calls invoke.whoami through `invoke mcp` with `key` and returns its structured content. */
async function whoamiOverStdio(db: string, key: string): Promise<any> {
  const call = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "invoke.whoami", arguments: {} } };
  const result = await runCli(["mcp", "--db", db], { env: cleanEnv({ INVOKE_API_KEY: key }), stdin: `${JSON.stringify(call)}\n` });
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout).result.structuredContent;
}

describe("invoke init", () => {
  test("--json prints exactly tenant_id, user_id and admin_key", async () => {
    using dir = tempDir();
    const result = await runCli(["init", "--db", join(dir.path, "invoke.db"), "--json"]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.trimEnd().split("\n")).toHaveLength(1);
    const output = JSON.parse(result.stdout);
    expect(Object.keys(output).sort()).toEqual(["admin_key", "tenant_id", "user_id"]);
    expect(output.admin_key).toMatch(KEY_SHAPE);
    expect(output.tenant_id).toMatch(/^ten_/);
    expect(output.user_id).toMatch(/^usr_/);
  });

  test("the printed key acts as the admin of the tenant it created", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    const admin = await initDatabase(CLI, ["--db", db]);
    const whoami = await whoamiOverStdio(db, admin.admin_key);
    expect(whoami).toMatchObject({ tenant: { id: admin.tenant_id, name: "default" }, user: { id: admin.user_id, email: "admin@localhost", role: "admin" } });
  });

  test("--tenant and --admin-email name the first tenant and its admin", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    const admin = await initDatabase(CLI, ["--db", db, "--tenant", "acme", "--admin-email", "ops@acme.test"]);
    const whoami = await whoamiOverStdio(db, admin.admin_key);
    expect(whoami).toMatchObject({ tenant: { name: "acme" }, user: { email: "ops@acme.test" } });
  });

  test("the admin key is stored only as a hash", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    const admin = await initDatabase(CLI, ["--db", db]);
    for (const file of [db, `${db}-wal`]) {
      if (existsSync(file)) expect(readFileSync(file).includes(admin.admin_key)).toBe(false);
    }
  });

  test("a second init on the same database exits 1 with a one-line reason and changes nothing", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    const before = dumpRows(db);
    const result = await runCli(["init", "--db", db, "--json"]);
    expectOneLineFailure(result, db, "already initialised");
    expect(dumpRows(db)).toEqual(before);
  });

  test("reads the database path from INVOKE_DB when --db is absent", async () => {
    using cwd = tempDir();
    using elsewhere = tempDir();
    const db = join(elsewhere.path, "from-env.db");
    const result = await runCli(["init", "--json"], { cwd: cwd.path, env: cleanEnv({ INVOKE_DB: db }) });
    expect(result.exitCode).toBe(0);
    expect(existsSync(db)).toBe(true);
    expect(existsSync(join(cwd.path, "invoke.db"))).toBe(false);
  });

  test("--db wins over INVOKE_DB", async () => {
    using dir = tempDir();
    const fromFlag = join(dir.path, "flag.db");
    const fromEnv = join(dir.path, "env.db");
    const result = await runCli(["init", "--db", fromFlag, "--json"], { env: cleanEnv({ INVOKE_DB: fromEnv }) });
    expect(result.exitCode).toBe(0);
    expect(existsSync(fromFlag)).toBe(true);
    expect(existsSync(fromEnv)).toBe(false);
  });
});

describe("help, version and usage errors", () => {
  test("--help lists the commands and exits 0", async () => {
    const result = await runCli(["--help"]);
    expect(result.exitCode).toBe(0);
    expect(listedCommands(result.stdout)).toEqual(expect.arrayContaining(["serve", "init", "mcp", "version"]));
  });

  test("every command that --help lists has its own --help", async () => {
    const commands = listedCommands((await runCli(["--help"])).stdout);
    for (const command of commands) {
      const result = await runCli([command, "--help"]);
      expect({ command, exitCode: result.exitCode }).toEqual({ command, exitCode: 0 });
      expect(result.stdout).toStartWith(`Usage: invoke ${command}`);
    }
    // One process per command, on two shared cores.
  }, 30_000);

  test.each([
    ["serve", ["--host", "--port", "--db", "--config", "INVOKE_PORT"]],
    ["init", ["--db", "--tenant", "--admin-email", "--json", "INVOKE_DB"]],
    ["mcp", ["--db", "--config", "INVOKE_API_KEY"]],
    ["version", []],
  ])("%s --help exits 0 and names its flags", async (command, flags) => {
    const result = await runCli([command, "--help"]);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toStartWith(`Usage: invoke ${command}`);
    for (const flag of [...flags, "--help"]) expect(result.stdout).toContain(flag);
  });

  test.each([["version"], ["--version"]])("%s prints the version of package.json", async (argument) => {
    const result = await runCli([argument]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(`invoke ${pkg.version}\n`);
  });

  test("no command exits 2 with the usage on stderr", async () => {
    const result = await runCli([]);
    expectUsageError(result, "Usage: invoke <command>");
  });

  test("an unknown command exits 2 and names it", async () => {
    expectUsageError(await runCli(["teleport"]), '"teleport"');
  });

  test("an unknown flag exits 2 and names it", async () => {
    expectUsageError(await runCli(["init", "--colour", "red"]), "--colour");
  });

  test.each(["abc", "65536", "1.5"])("serve --port %s exits 2", async (port) => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    expectUsageError(await runCli(["serve", "--port", port, "--db", db]), "--port");
    expect(existsSync(db)).toBe(false);
  });
});

describe("invoke serve", () => {
  /** `serve --port 0` on `db`, once it listens. */
  const startServe = (db: string) => startServer([...CLI, "serve", "--port", "0", "--db", db]);

  test("on an empty database prints an admin key once, and the key works", async () => {
    using dir = tempDir();
    await using server = await startServe(join(dir.path, "invoke.db"));
    const keys = server.stdout.text.match(/inv_live_[0-9A-Za-z]+/g) ?? [];
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(KEY_SHAPE);
    const response = await fetch(`${server.url}/v1/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": keys[0]! },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "invoke.whoami", arguments: {} } }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as any).result.structuredContent.user.email).toBe("admin@localhost");
  });

  test("on an initialised database prints no key", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    await using server = await startServe(db);
    // The key is printed before the "listening" line, so all of it has been read by now.
    expect(server.stdout.text).not.toContain("inv_live_");
  });

  test("answers GET /healthz on the port it prints", async () => {
    using dir = tempDir();
    await using server = await startServe(join(dir.path, "invoke.db"));
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${server.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok", version: pkg.version });
  });

  test.each(["SIGTERM", "SIGINT"] as const)("stops cleanly with exit code 0 on %s", async (signal) => {
    using dir = tempDir();
    await using server = await startServe(join(dir.path, "invoke.db"));
    server.kill(signal);
    expect(await server.waitForExit()).toBe(0);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });

  test("takes port and database from --config", async () => {
    using dir = tempDir();
    const db = join(dir.path, "from-config.db");
    const config = join(dir.path, "invoke.yaml");
    writeFileSync(config, `port: 0\ndb: ${db}\n`);
    await using server = await startServer([...CLI, "serve", "--config", config]);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(existsSync(db)).toBe(true);
  });

  test.each([
    ["an unknown field", "port: 0\ncolour: red\n", "/colour"],
    ["a field of the wrong type", 'port: "eighty"\n', "/port"],
  ])("refuses a config file with %s: exit 1 naming the file and the field", async (_, text, field) => {
    using dir = tempDir();
    const config = join(dir.path, "invoke.yaml");
    const db = join(dir.path, "invoke.db");
    writeFileSync(config, text);
    expectOneLineFailure(await runCli(["serve", "--config", config, "--db", db]), config, field);
    expect(existsSync(db)).toBe(false);
  });

  test("refuses a config file that is not YAML: exit 1 naming the file", async () => {
    using dir = tempDir();
    const config = join(dir.path, "invoke.yaml");
    const db = join(dir.path, "invoke.db");
    writeFileSync(config, "port: [1,\n");
    const result = await runCli(["serve", "--config", config, "--db", db]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr.split("\n")[0]).toContain(config);
    expect(result.stderr).toContain("YAML");
    expect(existsSync(db)).toBe(false);
  });

  test("reports a config file that is not YAML on one line", async () => {
    using dir = tempDir();
    const config = join(dir.path, "invoke.yaml");
    writeFileSync(config, "port: [1,\n");
    expectOneLineFailure(await runCli(["serve", "--config", config, "--db", join(dir.path, "invoke.db")]), config);
  });

  test("refuses a missing config file: exit 1 naming it", async () => {
    using dir = tempDir();
    const config = join(dir.path, "missing.yaml");
    expectOneLineFailure(await runCli(["serve", "--config", config, "--db", join(dir.path, "invoke.db")]), config);
  });
});

describe("a database from a newer Invoke", () => {
  /** An empty SQLite file whose PRAGMA user_version is beyond any schema this build knows. */
  function futureDatabase(dir: string): string {
    const path = join(dir, "future.db");
    const sqlite = new Database(path, { create: true });
    sqlite.run("PRAGMA user_version = 999");
    sqlite.close();
    return path;
  }

  function schemaState(path: string) {
    const sqlite = new Database(path, { readonly: true });
    try {
      return {
        version: (sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version,
        tables: sqlite.query("SELECT name FROM sqlite_master").all(),
      };
    } finally {
      sqlite.close();
    }
  }

  test.each([
    ["serve", ["serve", "--port", "0"]],
    ["init", ["init", "--json"]],
    ["mcp", ["mcp"]],
  ])("is refused by %s with exit 1 and a clear message, untouched", async (_, args) => {
    using dir = tempDir();
    const db = futureDatabase(dir.path);
    const result = await runCli([...args, "--db", db], { env: cleanEnv({ INVOKE_API_KEY: `inv_live_${"0".repeat(40)}` }) });
    expectOneLineFailure(result, db, "schema version 999", "newer");
    expect(schemaState(db)).toEqual({ version: 999, tables: [] });
  });
});
