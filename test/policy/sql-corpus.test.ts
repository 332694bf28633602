/**
 * The SQL analyser against what the engines really do. A corpus of texts that PostgreSQL, SQLite and the
 * analyser's parser could read differently (comments, quoting, escapes, statement separators), dangerous
 * functions and commands, statement counts and always-true WHEREs. Every text runs against a real temporary
 * SQLite file (`db.run` runs every statement, as sqlite3_exec does) and whatever it changed — rows, schema,
 * attached databases, files, connection settings — is read back independently: a text that changed anything
 * is never a read. PostgreSQL's behaviour is declared per case from its scanner's rules, not executed here.
 */
import { Database } from "bun:sqlite";
import { describe, expect, it } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { splitStatements } from "../../src/policy/analyzers/sql-lexer.ts";
import { analyzeSql, analyzeSqlEveryDialect, type SqlAnalysis } from "../../src/policy/analyzers/sql.ts";
import { tempDir } from "../support/harness.ts";

const SEED = `
  create table invoices (id integer primary key, status text not null, total numeric, note text);
  create index invoices_status on invoices (status);
  insert into invoices values (1, 'open', 10, null), (2, 'paid', 20, 'x'), (7, 'open', 70, 'y');
  create table audit (id integer primary key, what text);
  insert into audit values (1, 'seed');
  create table customers (id integer primary key, name text, region text);
  insert into customers values (1, 'Ada', 'eu');
`;

/** Connection settings a PRAGMA can change without touching the file. */
const SETTINGS = ["foreign_keys", "user_version", "application_id", "recursive_triggers", "writable_schema", "journal_mode", "synchronous", "cache_size", "query_only", "trusted_schema", "defer_foreign_keys", "cell_size_check", "secure_delete", "temp_store"];

/** Everything a statement can change, read through the test's own queries: schemas, every table's rows, attached databases, settings and the folder's files. */
function snapshot(db: Database, folder: string): string {
  const schemas = ["main", "temp"].map((schema) => {
    const objects = db.query<{ type: string; name: string; sql: string | null }, []>(`select type, name, sql from ${schema}.sqlite_schema order by type, name`).all();
    const rows = objects.filter(({ type }) => type === "table").map(({ name }) => db.query(`select * from ${schema}."${name.replaceAll('"', '""')}"`).all());
    return { objects, rows };
  });
  const attached = db.query<{ name: string }, []>("pragma database_list").all().map(({ name }) => name);
  const settings = SETTINGS.map((name) => db.query(`pragma ${name}`).get());
  return JSON.stringify({ schemas, attached, settings, files: readdirSync(folder).sort() });
}

/** Runs a text on a fresh seeded SQLite file; whether anything changed, and SQLite's error if it stopped on one. */
function runOnSqlite(text: string, folder: string): { changed: boolean; error?: string } {
  const db = new Database(join(folder, "main.db"));
  try {
    db.run(SEED);
    const before = snapshot(db, folder);
    let error: string | undefined;
    try {
      db.run(text);
    } catch (caught) {
      error = caught instanceof Error ? caught.message : String(caught);
    }
    return { changed: snapshot(db, folder) !== before, ...(error === undefined ? {} : { error }) };
  } finally {
    db.close();
  }
}

interface CorpusCase {
  name: string;
  /** The text; `{dir}` stands for the case's own folder (files SQLite creates must land there). */
  sql: string;
  /** Whether SQLite changes anything: checked against the real run, so the corpus proves what it claims. */
  sqlite: boolean;
  /** Whether PostgreSQL would change anything or run a function with side effects. */
  postgresql: boolean;
}

const DELETE = "delete from invoices";

