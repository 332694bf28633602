/**
 * SQL analysis as policy rules see it: each text's class, destructiveness and tables, and the conservative
 * answer (unknown, destructive) for anything the parser cannot handle, fast even on hostile input.
 */
import { describe, expect, it } from "bun:test";
import { analyzeSql, type SqlAnalysis, type SqlDialect } from "../../src/policy/analyzers/sql.ts";

interface Case {
  name: string;
  sql: string;
  dialect?: SqlDialect;
  expected: Partial<SqlAnalysis> & Pick<SqlAnalysis, "kind" | "destructive" | "tables">;
}

const read = (tables: string[], more: Partial<SqlAnalysis> = {}) => ({ kind: "read" as const, destructive: false, tables, ...more });
const unknown = { kind: "unknown" as const, destructive: true, tables: [], parsed: false, statements: 0 };
// The database connector runs exactly one statement per call: no statement at all, or several, is never safe.
const nothing = { kind: "unknown" as const, destructive: true, tables: [], parsed: true, statements: 0, multiple: false, statement_kinds: [] };

const cases: Case[] = [
  // Reads
  {
    name: "a plain select",
    sql: "select * from invoices",
    expected: read(["invoices"], { statements: 1, multiple: false, statement_kinds: ["select"], tables_written: [], parsed: true }),
  },
  { name: "a join", sql: "SELECT i.id, c.name FROM invoices i JOIN customers c ON c.id = i.customer_id", expected: read(["customers", "invoices"]) },
  {
    name: "a subquery in WHERE",
    sql: "select * from invoices where customer_id in (select id from customers where region = 'eu')",
    expected: read(["customers", "invoices"]),
  },
  {
    name: "an EXISTS subquery",
    sql: "select id from customers c where exists (select 1 from invoices i where i.customer_id = c.id)",
    expected: read(["customers", "invoices"]),
  },
  {
    name: "a derived table",
    sql: "select * from (select customer_id, sum(total) as total from invoices group by customer_id) t where total > 100",
    expected: read(["invoices"]),
  },
  { name: "a union", sql: "select id from invoices union all select id from credit_notes", expected: read(["credit_notes", "invoices"]) },
  {
    name: "a CTE that only reads (its name is no table)",
    sql: "with recent as (select * from invoices where created_at > now() - interval '7 days') select count(*) from recent",
    expected: read(["invoices"], { statement_kinds: ["with"] }),
  },
  {
    name: "a CTE reading the real table it shadows",
    sql: "with invoices as (select * from invoices where paid) select * from invoices",
    expected: read(["invoices"]),
  },
  { name: "a recursive CTE", sql: "with recursive n as (select 1 as x union all select x + 1 from n where x < 5) select x from n", expected: read([]) },
  { name: "comments", sql: "-- monthly report\nselect /* everything */ * from invoices -- done", expected: read(["invoices"]) },
  { name: "mixed case", sql: "SeLeCt * FrOm Invoices WhErE Id = 1", expected: read(["invoices"]) },
  { name: "quoted identifiers (lower-cased)", sql: 'select * from "Billing"."Invoices"', expected: read(["billing.invoices"]) },
  {
    name: "schema-qualified tables",
    sql: "select * from public.invoices join billing.customers using (customer_id)",
    expected: read(["billing.customers", "public.invoices"]),
  },
  { name: "trailing semicolons", sql: "select * from invoices;;", expected: read(["invoices"], { statements: 1, multiple: false }) },
  {
    name: "several reads (not one statement)",
    sql: "select * from invoices; select * from customers",
    expected: { kind: "unknown", destructive: true, tables: ["customers", "invoices"], statements: 2, multiple: true, statement_kinds: ["select", "select"] },
  },
  {
    name: "SELECT … INTO (writes a new table)",
    sql: "select * into archive from invoices",
    expected: { kind: "write", destructive: false, tables: ["archive", "invoices"], tables_written: ["archive"] },
  },

  // Writes
  {
    name: "an insert",
    sql: "insert into invoices (id, total) values (1, 10)",
    expected: { kind: "write", destructive: false, tables: ["invoices"], tables_written: ["invoices"], statement_kinds: ["insert"] },
  },
  {
    name: "an insert from a select",
    sql: "insert into archive.invoices select * from public.invoices where paid",
    expected: { kind: "write", destructive: false, tables: ["archive.invoices", "public.invoices"], tables_written: ["archive.invoices"] },
  },
  {
    name: "an upsert (its DO UPDATE touches only the conflicting row)",
    sql: "insert into invoices (id, total) values (1, 10) on conflict (id) do update set total = excluded.total",
    expected: { kind: "write", destructive: false, tables: ["invoices"] },
  },
  {
    name: "an update with WHERE",
    sql: "update invoices set paid = true where id = 42",
    expected: { kind: "write", destructive: false, tables: ["invoices"], tables_written: ["invoices"] },
  },
  { name: "an update without WHERE", sql: "update invoices set paid = true", expected: { kind: "write", destructive: true, tables: ["invoices"] } },
  { name: "an update WHERE true", sql: "UPDATE invoices SET paid = true WHERE true", expected: { kind: "write", destructive: true, tables: ["invoices"] } },
  {
    name: "an update from another table",
    sql: "update invoices set total = p.total from prices p where p.id = invoices.price_id",
    expected: { kind: "write", destructive: false, tables: ["invoices", "prices"], tables_written: ["invoices"] },
  },
  {
    name: "a delete with WHERE",
    sql: "delete from invoices where id = 42",
    expected: { kind: "write", destructive: false, tables: ["invoices"], statement_kinds: ["delete"] },
  },
  {
    name: "a delete without WHERE",
    sql: "delete from invoices",
    expected: { kind: "write", destructive: true, tables: ["invoices"], tables_written: ["invoices"] },
  },
  { name: "a delete WHERE 1=1", sql: "delete from invoices where 1=1", expected: { kind: "write", destructive: true, tables: ["invoices"] } },
  {
    name: "a delete WHERE 1=1 OR …",
    sql: "delete from invoices where 1 = 1 or id = 5",
    expected: { kind: "write", destructive: true, tables: ["invoices"] },
  },
  {
    name: "a delete WHERE 1=1 AND …",
    sql: "delete from invoices where 1 = 1 and id = 5",
    expected: { kind: "write", destructive: false, tables: ["invoices"] },
  },
  {
    name: "a CTE that deletes",
    sql: "with gone as (delete from invoices where paid returning id) select count(*) from gone",
    expected: { kind: "write", destructive: false, tables: ["invoices"], tables_written: ["invoices"], statement_kinds: ["with"] },
  },
  {
    name: "a write inside a transaction (not one statement)",
    sql: "begin; update invoices set paid = true where id = 1; commit;",
    expected: { kind: "unknown", destructive: true, tables: ["invoices"], statements: 3, multiple: true, statement_kinds: ["begin", "update", "commit"] },
  },

  // DDL
  {
    name: "the seed example: drop table",
    sql: "drop table invoices",
    expected: { kind: "ddl", destructive: true, tables: ["invoices"], tables_written: ["invoices"], statement_kinds: ["drop"] },
  },
  {
    name: "drop of several tables",
    sql: "DROP TABLE IF EXISTS invoices, billing.customers CASCADE",
    expected: { kind: "ddl", destructive: true, tables: ["billing.customers", "invoices"] },
  },
  { name: "drop view", sql: "drop view monthly_totals", expected: { kind: "ddl", destructive: true, tables: ["monthly_totals"] } },
  { name: "drop index (an index is no table)", sql: "drop index invoices_customer_idx", expected: { kind: "ddl", destructive: true, tables: [] } },
  { name: "truncate", sql: "truncate table invoices", expected: { kind: "ddl", destructive: true, tables: ["invoices"], statement_kinds: ["truncate"] } },
  {
    name: "alter … add column",
    sql: "alter table invoices add column note text",
    expected: { kind: "ddl", destructive: false, tables: ["invoices"], tables_written: ["invoices"] },
  },
  { name: "alter … drop column", sql: "alter table invoices drop column note", expected: { kind: "ddl", destructive: true, tables: ["invoices"] } },
  {
    name: "alter … drop constraint",
    sql: "alter table invoices drop constraint invoices_total_check",
    expected: { kind: "ddl", destructive: true, tables: ["invoices"] },
  },
  {
    name: "create table",
    sql: "create table invoices_2024 (id int primary key, total numeric not null)",
    expected: { kind: "ddl", destructive: false, tables: ["invoices_2024"], tables_written: ["invoices_2024"], statement_kinds: ["create"] },
  },
  {
    name: "create table as select",
    sql: "create table paid_invoices as select * from invoices where paid",
    expected: { kind: "ddl", destructive: false, tables: ["invoices", "paid_invoices"], tables_written: ["paid_invoices"] },
  },
  {
    name: "create view",
    sql: "create view reports.unpaid as select * from invoices where not paid",
    expected: { kind: "ddl", destructive: false, tables: ["invoices", "reports.unpaid"], tables_written: ["reports.unpaid"] },
  },
  {
    name: "create index",
    sql: "create index invoices_customer_idx on invoices (customer_id)",
    expected: { kind: "ddl", destructive: false, tables: ["invoices"] },
  },

  // Admin and opaque code
  {
    name: "grant",
    sql: "grant select, update on public.invoices, customers to auditor",
    expected: { kind: "admin", destructive: false, tables: ["customers", "public.invoices"], statement_kinds: ["grant"] },
  },
  {
    name: "revoke",
    sql: "revoke all on invoices from public",
    expected: { kind: "admin", destructive: false, tables: ["invoices"], statement_kinds: ["revoke"] },
  },
  {
    name: "a grant on a whole schema",
    sql: "grant select on all tables in schema public to auditor",
    expected: { kind: "admin", destructive: false, tables: [] },
  },
  { name: "set", sql: "set statement_timeout = 0", expected: { kind: "admin", destructive: false, tables: [] } },
  { name: "lock table", sql: "lock table invoices in access exclusive mode", expected: { kind: "admin", destructive: false, tables: ["invoices"] } },
  {
    name: "call (runs code Invoke cannot see)",
    sql: "call close_month()",
    expected: { kind: "unknown", destructive: true, tables: [], parsed: true, statement_kinds: ["call"] },
  },

  // Several statements: never one the connector runs, so unknown, with every statement's facts
  {
    name: "a read, then a drop",
    sql: "select * from invoices; drop table invoices",
    expected: { kind: "unknown", destructive: true, tables: ["invoices"], statements: 2, multiple: true, statement_kinds: ["select", "drop"] },
  },
  {
    name: "an injection-style text",
    sql: "select * from invoices where id = 1; drop table invoices; --",
    expected: { kind: "unknown", destructive: true, tables: ["invoices"], statements: 2, multiple: true },
  },
  {
    name: "a grant after a delete",
    sql: "delete from invoices where id = 1; grant all on invoices to intern",
    expected: { kind: "unknown", destructive: true, tables: ["invoices"], statements: 2 },
  },

  // Nothing to run
  { name: "empty text", sql: "", expected: nothing },
  { name: "whitespace", sql: "  \n\t ", expected: nothing },
  { name: "comment-only text", sql: "-- nothing here\n/* nor here */", expected: nothing },
  { name: "a lone semicolon", sql: ";", expected: nothing },

  // Not understood: never safe
  { name: "garbage", sql: "hello world", expected: unknown },
  { name: "unbalanced parentheses", sql: "select * from invoices where (id = 1", expected: unknown },
  { name: "an unterminated string", sql: "select * from invoices where note = 'oops", expected: unknown },
  { name: "COPY (unsupported by the parser)", sql: "copy invoices to stdout", expected: unknown },
  { name: "VACUUM (unsupported by the parser)", sql: "vacuum full invoices", expected: unknown },
  { name: "EXPLAIN (unsupported by the parser)", sql: "explain select * from invoices", expected: unknown },
  {
    name: "DELETE … USING (unsupported by the parser)",
    sql: "delete from invoices using customers where invoices.customer_id = customers.id",
    expected: unknown,
  },
  { name: "a drop hidden behind unparseable text", sql: "drop table invoices; vacuum", expected: unknown },
  { name: "nested invalid subqueries (exponential backtracking)", sql: `select ${"(select ".repeat(8)}1 +`, expected: unknown },
  { name: "a 200 kB text", sql: `select * from invoices where note = '${"x".repeat(200_000)}'`, expected: unknown },

  // SQLite
  {
    name: "sqlite: INSERT OR REPLACE",
    sql: "INSERT OR REPLACE INTO invoices (id, total) VALUES (1, 10)",
    dialect: "sqlite",
    expected: { kind: "write", destructive: false, tables: ["invoices"], statement_kinds: ["insert"] },
  },
  {
    name: "sqlite: REPLACE INTO",
    sql: "replace into invoices (id, total) values (1, 10)",
    dialect: "sqlite",
    expected: { kind: "write", destructive: false, tables: ["invoices"], statement_kinds: ["replace"] },
  },
  { name: "sqlite: a schema-qualified select", sql: "select * from main.invoices", dialect: "sqlite", expected: read(["main.invoices"]) },
  {
    name: "sqlite: DELETE … WHERE 1",
    sql: "delete from invoices where 1",
    dialect: "sqlite",
    expected: { kind: "write", destructive: true, tables: ["invoices"] },
  },
  {
    name: "sqlite: ALTER … DROP COLUMN",
    sql: "alter table invoices drop column note",
    dialect: "sqlite",
    expected: { kind: "ddl", destructive: true, tables: ["invoices"] },
  },
  // ATTACH reaches another database file: denied outright, like VACUUM, DETACH and PRAGMA.
  { name: "sqlite: ATTACH", sql: "attach database 'other.db' as other", dialect: "sqlite", expected: { kind: "admin", destructive: true, tables: [] } },
  {
    name: "sqlite: a trigger whose body deletes every row (a trigger is administration: it runs later)",
    sql: "create trigger purge after insert on invoices begin delete from audit; end",
    dialect: "sqlite",
    expected: { kind: "admin", destructive: true, tables: ["audit", "invoices"] },
  },
  {
    name: "sqlite: a PRAGMA that sets (read from SQLite's own tokens)",
    sql: "PRAGMA foreign_keys = OFF",
    dialect: "sqlite",
    expected: { kind: "admin", destructive: true, tables: [], parsed: true, statement_kinds: ["pragma"] },
  },
];

