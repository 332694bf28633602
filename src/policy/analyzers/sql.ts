/**
 * What a SQL text really does, for policy rules: its riskiest statement class, whether it destroys data,
 * and the tables it touches. node-sql-parser builds the syntax tree; the classification is Invoke's own and
 * conservative: text Invoke cannot parse or cannot see into is the riskiest case, never a safe one.
 * Identifiers are lower-cased, quoted or not, so rules can match table names without caring about case.
 */
import type { Parser as PostgresParser } from "node-sql-parser/build/postgresql";
import type { Parser as SqliteParser } from "node-sql-parser/build/sqlite";

/** What a SQL text does, as policy rules see it (fields are addressed as sql.kind, sql.destructive, sql.tables …). */
export interface SqlAnalysis {
  /** The riskiest statement's class: read < write < ddl < admin < unknown (unparseable, or opaque like CALL). */
  kind: "read" | "write" | "ddl" | "admin" | "unknown";
  /** DROP, TRUNCATE, ALTER … DROP …, DELETE or UPDATE without WHERE (or with a constant-true one), or anything unparseable. */
  destructive: boolean;
  /** Number of statements (0 for empty/whitespace/comment-only text). */
  statements: number;
  /** More than one statement. */
  multiple: boolean;
  /** Per statement, lower-case verb: "select", "insert", "update", "delete", "drop", "truncate", "alter", "create", "grant", "with", … */
  statement_kinds: string[];
  /** Tables touched (read or written), lower-cased (quoted or not), schema-qualified when written so ("public.invoices"), de-duplicated, sorted. */
  tables: string[];
  /** Tables written or changed (insert/update/delete/drop/truncate/alter/create targets), same form. */
  tables_written: string[];
  /** False when the text was not parsed; then kind is "unknown" and destructive is true (never treated as safe). */
  parsed: boolean;
  /** Why the text was not parsed, usually the parser's message (one line, no stack). */
  error?: string;
}

/** The SQL dialects Invoke can analyse. */
export type SqlDialect = "postgresql" | "sqlite";

type SqlKind = SqlAnalysis["kind"];

/** A node of node-sql-parser's syntax tree; its published types cover only part of what it produces. */
type AstNode = { [key: string]: unknown };

/** Longer texts are refused unparsed: parse time grows with length. */
const MAX_LENGTH = 100_000;

/**
 * How many reads of the text the parser may make: valid SQL takes up to ~120 per character, while invalid
 * text inside nested parentheses makes the parser backtrack exponentially (six nested `(select` with an
 * error inside take 80,000 per character, ten seconds). Past the budget the text is refused unparsed.
 */
const READS_PER_CHARACTER = 250;
const MIN_READS = 100_000;

const MAX_ERROR_LENGTH = 300;

const RISK_ORDER: readonly SqlKind[] = ["read", "write", "ddl", "admin", "unknown"];

/**
 * The statement types of node-sql-parser's syntax tree, by class; a type not listed is unknown.
 * Transaction control (BEGIN, COMMIT, ROLLBACK) changes nothing by itself, so it ranks with reads;
 * CALL, EXECUTE, IF … run code Invoke cannot see.
 */
const STATEMENT_TYPES: Record<SqlKind, readonly string[]> = {
  read: ["select", "show", "desc", "describe", "explain", "transaction"],
  write: ["insert", "replace", "update", "delete", "load_data"],
  ddl: ["create", "alter", "drop", "truncate", "rename", "comment"],
  admin: ["grant", "revoke", "set", "use", "lock", "unlock", "attach", "analyze", "deallocate"],
  unknown: ["call", "exec", "execute", "declare", "for", "if", "proc", "raise"],
};

const KIND_OF_TYPE = new Map(RISK_ORDER.flatMap((kind) => STATEMENT_TYPES[kind].map((type) => [type, kind] as const)));

/** Literal node types a constant condition can be made of. */
const LITERAL_TYPES = new Set(["bool", "number", "single_quote_string", "null"]);

const parsers: Partial<Record<SqlDialect, PostgresParser | SqliteParser>> = {};

/** The dialect's parser, loaded on first use: the grammars are large and most starts never parse SQL. */
function parserFor(dialect: SqlDialect): PostgresParser | SqliteParser {
  // Static require paths, so the bundler embeds both grammars in the compiled binary.
  return (parsers[dialect] ??=
    dialect === "postgresql" ? new (require("node-sql-parser/build/postgresql").Parser)() : new (require("node-sql-parser/build/sqlite").Parser)());
}

/** What the walk over one text has found so far. */
interface Findings {
  risk: number;
  destructive: boolean;
  tables: Set<string>;
  written: Set<string>;
}