/** Texts the engines and a naive reader could see differently. */
const corpus: CorpusCase[] = [
  // Comments
  { name: "a -- comment ended by a newline", sql: `select 1 -- note\n; ${DELETE}`, sqlite: true, postgresql: true },
  { name: "a -- comment ended by \\r (PostgreSQL only)", sql: `select 1 -- note\r; ${DELETE}`, sqlite: false, postgresql: true },
  { name: "a -- comment running to the end", sql: `select 1 -- ; ${DELETE}`, sqlite: false, postgresql: false },
  { name: "a block comment", sql: `select 1 /* c */; ${DELETE}`, sqlite: true, postgresql: true },
  { name: "a nested block comment (PostgreSQL: still a comment; SQLite: ends at the first */)", sql: `select 1 /* a /* b */ ; ${DELETE}; */`, sqlite: true, postgresql: false },
  { name: "a nested block comment closed twice", sql: `select 1 /* a /* b */ */; ${DELETE}`, sqlite: false, postgresql: true },
  { name: "an unterminated block comment (SQLite: runs to the end)", sql: `select 1 /* ; ${DELETE}`, sqlite: false, postgresql: false },
  { name: "/* as the last two characters (SQLite: a slash and a star)", sql: `${DELETE} /*`, sqlite: false, postgresql: false },
  { name: "an operator glued to a comment", sql: `select 1 +/* c */ 2; ${DELETE}`, sqlite: true, postgresql: true },
  { name: "# (MySQL's comment; a SQLite variable; a PostgreSQL operator)", sql: `select #x ; ${DELETE}`, sqlite: true, postgresql: false },
  { name: "a lone # (SQLite rejects it)", sql: `select 1 # ; ${DELETE}`, sqlite: false, postgresql: false },
  { name: "only comments", sql: "-- nothing\n/* at all */", sqlite: false, postgresql: false },
  { name: "a NUL character (SQLite stops reading there)", sql: `select 1\u0000; ${DELETE}`, sqlite: false, postgresql: false },

  // Quoting
  { name: "a backslash in a SQLite string (no escape)", sql: `select 'a\\'; ${DELETE}; --'`, sqlite: true, postgresql: true },
  { name: "a backslash before a quote in a WHERE (SQLite: the string ends there)", sql: `${DELETE} where note = 'x\\' or 1 = 1 --'`, sqlite: true, postgresql: true },
  { name: "PostgreSQL's E'' string, where a backslash escapes the quote", sql: `select E'a\\'; ${DELETE}; --'`, sqlite: false, postgresql: false },
  { name: "PostgreSQL's standard string with a backslash (literal since 9.1)", sql: `select 'a\\'' ; ${DELETE}; -- '`, sqlite: false, postgresql: false },
  { name: "an E'' string continued on the next line keeps escaping", sql: `select E'x'\n'\\'; ${DELETE}; --'`, sqlite: false, postgresql: false },
  { name: "a standard string continued on the next line (SQLite: a string alias)", sql: `select 'x'\n'\\'; ${DELETE}; --'`, sqlite: true, postgresql: true },
  { name: "doubled quotes", sql: `select 'it''s'; ${DELETE}`, sqlite: true, postgresql: true },
  { name: "a dollar-quoted string (PostgreSQL) holding a statement", sql: `select $$; ${DELETE}; $$`, sqlite: true, postgresql: false },
  { name: "a tagged dollar quote holding a statement", sql: `select $t$ ; ${DELETE}; $t$`, sqlite: true, postgresql: false },
  { name: "a dollar quote closed by another tag", sql: `select $a$ x $b$; ${DELETE}; $a$`, sqlite: false, postgresql: false },
  { name: "identifiers ending in $$ (no dollar quote)", sql: `select 1 as x$$; ${DELETE}; select 1 as y$$`, sqlite: true, postgresql: true },
  { name: "a dollar quote after a dollar sign in a string", sql: `select '$$'; ${DELETE}; select '$$'`, sqlite: true, postgresql: true },
  { name: "a quoted identifier holding a semicolon", sql: `select 1 as "a; ${DELETE}"`, sqlite: false, postgresql: false },
  { name: "a [bracketed] identifier (SQLite) holding a statement", sql: `select 1 as [x; ${DELETE}; y]`, sqlite: false, postgresql: false },
  { name: "a backticked identifier (SQLite) holding a statement", sql: `select 1 as \`x; ${DELETE}; y\``, sqlite: false, postgresql: false },
  { name: "a blob literal", sql: `select x'41'; ${DELETE}`, sqlite: true, postgresql: true },
  { name: "a blob literal with an odd digit count (SQLite rejects it)", sql: `select x'4'; ${DELETE}; --'`, sqlite: false, postgresql: true },
  { name: "a Unicode-escaped string", sql: `select U&'\\0061'; ${DELETE}`, sqlite: false, postgresql: true },
  { name: "a Tcl variable holding a semicolon (SQLite)", sql: "select $a(;x) from invoices", sqlite: false, postgresql: false },
  { name: "a SQLite double-quoted string that names no column", sql: `${DELETE} where "nosuch" = 'nosuch'`, sqlite: true, postgresql: false },

  // Statement separators and counts
  { name: "two statements", sql: `select 1; ${DELETE} where id = 7`, sqlite: true, postgresql: true },
  { name: "a statement after a trigger body", sql: `create trigger t after insert on invoices begin delete from audit; end; ${DELETE}`, sqlite: true, postgresql: true },
  { name: "a trigger whose body deletes", sql: "create trigger t after insert on invoices begin delete from audit; end", sqlite: true, postgresql: true },
  { name: "a temporary trigger", sql: "create temp trigger t after update on invoices begin select ';'; end", sqlite: true, postgresql: true },
  { name: "EXPLAIN before a trigger", sql: "explain create trigger t after insert on invoices begin delete from audit; end", sqlite: false, postgresql: false },
  { name: "a write inside a transaction", sql: `begin; ${DELETE} where id = 7; commit`, sqlite: true, postgresql: true },
  { name: "an empty text", sql: "", sqlite: false, postgresql: false },
  { name: "a lone semicolon", sql: ";", sqlite: false, postgresql: false },

  // SQLite's administrative commands
  { name: "ATTACH", sql: "attach database '{dir}/other.db' as other", sqlite: true, postgresql: false },
  { name: "ATTACH without DATABASE", sql: "attach '{dir}/other.db' as other", sqlite: true, postgresql: false },
  { name: "ATTACH then a write into it", sql: "attach '{dir}/other.db' as other; create table other.t (x)", sqlite: true, postgresql: false },
  { name: "DETACH", sql: "detach other", sqlite: false, postgresql: false },
  { name: "VACUUM INTO a new file", sql: "vacuum into '{dir}/copy.db'", sqlite: true, postgresql: false },
  { name: "VACUUM", sql: "vacuum", sqlite: false, postgresql: true },
  { name: "REINDEX", sql: "reindex", sqlite: false, postgresql: true },
  { name: "ANALYZE (writes sqlite_stat1)", sql: "analyze", sqlite: true, postgresql: true },
  { name: "PRAGMA user_version = 5", sql: "pragma user_version = 5", sqlite: true, postgresql: false },
  { name: "PRAGMA foreign_keys = OFF", sql: "PRAGMA foreign_keys = OFF", sqlite: false, postgresql: false },
  { name: "PRAGMA foreign_keys(1)", sql: "pragma foreign_keys(1)", sqlite: true, postgresql: false },
  // Bun opens SQLite in defensive mode, which ignores writable_schema and journal_mode = OFF; the analysis does not rely on it.
  { name: "PRAGMA writable_schema = ON", sql: "pragma writable_schema = on", sqlite: false, postgresql: false },
  { name: "PRAGMA main.journal_mode = wal", sql: "pragma main.journal_mode = wal", sqlite: true, postgresql: false },
  { name: "PRAGMA query_only (read without assignment, still not whitelisted)", sql: "pragma query_only", sqlite: false, postgresql: false },
  { name: "writing sqlite_master", sql: "insert into sqlite_master values ('table', 'x', 'x', 0, 'create table x (y)')", sqlite: false, postgresql: false },
  { name: "updating sqlite_schema with writable_schema on", sql: "pragma writable_schema = 1; update sqlite_schema set sql = sql", sqlite: false, postgresql: false },
  { name: "load_extension", sql: "select load_extension('{dir}/evil')", sqlite: false, postgresql: false },
  { name: "a quoted load_extension", sql: `select "load_extension"('{dir}/evil')`, sqlite: false, postgresql: false },
  { name: "fts3_tokenizer", sql: "select fts3_tokenizer('simple')", sqlite: false, postgresql: false },
  { name: "a PRAGMA's table-valued function that analyses tables", sql: "select * from pragma_optimize(0x10002)", sqlite: true, postgresql: false },
  { name: "the same function named without parentheses, quoted", sql: 'select * from "pragma_optimize"', sqlite: true, postgresql: false },
  { name: "CREATE VIEW", sql: "create view v as select * from invoices", sqlite: true, postgresql: true },
  { name: "CREATE VIRTUAL TABLE", sql: "create virtual table v using fts5(body)", sqlite: true, postgresql: false },

  // Always-true WHERE clauses: every row goes
  ...[
    "1 = 1",
    "'a' = 'a'",
    "id = id",
    "id is not null",
    "id = id or id = 5",
    "true",
    "not false",
    "1",
    "2 > 1",
    "1 in (1, 2)",
    "status like '%'",
    "id >= id",
    "coalesce(note, 1) = coalesce(note, 1)",
    "id = 5 or 1 = 1",
    "(select 1) = 1",
    "not (id is null)",
    "id = \"id\"",
  ].map((where) => ({ name: `DELETE … WHERE ${where}`, sql: `${DELETE} where ${where}`, sqlite: true, postgresql: true })),
  { name: "UPDATE … WHERE id = id", sql: "update invoices set status = 'void' where id = id", sqlite: true, postgresql: true },
];

