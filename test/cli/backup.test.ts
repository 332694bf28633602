/**
 * `invoke backup` and `invoke restore` through the real CLI: a snapshot taken while a server answers
 * tool calls restores to a database whose chains verify and that holds every call answered before it;
 * restore refuses a database a server holds, damaged or foreign snapshots, and always keeps what it
 * replaces; starting on a database of an older schema backs it up before migrating it.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SCHEMA_VERSION } from "../../src/storage/sqlite/db.ts";
import { migrations } from "../../src/storage/sqlite/migrations.ts";
import { tempDir } from "../support/harness.ts";
import { CLI, initDatabase, runCli, startServer, type RunningProcess } from "../support/process.ts";

const CALL = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "invoke.whoami", arguments: {} } });
/** Concurrent callers: enough to keep the writer busy on two shared cores. */
const CALLERS = 4;

/** Calls invoke.whoami in a loop from CALLERS callers, each call under its own agent id, until stopped. */
function callInLoop(url: string, key: string) {
  const answered: string[] = [];
  let stopping = false;
  const caller = async (index: number) => {
    for (let call = 0; !stopping; call++) {
      const agent = `load-${index}-${call}`;
      const res = await fetch(`${url}/v1/mcp`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", "X-API-Key": key, "X-Invoke-Agent-Id": agent },
        body: CALL,
      });
      const body = (await res.json()) as { result?: { isError?: boolean } };
      if (res.status === 200 && body.result !== undefined && body.result.isError !== true) answered.push(agent);
    }
  };
  const callers = Array.from({ length: CALLERS }, (_, index) => caller(index));
  return {
    answered,
    async stop() {
      stopping = true;
      await Promise.all(callers);
    },
  };
}

/** The agent ids of a database's invoke.whoami records. */
function recordedAgents(db: string): Set<string> {
  const sqlite = new Database(db, { readonly: true });
  try {
    return new Set(sqlite.query<{ agent_id: string }, []>("SELECT agent_id FROM execution_records WHERE tool = 'invoke.whoami' AND agent_id IS NOT NULL").all().map((row) => row.agent_id));
  } finally {
    sqlite.close();
  }
}

