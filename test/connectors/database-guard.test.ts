/**
 * What the `database` connector enforces on its own, whatever policy decided: a statement runs where its
 * SQL analysis says (a read where the database refuses writes), SQLite's compiled statement must agree with
 * the analysis, a short list of SQLite statements never runs, SQLite work never holds up the server's
 * thread and a runaway statement is cancelled at its time limit, and a PostgreSQL session never carries
 * state from one call to the next. Everything goes through the connector's public API against real SQLite
 * files and the private PostgreSQL test server; what changed is read through the test's own connection.
 */
import { Database } from "bun:sqlite";
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ConnectorError, type UpstreamResult } from "../../src/connectors/connector.ts";
import { DatabaseConnector } from "../../src/connectors/database.ts";
import type { DatabaseSpec } from "../../src/connectors/kinds/database.ts";
import { tempDir } from "../support/harness.ts";
import { postgresSkipReason, usePostgres } from "../support/postgres.ts";

const CALL = { timeoutMs: 10_000 };

/** A started connector that `await using` closes. */
async function startConnector(name: string, config: DatabaseSpec): Promise<DatabaseConnector & AsyncDisposable> {
  const connector = Object.assign(new DatabaseConnector(name, config), { [Symbol.asyncDispose]: () => connector.close() });
  await connector.start().catch(async (error) => {
    await connector.close();
    throw error;
  });
  return connector;
}

function call(connector: DatabaseConnector, tool: "query" | "execute", sql: string, params?: unknown[]): Promise<UpstreamResult> {
  return connector.callTool(tool, params === undefined ? { sql } : { sql, params }, CALL);
}

function textOf(result: UpstreamResult): string {
  return (result.content[0] as { text: string }).text;
}

function rowsOf(result: UpstreamResult): Record<string, unknown>[] {
  expect(result.isError).toBeUndefined();
  return result.structuredContent!.rows as Record<string, unknown>[];
}

/** How long the promise took to settle, in ms. */
async function timed(work: Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work;
  return performance.now() - started;
}

/** Statements that never run: the SQL, and what the refusal says. `__DIR__` is the test's folder. */
const REFUSED_SQLITE: { sql: string; reason: RegExp }[] = [
  { sql: "ATTACH DATABASE '__DIR__/attached.sqlite' AS other", reason: /refuses ATTACH/ },
  { sql: "DETACH DATABASE other", reason: /refuses DETACH/ },
  { sql: "VACUUM", reason: /refuses VACUUM/ },
  { sql: "VACUUM INTO '__DIR__/copy.sqlite'", reason: /refuses VACUUM/ },
  { sql: "SELECT load_extension('__DIR__/extension')", reason: /refuses load_extension/ },
  { sql: "PRAGMA writable_schema = ON", reason: /refuses PRAGMA writable_schema/ },
  { sql: "PRAGMA journal_mode = WAL", reason: /refuses PRAGMA journal_mode/ },
  { sql: "pragma main.user_version = 7", reason: /refuses PRAGMA user_version/ },
  { sql: "EXPLAIN PRAGMA writable_schema = ON", reason: /refuses PRAGMA writable_schema/ },
  { sql: "UPDATE sqlite_schema SET sql = 'CREATE TABLE invoices (x)' WHERE name = 'invoices'", reason: /sqlite_(schema|master)/ },
  { sql: "SAVEPOINT s", reason: /own transaction/ },
  { sql: "SELECT 1; DELETE FROM invoices", reason: /only one SQL statement/ },
];

