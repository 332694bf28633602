/**
 * The `database` connector against real databases: a temporary SQLite file, and a private PostgreSQL
 * server (test/support/postgres.ts). The same cases run on both dialects; every change is checked by
 * reading the database through a connection of the test's own.
 */
import { Database } from "bun:sqlite";
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import demo from "../../src/brain/demo-company.json";
import { ConnectorError, type UpstreamResult } from "../../src/connectors/connector.ts";
import { DatabaseConnector } from "../../src/connectors/database.ts";
import type { DatabaseSpec } from "../../src/connectors/kinds/database.ts";
import { createDemoDatabase } from "../../src/connectors/demo-database.ts";
import { tempDir } from "../support/harness.ts";
import { postgresSkipReason, startPostgres, usePostgres } from "../support/postgres.ts";

const SEED = [
  { id: 1, customer: "Acme", amount: 1250, status: "open" },
  { id: 2, customer: "Acme", amount: 830, status: "overdue" },
  { id: 3, customer: "Globex", amount: 2200, status: "paid" },
  { id: 4, customer: "Initech", amount: 95, status: "open" },
  { id: 5, customer: "Umbrella", amount: 3100, status: "overdue" },
];

const CALL = { timeoutMs: 10_000 };

/** A database holding `invoices`, reset to SEED before each test, readable behind the connector's back. */
interface Fixture {
  /** The connector's configuration for this database (plus `extra`). */
  config(extra?: Partial<DatabaseSpec>): DatabaseSpec;
  /** The dialect's n-th placeholder (from 1). */
  placeholder(n: number): string;
  reset(): Promise<void>;
  /** Rows read through the test's own connection. */
  read(sql: string): Promise<Record<string, unknown>[]>;
  tableExists(name: string): Promise<boolean>;
}

function call(connector: DatabaseConnector, tool: "query" | "execute", sql: string, params?: unknown[]): Promise<UpstreamResult> {
  return connector.callTool(tool, params === undefined ? { sql } : { sql, params }, CALL);
}

/** A started connector that `await using` closes. */
async function startConnector(config: DatabaseSpec): Promise<DatabaseConnector & AsyncDisposable> {
  const connector = Object.assign(new DatabaseConnector("db", config), { [Symbol.asyncDispose]: () => connector.close() });
  await connector.start().catch(async (error) => {
    await connector.close();
    throw error;
  });
  return connector;
}

/** The result's message, for error results. */
function textOf(result: UpstreamResult): string {
  return (result.content[0] as { text: string }).text;
}

