/**
 * The `database` connector: a SQLite file (run in a worker process, sqlite-engine.ts) or a PostgreSQL server
 * (through Bun's SQL pool, postgres-engine.ts), with two tools. Which connection a statement runs on comes
 * from the SQL analysis, and the database enforces it: `query` always runs as a read, and `execute` runs as
 * a read when the analysis says the statement reads; a read runs where the database refuses writes
 * (SQLite: a connection opened read-only with `PRAGMA query_only`; PostgreSQL: a `BEGIN READ ONLY`
 * transaction). `inspect` gives policy the SQL facts, reconciled with what SQLite itself compiled; a call
 * whose statement the engine reads differently from the analysis is refused whatever policy decided.
 *
 * A statement the database rejects (syntax, missing table, constraint) or the connector refuses is an
 * answer: an `isError` result carrying the reason. A call that cannot be delivered or answered in time
 * (server down, file gone, lock or time limit) throws ConnectorError, and the connector retries in the background.
 */
import { Type, type Static } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { analyzeSql, type SqlAnalysis } from "../policy/analyzers/sql.ts";
import { ConnectorError, type Connector, type ConnectorHealth, type UpstreamResult, type UpstreamTool } from "./connector.ts";
import { messageOf, refusedFacts, StatementError, type Outcome, type SqlEngine, type SqlMode } from "./database-engine.ts";
import { DEFAULT_TIMEOUT_MS } from "./kinds/kind.ts";
import type { DatabaseSpec } from "./kinds/database.ts";
import { checkPostgresText, PostgresEngine, redactUrl } from "./postgres-engine.ts";
import { SqliteEngine } from "./sqlite-engine.ts";
import { checkSqliteText, factsWithoutBytecode } from "./sqlite-guard.ts";

/** Rows returned by one call when `max_rows` is not set. */
const DEFAULT_MAX_ROWS = 1000;

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
const SqlCall = sqlCall();

