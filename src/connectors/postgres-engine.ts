/**
 * PostgreSQL for the `database` connector, through Bun's SQL pool. Each call reserves one pooled
 * connection, runs its one statement there (a read inside `BEGIN READ ONLY`, so the server refuses its
 * writes), and resets the session with `DISCARD ALL` before the connection goes back to the pool: what a
 * call sets (search_path, statement_timeout, set_config, advisory locks, temporary tables, LISTEN, prepared
 * statements, cursors, the role) never reaches the next call. A call past its time limit is cancelled on
 * the server (the session's statement_timeout, and a cancel request at the deadline).
 *
 * On connecting, the engine looks at its own role: a superuser, or the owner of the schema or tables it
 * works on, can do what no read-only transaction or grant prevents, and health reports it as a warning.
 */
import { SQL, type ReservedSQL } from "bun";
import { scanSql } from "../policy/analyzers/sql-lexer.ts";
import { ConnectorError } from "./connector.ts";
import {
  jsonRow,
  messageOf,
  NO_STATEMENT,
  ONE_STATEMENT,
  OWN_TRANSACTION,
  READ_ONLY_HINT,
  StatementError,
  timeoutMessage,
  type Outcome,
  type SqlEngine,
  type SqlMode,
  type SqlPlan,
} from "./database-engine.ts";

/** SQLSTATE classes that mean the server or the session is unusable, not that the statement was wrong. */
const CONNECTION_SQLSTATES = /^(08(?!P01)|28|3D|53|57P|58)/;

/** Transaction control would end the call's own transaction, or leave one open on the pooled connection. */
const TRANSACTION_VERBS = new Set(["begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release"]);

/** After a cancelled statement, how long the server may take to give the connection back before it is closed. */
const ABANDON_AFTER_MS = 5_000;

/** The role the connector logs in as, and what it owns where it works. */
const ROLE_QUERY = `
  SELECT r.rolname AS role, r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls, n.nspname AS schema,
         n.oid IS NOT NULL AND pg_has_role(n.nspowner, 'USAGE') AS owns_schema,
         (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
           WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND pg_has_role(c.relowner, 'USAGE')) AS owned_tables
    FROM pg_roles r LEFT JOIN pg_namespace n ON n.nspname = current_schema()
   WHERE r.rolname = current_user`;

/** PostgreSQL behind one pool. */
export class PostgresEngine implements SqlEngine {
  private closing = false;
  private lostReason?: string;
  private found: string[] = [];

  private constructor(
    private readonly sql: SQL,
    private readonly where: string,
    /** The sessions' own statement_timeout (a startup parameter, which DISCARD ALL restores). */
    private readonly sessionTimeoutMs: number,
  ) {}

