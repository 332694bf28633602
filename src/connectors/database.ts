/**
 * The `database` connector: a SQLite file or a PostgreSQL server (through Bun's built-in SQL client),
 * with two tools. `query` is read-only, and the database enforces it, not only policy: SQLite answers it
 * on a second connection opened read-only (plus `PRAGMA query_only`), PostgreSQL inside a
 * `BEGIN READ ONLY` transaction. `execute` runs one statement of any kind. Governance (which SQL may run)
 * happened before a call gets here; this module only runs what it is given.
 *
 * A statement the database rejects (syntax, missing table, constraint) is an answer: an `isError` result
 * carrying the database's message. A call that cannot be delivered or answered in time (server down,
 * file gone, lock or time limit) throws ConnectorError, and the connector retries in the background.
 */
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { existsSync } from "node:fs";
import { Type, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ConnectorError, type Connector, type ConnectorHealth, type UpstreamResult, type UpstreamTool } from "./connector.ts";
import { DEFAULT_TIMEOUT_MS } from "./model.ts";

/** How a database connector is configured. */
export interface DatabaseConnectorConfig {
  type: "database";
  dialect: "sqlite" | "postgres";
  /** SQLite: the database file, which must exist. */
  path?: string;
  /** PostgreSQL: `postgres://user:password@host:port/database`. */
  url?: string;
  /** At most this many rows come back from one call (default 1000). */
  max_rows?: number;
  /** The longest a statement may run, in ms (default: the call's own timeout). */
  timeout_ms?: number;
}

/** Rows returned by one call when `max_rows` is not set. */
export const DEFAULT_MAX_ROWS = 1000;

const Param = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

/** The arguments of both tools; `placeholders` names the dialect's placeholder syntax in the description. */
function sqlCall(placeholders = "placeholders") {
  return Type.Object(
    {
      sql: Type.String({ minLength: 1, description: "One SQL statement (several in one call are refused)." }),
      params: Type.Optional(Type.Array(Param, { maxItems: 65_535, description: `Values for the statement's ${placeholders}, in order.` })),
    },
    { additionalProperties: false },
  );
}

/** The arguments of both tools. */
export const SqlCall = sqlCall();
export type SqlCall = Static<typeof SqlCall>;

/** What both tools return, as `structuredContent` and as JSON text. */
export const SqlResult = Type.Object({
  columns: Type.Array(Type.String(), { description: "The result's column names, in order (empty for a statement that returns no rows)." }),
  rows: Type.Array(Type.Record(Type.String(), Type.Unknown()), {
    description:
      "One object per row, keyed by column name (alias columns that share a name). Integers beyond 2^53 and PostgreSQL numerics are strings, dates ISO strings, binary data base64.",
  }),
  row_count: Type.Integer({ minimum: 0, description: "How many rows `rows` holds." }),
  truncated: Type.Boolean({ description: "True when the statement returned more rows than the connector's max_rows; the rest were dropped." }),
  rows_affected: Type.Optional(Type.Integer({ minimum: 0, description: "Rows inserted, updated or deleted (statements that write)." })),
  last_insert_id: Type.Optional(Type.Union([Type.Integer(), Type.String()], { description: "SQLite: the rowid of the last row inserted." })),
});
export type SqlResult = Static<typeof SqlResult>;

const checkSqlCall = TypeCompiler.Compile(SqlCall);

/** JSON Schema without TypeBox's symbol-keyed metadata. */
const jsonSchema = (schema: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(schema));

const ONE_STATEMENT = "only one SQL statement per call: send each statement in its own call";
const OWN_TRANSACTION = "each call runs in its own transaction: BEGIN, SAVEPOINT and the like are not supported";
const READ_ONLY_HINT = "query is read-only: use execute to change data";
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;

/** A statement the database answered with an error: becomes an `isError` result. */
class StatementError extends Error {}

/** What one statement produced, with its values already made JSON-safe. */
interface Outcome {
  columns: string[];
  rows: Record<string, unknown>[];
  truncated: boolean;
  rowsAffected?: number;
  lastInsertId?: number | string;
}