/** PostgreSQL built-ins and calls with side effects, each of which must rank at least as declared. */
const postgresCalls: { sql: string; kind: "write" | "admin" }[] = [
  ...[
    "nextval('invoice_ids')",
    "setval('invoice_ids', 1)",
    "lo_import('/etc/passwd')",
    "lo_export(1, '/tmp/x')",
    "lo_unlink(1)",
    "lo_create(0)",
    "set_config('search_path', 'evil', false)",
    "pg_advisory_lock(1)",
    "pg_advisory_xact_lock(1)",
    "pg_try_advisory_lock(1)",
    "pg_advisory_unlock_all()",
    "pg_advisory_lock_shared(1)",
    "pg_terminate_backend(42)",
    "pg_cancel_backend(42)",
    "pg_reload_conf()",
    "pg_rotate_logfile()",
    "pg_read_file('/etc/passwd')",
    "pg_read_binary_file('/etc/passwd')",
    "pg_ls_dir('.')",
    "pg_stat_file('postgresql.conf')",
    "dblink('host=evil', 'select 1')",
    "dblink_exec('host=evil', 'drop table invoices')",
    "pg_switch_wal()",
    "pg_create_restore_point('x')",
    "pg_promote()",
    "pg_logical_emit_message(true, 'x', 'y')",
    "pg_notify('channel', 'x')",
  ].map((call) => ({ sql: `select ${call}`, kind: "admin" as const })),
  { sql: "SELECT NEXTVAL('invoice_ids')", kind: "admin" },
  { sql: `select "nextval"('invoice_ids')`, kind: "admin" },
  { sql: "select pg_catalog.nextval('invoice_ids')", kind: "admin" },
  { sql: "select nextval ('invoice_ids')", kind: "admin" },
  { sql: "select * from invoices where id = nextval('invoice_ids')", kind: "admin" },
  { sql: "with x as (select setval('invoice_ids', 1)) select * from x", kind: "admin" },
  { sql: "select * from invoices where id in (select pg_advisory_lock(id) from invoices)", kind: "admin" },
  { sql: "select * from dblink('host=evil', 'select 1') as t(a int)", kind: "admin" },
  { sql: "select id from invoices order by pg_terminate_backend(id)", kind: "admin" },
  { sql: "select status from invoices group by status having count(pg_cancel_backend(1)) > 0", kind: "admin" },
  { sql: "select * from pg_sleep(10)", kind: "write" },
  { sql: "select pg_sleep(10)", kind: "write" },
  { sql: "select refresh_totals()", kind: "write" },
  { sql: "select * from invoices where is_overdue(id)", kind: "write" },
  { sql: "select * from refresh_totals()", kind: "write" },
  { sql: "select myschema.lower(status) from invoices", kind: "write" },
  { sql: `select "Lower"(status) from invoices`, kind: "write" },
  { sql: "select txid_current()", kind: "write" },
  { sql: "select x$$ as y, refresh_totals() from invoices -- $$", kind: "write" },
  { sql: "select setseed(0.5)", kind: "write" },
  { sql: "select * from invoices for update", kind: "write" },
  { sql: "select * from invoices for share", kind: "write" },
  { sql: "select * from invoices for no key update skip locked", kind: "write" },
];