/** Analyses a SQL text; never throws. Text that is not understood comes back as unknown and destructive. */
export function analyzeSql(text: string, dialect: SqlDialect = "postgresql"): SqlAnalysis {
  if (text.length > MAX_LENGTH) return notParsed(`the text is longer than ${MAX_LENGTH} characters`);
  try {
    const budgeted = new BudgetedText(text, MIN_READS + READS_PER_CHARACTER * text.length);
    // The parser reads its input through these methods; trimming would turn it back into a plain string.
    const ast = parserFor(dialect).astify(budgeted as unknown as string, { trimQuery: false });
    // ";" alone parses to [[]]: flattening drops the empty statements.
    return summarize([ast].flat(Infinity));
  } catch (error) {
    return notParsed(parserMessage(error));
  }
}

/** The text handed to the parser, which cannot be interrupted otherwise: it throws once the parser has read it too often. */
class BudgetedText extends String {
  private readonly budget: number;
  private reads = 0;

  constructor(text: string, budget: number) {
    super(text);
    this.budget = budget;
  }

  override charAt(index: number): string {
    this.spend();
    return super.charAt(index);
  }

  override charCodeAt(index: number): number {
    this.spend();
    return super.charCodeAt(index);
  }

  override substr(from: number, length?: number): string {
    this.spend();
    return super.substr(from, length);
  }

  private spend(): void {
    if (++this.reads > this.budget) throw new Error("the text is too costly to parse (the parser backtracks too much on it)");
  }
}

function notParsed(error: string): SqlAnalysis {
  return {
    kind: "unknown",
    destructive: true,
    statements: 0,
    multiple: false,
    statement_kinds: [],
    tables: [],
    tables_written: [],
    parsed: false,
    error,
  };
}

function summarize(statements: unknown[]): SqlAnalysis {
  const found: Findings = { risk: 0, destructive: false, tables: new Set(), written: new Set() };
  for (const statement of statements) {
    // A top-level node that is no known statement is one Invoke cannot classify.
    if (!isNode(statement) || statementKind(statement) === undefined) raise(found, "unknown");
    inspect(statement, new Set(), found);
  }
  return {
    kind: RISK_ORDER[found.risk]!,
    destructive: found.destructive,
    statements: statements.length,
    multiple: statements.length > 1,
    statement_kinds: statements.map((statement) => (isNode(statement) ? verbOf(statement) : "unknown")),
    tables: [...found.tables].sort(),
    tables_written: [...found.written].sort(),
    parsed: true,
  };
}

/**
 * Walks a subtree: every table reference counts as touched, and every statement in it (the top one, a CTE's,
 * a trigger body's, an EXPLAIN's) adds its class, destructiveness and targets. `ctes` are the CTE names in scope.
 */
function inspect(value: unknown, ctes: ReadonlySet<string>, found: Findings): void {
  if (Array.isArray(value)) {
    for (const item of value) inspect(item, ctes, found);
    return;
  }
  if (!isNode(value)) return;
  const table = relationName(value);
  if (table !== undefined && !(isUnqualified(value) && ctes.has(table))) found.tables.add(table);
  const kind = statementKind(value);
  if (kind !== undefined) noteStatement(value, kind, found);
  const scope = Array.isArray(value.with) ? inspectCtes(value.with, ctes, found) : undefined;
  for (const [key, child] of Object.entries(value)) {
    // SQLite's CREATE TRIGGER names the trigger the way it names a table.
    if (key === "trigger" || (key === "with" && scope !== undefined)) continue;
    inspect(child, scope ?? ctes, found);
  }
}

/** Walks CTE bodies, each seeing the CTEs before it (and itself when recursive); returns the scope of the main statement. */
function inspectCtes(ctes: unknown[], outer: ReadonlySet<string>, found: Findings): ReadonlySet<string> {
  const scope = new Set(outer);
  for (const cte of ctes) {
    const name = isNode(cte) ? cteName(cte) : undefined;
    // Without RECURSIVE, `WITH t AS (SELECT * FROM t)` reads the real table t.
    const own = name !== undefined && isNode(cte) && cte.recursive === true ? new Set([...scope, name]) : scope;
    inspect(cte, own, found);
    if (name !== undefined) scope.add(name);
  }
  return scope;
}

function noteStatement(statement: AstNode, kind: SqlKind, found: Findings): void {
  raise(found, kind);
  if (isDestructive(statement)) found.destructive = true;
  for (const table of writtenTables(statement, kind)) {
    found.tables.add(table);
    found.written.add(table);
  }
  for (const table of grantedTables(statement)) found.tables.add(table);
}

function raise(found: Findings, kind: SqlKind): void {
  found.risk = Math.max(found.risk, RISK_ORDER.indexOf(kind));
  if (kind === "unknown") found.destructive = true;
}

/** The class of a statement node, or undefined when the node is not a statement. */
function statementKind(node: AstNode): SqlKind | undefined {
  // ALTER's sub-commands (ADD COLUMN, DROP …) are typed "alter" too; they carry an action.
  if (typeof node.type !== "string" || "action" in node) return undefined;
  if (node.type === "select" && selectIntoTarget(node) !== undefined) return "write";
  return KIND_OF_TYPE.get(node.type);
}