/** How a call reaches the database, per dialect. */
interface SqlEngine {
  /** Runs one statement; throws StatementError (an answer) or ConnectorError (no answer). */
  run(sql: string, params: SqlCall["params"] & {}, mode: "read" | "write", limits: { timeoutMs: number; maxRows: number }): Promise<Outcome>;
  /** Why the engine cannot work right now, beyond what the last call saw (undefined: nothing known). */
  problem(): string | undefined;
  close(): Promise<void>;
}

/** A SQLite file or PostgreSQL database behind `<name>.query` and `<name>.execute`. */
export class DatabaseConnector implements Connector {
  onToolsChanged?: () => void;
  private engine?: SqlEngine;
  private opening?: Promise<SqlEngine>;
  private closed = false;
  /** Why the database is unreachable (undefined while it answers). */
  private failure?: string = "not started";
  private everOpened = false;
  private startFailed = false;
  private restarts = 0;
  private retryTimer?: Timer;
  private retryDelayMs = FIRST_RETRY_MS;
  private readonly tools: UpstreamTool[];

  constructor(
    readonly name: string,
    private readonly config: DatabaseConnectorConfig,
  ) {
    this.tools = describeTools(config.dialect);
  }

  /** Opens the database (SQLite: the file must exist; PostgreSQL: connects and runs `SELECT 1`). */
  async start(): Promise<void> {
    await this.connect();
  }

  async listTools(): Promise<UpstreamTool[]> {
    return this.tools;
  }

  async callTool(name: string, args: Record<string, unknown>, options: { timeoutMs: number }): Promise<UpstreamResult> {
    const tool = name === "query" ? "read" : name === "execute" ? "write" : undefined;
    if (tool === undefined) return errorResult(`unknown tool "${name}": a database connector has query and execute`);
    if (!checkSqlCall.Check(args)) {
      const first = checkSqlCall.Errors(args).First();
      return errorResult(`invalid arguments: ${first ? `${first.path || "/"} ${first.message}` : "expected {sql, params?}"}`);
    }
    if (args.sql.trim() === "") return errorResult("invalid arguments: sql is blank");
    const engine = await this.connect();
    const limits = {
      timeoutMs: Math.min(options.timeoutMs, this.config.timeout_ms ?? options.timeoutMs),
      maxRows: this.config.max_rows ?? DEFAULT_MAX_ROWS,
    };
    try {
      return successResult(await engine.run(args.sql, args.params ?? [], tool, limits));
    } catch (error) {
      if (error instanceof StatementError) return errorResult(error.message);
      if (error instanceof ConnectorError && engine.problem() !== undefined) await this.lose(engine, engine.problem()!);
      throw error instanceof ConnectorError ? error : new ConnectorError(messageOf(error));
    }
  }

  health(): ConnectorHealth {
    if (this.closed) return { healthy: false, detail: "closed", restarts: this.restarts };
    const problem = this.failure ?? this.engine?.problem();
    if (problem !== undefined) return { healthy: false, detail: problem, restarts: this.restarts };
    return { healthy: true, detail: this.target(), restarts: this.restarts };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const engine = this.engine ?? (await this.opening?.catch(() => undefined));
    this.engine = undefined;
    await engine?.close();
  }

