/**
 * The SQLite worker: a child process that owns one connector's database file, so that no statement runs
 * on the server's thread. bun:sqlite runs a statement synchronously and nothing in Bun can interrupt it,
 * not even terminating a Worker thread (the thread runs on, holding its locks, and a write still commits);
 * killing this process is what cancels a runaway statement, and the operating system releases its locks.
 *
 * Two connections: read-write for writes, and one opened read-only with `PRAGMA query_only` for reads.
 * Before a statement runs, its text and its compiled bytecode go through the guard (`sqlite-guard.ts`), in
 * the same transaction as the statement itself. Messages arrive over IPC one at a time (sqlite-engine.ts
 * sends the next only after the answer).
 */
import { Database, type Statement } from "bun:sqlite";
import type { SqlAnalysis } from "../policy/analyzers/sql.ts";
import { jsonRow, jsonValue, messageOf, READ_ONLY_HINT, StatementError, type Outcome, type SqlMode, type SqlParam } from "./database-engine.ts";
import { checkSqliteText, factsWithoutBytecode, readBytecode, reconcile, type EngineView, type ExplainRow, type SchemaEntry, type TextCheck } from "./sqlite-guard.ts";

/** What the connector asks of the worker. */
export type WorkerRequest =
  | { id: number; op: "open"; path: string; busyTimeoutMs: number }
  | { id: number; op: "inspect"; sql: string; mode: SqlMode; analysis: SqlAnalysis; busyTimeoutMs: number }
  | { id: number; op: "run"; sql: string; params: SqlParam[]; mode: SqlMode; analysis: SqlAnalysis; maxRows: number; busyTimeoutMs: number }
  | { id: number; op: "close" };

/**
 * The worker's answer. `statement`: the database (or the guard) answered with an error; `unavailable`: no
 * answer this time (locked, cannot open); `broken`: the file itself is unusable, so the connector reconnects.
 */
export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; failure: "statement" | "unavailable" | "broken"; message: string };

/** How often the watch thread checks that the connector's process still runs. */
const PARENT_CHECK_MS = 500;

/** SQLite result codes (extended codes share the prefix) that mean the file itself is unusable. */
const BROKEN_SQLITE = ["SQLITE_IOERR", "SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CANTOPEN", "SQLITE_FULL", "SQLITE_NOMEM"];

/** A failure that is not the statement's fault. */
class Unavailable extends Error {
  constructor(
    message: string,
    readonly broken = false,
  ) {
    super(message);
  }
}

/** The two connections to one file, and the guard around them. */
class SqliteSession {
  private busyTimeoutMs = -1;
  private readonly counters;

  private constructor(
    private readonly path: string,
    private readonly writer: Database,
    private readonly reader: Database,
  ) {
    this.counters = writer.query<{ changes: number | bigint; rowid: number | bigint }, []>("SELECT changes() AS changes, last_insert_rowid() AS rowid");
  }

  static open(path: string, busyTimeoutMs: number): SqliteSession {
    let writer: Database | undefined;
    try {
      // create: false, so that a wrong path is an error and not a new empty database.
      writer = new Database(path, { readwrite: true, create: false, safeIntegers: true });
      writer.run(`PRAGMA busy_timeout = ${Math.floor(busyTimeoutMs)}`);
      // A file that is not a database fails here, not at the first call.
      writer.query("SELECT count(*) FROM sqlite_schema").get();
      writer.run("PRAGMA foreign_keys = ON");
      const reader = new Database(path, { readonly: true, safeIntegers: true });
      reader.run("PRAGMA query_only = ON");
      return new SqliteSession(path, writer, reader);
    } catch (error) {
      writer?.close();
      throw new Unavailable(`cannot open SQLite database ${path}: ${messageOf(error)}`);
    }
  }

  /** The SQL facts for policy: the analysis reconciled with the statement SQLite compiles on the connection `mode` uses. */
  inspect(sql: string, mode: SqlMode, analysis: SqlAnalysis, busyTimeoutMs: number): SqlAnalysis {
    const text = checkSqliteText(sql);
    if (text.refusal !== undefined) return factsWithoutBytecode(analysis, text);
    try {
      return this.withStatement(sql, mode, busyTimeoutMs, false, (statement, db) => reconcile(analysis, text, this.viewOf(db, sql, statement, text)).facts);
    } catch (error) {
      // A statement SQLite cannot compile fails the same way when called.
      if (error instanceof StatementError) return factsWithoutBytecode(analysis, text);
      throw error;
    }
  }