function isDestructive(statement: AstNode): boolean {
  switch (statement.type) {
    case "drop":
    case "truncate":
      return true;
    case "alter":
      return Array.isArray(statement.expr) && statement.expr.some((command) => isNode(command) && String(command.action).toLowerCase() === "drop");
    case "update":
    case "delete":
      // ON CONFLICT … DO UPDATE is an update without a table: it changes only the conflicting row.
      return statement.table != null && (statement.where == null || constantTruth(statement.where) === true);
    default:
      return false;
  }
}

/** The truth of a condition made only of literals (`true`, `1 = 1`, `1 = 1 OR id = 5`), or undefined when rows decide it. */
function constantTruth(condition: unknown): boolean | undefined {
  if (!isNode(condition)) return undefined;
  const operator = String(condition.operator).toUpperCase();
  switch (condition.type) {
    case "bool":
      return condition.value === true;
    case "number":
      return Number(condition.value) !== 0; // SQLite accepts `WHERE 1`
    case "unary_expr": {
      const truth = operator === "NOT" ? constantTruth(condition.expr) : undefined;
      return truth === undefined ? undefined : !truth;
    }
    case "binary_expr":
      break;
    default:
      return undefined;
  }
  if (operator === "AND" || operator === "OR") {
    const sides = [constantTruth(condition.left), constantTruth(condition.right)];
    const decisive = operator === "OR";
    if (sides.includes(decisive)) return decisive;
    return sides.every((side) => side === !decisive) ? !decisive : undefined;
  }
  const left = literalText(condition.left);
  const right = literalText(condition.right);
  if (left === undefined || right === undefined) return undefined;
  if (operator === "=" || operator === "IS") return left === right;
  if (operator === "<>" || operator === "!=" || operator === "IS NOT") return left !== right;
  return undefined;
}

function literalText(node: unknown): string | undefined {
  return isNode(node) && typeof node.type === "string" && LITERAL_TYPES.has(node.type) ? String(node.value) : undefined;
}

/** The tables a statement writes or changes: its targets, or the new table of SELECT … INTO. */
function writtenTables(statement: AstNode, kind: SqlKind): string[] {
  if (statement.type === "select") return [selectIntoTarget(statement)].filter((table) => table !== undefined);
  if (kind !== "write" && kind !== "ddl") return [];
  return [statement.table, statement.name, statement.view, statement.sequence]
    .flat()
    .filter(isNode)
    .map(relationName)
    .filter((table) => table !== undefined);
}

/** The tables whose privileges a GRANT or REVOKE changes (`ON ALL TABLES IN SCHEMA s` names a schema, not tables). */
function grantedTables(statement: AstNode): string[] {
  if ((statement.type !== "grant" && statement.type !== "revoke") || !isNode(statement.on)) return [];
  const { object_type: objectType, priv_level: levels } = statement.on;
  // Without an object type, PostgreSQL's ON names tables.
  if (isNode(objectType) && String(objectType.value).toLowerCase() !== "table") return [];
  if (!Array.isArray(levels)) return [];
  return levels
    .filter((level) => isNode(level) && typeof level.name === "string")
    .map((level) => [level.prefix, level.name].filter((part) => typeof part === "string").join(".").toLowerCase());
}

function selectIntoTarget(select: AstNode): string | undefined {
  return isNode(select.into) && typeof select.into.expr === "string" ? select.into.expr.toLowerCase() : undefined;
}

/** The lower-cased, qualified name of a table or view reference (`{ db, schema, table }`), or undefined for any other node. */
function relationName(node: AstNode): string | undefined {
  if (node.type !== undefined || !("db" in node)) return undefined;
  const name = typeof node.table === "string" ? node.table : node.view;
  if (typeof name !== "string") return undefined;
  return [node.db, node.schema, name].filter((part) => typeof part === "string" && part !== "").join(".").toLowerCase();
}

function isUnqualified(reference: AstNode): boolean {
  return reference.db == null && reference.schema == null;
}

function cteName(cte: AstNode): string | undefined {
  const name = isNode(cte.name) ? cte.name.value : cte.name;
  return typeof name === "string" ? name.toLowerCase() : undefined;
}

/** The statement's leading verb: "with" for a statement opening with CTEs, "begin"/"commit"/… for transaction control. */
function verbOf(statement: AstNode): string {
  if (Array.isArray(statement.with) && statement.with.length > 0) return "with";
  if (statement.type === "transaction" && isNode(statement.expr) && isNode(statement.expr.action)) {
    return String(statement.expr.action.value).toLowerCase();
  }
  return typeof statement.type === "string" ? statement.type.toLowerCase() : "unknown";
}

/** The parser's message on one line, prefixed with the position of a syntax error when it gives one. */
function parserMessage(error: unknown): string {
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
  const start = isNode(error) && isNode(error.location) && isNode(error.location.start) ? error.location.start : undefined;
  const text = start === undefined ? message : `line ${start.line}, column ${start.column}: ${message}`;
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text;
}

function isNode(value: unknown): value is AstNode {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