  /** Connects, checks the connection with the role query, and records the role's warnings. */
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
      const [role] = await sql(template(ROLE_QUERY));
      engine = new PostgresEngine(sql, where, statementTimeoutMs);
      engine.found = roleWarnings(role as RoleFacts);
      return engine;
    } catch (error) {
      await sql.close({ timeout: 0 }).catch(() => {});
      throw new ConnectorError(`cannot connect to PostgreSQL ${where}: ${messageOf(error)}`);
    }
  }

  async run(plan: SqlPlan): Promise<Outcome> {
    const { sql: text, params, mode, timeoutMs, maxRows } = plan;
    const refusal = checkPostgresText(text);
    if (refusal !== undefined) throw new StatementError(refusal);
    const abort = new AbortController();
    let client: ReservedSQL | undefined;
    let running: SQL.Query<unknown> | undefined;
    let settled = false;
    const work = (async () => {
      client = await this.sql.reserve({ signal: abort.signal });
      try {
        if (timeoutMs !== this.sessionTimeoutMs) await client(template(`SET statement_timeout = ${Math.ceil(timeoutMs)}`));
        // `unsafe` without values would use the simple protocol, which runs several statements (even a
        // COMMIT that ends the read-only transaction): a one-string template keeps the extended protocol.
        const statement = (on: SQL) => (running = params.length > 0 ? on.unsafe(text, params) : on(template(text)));
        return (mode === "read" ? await client.begin("read only", async (tx) => await statement(tx)) : await statement(client)) as unknown[] & SQL.ResultMetadata;
      } finally {
        await resetSession(client);
      }
    })().finally(() => (settled = true));
    let timer: Timer | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort(new ConnectorError(timeoutMessage(timeoutMs)));
        running?.cancel();
        // A connection whose statement the server does not give up is closed rather than kept.
        setTimeout(() => void (settled || client?.close().catch(() => {})), ABANDON_AFTER_MS).unref();
        reject(new ConnectorError(timeoutMessage(timeoutMs)));
      }, timeoutMs);
    });
    work.catch(() => {}); // settled by the deadline when it loses the race
    try {
      return toOutcome(await Promise.race([work, deadline]), maxRows);
    } catch (error) {
      throw this.classify(error, mode, timeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }

  problem(): string | undefined {
    return this.lostReason;
  }

  warnings(): string[] {
    return this.found;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.sql.close({ timeout: 1 });
  }

  private classify(error: unknown, mode: SqlMode, timeoutMs: number): Error {
    if (error instanceof StatementError || error instanceof ConnectorError) return error;
    if (!(error instanceof SQL.SQLError)) return new ConnectorError(`PostgreSQL ${this.where}: ${messageOf(error)}`);
    const { code = "", errno = "" } = error as SQL.PostgresError;
    if (errno === "57014" || code === "ERR_POSTGRES_QUERY_CANCELLED") return new ConnectorError(timeoutMessage(timeoutMs));
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

/** Why the connector refuses the text before the server sees it: not exactly one statement, or transaction control. */
export function checkPostgresText(text: string): string | undefined {
  const { statements } = scanSql(text, "postgresql");
  if (statements.length === 0) return NO_STATEMENT;
  if (statements.length > 1) return ONE_STATEMENT;
  const [first, second] = statements[0]!.words;
  if (TRANSACTION_VERBS.has(first ?? "") || (first === "prepare" && second === "transaction")) return OWN_TRANSACTION;
  return undefined;
}

/**
 * Gives the connection back to the pool as a fresh session; one that cannot be reset is closed instead.
 * A transaction left open (DISCARD ALL cannot run inside one) is rolled back first.
 */
async function resetSession(client: ReservedSQL): Promise<void> {
  try {
    await client(template("DISCARD ALL")).catch(async (error: SQL.PostgresError) => {
      if (error.errno !== "25001") throw error;
      await client(template("ROLLBACK"));
      await client(template("DISCARD ALL"));
    });
  } catch {
    await client.close().catch(() => {});
    return;
  }
  await client.release();
}

/** What ROLE_QUERY returns. */
interface RoleFacts {
  role: string;
  superuser: boolean;
  bypass_rls: boolean;
  schema: string | null;
  owns_schema: boolean;
  owned_tables: string[] | null;
}

/** The governance gaps of the connector's role. */
function roleWarnings(facts: RoleFacts): string[] {
  const { role, schema } = facts;
  if (facts.superuser) return [`role ${role} is a superuser: the database cannot refuse anything Invoke lets through`];
  const warnings: string[] = [];
  if (facts.bypass_rls) warnings.push(`role ${role} bypasses row-level security`);
  if (facts.owns_schema) warnings.push(`role ${role} owns schema ${schema}: it can create, alter and drop anything there, whatever the grants`);
  const tables = facts.owned_tables ?? [];
  if (!facts.owns_schema && tables.length > 0) {
    const named = tables.length > 5 ? `${tables.slice(0, 5).join(", ")} and ${tables.length - 5} more` : tables.join(", ");
    warnings.push(`role ${role} owns ${tables.length === 1 ? "table" : "tables"} ${named} in schema ${schema}: it can alter or drop them, whatever the grants`);
  }
  return warnings;
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
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.username ? `${decodeURIComponent(parsed.username)}@` : ""}${parsed.host}${parsed.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}