  /** Runs one statement after the guard has let it through. */
  run(sql: string, params: SqlParam[], mode: SqlMode, analysis: SqlAnalysis, maxRows: number, busyTimeoutMs: number): Outcome {
    const text = checkSqliteText(sql);
    if (text.refusal !== undefined) throw new StatementError(text.refusal);
    return this.withStatement(sql, mode, busyTimeoutMs, true, (statement, db) => {
      const { refusal } = reconcile(analysis, text, this.viewOf(db, sql, statement, text));
      if (refusal !== undefined) throw new StatementError(refusal);
      if (statement.paramsCount !== params.length) {
        throw new StatementError(`the statement has ${statement.paramsCount} placeholder(s) but ${params.length} value(s) were given`);
      }
      const before = mode === "write" ? this.counters.get()! : undefined;
      const outcome = statement.columnNames.length > 0 ? readRows(statement.iterate(...params), statement.columnNames, maxRows) : { columns: [], rows: [], truncated: false, rowsAffected: statement.run(...params).changes };
      if (before !== undefined && !statement.readonly) this.noteChanges(outcome, before);
      return outcome;
    });
  }

  close(): void {
    this.reader.close();
    this.writer.close();
  }

  /**
   * Prepares the statement on the connection `mode` uses and hands it to `use`, all inside one transaction
   * (committed when `commit`, else rolled back): from the schema the guard reads to the statement's end, no
   * other connection can change the schema, so the bytecode checked is the bytecode that runs.
   */
  private withStatement<T>(sql: string, mode: SqlMode, busyTimeoutMs: number, commit: boolean, use: (statement: Statement<Record<string, unknown>, SqlParam[]>, db: Database) => T): T {
    const db = mode === "read" ? this.reader : this.writer;
    try {
      this.setBusyTimeout(busyTimeoutMs);
      // A write takes the write lock up front: upgrading a read lock later could fail at once on a busy file.
      db.run(mode === "write" && commit ? "BEGIN IMMEDIATE" : "BEGIN");
      try {
        // Preparing alone uses the schema this connection cached; reading the schema table reloads one that changed.
        db.query("SELECT count(*) FROM sqlite_schema").get();
        const statement = db.prepare<Record<string, unknown>, SqlParam[]>(sql);
        let result: T;
        try {
          result = use(statement, db);
        } finally {
          // Before COMMIT: a write statement still open would keep it from committing.
          statement.finalize();
        }
        if (commit) db.run("COMMIT");
        return result;
      } finally {
        this.resetConnection(db);
      }
    } catch (error) {
      throw this.classify(error, mode);
    }
  }

  /** What the prepared statement would do, from its bytecode. */
  private viewOf(db: Database, sql: string, statement: Statement, text: TextCheck): EngineView {
    // EXPLAIN cannot be explained again, and runs nothing itself.
    if (text.verb === "explain") return readBytecode(statement.readonly, [], []);
    // prepare, not query: query would cache one EXPLAIN per distinct text.
    const explain = db.prepare<Record<string, unknown>, []>(`EXPLAIN ${sql}`);
    const rows = explain.all().map(
      (row): ExplainRow => ({
        addr: Number(row.addr),
        opcode: String(row.opcode),
        p1: Number(row.p1),
        p2: Number(row.p2),
        p3: Number(row.p3),
        p4: row.p4 === null ? null : String(row.p4),
        p5: Number(row.p5),
      }),
    );
    explain.finalize();
    const writes = rows.some((row) => row.opcode === "OpenWrite" || row.opcode === "Clear" || row.opcode === "Destroy");
    const schemas = writes ? [schemaOf(db, "main"), schemaOf(db, "temp")] : [];
    return readBytecode(statement.readonly, rows, schemas);
  }

  /** Each call is its own transaction, and objects a call creates in `temp` do not outlive it. */
  private resetConnection(db: Database): void {
    // Left open by a failure (or by an inspection, which runs nothing): it would hold its lock between calls.
    if (db.inTransaction) db.run("ROLLBACK");
    if (db !== this.writer) return;
    // A temp trigger on a main table would fire in later calls; a temp table would show in them.
    const objects = db.query<{ type: string; name: string }, []>("SELECT type, name FROM temp.sqlite_schema WHERE type IN ('trigger', 'view', 'table') ORDER BY type = 'table'").all();
    for (const { type, name } of objects) db.run(`DROP ${type.toUpperCase()} IF EXISTS temp."${name.replaceAll('"', '""')}"`);
  }