describe("analyzeSql", () => {
  it.each(cases)("$name", ({ sql, dialect, expected }) => {
    expect(analyzeSql(sql, dialect ?? "postgresql")).toMatchObject(expected);
  });

  it("reads each dialect's own syntax: PostgreSQL's dollar-quoted strings are no SQLite", () => {
    const sql = "select $$it's$$ from invoices";
    expect(analyzeSql(sql, "postgresql")).toMatchObject({ parsed: true, kind: "read", tables: ["invoices"] });
    expect(analyzeSql(sql, "sqlite")).toMatchObject({ parsed: false, kind: "unknown" });
  });

  it("explains a parse failure in one line with its position", () => {
    const analysis = analyzeSql("select * from invoices where", "postgresql");
    expect(analysis.error).toStartWith("line 1, column 29: Expected");
    expect(analysis.error).not.toContain("\n");
  });

  it("refuses oversized and pathologically nested texts fast, and parses normally afterwards", () => {
    const started = performance.now();
    expect(analyzeSql("x".repeat(200_000), "postgresql").error).toBe("the text is longer than 100000 characters");
    expect(analyzeSql(`select ${"(select ".repeat(12)}1 +`, "postgresql").error).toContain("too costly to parse");
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(analyzeSql("delete from invoices where id = 1", "postgresql")).toMatchObject({ parsed: true, kind: "write", tables: ["invoices"] });
  });

  it("never throws, and never calls text it did not parse safe", () => {
    const tokens = ["select", "delete", "drop", "from", "where", "with", "as", "table", "invoices", "1=1"];
    tokens.push("(", ")", ",", ";", "'", '"', "$$", "--", "/*", "*/", "\n");
    let seed = 7;
    const next = () => (seed = (seed * 48_271) % 2_147_483_647);
    for (let round = 0; round < 300; round++) {
      const text = Array.from({ length: 1 + (next() % 12) }, () => tokens[next() % tokens.length]).join(" ");
      for (const dialect of ["postgresql", "sqlite"] as const) {
        const analysis = analyzeSql(text, dialect);
        if (!analysis.parsed) expect(analysis).toMatchObject({ kind: "unknown", destructive: true });
      }
    }
  });
});
