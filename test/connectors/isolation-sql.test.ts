/**
 * SQL through the public surface, as a prompt-injected agent with an operator key sends it: for each
 * attack on a SQLite connector (named anything but `database`), what really changed in the database and
 * in Invoke's store is checked through connections of the test's own — under the default pack, and
 * under a policy that allows everything (the connection refuses what no policy may allow). Simulation
 * must predict enforcement exactly.
 */
import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { keyFor, request, rest, rpc, startTestServer, type TestServer } from "../support/harness.ts";

let server: TestServer;
let company: string;
let agent: string;

/** The company's state as the test reads it: every table's rows and the schema. */
function snapshot(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    const schema = db.query<{ type: string; name: string; sql: string | null }, []>("SELECT type, name, sql FROM sqlite_schema ORDER BY name").all();
    const rows = schema.filter((entry) => entry.type === "table").map((entry) => db.query(`SELECT * FROM "${entry.name}"`).all());
    return JSON.stringify({ schema, rows, version: db.query("PRAGMA user_version").get(), pragmas: db.query("PRAGMA journal_mode").get() });
  } finally {
    db.close();
  }
}

/** Invoke's own store, as far as an attacker could change it: users, keys, tenants. */
function storeState(): string {
  const db = new Database(server.dbPath, { readonly: true });
  try {
    // Everything but last_used_at, which the agent's own calls move.
    const keys = db.query("SELECT id, tenant_id, user_id, profile, secret_hash, expires_at, revoked_at FROM api_keys ORDER BY id").all();
    return JSON.stringify([db.query("SELECT * FROM tenants ORDER BY id").all(), db.query("SELECT * FROM users ORDER BY id").all(), keys]);
  } finally {
    db.close();
  }
}

beforeEach(async () => {
  server = startTestServer();
  company = join(server.filesDir, "ledger.sqlite");
  const db = new Database(company, { create: true });
  db.run("CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer TEXT, amount INTEGER)");
  db.run("CREATE INDEX invoices_customer ON invoices (customer)");
  for (let id = 1; id <= 5; id++) db.run("INSERT INTO invoices (customer, amount) VALUES (?, ?)", [`c${id}`, id * 100]);
  db.close();
  expect((await rest(server, "POST", "/v1/connectors", { name: "ledger", type: "database", dialect: "sqlite", path: company })).status).toBe(201);
  agent = await keyFor(server, "editor", "operator", "agent@example.com");
});
afterEach(() => server[Symbol.asyncDispose]());

const store = () => server.dbPath;

/** Attacks, each with the text and the tool; `files` are paths it would create. */
const ATTACKS: { name: string; tool: "query" | "execute"; sql: () => string; creates?: () => string }[] = [
  { name: "ATTACH Invoke's store", tool: "execute", sql: () => `ATTACH DATABASE '${store()}' AS s` },
  { name: "ATTACH through query", tool: "query", sql: () => `ATTACH '${store()}' AS s` },
  { name: "ATTACH a URI", tool: "execute", sql: () => `ATTACH 'file:${store()}?mode=rw' AS s` },
  { name: "VACUUM INTO a file", tool: "execute", sql: () => `VACUUM INTO '${join(server.filesDir, "copy.db")}'`, creates: () => join(server.filesDir, "copy.db") },
  { name: "VACUUM", tool: "execute", sql: () => "VACUUM" },
  { name: "PRAGMA writable_schema", tool: "execute", sql: () => "PRAGMA writable_schema = ON" },
  { name: "PRAGMA journal_mode", tool: "query", sql: () => "PRAGMA journal_mode = DELETE" },
  { name: "PRAGMA user_version", tool: "execute", sql: () => "PRAGMA user_version = 7" },
  { name: "load_extension", tool: "query", sql: () => "SELECT load_extension('/tmp/evil.so')" },
  { name: "write sqlite_master", tool: "execute", sql: () => "UPDATE sqlite_master SET sql = 'CREATE TABLE invoices (x)' WHERE name = 'invoices'" },
  { name: "DELETE behind a comment the PostgreSQL grammar reads differently", tool: "query", sql: () => "SELECT 1 /* /* */ ; DELETE FROM invoices; -- */" },
  { name: "DELETE after a backslash-escaped quote", tool: "execute", sql: () => "DELETE FROM invoices WHERE customer = 'x\\' OR 1=1 --'" },
  { name: "two statements", tool: "execute", sql: () => "SELECT 1; DROP TABLE invoices" },
  { name: "a write through query", tool: "query", sql: () => "DELETE FROM invoices WHERE id = 1" },
  { name: "a trigger through query", tool: "query", sql: () => "CREATE TRIGGER t AFTER INSERT ON invoices BEGIN DELETE FROM invoices; END" },
  { name: "always-true WHERE", tool: "execute", sql: () => "DELETE FROM invoices WHERE id = id" },
  { name: "IS NOT NULL WHERE", tool: "execute", sql: () => "UPDATE invoices SET amount = 0 WHERE customer IS NOT NULL" },
  { name: "pragma table function", tool: "query", sql: () => "SELECT * FROM pragma_optimize" },
  { name: "empty text", tool: "query", sql: () => "-- nothing\n" },
  { name: "REINDEX, which writes what the analysis does not name", tool: "execute", sql: () => "REINDEX invoices" },
];