/** PostgreSQL statements that are no reads. */
const postgresStatements = [
  "lock table invoices",
  "set role postgres",
  "set statement_timeout = 0",
  "reset all",
  "discard all",
  "listen invoices",
  "notify invoices",
  "prepare p as delete from invoices",
  "do $$begin delete from invoices; end$$",
  "copy invoices to '/tmp/invoices.csv'",
  "explain analyze delete from invoices",
  "call close_month()",
  "vacuum full invoices",
  "checkpoint",
  "create function f() returns int language sql begin atomic select 1; select 2; end",
];

/** Ordinary reads that must stay reads, in the dialects named. */
const reads: { sql: string; dialects: ("postgresql" | "sqlite")[]; tables?: string[] }[] = [
  { sql: "SELECT * FROM invoices WHERE status = 'open'", dialects: ["postgresql", "sqlite"], tables: ["invoices"] },
  { sql: "select i.id, c.name from invoices i join customers c on c.id = i.id", dialects: ["postgresql", "sqlite"], tables: ["customers", "invoices"] },
  { sql: "with open as (select * from invoices where status = 'open') select count(*) from open", dialects: ["postgresql", "sqlite"], tables: ["invoices"] },
  { sql: "select status, count(*), sum(total), avg(total), max(total) from invoices group by status", dialects: ["postgresql", "sqlite"] },
  { sql: "select lower(status), upper(note), length(note), coalesce(note, '-') from invoices", dialects: ["postgresql", "sqlite"] },
  { sql: "select id, row_number() over (partition by status order by total desc) from invoices", dialects: ["postgresql", "sqlite"] },
  // The parser's SQLite grammar has no WINDOW clause (such text is unknown there: conservative, not wrong).
  { sql: "select id, rank() over w, lag(total) over w from invoices window w as (order by total)", dialects: ["postgresql"] },
  { sql: "select now(), current_date, date_trunc('month', now()), to_char(now(), 'YYYY')", dialects: ["postgresql"] },
  { sql: "select * from generate_series(1, 3) g(n)", dialects: ["postgresql"] },
  { sql: "select json_build_object('id', id), jsonb_agg(status) from invoices group by id", dialects: ["postgresql"] },
  { sql: "select pg_catalog.lower(status) from invoices", dialects: ["postgresql"] },
  { sql: "select * from invoices where id = any(array[1, 2])", dialects: ["postgresql"] },
  { sql: "select * from invoices where exists (select 1 from customers where customers.id = invoices.id)", dialects: ["postgresql", "sqlite"] },
  { sql: "select $$it's; not a statement$$", dialects: ["postgresql"] },
  { sql: "select E'it\\'s; not a statement'", dialects: ["postgresql"] },
  { sql: "select 1 /* a /* nested */ comment; */", dialects: ["postgresql"] },
  { sql: "select [status] from [invoices]", dialects: ["sqlite"], tables: ["invoices"] },
  { sql: "select * from invoices where id = ?", dialects: ["sqlite"] },
  { sql: "pragma table_info(invoices)", dialects: ["sqlite"], tables: ["invoices"] },
  { sql: "select * from pragma_table_info('invoices')", dialects: ["sqlite"] },
  { sql: "select sqlite_version()", dialects: ["sqlite"] },
  { sql: "select * from invoices;;", dialects: ["postgresql", "sqlite"] },
];