/** The cases both dialects must pass. */
function sharedCases(fixture: () => Fixture) {
  let connector: DatabaseConnector;
  const statuses = async () => (await fixture().read("SELECT id, status FROM invoices ORDER BY id")).map((row) => `${row.id}:${row.status}`);
  const seeded = SEED.map((row) => `${row.id}:${row.status}`);

  beforeEach(async () => {
    await fixture().reset();
    connector = new DatabaseConnector("db", fixture().config());
    await connector.start();
  });
  afterEach(() => connector.close());

  test("declares query and execute, and is healthy once started", async () => {
    const tools = await connector.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(["query", "execute"]);
    expect(tools[0]!.inputSchema).toMatchObject({ type: "object", required: ["sql"] });
    expect(tools[0]!.outputSchema).toMatchObject({ type: "object", required: ["columns", "rows", "row_count", "truncated"] });
    expect(connector.health()).toMatchObject({ healthy: true, restarts: 0 });
  });

  test("query runs a SELECT and returns its rows as structured content and JSON text", async () => {
    const result = await call(connector, "query", "SELECT id, customer, amount, status FROM invoices WHERE status = 'open' ORDER BY id");
    expect(result.isError).toBeUndefined();
    expect(result.structuredContent).toEqual({
      columns: ["id", "customer", "amount", "status"],
      rows: [SEED[0], SEED[3]],
      row_count: 2,
      truncated: false,
    });
    expect(JSON.parse(textOf(result))).toEqual(result.structuredContent!);
  });

  test("query binds params", async () => {
    const result = await call(connector, "query", `SELECT id FROM invoices WHERE customer = ${fixture().placeholder(1)} AND amount > ${fixture().placeholder(2)} ORDER BY id`, ["Acme", 1000]);
    expect(result.structuredContent?.rows).toEqual([{ id: 1 }]);
  });

  test("query refuses a write: the database itself answers with an error, and nothing changes", async () => {
    const result = await call(connector, "query", "UPDATE invoices SET status = 'paid' WHERE id = 2");
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/read-?only/i);
    expect(await statuses()).toEqual(seeded);
  });

  test("execute UPDATE … WHERE changes exactly the matched rows", async () => {
    const result = await call(connector, "execute", "UPDATE invoices SET status = 'paid' WHERE status = 'overdue'");
    expect(result.isError).toBeUndefined();
    expect(result.structuredContent).toMatchObject({ columns: [], rows: [], row_count: 0, truncated: false, rows_affected: 2 });
    expect(await statuses()).toEqual(["1:open", "2:paid", "3:paid", "4:open", "5:paid"]);
  });

  test("execute binds params", async () => {
    const [a, b, c, d] = [1, 2, 3, 4].map((n) => fixture().placeholder(n));
    const result = await call(connector, "execute", `INSERT INTO invoices (id, customer, amount, status) VALUES (${a}, ${b}, ${c}, ${d})`, [6, "Hooli", 400, "open"]);
    expect(result.structuredContent).toMatchObject({ rows_affected: 1 });
    expect(await fixture().read("SELECT customer, amount FROM invoices WHERE id = 6")).toEqual([{ customer: "Hooli", amount: 400 }]);
  });

  test("execute returns the rows of a statement that returns some (RETURNING)", async () => {
    const result = await call(connector, "execute", "UPDATE invoices SET amount = amount + 1 WHERE customer = 'Acme' RETURNING id, amount");
    expect(result.structuredContent).toMatchObject({ columns: ["id", "amount"], row_count: 2, rows_affected: 2 });
    expect((result.structuredContent!.rows as { id: number }[]).map((row) => row.id).sort()).toEqual([1, 2]);
  });

  test("execute DROP TABLE runs (governance is not the connector's job)", async () => {
    const result = await call(connector, "execute", "DROP TABLE invoices");
    expect(result.isError).toBeUndefined();
    expect(await fixture().tableExists("invoices")).toBe(false);
  });

  test("a syntax error is an error result carrying the database's message", async () => {
    const result = await call(connector, "execute", "UPDAT invoices SET status = 'paid'");
    expect(result).toMatchObject({ isError: true });
    expect(textOf(result)).toMatch(/syntax error/);
    expect(result.structuredContent).toBeUndefined();
  });

  test("a missing table and a constraint violation are error results", async () => {
    expect(textOf(await call(connector, "query", "SELECT * FROM nope"))).toMatch(/no such table: nope|relation "nope" does not exist/);
    const duplicate = await call(connector, "execute", "INSERT INTO invoices (id, customer, amount, status) VALUES (1, 'Again', 1, 'open')");
    expect(duplicate.isError).toBe(true);
    expect(textOf(duplicate)).toMatch(/UNIQUE constraint failed|duplicate key value/);
  });

  test("a placeholder without its value is an error result, not a connection failure", async () => {
    const result = await call(connector, "query", `SELECT id FROM invoices WHERE id = ${fixture().placeholder(1)}`);
    expect(result.isError).toBe(true);
    expect(connector.health().healthy).toBe(true);
  });

  test("two statements in one call are refused, and neither runs", async () => {
    const result = await call(connector, "execute", "UPDATE invoices SET status = 'paid'; DROP TABLE invoices");
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/only one SQL statement per call/);
    expect(await statuses()).toEqual(seeded);
  });

  test("a statement with a quoted or commented semicolon is still one statement", async () => {
    const result = await call(connector, "execute", "UPDATE invoices SET customer = 'A;B' WHERE id = 4; -- done");
    expect(result.structuredContent).toMatchObject({ rows_affected: 1 });
    expect(await fixture().read("SELECT customer FROM invoices WHERE id = 4")).toEqual([{ customer: "A;B" }]);
  });

  test("rows beyond max_rows are dropped and the result says so", async () => {
    await using limited = await startConnector(fixture().config({ max_rows: 2 }));
    const result = await call(limited, "query", "SELECT id FROM invoices ORDER BY id");
    expect(result.structuredContent).toMatchObject({ rows: [{ id: 1 }, { id: 2 }], row_count: 2, truncated: true });
  });

  test("invalid arguments and unknown tools are error results", async () => {
    expect((await connector.callTool("query", { sql: 42 }, CALL)).isError).toBe(true);
    expect((await connector.callTool("query", { sql: "SELECT 1", params: [{}] }, CALL)).isError).toBe(true);
    expect((await connector.callTool("drop", { sql: "SELECT 1" }, CALL)).isError).toBe(true);
  });

  test("a closed connector rejects calls with ConnectorError", async () => {
    await connector.close();
    await expect(call(connector, "query", "SELECT 1")).rejects.toBeInstanceOf(ConnectorError);
    expect(connector.health()).toMatchObject({ healthy: false, detail: "closed" });
  });
}