async function call(tool: string, sql: string) {
  return (await rpc(server, request(1, "tools/call", { name: `ledger.${tool}`, arguments: { sql } }), { key: agent })).body.result;
}

async function simulate(tool: string, sql: string) {
  const answer = await rpc(server, request(2, "tools/call", { name: "invoke.policy.simulate", arguments: { agent_id: "agent", action: `ledger.${tool}`, params: { sql } } }), { key: agent });
  return answer.body.result.structuredContent as { decision: string; analysis: { sql: { kind: string } } };
}

describe("attacks on a SQLite connector change nothing", () => {
  for (const attack of ATTACKS) {
    it(`${attack.name}: refused under the default pack, as simulated`, async () => {
      const before = snapshot(company);
      const keys = storeState();
      const predicted = await simulate(attack.tool, attack.sql());
      expect(predicted.decision).not.toBe("allow");
      const result = await call(attack.tool, attack.sql());
      // Denied (isError) or queued for approval: never run.
      expect(result.isError === true || result.structuredContent?.status === "pending_approval").toBe(true);
      expect(result.isError === true ? "deny" : "require_approval").toBe(predicted.decision);
      expect(snapshot(company)).toBe(before);
      expect(storeState()).toBe(keys);
      if (attack.creates) expect(existsSync(attack.creates())).toBe(false);
    });
  }
});

describe("with a policy that allows everything, the connection still refuses what it must", () => {
  beforeEach(async () => {
    const yolo = "version: 1\ndefaults: {read_only: allow, mutating: allow}\nrules:\n  - {id: yolo, effect: allow, reason: anything goes, match: {connector_kind: [database]}}\n";
    expect((await rest(server, "POST", "/v1/policies", { source: yolo, publish: true })).status).toBeLessThan(300);
  });

  const refusedAtConnection = ATTACKS.filter((attack) => /ATTACH|VACUUM|PRAGMA|load_extension|sqlite_master|through query|comment|two statements|pragma table|empty|REINDEX/.test(attack.name));
  for (const attack of refusedAtConnection) {
    it(`${attack.name}`, async () => {
      const before = snapshot(company);
      const keys = storeState();
      const result = await call(attack.tool, attack.sql());
      expect(result.isError).toBe(true);
      expect(snapshot(company)).toBe(before);
      expect(storeState()).toBe(keys);
      if (attack.creates) expect(existsSync(attack.creates())).toBe(false);
    });
  }

  it("a read sent through execute runs on a read-only connection, and a real write still works", async () => {
    const read = await call("execute", "SELECT count(*) AS n FROM invoices");
    expect(read.structuredContent.rows).toEqual([{ n: 5 }]);
    const write = await call("execute", "UPDATE invoices SET amount = 1 WHERE id = 2");
    expect(write.isError).toBeFalsy();
    const db = new Database(company, { readonly: true });
    expect(db.query("SELECT amount FROM invoices WHERE id = 2").get()).toEqual({ amount: 1 });
    db.close();
  });
});

describe("simulation predicts enforcement", () => {
  it("for reads, writes and destructive SQL on a connector not named database", async () => {
    const cases = [
      "SELECT * FROM invoices WHERE amount > 100",
      "UPDATE invoices SET amount = 2 WHERE id = 3",
      "DELETE FROM invoices",
      "DROP TABLE invoices",
      "select 1 -- ; drop table invoices",
    ];
    for (const sql of cases) {
      for (const tool of ["query", "execute"]) {
        const predicted = await simulate(tool, sql);
        const result = await call(tool, sql);
        const enforced = result.isError && /Policy denies/.test(result.content[0].text) ? "deny" : result.structuredContent?.status === "pending_approval" ? "require_approval" : "allow";
        expect({ sql, tool, decision: enforced }).toEqual({ sql, tool, decision: predicted.decision });
      }
    }
  });
});