/** The answer to keep no matter what an always-unsafe text looks like. */
function expectNeverSafe(analysis: SqlAnalysis): void {
  if (!analysis.parsed) expect(analysis).toMatchObject({ kind: "unknown", destructive: true });
  if (analysis.statements !== 1) expect(analysis).toMatchObject({ kind: "unknown", destructive: true });
}

describe("the corpus against a real SQLite file", () => {
  it.each(corpus)("$name", ({ sql, sqlite, postgresql }) => {
    using folder = tempDir();
    const text = sql.replaceAll("{dir}", folder.path);
    const run = runOnSqlite(text, folder.path);
    // The corpus claims what SQLite does; the real run decides.
    expect({ changed: run.changed, error: run.error }).toMatchObject({ changed: sqlite });
    const analyses = { sqlite: analyzeSql(text, "sqlite"), postgresql: analyzeSql(text, "postgresql"), every: analyzeSqlEveryDialect(text) };
    for (const analysis of Object.values(analyses)) expectNeverSafe(analysis);
    if (run.changed) expect(analyses.sqlite.kind).not.toBe("read");
    if (postgresql) expect(analyses.postgresql.kind).not.toBe("read");
    if (run.changed || postgresql) expect(analyses.every.kind).not.toBe("read");
  });
});

describe("random texts made of the corpus's tricky fragments", () => {
  it("never change a SQLite database while the analysis calls them a read", () => {
    const fragments = ["'", "\\'", "''", '"', "`", "[", "]", "--", "\n", "\r", "/*", "*/", "$$", "$a$", "#x", "E'", "x'", "x'4", "?", "$a(", ")", ";", "1", " "];
    let seed = 11;
    const next = () => (seed = (seed * 48_271) % 2_147_483_647);
    const pick = () => Array.from({ length: next() % 4 }, () => fragments[next() % fragments.length]).join("");
    let deleted = 0;
    for (let round = 0; round < 400; round++) {
      const text = `select 1 ${pick()}; ${DELETE} ${pick()}`;
      const db = new Database(":memory:");
      db.run(SEED);
      try {
        db.run(text);
      } catch {
        // Whatever ran before the error stays run.
      }
      const left = db.query<{ count: number }, []>("select count(*) as count from invoices").get()!.count;
      db.close();
      if (left === 3) continue;
      deleted++;
      expect({ text, kind: analyzeSql(text, "sqlite").kind }).not.toMatchObject({ kind: "read" });
      expect({ text, kind: analyzeSqlEveryDialect(text).kind }).not.toMatchObject({ kind: "read" });
    }
    // The fragments do hide the DELETE from a naive reader often enough to matter.
    expect(deleted).toBeGreaterThan(20);
  });
});