// ---- SQLite ----

const INVOICES_DDL = "CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount INTEGER NOT NULL, status TEXT NOT NULL)";

function seedSqlite(path: string): void {
  rmSync(path, { force: true });
  const db = new Database(path, { create: true, strict: true });
  db.run(INVOICES_DDL);
  const insert = db.prepare("INSERT INTO invoices (id, customer, amount, status) VALUES ($id, $customer, $amount, $status)");
  for (const row of SEED) insert.run(row);
  db.close();
}

function readSqlite(path: string, sql: string): Record<string, unknown>[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.query<Record<string, unknown>, []>(sql).all();
  } finally {
    db.close();
  }
}

describe("database connector on SQLite", () => {
  const dir = tempDir();
  const path = join(dir.path, "company.sqlite");
  afterAll(() => dir[Symbol.dispose]());

  const fixture: Fixture = {
    config: (extra) => ({ type: "database", dialect: "sqlite", path, ...extra }),
    placeholder: () => "?",
    reset: async () => seedSqlite(path),
    read: async (sql) => readSqlite(path, sql),
    tableExists: async (name) => readSqlite(path, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name = '${name}'`).length > 0,
  };
  sharedCases(() => fixture);

  describe("SQLite specifics", () => {
    let connector: DatabaseConnector;
    beforeEach(async () => {
      seedSqlite(path);
      connector = new DatabaseConnector("db", fixture.config());
      await connector.start();
    });
    afterEach(() => connector.close());

    test("a missing file is refused at start, not created", async () => {
      const missing = join(dir.path, "typo.sqlite");
      const absent = new DatabaseConnector("db", { type: "database", dialect: "sqlite", path: missing });
      try {
        await expect(absent.start()).rejects.toThrow(`SQLite database ${missing} does not exist`);
        await absent.start().catch(() => {});
        expect(existsSync(missing)).toBe(false);
        expect(absent.health()).toMatchObject({ healthy: false, detail: expect.stringContaining("does not exist") });
        await expect(call(absent, "query", "SELECT 1")).rejects.toBeInstanceOf(ConnectorError);
      } finally {
        await absent.close();
      }
    });

    test("a connector whose file appears later recovers by itself, announces its tools, and counts reconnections", async () => {
      const later = join(dir.path, "later.sqlite");
      const waitUntilHealthy = async (connector: DatabaseConnector) => {
        // Retries start one second after a failure.
        for (const until = Date.now() + 5000; !connector.health().healthy && Date.now() < until; ) await Bun.sleep(50);
      };
      const connector = new DatabaseConnector("db", { type: "database", dialect: "sqlite", path: later });
      let announced = 0;
      connector.onToolsChanged = () => announced++;
      try {
        await expect(connector.start()).rejects.toThrow(/does not exist/);
        seedSqlite(later);
        await waitUntilHealthy(connector);
        expect(connector.health()).toMatchObject({ healthy: true, restarts: 0 });
        expect(announced).toBe(1);
        expect((await call(connector, "query", "SELECT count(*) AS n FROM invoices")).structuredContent?.rows).toEqual([{ n: SEED.length }]);

        rmSync(later);
        await expect(call(connector, "query", "SELECT 1")).rejects.toBeInstanceOf(ConnectorError);
        seedSqlite(later);
        await waitUntilHealthy(connector);
        expect(connector.health()).toMatchObject({ healthy: true, restarts: 1 });
      } finally {
        await connector.close();
      }
    });

    test("a file deleted after start makes calls fail with ConnectorError and the connector unhealthy", async () => {
      rmSync(path);
      await expect(call(connector, "query", "SELECT 1")).rejects.toBeInstanceOf(ConnectorError);
      expect(connector.health()).toMatchObject({ healthy: false, detail: expect.stringMatching(/company.sqlite (no longer exists|does not exist)/) });
    });

    test("query stays read-only even after trying to switch query_only off", async () => {
      const pragma = await call(connector, "query", "PRAGMA query_only = OFF");
      expect(pragma.isError).toBe(true);
      expect(textOf(pragma)).toMatch(/refuses PRAGMA query_only/);
      const result = await call(connector, "query", "DELETE FROM invoices");
      expect(textOf(result)).toMatch(/readonly database/);
      expect(readSqlite(path, "SELECT count(*) AS n FROM invoices")).toEqual([{ n: SEED.length }]);
    });

    test("a transaction left open by BEGIN is rolled back and reported", async () => {
      const result = await call(connector, "execute", "BEGIN");
      expect(textOf(result)).toMatch(/own transaction/);
      expect((await call(connector, "execute", "UPDATE invoices SET status = 'void' WHERE id = 1")).structuredContent).toMatchObject({ rows_affected: 1 });
      expect(readSqlite(path, "SELECT status FROM invoices WHERE id = 1")).toEqual([{ status: "void" }]);
    });

    test("execute reports the rowid of an inserted row", async () => {
      const result = await call(connector, "execute", "INSERT INTO invoices (customer, amount, status) VALUES ('Hooli', 1, 'open')");
      expect(result.structuredContent).toMatchObject({ rows_affected: 1, last_insert_id: 6 });
    });

    test("values become JSON: big integers as strings, blobs as base64", async () => {
      const result = await call(connector, "query", "SELECT 9007199254740993 AS big, 42 AS small, x'0102' AS bytes, 1.5 AS real, NULL AS missing");
      expect(result.structuredContent?.rows).toEqual([{ big: "9007199254740993", small: 42, bytes: "AQI=", real: 1.5, missing: null }]);
    });

    test("a trigger's body is one statement", async () => {
      const trigger = "CREATE TRIGGER paid_stamp AFTER UPDATE ON invoices BEGIN UPDATE invoices SET customer = customer || '!' WHERE id = NEW.id AND NEW.status = 'paid'; END;";
      expect((await call(connector, "execute", trigger)).isError).toBeUndefined();
      await call(connector, "execute", "UPDATE invoices SET status = 'paid' WHERE id = 1");
      expect(readSqlite(path, "SELECT customer FROM invoices WHERE id = 1")).toEqual([{ customer: "Acme!" }]);
    });

    test("a statement running past timeout_ms is cancelled with ConnectorError", async () => {
      await using slow = await startConnector(fixture.config({ timeout_ms: 100, max_rows: 100_000 }));
      // Each row counts to 20,000 in a subquery that depends on the row: a few ms per row.
      const sql = `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5000)
        SELECT x, (WITH RECURSIVE m(y) AS (SELECT n.x UNION ALL SELECT y + 1 FROM m WHERE y < n.x + 20000) SELECT count(*) FROM m) AS work FROM n`;
      const started = performance.now();
      await expect(call(slow, "query", sql)).rejects.toThrow(/did not finish within 100 ms/);
      expect(performance.now() - started).toBeLessThan(5000);
      expect(slow.health().healthy).toBe(true);
    });
  });
});

// ---- PostgreSQL ----

const skipPostgres = postgresSkipReason();
if (skipPostgres !== undefined) console.warn(skipPostgres);

describe.skipIf(skipPostgres !== undefined)("database connector on PostgreSQL", () => {
  const pg = usePostgres();

  const fixture: Fixture = {
    config: (extra) => ({ type: "database", dialect: "postgres", url: pg.server.url, ...extra }),
    placeholder: (n) => `$${n}`,
    reset: async () => {
      await pg.admin.unsafe(`DROP TABLE IF EXISTS invoices; ${INVOICES_DDL.replace("INTEGER PRIMARY KEY", "SERIAL PRIMARY KEY")}`);
      await pg.admin`INSERT INTO invoices ${pg.admin(SEED)}`;
      await pg.admin`SELECT setval('invoices_id_seq', 5)`;
    },
    read: async (sql) => [...(await pg.admin.unsafe(sql, []))],
    tableExists: async (name) => (await pg.admin`SELECT to_regclass(${name}) AS oid`)[0].oid !== null,
  };
  sharedCases(() => fixture);

  describe("PostgreSQL specifics", () => {
    test("values become JSON: int8 as numbers when safe, numerics as strings, timestamps ISO, bytea base64", async () => {
      await using connector = await startConnector(fixture.config());
      const result = await call(
        connector,
        "query",
        "SELECT 9007199254740993::int8 AS big, 42::int8 AS small, 1.50::numeric AS exact, timestamptz '2024-01-02 03:04:05+00' AS at, '\\x0102'::bytea AS bytes, '{\"a\": [1]}'::jsonb AS doc",
      );
      expect(result.structuredContent?.rows).toEqual([{ big: "9007199254740993", small: 42, exact: "1.50", at: "2024-01-02T03:04:05.000Z", bytes: "AQI=", doc: { a: [1] } }]);
    });

    test("a statement running past timeout_ms is cancelled with ConnectorError, and the connector stays usable", async () => {
      await using connector = await startConnector(fixture.config({ timeout_ms: 300 }));
      const started = performance.now();
      await expect(call(connector, "execute", "SELECT pg_sleep(5)")).rejects.toThrow(/did not finish within 300 ms/);
      expect(performance.now() - started).toBeLessThan(3000);
      expect((await call(connector, "query", "SELECT 1 AS one")).structuredContent?.rows).toEqual([{ one: 1 }]);
      expect(connector.health().healthy).toBe(true);
    });

    test("COMMIT cannot smuggle a write out of query's read-only transaction", async () => {
      await fixture.reset();
      await using connector = await startConnector(fixture.config());
      const result = await call(connector, "query", "COMMIT; UPDATE invoices SET status = 'paid'");
      expect(result.isError).toBe(true);
      expect(await fixture.read("SELECT count(*)::int AS n FROM invoices WHERE status = 'paid'")).toEqual([{ n: 1 }]);
    });

    test("a server that goes down after start: calls reject with ConnectorError, health turns unhealthy", async () => {
      const own = await startPostgres();
      await using connector = await startConnector({ type: "database", dialect: "postgres", url: own.url });
      expect((await call(connector, "query", "SELECT 1 AS one")).structuredContent?.rows).toEqual([{ one: 1 }]);
      await own.stop();
      await expect(call(connector, "query", "SELECT 1 AS one")).rejects.toBeInstanceOf(ConnectorError);
      expect(connector.health()).toMatchObject({ healthy: false });
      expect(connector.health().detail).toMatch(/PostgreSQL/);
    });

    test("an unreachable server is refused at start with a clear message, without the password", async () => {
      const connector = new DatabaseConnector("db", { type: "database", dialect: "postgres", url: "postgres://invoke:s3cret@127.0.0.1:1/nothing" });
      try {
        const error = await connector.start().catch((caught: Error) => caught);
        expect(error).toBeInstanceOf(ConnectorError);
        expect((error as Error).message).toContain("cannot connect to PostgreSQL postgres://invoke@127.0.0.1:1/nothing");
        expect((error as Error).message).not.toContain("s3cret");
        expect(connector.health()).toMatchObject({ healthy: false });
      } finally {
        await connector.close();
      }
    });
  });
});

// ---- the demo company's database ----

describe("demo company database", () => {
  test("holds the demo company's customers and invoices, linked by customer_id, and a second call leaves it alone", async () => {
    using dir = tempDir();
    const path = join(dir.path, "demo.sqlite");
    createDemoDatabase(path);
    const db = new Database(path);
    try {
      const customers = demo.entities.filter((entity) => entity.type === "customer");
      expect(db.query("SELECT key, name FROM customers ORDER BY key").all()).toEqual(customers.map(({ key, name }) => ({ key, name })));
      const invoices = db.query("SELECT i.key, c.key AS customer, i.amount, i.currency, i.status, i.due_date FROM invoices i JOIN customers c ON c.id = i.customer_id ORDER BY i.key").all();
      expect(invoices).toEqual(
        demo.entities
          .filter((entity) => entity.type === "invoice")
          .map((invoice) => ({
            key: invoice.key,
            customer: demo.relations.find((relation) => relation.relation === "billed_by" && relation.to.key === invoice.key)!.from.key,
            amount: invoice.attributes.amount,
            currency: invoice.attributes.currency,
            status: invoice.attributes.status,
            due_date: invoice.attributes.due,
          })),
      );
      expect(db.query("SELECT \"table\", \"from\", \"to\" FROM pragma_foreign_key_list('invoices')").all()).toEqual([{ table: "customers", from: "customer_id", to: "id" }]);

      db.run("UPDATE invoices SET status = 'paid' WHERE key = 'INV-2024-002'");
      createDemoDatabase(path);
      expect(db.query("SELECT status FROM invoices WHERE key = 'INV-2024-002'").get()).toEqual({ status: "paid" });
      expect(db.query("SELECT count(*) AS n FROM invoices").get()).toEqual({ n: 6 });
    } finally {
      db.close();
    }
  });

  test("the database connector answers on it: Acme's overdue invoices", async () => {
    using dir = tempDir();
    const path = join(dir.path, "demo.sqlite");
    createDemoDatabase(path);
    const connector = new DatabaseConnector("database", { type: "database", dialect: "sqlite", path });
    try {
      await connector.start();
      const result = await call(
        connector,
        "query",
        "SELECT i.key, i.amount FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE c.name = ? AND i.status = 'overdue'",
        ["Acme Corporation"],
      );
      expect(result.structuredContent?.rows).toEqual([{ key: "INV-2024-002", amount: 8300 }]);
    } finally {
      await connector.close();
    }
  });
});