  /** The open engine, opening it first when needed; throws ConnectorError (and retries in the background) when it cannot. */
  private async connect(): Promise<SqlEngine> {
    if (this.closed) throw new ConnectorError(`connector ${this.name} is closed`);
    if (this.engine !== undefined && this.engine.problem() === undefined) return this.engine;
    if (this.engine !== undefined) await this.lose(this.engine, this.engine.problem()!);
    this.opening ??= this.open().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async open(): Promise<SqlEngine> {
    try {
      const engine =
        this.config.dialect === "sqlite"
          ? SqliteEngine.open(this.requireSetting("path"))
          : await PostgresEngine.open(this.requireSetting("url"), this.config.timeout_ms ?? DEFAULT_TIMEOUT_MS, (lost, reason) => void this.lose(lost, reason));
      if (this.closed) {
        await engine.close();
        throw new ConnectorError(`connector ${this.name} is closed`);
      }
      this.engine = engine;
      this.recovered();
      return engine;
    } catch (error) {
      const failure = error instanceof ConnectorError ? error : new ConnectorError(messageOf(error));
      this.failure = failure.message;
      if (!this.everOpened) this.startFailed = true;
      this.scheduleRetry();
      throw failure;
    }
  }

  private requireSetting(key: "path" | "url"): string {
    const value = this.config[key];
    if (!value) throw new ConnectorError(`a ${this.config.dialect} database connector needs ${key}`);
    return value;
  }

  /** The connection is gone: report it, drop the engine, and reconnect in the background. */
  private async lose(engine: SqlEngine, reason: string): Promise<void> {
    if (this.closed || this.engine !== engine) return;
    this.engine = undefined;
    this.failure = reason;
    this.scheduleRetry();
    await engine.close().catch(() => {});
  }

  private recovered(): void {
    if (this.everOpened && this.failure !== undefined) this.restarts++;
    this.everOpened = true;
    this.failure = undefined;
    this.retryDelayMs = FIRST_RETRY_MS;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.startFailed) {
      // The service lists a connector's tools only after a start that succeeded.
      this.startFailed = false;
      this.onToolsChanged?.();
    }
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(delay * 2, MAX_RETRY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      // A failed attempt records why and schedules the next one itself.
      this.connect().catch(() => {});
    }, delay);
    // A connector waiting to reconnect must not keep the process alive.
    this.retryTimer.unref();
  }

  /** What the connector talks to, without credentials. */
  private target(): string {
    return this.config.dialect === "sqlite" ? `sqlite ${this.config.path}` : `postgres ${redactUrl(this.config.url ?? "")}`;
  }
}