describe("the database connector's guard on SQLite", () => {
  const dir = tempDir();
  const path = join(dir.path, "guarded.sqlite");
  let connector: DatabaseConnector;
  afterAll(() => dir[Symbol.dispose]());

  /** invoices with an index, and an audit table that a trigger on invoices writes. */
  const seed = () => {
    for (const name of readdirSync(dir.path)) rmSync(join(dir.path, name), { force: true });
    const db = new Database(path, { create: true });
    db.run("CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount INTEGER NOT NULL, status TEXT NOT NULL)");
    db.run("CREATE INDEX invoices_status ON invoices (status)");
    db.run("CREATE TABLE audit (invoice_id INTEGER, status TEXT)");
    db.run("CREATE TRIGGER audit_status AFTER UPDATE OF status ON invoices BEGIN INSERT INTO audit VALUES (NEW.id, NEW.status); END");
    for (const [id, customer, amount, status] of [
      [1, "Acme", 1250, "open"],
      [2, "Globex", 830, "overdue"],
      [3, "Initech", 95, "open"],
    ] as const) {
      db.run("INSERT INTO invoices VALUES (?, ?, ?, ?)", [id, customer, amount, status]);
    }
    db.close();
  };
  /** Rows read through the test's own connection. */
  const read = (sql: string) => {
    const db = new Database(path, { readonly: true });
    try {
      return db.query<Record<string, unknown>, []>(sql).all();
    } finally {
      db.close();
    }
  };
  /** The file's bytes and the folder's contents: any change to the database shows here. */
  const snapshot = () => ({ bytes: Bun.hash(readFileSync(path)), files: readdirSync(dir.path).sort() });

  beforeEach(async () => {
    seed();
    connector = new DatabaseConnector("db", { type: "database", dialect: "sqlite", path });
    await connector.start();
  });
  afterEach(() => connector.close());

  test("execute runs a statement the analysis reads on the read-only connection, and a write on the read-write one", async () => {
    expect(rowsOf(await call(connector, "execute", "UPDATE invoices SET amount = amount + 1 WHERE id < 3"))).toEqual([]);
    // total_changes() counts the writes of the connection that runs it: none on the read-only one.
    expect(rowsOf(await call(connector, "execute", "SELECT total_changes() AS n"))).toEqual([{ n: 0 }]);
    expect(rowsOf(await call(connector, "execute", "UPDATE invoices SET amount = amount WHERE id = 3 RETURNING total_changes() AS n"))[0]!.n).toBeGreaterThan(0);
    expect(read("SELECT amount FROM invoices ORDER BY id")).toEqual([{ amount: 1251 }, { amount: 831 }, { amount: 95 }]);
  });

  for (const { sql: template, reason } of REFUSED_SQLITE) {
    test(`refuses ${template.replace(/'__DIR__\/[^']*'/, "'…'")} through inspect, query and execute, and nothing changes`, async () => {
      const sql = template.replaceAll("__DIR__", dir.path);
      const before = snapshot();
      const facts = await connector.inspect(sql);
      expect(facts).toMatchObject({ kind: "unknown", destructive: true });
      expect(facts.error).toMatch(reason);
      for (const tool of ["query", "execute"] as const) {
        const result = await call(connector, tool, sql);
        expect(result.isError).toBe(true);
        expect(textOf(result)).toMatch(reason);
      }
      expect(snapshot()).toEqual(before);
      expect(existsSync(join(dir.path, "attached.sqlite")) || existsSync(join(dir.path, "copy.sqlite"))).toBe(false);
      // The connection is as it was: the schema reads normally and writes still work.
      expect(rowsOf(await call(connector, "execute", "UPDATE invoices SET amount = 1 WHERE id = 3"))).toEqual([]);
      expect(read("SELECT amount FROM invoices WHERE id = 3")).toEqual([{ amount: 1 }]);
    });
  }

  test("the read-only PRAGMAs run through both tools and change nothing", async () => {
    const before = snapshot();
    for (const tool of ["query", "execute"] as const) {
      expect(rowsOf(await call(connector, tool, "PRAGMA table_info(invoices)")).map((row) => row.name)).toEqual(["id", "customer", "amount", "status"]);
      expect(rowsOf(await call(connector, tool, "PRAGMA main.index_list('invoices')")).map((row) => row.name)).toEqual(["invoices_status"]);
    }
    expect(snapshot()).toEqual(before);
  });

  test("a statement SQLite compiles into writes the analysis does not list is refused, and nothing changes", async () => {
    // The analysis reads REINDEX as an admin command that writes no table; SQLite rebuilds invoices' index.
    const before = snapshot();
    const facts = await connector.inspect("REINDEX invoices");
    expect(facts).toMatchObject({ kind: "unknown", destructive: true });
    expect(facts.error).toMatch(/SQLite disagrees with the SQL analysis: SQLite would write invoices, which the analysis does not list/);
    const result = await call(connector, "execute", "REINDEX invoices");
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/SQLite disagrees with the SQL analysis/);
    expect(snapshot()).toEqual(before);
  });

  test("the facts of a write list the tables its triggers write, and the write runs", async () => {
    const facts = await connector.inspect("UPDATE invoices SET status = 'paid' WHERE id = 2");
    expect(facts).toMatchObject({ kind: "write", destructive: false, tables_written: ["audit", "invoices"] });
    expect(facts.error).toBeUndefined();
    expect((await call(connector, "execute", "UPDATE invoices SET status = 'paid' WHERE id = 2")).structuredContent).toMatchObject({ rows_affected: 1 });
    expect(read("SELECT invoice_id, status FROM audit")).toEqual([{ invoice_id: 2, status: "paid" }]);

    // A trigger that empties a table makes the statement that fires it destructive.
    const db = new Database(path);
    db.run("CREATE TRIGGER purge_audit AFTER DELETE ON invoices BEGIN DELETE FROM audit; END");
    db.close();
    expect(await connector.inspect("DELETE FROM invoices WHERE id = 3")).toMatchObject({ kind: "write", destructive: true, tables_written: ["audit", "invoices"] });
  });

  test("the facts of an allowed statement are its analysis; a destructive one stays destructive and runs", async () => {
    expect(await connector.inspect("SELECT customer FROM invoices WHERE id = ?")).toMatchObject({ kind: "read", destructive: false, tables: ["invoices"] });
    expect(await connector.inspect("DELETE FROM invoices")).toMatchObject({ kind: "write", destructive: true, tables_written: ["invoices"] });
    expect((await call(connector, "execute", "DELETE FROM invoices")).structuredContent).toMatchObject({ rows_affected: 3 });
    expect(read("SELECT count(*) AS n FROM invoices")).toEqual([{ n: 0 }]);
  });

  test("temporary objects do not outlive the call that created them", async () => {
    // A temp trigger would otherwise fire in every later call on the connection.
    const trigger = "CREATE TEMP TRIGGER wipe AFTER UPDATE ON main.invoices BEGIN DELETE FROM main.invoices; END";
    expect((await call(connector, "execute", trigger)).isError).toBeUndefined();
    expect((await call(connector, "execute", "UPDATE invoices SET status = 'void' WHERE id = 1")).structuredContent).toMatchObject({ rows_affected: 1 });
    expect(read("SELECT id, status FROM invoices ORDER BY id")).toEqual([
      { id: 1, status: "void" },
      { id: 2, status: "overdue" },
      { id: 3, status: "open" },
    ]);
    expect((await call(connector, "execute", "CREATE TEMP TABLE scratch AS SELECT 1 AS x")).isError).toBeUndefined();
    expect(textOf(await call(connector, "execute", "SELECT x FROM scratch"))).toMatch(/no such table: scratch/);
  });

  test("a runaway query blocks neither the event loop nor another connector, and is cancelled at its time limit", async () => {
    const otherPath = join(dir.path, "other.sqlite");
    new Database(otherPath, { create: true }).close();
    await using runaway = await startConnector("runaway", { type: "database", dialect: "sqlite", path, timeout_ms: 2000 });
    await using other = await startConnector("other", { type: "database", dialect: "sqlite", path: otherPath });
    // Counts forever, inside a read of invoices: the statement holds its read lock on the file while it runs.
    const endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c, (SELECT count(*) FROM invoices)";
    const started = performance.now();
    const running = call(runaway, "query", endless).then(
      () => new Error("the runaway query returned"),
      (error: Error) => error,
    );
    await Bun.sleep(200);
    // Blocked, either would wait for the runaway's 2 s limit; 500 ms leaves room for a busy machine.
    expect(await timed(new Promise((resolve) => setTimeout(resolve, 0)))).toBeLessThan(500);
    expect(await timed(call(other, "query", "SELECT 42 AS answer"))).toBeLessThan(500);
    expect(rowsOf(await call(other, "query", "SELECT 42 AS answer"))).toEqual([{ answer: 42 }]);
    // The test's own writer cannot commit while the runaway reads the file.
    const writer = new Database(path);
    try {
      writer.run("PRAGMA busy_timeout = 0");
      expect(() => writer.run("UPDATE invoices SET amount = 7 WHERE id = 1")).toThrow(/locked/);

      const error = await running;
      const elapsed = performance.now() - started;
      expect(error).toBeInstanceOf(ConnectorError);
      expect(error.message).toMatch(/did not finish within 2000 ms/);
      expect(elapsed).toBeGreaterThanOrEqual(1900);
      expect(elapsed).toBeLessThan(4000);
      // Cancelled, not abandoned: its lock is gone the moment the call is answered.
      writer.run("UPDATE invoices SET amount = 7 WHERE id = 1");
    } finally {
      writer.close();
    }
    expect(read("SELECT amount FROM invoices WHERE id = 1")).toEqual([{ amount: 7 }]);
    expect(rowsOf(await call(runaway, "query", "SELECT count(*) AS n FROM invoices"))).toEqual([{ n: 3 }]);
    expect(runaway.health().healthy).toBe(true);
  });

  test("a runaway write is cancelled at its time limit and never commits", async () => {
    await using runaway = await startConnector("runaway", { type: "database", dialect: "sqlite", path, timeout_ms: 1000 });
    const slow = "UPDATE invoices SET amount = (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c)";
    await expect(call(runaway, "execute", slow)).rejects.toThrow(/did not finish within 1000 ms/);
    await Bun.sleep(300);
    expect(read("SELECT id, amount FROM invoices ORDER BY id")).toEqual([
      { id: 1, amount: 1250 },
      { id: 2, amount: 830 },
      { id: 3, amount: 95 },
    ]);
    expect((await call(runaway, "execute", "UPDATE invoices SET amount = 0 WHERE id = 3")).structuredContent).toMatchObject({ rows_affected: 1 });
    expect(read("SELECT amount FROM invoices WHERE id = 3")).toEqual([{ amount: 0 }]);
  });

  test("a call waiting behind a runaway one runs once it is cancelled; one whose time runs out while waiting is answered alone", async () => {
    await using runaway = await startConnector("runaway", { type: "database", dialect: "sqlite", path });
    const endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    const first = runaway.callTool("query", { sql: endless }, { timeoutMs: 1500 }).catch((error: Error) => error);
    const waiting = call(runaway, "query", "SELECT count(*) AS n FROM invoices");
    const short = runaway.callTool("query", { sql: "SELECT 1 AS one" }, { timeoutMs: 300 }).catch((error: Error) => error);
    expect(((await short) as Error).message).toMatch(/did not finish within 300 ms/);
    expect(((await first) as Error).message).toMatch(/did not finish within 1500 ms/);
    expect(rowsOf(await waiting)).toEqual([{ n: 3 }]);
  });
});