/** What both tools return, as `structuredContent` and as JSON text. */
const SqlResult = Type.Object({
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
type SqlResult = Static<typeof SqlResult>;

const checkSqlCall = TypeCompiler.Compile(SqlCall);

/** JSON Schema without TypeBox's symbol-keyed metadata. */
const jsonSchema = (schema: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(schema));

/** How long inspect waits for SQLite (behind a long call on the same file) before falling back to the text's facts. */
const MAX_INSPECT_MS = 5_000;
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30_000;

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
  /** What the engine found wrong with its own set-up when it last opened. */
  private warnings: string[] = [];
  private readonly tools: UpstreamTool[];

  constructor(
    readonly name: string,
    private readonly config: DatabaseSpec,
  ) {
    this.tools = describeTools(config.dialect);
  }

  /** Opens the database (SQLite: the file must exist, and a worker opens it; PostgreSQL: connects and checks its role). */
  async start(): Promise<void> {
    await this.connect();
  }

  async listTools(): Promise<UpstreamTool[]> {
    return this.tools;
  }

  async callTool(name: string, args: Record<string, unknown>, options: { timeoutMs: number }): Promise<UpstreamResult> {
    if (name !== "query" && name !== "execute") return errorResult(`unknown tool "${name}": a database connector has query and execute`);
    if (!checkSqlCall.Check(args)) {
      const first = checkSqlCall.Errors(args).First();
      return errorResult(`invalid arguments: ${first ? `${first.path || "/"} ${first.message}` : "expected {sql, params?}"}`);
    }
    if (args.sql.trim() === "") return errorResult("invalid arguments: sql is blank");
    const engine = await this.connect();
    const analysis = this.analyze(args.sql);
    const plan = {
      sql: args.sql,
      params: args.params ?? [],
      mode: modeOf(name, analysis),
      analysis,
      timeoutMs: Math.min(options.timeoutMs, this.config.timeout_ms ?? options.timeoutMs),
      maxRows: this.config.max_rows ?? DEFAULT_MAX_ROWS,
    };
    try {
      return successResult(await engine.run(plan));
    } catch (error) {
      if (error instanceof StatementError) return errorResult(error.message);
      if (error instanceof ConnectorError && engine.problem() !== undefined) await this.lose(engine, engine.problem()!);
      throw error instanceof ConnectorError ? error : new ConnectorError(messageOf(error));
    }
  }

  /**
   * The SQL facts policy decides on for `sql`: the analysis, reconciled with the engine (SQLite compiles
   * the statement on the connection `execute` would run it on). A statement the connector refuses comes
   * back as kind `unknown`, destructive, with the reason as `error`. Never throws: when the database cannot
   * be reached the facts are the analysis and the refusals read from the text, and the call checks again.
   */
  async inspect(sql: string, tool: "query" | "execute" = "execute"): Promise<SqlAnalysis> {
    const analysis = this.analyze(sql);
    if (this.config.dialect === "postgres") {
      // The server itself refuses a read's writes, inside its read-only transaction: the analysis is the fact.
      const refusal = checkPostgresText(sql);
      return refusal === undefined ? analysis : refusedFacts(analysis, refusal);
    }
    const text = checkSqliteText(sql);
    if (text.refusal !== undefined) return refusedFacts(analysis, text.refusal);
    try {
      const engine = await this.connect();
      const timeoutMs = Math.min(this.config.timeout_ms ?? DEFAULT_TIMEOUT_MS, MAX_INSPECT_MS);
      if (engine instanceof SqliteEngine) return await engine.inspect({ sql, mode: modeOf(tool, analysis), analysis, timeoutMs });
    } catch {
      // Unreachable, or busy with a long call: the call checks again before anything runs.
    }
    return factsWithoutBytecode(analysis, text);
  }

  /** Policy's facts for a call: the SQL as `inspect` sees it on the connection the tool would use. */
  async analyzeCall(tool: string, args: Record<string, unknown>): Promise<Record<string, Record<string, unknown>>> {
    if (typeof args.sql !== "string" || (tool !== "query" && tool !== "execute")) return {};
    return { sql: { ...(await this.inspect(args.sql, tool)) } };
  }

  health(): ConnectorHealth {
    const warnings = this.warnings.length > 0 ? { warnings: this.warnings } : {};
    if (this.closed) return { healthy: false, detail: "closed", restarts: this.restarts, ...warnings };
    const problem = this.failure ?? this.engine?.problem();
    if (problem !== undefined) return { healthy: false, detail: problem, restarts: this.restarts, ...warnings };
    return { healthy: true, detail: this.target(), restarts: this.restarts, ...warnings };
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
          ? await SqliteEngine.open(this.requireSetting("path"))
          : await PostgresEngine.open(this.requireSetting("url"), this.config.timeout_ms ?? DEFAULT_TIMEOUT_MS, (lost, reason) => void this.lose(lost, reason));
      if (this.closed) {
        await engine.close();
        throw new ConnectorError(`connector ${this.name} is closed`);
      }
      this.engine = engine;
      this.warnings = engine.warnings();
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

  /** The SQL analysis in the connector's dialect, with the functions its configuration declares read-only. */
  private analyze(sql: string): SqlAnalysis {
    return analyzeSql(sql, this.config.dialect === "sqlite" ? "sqlite" : "postgresql", { readFunctions: this.config.read_functions });
  }

  /** What the connector talks to, without credentials. */
  private target(): string {
    return this.config.dialect === "sqlite" ? `sqlite ${this.config.path}` : `postgres ${redactUrl(this.config.url ?? "")}`;
  }
}

/** `query` always reads; `execute` reads when the analysis says the statement does, and writes otherwise. */
function modeOf(tool: "query" | "execute", analysis: SqlAnalysis): SqlMode {
  return tool === "query" || analysis.kind === "read" ? "read" : "write";
}

/** The two tools, described for the dialect's placeholder syntax. */
function describeTools(dialect: DatabaseSpec["dialect"]): UpstreamTool[] {
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
      description: `Runs one SQL statement on the ${engine} database (INSERT, UPDATE, DELETE, DDL …) in its own transaction and session (temporary tables and session settings end with the call) and returns its rows, or how many rows it changed.`,
      inputSchema: input,
      outputSchema: output,
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
    },
  ];
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