/** The two tools, described for the dialect's placeholder syntax. */
function describeTools(dialect: DatabaseConnectorConfig["dialect"]): UpstreamTool[] {
  const input = jsonSchema(sqlCall(dialect === "sqlite" ? "placeholders `?` (or `?1`, `?2` …)" : "placeholders `$1`, `$2` …"));
  const output = jsonSchema(SqlResult);
  const engine = dialect === "sqlite" ? "SQLite" : "PostgreSQL";
  return [
    {
      name: "query",
      title: "Query the database (read-only)",
      description: `Runs one read-only SQL statement (SELECT …) on the ${engine} database and returns its rows. The database itself refuses writes here.`,
      inputSchema: input,
      outputSchema: output,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    {
      name: "execute",
      title: "Execute a SQL statement",
      description: `Runs one SQL statement on the ${engine} database (INSERT, UPDATE, DELETE, DDL …) in its own transaction and returns its rows, or how many rows it changed.`,
      inputSchema: input,
      outputSchema: output,
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
    },
  ];
}

// ---- SQLite ----

/** SQLite result codes (extended codes share the prefix) that mean the file itself is unusable. */
const BROKEN_SQLITE = ["SQLITE_IOERR", "SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CANTOPEN", "SQLITE_FULL", "SQLITE_NOMEM"];

/**
 * A SQLite file through two connections: read-write for `execute`, read-only for `query`.
 * bun:sqlite runs statements synchronously and cannot interrupt one, so the time limit is checked
 * between rows (every 256) and bounds waiting for locks; one long step (a big UPDATE, an aggregate
 * over a large table) runs to its end.
 */
class SqliteEngine implements SqlEngine {
  private busyTimeoutMs = -1;
  private brokenReason?: string;
  private readonly counters;

  private constructor(
    private readonly path: string,
    private readonly writer: Database,
    private readonly reader: Database,
  ) {
    this.counters = writer.query<{ changes: number | bigint; rowid: number | bigint }, []>("SELECT changes() AS changes, last_insert_rowid() AS rowid");
  }

  static open(path: string): SqliteEngine {
    // Opening a missing path would create an empty database and hide a wrong path.
    if (!existsSync(path)) throw new ConnectorError(`SQLite database ${path} does not exist (Invoke does not create it: check the path)`);
    let writer: Database | undefined;
    try {
      writer = new Database(path, { readwrite: true, create: false, safeIntegers: true });
      // A file that is not a database fails here, not at the first call.
      writer.query("SELECT count(*) FROM sqlite_schema").get();
      writer.run("PRAGMA foreign_keys = ON");
      const reader = new Database(path, { readonly: true, safeIntegers: true });
      reader.run("PRAGMA query_only = ON");
      return new SqliteEngine(path, writer, reader);
    } catch (error) {
      writer?.close();
      throw new ConnectorError(`cannot open SQLite database ${path}: ${messageOf(error)}`);
    }
  }

  async run(sql: string, params: (string | number | boolean | null)[], mode: "read" | "write", limits: { timeoutMs: number; maxRows: number }): Promise<Outcome> {
    if (countSqliteStatements(sql) > 1) throw new StatementError(ONE_STATEMENT);
    const db = mode === "read" ? this.reader : this.writer;
    this.setBusyTimeout(limits.timeoutMs);
    const before = mode === "write" ? this.counters.get()! : undefined;
    try {
      const statement = db.prepare<Record<string, unknown>, (string | number | boolean | null)[]>(sql);
      try {
        if (statement.paramsCount !== params.length) {
          throw new StatementError(`the statement has ${statement.paramsCount} placeholder(s) but ${params.length} value(s) were given`);
        }
        const outcome = statement.columnNames.length > 0 ? this.readRows(statement.iterate(...params), statement.columnNames, limits) : this.runWrite(statement.run(...params));
        if (mode === "write" && !statement.readonly && before !== undefined) this.noteChanges(outcome, before);
        return outcome;
      } finally {
        statement.finalize();
        if (db.inTransaction) {
          // Each call is its own transaction: a BEGIN left open would hold the write lock between calls.
          db.run("ROLLBACK");
          throw new StatementError(`${OWN_TRANSACTION} (rolled back)`);
        }
      }
    } catch (error) {
      throw this.classify(error, mode);
    }
  }

  problem(): string | undefined {
    if (this.brokenReason !== undefined) return this.brokenReason;
    // The open connections would keep writing to a deleted file that nobody else sees.
    return existsSync(this.path) ? undefined : `SQLite database ${this.path} no longer exists`;
  }

  async close(): Promise<void> {
    this.reader.close();
    this.writer.close();
  }

  private readRows(rows: IterableIterator<Record<string, unknown>>, columns: string[], limits: { timeoutMs: number; maxRows: number }): Outcome {
    const deadline = performance.now() + limits.timeoutMs;
    const out: Record<string, unknown>[] = [];
    let truncated = false;
    for (const row of rows) {
      if (out.length === limits.maxRows) {
        truncated = true;
        break;
      }
      out.push(jsonRow(row));
      if (out.length % 256 === 0 && performance.now() > deadline) throw new ConnectorError(`the statement did not finish within ${limits.timeoutMs} ms`);
    }
    return { columns, rows: out, truncated };
  }

  private runWrite(changes: { changes: number }): Outcome {
    return { columns: [], rows: [], truncated: false, rowsAffected: changes.changes };
  }

  /** Rows affected and the new rowid, read from SQLite's counters (a RETURNING statement's run reports neither). */
  private noteChanges(outcome: Outcome, before: { rowid: number | bigint }): void {
    const after = this.counters.get()!;
    outcome.rowsAffected ??= Number(after.changes);
    if (after.rowid !== before.rowid) outcome.lastInsertId = jsonValue(after.rowid) as number | string;
  }

  private setBusyTimeout(ms: number): void {
    if (ms === this.busyTimeoutMs) return;
    for (const db of [this.writer, this.reader]) db.run(`PRAGMA busy_timeout = ${Math.floor(ms)}`);
    this.busyTimeoutMs = ms;
  }

  private classify(error: unknown, mode: "read" | "write"): Error {
    if (error instanceof StatementError || error instanceof ConnectorError) return error;
    const code = (error as { code?: unknown }).code;
    if (typeof code !== "string" || !code.startsWith("SQLITE_")) return new StatementError(`SQLite: ${messageOf(error)}`);
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return new ConnectorError(`SQLite database ${this.path} stayed locked: ${messageOf(error)}`);
    if (BROKEN_SQLITE.some((prefix) => code.startsWith(prefix))) {
      this.brokenReason = `SQLite database ${this.path}: ${messageOf(error)}`;
      return new ConnectorError(this.brokenReason);
    }
    if (mode === "read" && code.startsWith("SQLITE_READONLY")) return new StatementError(`SQLite: ${messageOf(error)} (${READ_ONLY_HINT})`);
    return new StatementError(`SQLite: ${messageOf(error)}`);
  }
}

/**
 * How many statements a SQLite text holds. bun:sqlite prepares the first and silently ignores the rest,
 * so this is what lets `execute` refuse a second one instead of dropping it. A `;` ends a statement
 * outside quotes, comments and a trigger's BEGIN … END (as sqlite3_complete() reads it).
 */
function countSqliteStatements(text: string): number {
  let count = 0;
  let open = false;
  let words: string[] = [];
  let last = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (text.startsWith("--", i)) {
      const end = text.indexOf("\n", i);
      i = end < 0 ? text.length : end + 1;
    } else if (text.startsWith("/*", i)) {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 2;
    } else if (c === ";") {
      const isTrigger = words[0] === "CREATE" && (words[1] === "TRIGGER" || ((words[1] === "TEMP" || words[1] === "TEMPORARY") && words[2] === "TRIGGER"));
      if (open && (!isTrigger || last === "END")) {
        count++;
        open = false;
        words = [];
      }
      last = ";";
      i++;
    } else {
      open = true;
      if (c === "'" || c === '"' || c === "`" || c === "[") {
        const close = c === "[" ? "]" : c;
        let end = text.indexOf(close, i + 1);
        // A doubled quote is an escaped one.
        while (end >= 0 && close !== "]" && text[end + 1] === close) end = text.indexOf(close, end + 2);
        i = end < 0 ? text.length : end + 1;
        last = "";
      } else if (/[A-Za-z_]/.test(c)) {
        const word = /^[A-Za-z0-9_$]+/.exec(text.slice(i, i + 64))![0];
        last = word.toUpperCase();
        if (words.length < 3) words.push(last);
        i += word.length;
      } else {
        last = c;
        i++;
      }
    }
  }
  return open ? count + 1 : count;
}