// ---- PostgreSQL ----

const skipPostgres = postgresSkipReason();
if (skipPostgres !== undefined) console.warn(skipPostgres);

describe.skipIf(skipPostgres !== undefined)("the database connector's guard on PostgreSQL", () => {
  const pg = usePostgres();
  /** The test server's URL for another role. */
  const urlAs = (role: string) => pg.server.url.replace("//invoke@", `//${role}@`);
  const config = (extra?: Partial<DatabaseSpec>): DatabaseSpec => ({ type: "database", dialect: "postgres", url: pg.server.url, ...extra });
  beforeEach(async () => {
    await pg.admin.unsafe(`
      DROP TABLE IF EXISTS invoices;
      CREATE TABLE invoices (id SERIAL PRIMARY KEY, customer TEXT NOT NULL, amount INTEGER NOT NULL, status TEXT NOT NULL);
      INSERT INTO invoices (customer, amount, status) VALUES ('Acme', 1250, 'open'), ('Globex', 830, 'overdue'), ('Initech', 95, 'open');
      CREATE OR REPLACE FUNCTION void_everything() RETURNS integer LANGUAGE sql AS $$ UPDATE invoices SET status = 'void' RETURNING 1 $$;`);
  });
  const statuses = async () => (await pg.admin`SELECT status FROM invoices ORDER BY id`).map((row: { status: string }) => row.status);

  test("execute runs what the analysis reads inside a READ ONLY transaction, and a write outside one", async () => {
    await using connector = await startConnector("db", config());
    expect(rowsOf(await call(connector, "execute", "SELECT current_setting('transaction_read_only') AS read_only"))).toEqual([{ read_only: "on" }]);
    expect(rowsOf(await call(connector, "execute", "UPDATE invoices SET amount = amount + 1 WHERE id = 1 RETURNING current_setting('transaction_read_only') AS read_only"))).toEqual([
      { read_only: "off" },
    ]);
    expect((await pg.admin`SELECT amount FROM invoices WHERE id = 1`)[0].amount).toBe(1251);
  });

  test("a function wrongly declared in read_functions is a read for the analysis, and the database refuses its write", async () => {
    await using trusting = await startConnector("db", config({ read_functions: ["void_everything"] }));
    expect(await trusting.inspect("SELECT void_everything()")).toMatchObject({ kind: "read" });
    const result = await call(trusting, "execute", "SELECT void_everything()");
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/read-only transaction/);
    expect(await statuses()).toEqual(["open", "overdue", "open"]);

    await using strict = await startConnector("db", config());
    expect((await strict.inspect("SELECT void_everything()")).kind).not.toBe("read");
  });

  test("a read cannot switch its transaction to read-write, whichever way it tries", async () => {
    await using connector = await startConnector("db", config());
    for (const sql of [
      "SELECT set_config('transaction_read_only', 'off', true), void_everything()",
      "WITH x AS (SELECT set_config('transaction_read_only', 'off', true) AS v) UPDATE invoices SET status = 'void' WHERE (SELECT v FROM x) IS NOT NULL",
      "DO $$ BEGIN SET LOCAL transaction_read_only = off; UPDATE invoices SET status = 'void'; END $$",
    ]) {
      const result = await call(connector, "query", sql);
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/read-write mode must be set before any query|read-only transaction/);
    }
    expect(await statuses()).toEqual(["open", "overdue", "open"]);
  });

  test("transaction control and several statements are refused before the server sees them", async () => {
    await using connector = await startConnector("db", config());
    for (const sql of ["BEGIN", "START TRANSACTION READ WRITE", "SAVEPOINT s", "SELECT 1; UPDATE invoices SET status = 'void'"]) {
      const facts = await connector.inspect(sql);
      expect(facts).toMatchObject({ kind: "unknown", destructive: true });
      const result = await call(connector, "execute", sql);
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/own transaction|only one SQL statement/);
    }
    expect(await statuses()).toEqual(["open", "overdue", "open"]);
  });

  test("no session state reaches the next call: settings, set_config, advisory locks, temp tables, LISTEN, prepared statements", async () => {
    // The call's time limit equals the connector's, so no call sets statement_timeout itself.
    await using connector = await startConnector("db", config({ timeout_ms: CALL.timeoutMs }));
    const leaks: [tool: "query" | "execute", sql: string][] = [
      ["execute", "SET search_path = pg_catalog"],
      ["execute", "SET statement_timeout = 1"],
      ["query", "SELECT set_config('invoke.marker', 'leaked', false)"],
      ["execute", "SELECT pg_advisory_lock(42)"],
      ["execute", "CREATE TEMP TABLE scratch AS SELECT 1 AS x"],
      ["execute", "LISTEN invoke_channel"],
      ["execute", "PREPARE leaked_plan AS SELECT 1"],
    ];
    // The pool holds up to five connections: ten rounds give every one of them each leak.
    for (let round = 0; round < 10; round++) {
      for (const [tool, sql] of leaks) expect((await call(connector, tool, sql)).isError).toBeUndefined();
    }
    const probe = `SELECT pg_backend_pid() AS pid, current_setting('search_path') AS search_path, current_setting('statement_timeout') AS statement_timeout,
      current_setting('invoke.marker', true) AS marker, to_regclass('scratch') AS scratch, (SELECT count(*)::int FROM pg_listening_channels()) AS channels,
      (SELECT count(*)::int FROM pg_prepared_statements) AS prepared, (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory`;
    const seen = new Set<number>();
    for (let round = 0; round < 20; round++) {
      const [row] = rowsOf(await call(connector, "query", probe));
      const { pid, ...state } = row!;
      seen.add(pid as number);
      const { marker, ...rest } = state;
      // A custom setting, once defined in a session, reads as empty after RESET ALL rather than undefined.
      expect([null, ""]).toContain(marker as string | null);
      expect(rest).toEqual({ search_path: '"$user", public', statement_timeout: "10s", scratch: null, channels: 0, prepared: 0, advisory: 0 });
    }
    // Every connection the connector holds was probed, so each one that took a leak was checked.
    const backends = await pg.admin`SELECT pid FROM pg_stat_activity WHERE application_name = 'invoke'`;
    expect(backends.length).toBeGreaterThan(0);
    for (const { pid } of backends) expect(seen.has(pid)).toBe(true);
    expect((await pg.admin`SELECT pg_try_advisory_lock(42) AS locked`)[0].locked).toBe(true);
    await pg.admin`SELECT pg_advisory_unlock(42)`;
  });

  test("runaway statements are cancelled on the server at their time limit, and the connector stays usable", async () => {
    await using connector = await startConnector("db", config({ timeout_ms: 500 }));
    const endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) /* runaway */ FROM c";
    const slowWrite = "UPDATE invoices SET status = 'void' WHERE (SELECT count(*) /* runaway */ FROM generate_series(1, 1000000000)) > 0";
    for (const [tool, sql] of [
      ["query", endless],
      ["execute", endless],
      ["execute", slowWrite],
    ] as const) {
      const started = performance.now();
      await expect(call(connector, tool, sql)).rejects.toThrow(/did not finish within 500 ms/);
      expect(performance.now() - started).toBeLessThan(2500);
      // The server stops the statement too: no backend is still running it.
      let running = -1;
      for (const until = Date.now() + 3000; running !== 0 && Date.now() < until; await Bun.sleep(50)) {
        running = (await pg.admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%/* runaway */%' AND pid <> pg_backend_pid()`)[0].n;
      }
      expect(running).toBe(0);
      expect(rowsOf(await call(connector, "query", "SELECT count(*)::int AS n FROM invoices"))).toEqual([{ n: 3 }]);
    }
    expect(await statuses()).toEqual(["open", "overdue", "open"]);
    expect(connector.health().healthy).toBe(true);
  });

  test("health warns about a superuser role, and about a role that owns the tables it works on, but not about a plain one", async () => {
    await pg.admin.unsafe(`
      DROP ROLE IF EXISTS invoke_reader; DROP ROLE IF EXISTS invoke_owner;
      CREATE ROLE invoke_reader LOGIN; GRANT SELECT, UPDATE ON invoices TO invoke_reader;
      CREATE ROLE invoke_owner LOGIN; ALTER TABLE invoices OWNER TO invoke_owner;`);
    try {
      await using superuser = await startConnector("db", config());
      expect(superuser.health()).toMatchObject({ healthy: true, warnings: ["role invoke is a superuser: the database cannot refuse anything Invoke lets through"] });

      await using owner = await startConnector("db", config({ url: urlAs("invoke_owner") }));
      expect(owner.health().warnings).toEqual([expect.stringMatching(/^role invoke_owner owns table invoices in schema public: it can alter or drop them/)]);

      await using reader = await startConnector("db", config({ url: urlAs("invoke_reader") }));
      expect(reader.health()).toMatchObject({ healthy: true });
      expect(reader.health().warnings).toBeUndefined();
      // The plain role works within its grants, and the database refuses the rest.
      expect((await call(reader, "execute", "UPDATE invoices SET status = 'paid' WHERE id = 2")).structuredContent).toMatchObject({ rows_affected: 1 });
      expect(textOf(await call(reader, "execute", "DROP TABLE invoices"))).toMatch(/must be owner/);
      expect(await statuses()).toEqual(["open", "paid", "open"]);
    } finally {
      await pg.admin.unsafe("ALTER TABLE invoices OWNER TO invoke; DROP OWNED BY invoke_reader; DROP ROLE invoke_reader; DROP ROLE invoke_owner");
    }
  });
});