describe("texts a naive reader takes for one harmless statement", () => {
  it("counts the statements each engine runs, whatever hides the separator", () => {
    expect(splitStatements(`select 1 /* a /* b */ ; ${DELETE}; */`, "postgresql").map(({ verb }) => verb)).toEqual(["select"]);
    expect(splitStatements(`select 1 /* a /* b */ ; ${DELETE}; */`, "sqlite").map(({ verb }) => verb)).toEqual(["select", "delete", "*"]);
    expect(splitStatements(`select $$; ${DELETE}; $$`, "postgresql").map(({ verb }) => verb)).toEqual(["select"]);
    expect(splitStatements(`select $$; ${DELETE}; $$`, "sqlite").map(({ verb }) => verb)).toEqual(["select", "delete", "$$"]);
    expect(splitStatements(`select 'a\\'; ${DELETE}; --'`, "sqlite").map(({ verb }) => verb)).toEqual(["select", "delete"]);
    expect(splitStatements(`select E'a\\'; ${DELETE}; --'`, "postgresql").map(({ verb }) => verb)).toEqual(["select"]);
    expect(splitStatements(`select 1 -- x\r; ${DELETE}`, "postgresql")).toHaveLength(2);
    expect(splitStatements(`select 1 -- x\r; ${DELETE}`, "sqlite")).toHaveLength(1);
    expect(splitStatements("create temp trigger t after insert on a begin delete from b; update c set d = 1; end; vacuum", "sqlite").map(({ verb }) => verb)).toEqual(["create", "vacuum"]);
    expect(splitStatements("(select 1);;  ; -- done", "postgresql")).toEqual([{ text: "(select 1)", verb: "select", words: ["select"] }]);
    expect(splitStatements("CREATE TEMP TRIGGER t AFTER INSERT ON a BEGIN SELECT 1; END", "sqlite")[0]!.words).toEqual(["create", "temp", "trigger", "t", "after", "insert"]);
  });

  it("reads a dollar quote as PostgreSQL does, and as SQLite does", () => {
    const dollar = analyzeSql(`select $$; ${DELETE}; $$`, "postgresql");
    expect(dollar).toMatchObject({ kind: "read", statements: 1, parsed: true });
    expect(analyzeSql(`select $$; ${DELETE}; $$`, "sqlite")).toMatchObject({ kind: "unknown", destructive: true });
    expect(analyzeSqlEveryDialect(`select $$; ${DELETE}; $$`)).toMatchObject({ kind: "unknown", destructive: true, parsed: false });
  });

  it("refuses a text whose reading depends on standard_conforming_strings", () => {
    expect(analyzeSql(`select 'a\\'' ; ${DELETE}; -- '`, "postgresql")).toMatchObject({ kind: "unknown", destructive: true, parsed: false });
    expect(analyzeSql(`select 'C:\\temp' from invoices`, "postgresql")).toMatchObject({ kind: "read", tables: ["invoices"] });
  });

  it("answers a long run of statements at once, whatever hides at its end", () => {
    const text = `${Array.from({ length: 300 }, (_, i) => `select ${i} from invoices`).join("; ")}; drop table invoices`;
    const started = performance.now();
    const analysis = analyzeSql(text, "postgresql");
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(analysis).toMatchObject({ kind: "unknown", destructive: true, statements: 301, multiple: true });
    expect(analysis.statement_kinds.at(-1)).toBe("drop");
  });

  it("says where the engine and the parser disagree", () => {
    const analysis = analyzeSql(`select 1; ${DELETE}`, "sqlite");
    expect(analysis).toMatchObject({ kind: "unknown", destructive: true, statements: 2, multiple: true, statement_kinds: ["select", "delete"] });
    expect(analysis.error).toContain("exactly one statement");
    expect(analyzeSql("", "postgresql").error).toContain("no SQL statement");
  });
});