// ---- PostgreSQL ----

/** SQLSTATE classes that mean the server or the session is unusable, not that the statement was wrong. */
const CONNECTION_SQLSTATES = /^(08(?!P01)|28|3D|53|57P|58)/;

/** PostgreSQL through Bun's SQL pool. Every statement goes through the extended protocol, which carries exactly one. */
class PostgresEngine implements SqlEngine {
  private closing = false;
  private lostReason?: string;

  private constructor(
    private readonly sql: SQL,
    private readonly where: string,
  ) {}

  static async open(url: string, statementTimeoutMs: number, onLost: (engine: PostgresEngine, reason: string) => void): Promise<PostgresEngine> {
    const where = redactUrl(url);
    let engine: PostgresEngine | undefined;
    const sql = new SQL(url, {
      // Agents send ad-hoc SQL: named prepared statements would only pile up on the server.
      prepare: false,
      bigint: true,
      max: 5,
      connectionTimeout: 10,
      idleTimeout: 60,
      // The server enforces the time limit even if Invoke goes away mid-statement.
      connection: { application_name: "invoke", statement_timeout: statementTimeoutMs },
      onclose: (error) => {
        const code = (error as { code?: string } | null)?.code ?? "";
        if (engine === undefined || engine.closing || code === "ERR_POSTGRES_IDLE_TIMEOUT" || code === "ERR_POSTGRES_LIFETIME_TIMEOUT") return;
        engine.lostReason = `connection to ${where} lost: ${messageOf(error)}`;
        onLost(engine, engine.lostReason);
      },
    });
    try {
      await sql(template("SELECT 1"));
    } catch (error) {
      await sql.close({ timeout: 0 }).catch(() => {});
      throw new ConnectorError(`cannot connect to PostgreSQL ${where}: ${messageOf(error)}`);
    }
    engine = new PostgresEngine(sql, where);
    return engine;
  }