  /** Rows affected and the new rowid, read from SQLite's counters (a RETURNING statement's run reports neither). */
  private noteChanges(outcome: Outcome, before: { rowid: number | bigint }): void {
    const after = this.counters.get()!;
    outcome.rowsAffected ??= Number(after.changes);
    if (after.rowid !== before.rowid) outcome.lastInsertId = jsonValue(after.rowid) as number | string;
  }

  private setBusyTimeout(ms: number): void {
    const rounded = Math.max(0, Math.floor(ms));
    if (rounded === this.busyTimeoutMs) return;
    for (const db of [this.writer, this.reader]) db.run(`PRAGMA busy_timeout = ${rounded}`);
    this.busyTimeoutMs = rounded;
  }

  private classify(error: unknown, mode: SqlMode): Error {
    if (error instanceof StatementError || error instanceof Unavailable) return error;
    const code = (error as { code?: unknown }).code;
    if (typeof code !== "string" || !code.startsWith("SQLITE_")) return new StatementError(`SQLite: ${messageOf(error)}`);
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return new Unavailable(`SQLite database ${this.path} stayed locked: ${messageOf(error)}`);
    if (BROKEN_SQLITE.some((prefix) => code.startsWith(prefix))) return new Unavailable(`SQLite database ${this.path}: ${messageOf(error)}`, true);
    if (mode === "read" && code.startsWith("SQLITE_READONLY")) return new StatementError(`SQLite: ${messageOf(error)} (${READ_ONLY_HINT})`);
    return new StatementError(`SQLite: ${messageOf(error)}`);
  }
}

function schemaOf(db: Database, database: "main" | "temp"): SchemaEntry[] {
  return db
    .query<{ rootpage: number | bigint; tbl_name: string }, []>(`SELECT rootpage, tbl_name FROM ${database}.sqlite_schema WHERE rootpage > 0`)
    .all()
    .map((entry) => ({ rootpage: Number(entry.rootpage), tbl_name: entry.tbl_name }));
}

function readRows(rows: IterableIterator<Record<string, unknown>>, columns: string[], maxRows: number): Outcome {
  const out: Record<string, unknown>[] = [];
  let truncated = false;
  for (const row of rows) {
    if (out.length === maxRows) {
      truncated = true;
      break;
    }
    out.push(jsonRow(row));
  }
  return { columns, rows: out, truncated };
}

let session: SqliteSession | undefined;

function answer(request: WorkerRequest): WorkerReply {
  const { id } = request;
  try {
    switch (request.op) {
      case "open":
        session?.close();
        session = SqliteSession.open(request.path, request.busyTimeoutMs);
        return { id, ok: true, value: null };
      case "inspect":
        return { id, ok: true, value: opened().inspect(request.sql, request.mode, request.analysis, request.busyTimeoutMs) };
      case "run":
        return { id, ok: true, value: opened().run(request.sql, request.params, request.mode, request.analysis, request.maxRows, request.busyTimeoutMs) };
      case "close":
        session?.close();
        session = undefined;
        return { id, ok: true, value: null };
    }
  } catch (error) {
    if (error instanceof StatementError) return { id, ok: false, failure: "statement", message: error.message };
    if (error instanceof Unavailable) return { id, ok: false, failure: error.broken ? "broken" : "unavailable", message: error.message };
    return { id, ok: false, failure: "broken", message: `SQLite worker: ${messageOf(error)}` };
  }
}

function opened(): SqliteSession {
  if (session === undefined) throw new Unavailable("the SQLite worker has no open database", true);
  return session;
}

/**
 * Ends this process when the connector's process is gone. The disconnect event does that while the worker
 * is idle; during a statement the main thread reads no event, so a thread of its own watches the parent.
 */
function watchParent(): void {
  process.on("disconnect", () => process.exit(0));
  const watch = `const parent = ${process.ppid}; setInterval(() => { if (process.ppid !== parent) process.kill(${process.pid}, "SIGKILL"); }, ${PARENT_CHECK_MS});`;
  new Worker(URL.createObjectURL(new Blob([watch], { type: "application/javascript" }))).unref();
}

if (typeof process.send === "function") {
  watchParent();
  process.on("message", (request: WorkerRequest) => process.send!(answer(request)));
}