describe("PostgreSQL functions", () => {
  it.each(postgresCalls)("$sql", ({ sql, kind }) => {
    const analysis = analyzeSql(sql, "postgresql");
    expect(analysis.kind).toBe(analysis.parsed ? kind : "unknown");
    expect(analyzeSqlEveryDialect(sql).kind).not.toBe("read");
  });

  it.each(postgresStatements)("%s is no read", (sql) => {
    expect(analyzeSql(sql, "postgresql").kind).not.toBe("read");
    expect(["admin", "unknown"]).toContain(analyzeSql(sql, "postgresql").kind);
  });

  it("lists the functions called, lower-cased and de-duplicated, pg_catalog dropped", () => {
    expect(analyzeSql("select Lower(status), pg_catalog.lower(note), count(*), billing.total_due(id) from invoices", "postgresql").functions).toEqual([
      "billing.total_due",
      "count",
      "lower",
    ]);
  });

  it("takes the operator's read-only functions as reads, never the dangerous built-ins", () => {
    const readFunctions = ["Refresh_Totals", "billing.total_due", "nextval"];
    expect(analyzeSql("select refresh_totals()", "postgresql", { readFunctions }).kind).toBe("read");
    expect(analyzeSql("select billing.total_due(1)", "postgresql", { readFunctions }).kind).toBe("read");
    expect(analyzeSql("select total_due(1)", "postgresql", { readFunctions }).kind).toBe("write");
    expect(analyzeSql("select nextval('s')", "postgresql", { readFunctions }).kind).toBe("admin");
    expect(analyzeSql("select refresh_totals()", "postgresql").kind).toBe("write");
  });

  it("keeps the dangerous built-ins dangerous when a tenant's read_functions names them, bare, qualified or by family", () => {
    const readFunctions = ["dblink_exec", "pg_catalog.set_config", "public.pg_advisory_lock", "PG_TERMINATE_BACKEND"];
    expect(analyzeSql("select dblink_exec('host=evil', 'drop table invoices')", "postgresql", { readFunctions }).kind).toBe("admin");
    expect(analyzeSql("select pg_catalog.set_config('search_path', 'evil', false)", "postgresql", { readFunctions }).kind).toBe("admin");
    expect(analyzeSql("select public.pg_advisory_lock(1)", "postgresql", { readFunctions }).kind).toBe("admin");
    expect(analyzeSql("select pg_terminate_backend(42)", "postgresql", { readFunctions }).kind).toBe("admin");
  });
});