function userVersion(db: string): number {
  const sqlite = new Database(db, { readonly: true });
  try {
    return (sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  } finally {
    sqlite.close();
  }
}

/** A fresh database in `dir` and a config that lifts the rate limit (the default would refuse the load). */
async function freshDatabase(dir: string): Promise<{ db: string; config: string; key: string; serve: string[] }> {
  const db = join(dir, "invoke.db");
  const config = join(dir, "invoke.yaml");
  await Bun.write(config, "rate_limit: { requests: 100000, per_seconds: 60 }\n");
  const { admin_key: key } = await initDatabase(CLI, ["--db", db]);
  return { db, config, key, serve: [...CLI, "serve", "--db", db, "--port", "0", "--config", config] };
}

async function stopServer(server: RunningProcess): Promise<void> {
  server.kill("SIGTERM");
  expect(await server.waitForExit()).toBe(0);
}

describe("invoke backup", () => {
  test("a backup taken under write load restores to a database whose chain verifies and holds every call answered before it", async () => {
    using dir = tempDir();
    const { db, key, serve } = await freshDatabase(dir.path);
    await using server = await startServer(serve);
    const load = callInLoop(server.url, key);
    const snapshot = join(dir.path, "snapshot.db");
    let before: string[];
    let during: number;
    let backup: Awaited<ReturnType<typeof runCli>>;
    try {
      await Bun.sleep(300);
      before = [...load.answered];
      backup = await runCli(["backup", snapshot, "--db", db]);
      during = load.answered.length - before.length;
      await Bun.sleep(100);
    } finally {
      await load.stop();
    }
    expect(backup.exitCode).toBe(0);
    expect(backup.stdout).toContain(`Saved ${snapshot}`);
    expect(backup.stdout).toContain(`schema version ${SCHEMA_VERSION}`);
    expect(backup.stdout).toMatch(/tenant default: \d+ execution records/);
    // The server kept answering while the backup ran: the snapshot was taken online.
    expect(before.length).toBeGreaterThan(10);
    expect(during).toBeGreaterThan(0);

    const restored = join(dir.path, "restored.db");
    const restore = await runCli(["restore", snapshot, "--db", restored]);
    expect(restore.exitCode).toBe(0);
    expect(restore.stdout).toContain("hash chains intact");

    // A copy beside no key file and no checkpoint log: verify walks the chains alone.
    const verify = await runCli(["executions", "verify", "--db", restored, "--json"]);
    expect(verify.exitCode).toBe(0);
    expect((JSON.parse(verify.stdout) as { ok: boolean }).ok).toBe(true);
    const recorded = recordedAgents(restored);
    expect(before.filter((agent) => !recorded.has(agent))).toEqual([]);
    // The records written after the snapshot are in the live database only.
    expect(recordedAgents(db).size).toBeGreaterThan(recorded.size);
  }, 30_000);

  test("refuses to overwrite an existing file unless --force", async () => {
    using dir = tempDir();
    const { db } = await freshDatabase(dir.path);
    const file = join(dir.path, "existing.db");
    writeFileSync(file, "keep me");
    const refused = await runCli(["backup", file, "--db", db]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim()).toBe(`invoke: ${file} exists; --force replaces it`);
    expect(await Bun.file(file).text()).toBe("keep me");
    const forced = await runCli(["backup", file, "--db", db, "--force"]);
    expect(forced.exitCode).toBe(0);
    expect(userVersion(file)).toBe(SCHEMA_VERSION);
    expect(readdirSync(dir.path).filter((name) => name.includes(".partial-"))).toEqual([]);
  });
});

describe("invoke restore", () => {
  test("refuses a database a running server holds, then replaces it once stopped and keeps the replaced one", async () => {
    using dir = tempDir();
    const { db, key, serve } = await freshDatabase(dir.path);
    const snapshot = join(dir.path, "snapshot.db");
    expect((await runCli(["backup", snapshot, "--db", db])).exitCode).toBe(0);

    const server = await startServer(serve);
    await using _server = server;
    const load = callInLoop(server.url, key);
    await Bun.sleep(200);
    await load.stop();
    const live = await runCli(["restore", snapshot, "--db", db, "--force"]);
    expect(live.exitCode).toBe(1);
    expect(live.stderr.trim().split("\n")).toEqual([`invoke: database ${db} is in use by a running process (an invoke server?): stop it, then restore`]);
    expect(readdirSync(dir.path).filter((name) => name.includes("before-restore"))).toEqual([]);
    // The server was not disturbed: it still answers.
    const still = callInLoop(server.url, key);
    await Bun.sleep(100);
    await still.stop();
    expect(still.answered.length).toBeGreaterThan(0);
    await stopServer(server);
    const liveAgents = recordedAgents(db);
    expect(liveAgents.size).toBeGreaterThan(0);

    const restored = await runCli(["restore", snapshot, "--db", db, "--force"]);
    expect(restored.exitCode).toBe(0);
    expect(restored.stdout).toContain("will report a rollback");
    const kept = readdirSync(dir.path).filter((name) => name.startsWith("invoke.db.before-restore-"));
    expect(kept).toHaveLength(1);
    expect(recordedAgents(join(dir.path, kept[0]!))).toEqual(liveAgents);
    expect(recordedAgents(db).size).toBe(0);
    expect(existsSync(`${db}-wal`)).toBe(false);
    // The checkpoints signed at shutdown cover records the snapshot does not have.
    const verify = await runCli(["executions", "verify", "--db", db, "--config", join(dir.path, "invoke.yaml")]);
    expect(verify.exitCode).toBe(1);
    expect(verify.stderr).toContain("the checkpoint of");
  }, 30_000);

  test("refuses to replace an existing database without --force", async () => {
    using dir = tempDir();
    const { db } = await freshDatabase(dir.path);
    const snapshot = join(dir.path, "snapshot.db");
    expect((await runCli(["backup", snapshot, "--db", db])).exitCode).toBe(0);
    const refused = await runCli(["restore", snapshot, "--db", db]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain("--force replaces it");
    expect(readdirSync(dir.path).filter((name) => name.includes("before-restore"))).toEqual([]);
  });

  test.each([
    ["a truncated snapshot", (file: string) => truncateSync(file, 5000), "is not a usable SQLite database"],
    ["a snapshot with garbled pages", (file: string) => garble(file, 4096, 8192), "is damaged"],
    ["a file that is not SQLite", (file: string) => writeFileSync(file, "x".repeat(8192)), "is not a usable SQLite database"],
    ["a SQLite file that is not an Invoke database", (file: string) => foreignDatabase(file), "is not an Invoke database"],
    ["a snapshot with a schema our migrations do not make", (file: string) => extraTable(file), "table intruder is not made by our migrations"],
    ["a snapshot whose hash chain was edited", (file: string) => editRecord(file), "was changed"],
  ])("refuses %s and leaves the database alone", async (_name, damage, reason) => {
    using dir = tempDir();
    const { db, key, serve } = await freshDatabase(dir.path);
    {
      await using server = await startServer(serve);
      const load = callInLoop(server.url, key);
      await Bun.sleep(150);
      await load.stop();
      await stopServer(server);
    }
    const snapshot = join(dir.path, "snapshot.db");
    expect((await runCli(["backup", snapshot, "--db", db])).exitCode).toBe(0);
    const agents = recordedAgents(db);
    damage(snapshot);
    const refused = await runCli(["restore", snapshot, "--db", db, "--force"]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toContain(reason);
    expect(refused.stderr).toContain(snapshot);
    expect(recordedAgents(db)).toEqual(agents);
    expect(readdirSync(dir.path).filter((name) => name.includes("before-restore") || name.endsWith(".tmp"))).toEqual([]);
  }, 20_000);
});

describe("upgrading", () => {
  test("starting on a database of an older schema backs it up before migrating; a new database gets no backup", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    const older = SCHEMA_VERSION - 1;
    // What an Invoke one migration behind leaves: our first migrations, and a tenant.
    const sqlite = new Database(db);
    for (const migration of migrations.slice(0, older)) for (const statement of migration.statements) sqlite.run(statement);
    sqlite.run(`PRAGMA user_version = ${older}`);
    sqlite.run("INSERT INTO tenants (id, name, created_at) VALUES ('tn_old', 'before-upgrade', 0)");
    sqlite.close();

    const listed = await runCli(["tenants", "list", "--db", db]);
    const backup = `${db}.pre-migration-v${older}.bak`;
    expect(listed.stderr).toContain(`backed it up to ${backup} before migrating it to ${SCHEMA_VERSION}`);
    expect(userVersion(db)).toBe(SCHEMA_VERSION);
    expect(userVersion(backup)).toBe(older);
    const saved = new Database(backup, { readonly: true });
    expect(saved.query("SELECT name FROM tenants").all()).toEqual([{ name: "before-upgrade" }]);
    saved.close();

    // Rolling back: the backup is a valid snapshot of the older schema.
    const rollback = await runCli(["restore", backup, "--db", db, "--force"]);
    expect(rollback.exitCode).toBe(0);
    expect(rollback.stdout).toContain("older than this Invoke's");
    expect(userVersion(db)).toBe(older);

    using fresh = tempDir();
    await initDatabase(CLI, ["--db", join(fresh.path, "invoke.db")]);
    expect(readdirSync(fresh.path).filter((name) => name.includes("pre-migration"))).toEqual([]);
  }, 20_000);
});

/** Overwrites `length` bytes from `offset` with a fixed pattern. */
function garble(file: string, offset: number, length: number): void {
  const bytes = new Uint8Array(readFileSync(file));
  for (let index = offset; index < offset + length && index < bytes.length; index++) bytes[index] = (index * 37) & 0xff;
  writeFileSync(file, bytes);
}

function foreignDatabase(file: string): void {
  rmSync(file);
  const sqlite = new Database(file);
  sqlite.run("CREATE TABLE notes (body TEXT)");
  sqlite.close();
}

function extraTable(file: string): void {
  const sqlite = new Database(file);
  sqlite.run("CREATE TABLE intruder (x)");
  sqlite.close();
}

/** Rewrites one record's status, past the append-only trigger, as someone with the file could. */
function editRecord(file: string): void {
  const sqlite = new Database(file);
  const { sql } = sqlite.query("SELECT sql FROM sqlite_master WHERE name = 'execution_records_no_update'").get() as { sql: string };
  sqlite.run("DROP TRIGGER execution_records_no_update");
  sqlite.run("UPDATE execution_records SET status = 'error' WHERE seq = 1");
  sqlite.run(sql);
  sqlite.close();
}