  async run(text: string, params: (string | number | boolean | null)[], mode: "read" | "write", limits: { timeoutMs: number; maxRows: number }): Promise<Outcome> {
    let running: SQL.Query<unknown[]> | undefined;
    // `unsafe` without values would use the simple protocol, which runs several statements (even a
    // COMMIT that ends the read-only transaction): a one-string template keeps the extended protocol.
    const statement = (client: SQL) => (running = params.length > 0 ? client.unsafe(text, params) : client(template(text)));
    const work = mode === "read" ? this.sql.begin("read only", async (tx) => await statement(tx)) : statement(this.sql);
    let timer: Timer | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        running?.cancel();
        reject(new ConnectorError(`the statement did not finish within ${limits.timeoutMs} ms`));
      }, limits.timeoutMs);
    });
    work.catch(() => {}); // settled by the deadline when it loses the race
    try {
      return toOutcome((await Promise.race([work, deadline])) as unknown[] & SQL.ResultMetadata, limits.maxRows);
    } catch (error) {
      throw this.classify(error, mode, limits.timeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }

  problem(): string | undefined {
    return this.lostReason;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.sql.close({ timeout: 1 });
  }

  private classify(error: unknown, mode: "read" | "write", timeoutMs: number): Error {
    if (error instanceof StatementError || error instanceof ConnectorError) return error;
    if (!(error instanceof SQL.SQLError)) return new ConnectorError(`PostgreSQL ${this.where}: ${messageOf(error)}`);
    const { code = "", errno = "" } = error as SQL.PostgresError;
    if (errno === "57014" || code === "ERR_POSTGRES_QUERY_CANCELLED") return new ConnectorError(`the statement did not finish within ${timeoutMs} ms`);
    if (CONNECTION_SQLSTATES.test(errno) || (errno === "" && /CONNECTION|TLS|AUTH|SASL|SERVER_KEY|SERVER_SIGNATURE|CHANNEL_BINDING/.test(code))) {
      this.lostReason = `PostgreSQL ${this.where}: ${messageOf(error)}`;
      return new ConnectorError(this.lostReason);
    }
    if (errno === "42601" && /multiple commands/.test(error.message)) return new StatementError(ONE_STATEMENT);
    if (code === "ERR_POSTGRES_UNSAFE_TRANSACTION") return new StatementError(OWN_TRANSACTION);
    const { detail, hint } = error as SQL.PostgresError;
    const extra = [detail, hint, errno === "25006" && mode === "read" ? READ_ONLY_HINT : undefined].filter(Boolean);
    return new StatementError(`PostgreSQL: ${error.message}${extra.length > 0 ? ` (${extra.join("; ")})` : ""}`);
  }
}

/** The commands whose `affectedRows` counts rows written. */
const WRITE_COMMANDS = new Set(["INSERT", "UPDATE", "DELETE", "MERGE", "COPY"]);

function toOutcome(result: unknown[] & SQL.ResultMetadata, maxRows: number): Outcome {
  const columns = (result.columns ?? []).map((column) => column.name);
  const writes = WRITE_COMMANDS.has(result.command ?? "");
  if (columns.length === 0) return { columns, rows: [], truncated: false, rowsAffected: result.affectedRows };
  const rows = result.slice(0, maxRows).map((row) => jsonRow(row as Record<string, unknown>));
  return { columns, rows, truncated: result.length > maxRows, ...(writes && { rowsAffected: result.affectedRows }) };
}

/** A template object holding one string: Bun runs it as one extended-protocol statement without parameters. */
function template(text: string): TemplateStringsArray {
  const strings = [text];
  // Bun takes an array as a template object only when `raw` is not enumerable, as in a real one.
  Object.defineProperty(strings, "raw", { value: [text] });
  return strings as unknown as TemplateStringsArray;
}

/** A connection URL without its password, for messages and health. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.username ? `${decodeURIComponent(parsed.username)}@` : ""}${parsed.host}${parsed.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

// ---- results ----

function successResult(outcome: Outcome): UpstreamResult {
  const result: SqlResult = {
    columns: outcome.columns,
    rows: outcome.rows,
    row_count: outcome.rows.length,
    truncated: outcome.truncated,
    ...(outcome.rowsAffected !== undefined && { rows_affected: outcome.rowsAffected }),
    ...(outcome.lastInsertId !== undefined && { last_insert_id: outcome.lastInsertId }),
  };
  return { content: [{ type: "text", text: JSON.stringify(result) }], structuredContent: result };
}

function errorResult(message: string): UpstreamResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

function jsonRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) out[key] = jsonValue(value);
  return out;
}

/** A database value as JSON: safe integers as numbers, larger ones as strings, dates ISO, bytes base64. */
function jsonValue(value: unknown): unknown {
  switch (typeof value) {
    case "bigint":
      return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
    case "number":
      // NaN and ±Infinity (PostgreSQL floats) have no JSON number.
      return Number.isFinite(value) ? value : String(value);
    case "string":
    case "boolean":
      return value;
    case "object":
      break;
    default:
      return value === undefined ? null : String(value);
  }
  if (value === null) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
  if (Array.isArray(value)) return value.map(jsonValue);
  return jsonRow(value as Record<string, unknown>);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