describe("SQLite commands and functions", () => {
  const cases: { sql: string; kind: SqlAnalysis["kind"]; destructive: boolean }[] = [
    { sql: "attach database 'other.db' as other", kind: "admin", destructive: true },
    { sql: "attach 'other.db' as other", kind: "admin", destructive: true },
    { sql: "detach other", kind: "admin", destructive: true },
    { sql: "vacuum", kind: "admin", destructive: true },
    { sql: "vacuum into 'copy.db'", kind: "admin", destructive: true },
    { sql: "reindex invoices", kind: "admin", destructive: false },
    { sql: "pragma foreign_keys = off", kind: "admin", destructive: true },
    { sql: "pragma foreign_keys", kind: "admin", destructive: true },
    { sql: "pragma table_info = invoices", kind: "admin", destructive: true },
    { sql: "pragma database_list", kind: "admin", destructive: true },
    { sql: "pragma index_list(invoices)", kind: "read", destructive: false },
    { sql: "select load_extension('evil')", kind: "admin", destructive: true },
    { sql: "select writefile('/tmp/x', 'y')", kind: "admin", destructive: true },
    { sql: "select fts3_tokenizer('simple')", kind: "admin", destructive: true },
    { sql: "select sqlite_compileoption_get(0)", kind: "admin", destructive: false },
    { sql: "insert into main.sqlite_master values ('table', 'x', 'x', 0, '')", kind: "admin", destructive: true },
    { sql: "update sqlite_schema set sql = ''", kind: "admin", destructive: true },
    { sql: "create trigger t after insert on invoices begin select 1; end", kind: "admin", destructive: false },
    { sql: "create view v as select * from invoices", kind: "admin", destructive: false },
    { sql: "create table t (x)", kind: "ddl", destructive: false },
  ];
  it.each(cases)("$sql", ({ sql, kind, destructive }) => {
    expect(analyzeSql(sql, "sqlite")).toMatchObject({ kind, destructive });
  });
});

describe("always-true WHERE clauses", () => {
  const whereClauses = corpus.filter(({ name }) => name.startsWith("DELETE … WHERE") || name.startsWith("UPDATE … WHERE"));
  it.each(whereClauses)("$name touches every row, and is destructive", ({ sql }) => {
    using folder = tempDir();
    const db = new Database(join(folder.path, "main.db"));
    db.run(SEED);
    db.run(sql);
    // Every row went (or changed): the clause restricted nothing.
    const untouched = db.query<{ count: number }, []>("select count(*) as count from invoices where status <> 'void'").get()!.count;
    db.close();
    expect(untouched).toBe(0);
    expect(analyzeSql(sql, "sqlite").destructive).toBe(true);
    expect(analyzeSql(sql, "postgresql").destructive).toBe(true);
  });

  it.each([
    "delete from invoices where id = 7",
    "delete from invoices where id in (select id from customers where region = 'eu')",
    "delete from invoices where status = 'open' and 1 = 1",
    "delete from invoices where not (id = 7)",
    "delete from invoices where id = 7 or status = 'void'",
    "update invoices set status = 'void' where total > 50",
    "delete from invoices where note is null",
  ])("%s restricts rows", (sql) => {
    for (const dialect of ["postgresql", "sqlite"] as const) expect(analyzeSql(sql, dialect)).toMatchObject({ kind: "write", destructive: false });
  });
});

describe("ordinary SQL keeps its meaning", () => {
  it.each(reads)("$sql is a read", ({ sql, dialects, tables }) => {
    for (const dialect of dialects) {
      const analysis = analyzeSql(sql, dialect);
      expect(analysis).toMatchObject({ kind: "read", destructive: false, statements: 1, parsed: true });
      if (tables !== undefined) expect(analysis.tables).toEqual(tables);
    }
    if (dialects.includes("sqlite")) {
      using folder = tempDir();
      expect(runOnSqlite(sql, folder.path).changed).toBe(false);
    }
  });

  it("keeps a targeted delete a non-destructive write and drop table a destructive DDL, in both dialects", () => {
    for (const dialect of ["postgresql", "sqlite"] as const) {
      expect(analyzeSql("DELETE FROM invoices WHERE id = 7", dialect)).toMatchObject({ kind: "write", destructive: false, tables_written: ["invoices"] });
      expect(analyzeSql("drop table invoices", dialect)).toMatchObject({ kind: "ddl", destructive: true, tables: ["invoices"] });
    }
    expect(analyzeSqlEveryDialect("drop table invoices")).toMatchObject({ kind: "ddl", destructive: true, parsed: true, statements: 1 });
  });

  it("hands every caller its own copy of a remembered analysis", () => {
    const first = analyzeSql("select * from invoices", "sqlite");
    first.tables.push("secrets");
    first.kind = "admin";
    expect(analyzeSql("select * from invoices", "sqlite")).toMatchObject({ kind: "read", tables: ["invoices"] });
  });
});
