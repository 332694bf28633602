/**
 * What a SQL text really does, for policy rules: its riskiest statement class, whether it destroys data,
 * the tables it touches and the functions it calls. The classification is Invoke's own and conservative:
 * text Invoke cannot parse or cannot see into is the riskiest case, never a safe one.
 *
 * Two readers look at every text. The engine's own tokenizer (sql-lexer.ts) decides where statements,
 * strings, identifiers and comments start and end, exactly as SQLite or PostgreSQL will; node-sql-parser then
 * builds the syntax tree of each statement from text rebuilt out of those tokens (comments blanked, every
 * literal and quoted identifier rewritten in the one form the parser reads the same way), so the parser's
 * grammar can no longer see a different statement than the engine runs. Where the two still disagree on a
 * statement's verb, or on how many statements there are, the text is unknown and destructive; so is any text
 * that is not exactly one statement, since the database connector runs one per call. A SELECT is a read only
 * when every function it calls is a known side-effect-free one (sql-functions.ts).
 * Identifiers are lower-cased, quoted or not, so rules can match table names without caring about case.
 */
import type { Parser as PostgresParser } from "node-sql-parser/build/postgresql";
import type { Parser as SqliteParser } from "node-sql-parser/build/sqlite";
import {
  deniedFunction,
  functionFactName,
  functionRisk,
  isPostgresReadFunction,
  isReadOnlyPragma,
  isSyntaxCall,
  type FunctionCall,
  type FunctionRisk,
} from "./sql-functions.ts";
import { scanSql, type SqlDialect, type SqlStatement, type SqlToken } from "./sql-lexer.ts";

export type { SqlDialect } from "./sql-lexer.ts";

/** What a SQL text does, as policy rules see it (fields are addressed as sql.kind, sql.destructive, sql.tables …). */
export interface SqlAnalysis {
  /** The riskiest statement's class: read < write < ddl < admin < unknown (unparseable, opaque like CALL, or not exactly one statement). */
  kind: "read" | "write" | "ddl" | "admin" | "unknown";
  /** DROP, TRUNCATE, ALTER … DROP …, DELETE or UPDATE without a WHERE that restricts rows, a dangerous command, or anything unknown. */
  destructive: boolean;
  /** Number of statements the engine would run (0 when the text holds none, or was not parsed). */
  statements: number;
  /** More than one statement. */
  multiple: boolean;
  /** Per statement, lower-case verb: "select", "insert", "update", "delete", "drop", "truncate", "alter", "create", "grant", "with", "pragma", … */
  statement_kinds: string[];
  /** Tables touched (read or written), lower-cased (quoted or not), schema-qualified when written so ("public.invoices"), de-duplicated, sorted. */
  tables: string[];
  /** Tables written or changed (insert/update/delete/drop/truncate/alter/create targets), same form. */
  tables_written: string[];
  /** Functions called, lower-cased, schema-qualified when written so (pg_catalog dropped), de-duplicated, sorted. */
  functions: string[];
  /** False when the text was not parsed; then kind is "unknown" and destructive is true (never treated as safe). */
  parsed: boolean;
  /** Why the text was not parsed or is unknown (one line, no stack). */
  error?: string;
}

/** Options of an analysis. */
export interface SqlAnalysisOptions {
  /** Functions the operator declares read-only (bare or schema-qualified names, any case); the dangerous built-ins stay dangerous. */
  readFunctions?: readonly string[];
}

type SqlKind = SqlAnalysis["kind"];

/** A node of node-sql-parser's syntax tree; its published types cover only part of what it produces. */
type AstNode = { [key: string]: unknown };

/** The dialects analyzeSqlEveryDialect tries. */
const DIALECTS: readonly SqlDialect[] = ["postgresql", "sqlite"];

const ENGINE_NAMES: Record<SqlDialect, string> = { postgresql: "PostgreSQL", sqlite: "SQLite" };

/** Longer texts are refused unparsed: parse time grows with length. */
const MAX_LENGTH = 100_000;

/**
 * How many reads of the text the parser may make: valid SQL takes up to ~120 per character, while invalid
 * text inside nested parentheses makes the parser backtrack exponentially (six nested `(select` with an
 * error inside take 80,000 per character, ten seconds). Past the budget the text is refused unparsed.
 */
const READS_PER_CHARACTER = 250;
const MIN_READS = 100_000;

/** Statements parsed per text: a text of several is unknown anyway, and the rest only adds facts (by verb). */
const MAX_PARSED_STATEMENTS = 16;

const MAX_ERROR_LENGTH = 300;

/** The database connector runs exactly one statement per call, so any other count is refused. */
const ONE_STATEMENT = "the database connector runs exactly one statement per call";

/** Analyses kept for reuse: policy and then the connector analyse the same text for each call. */
const CACHE_ENTRIES = 256;
const CACHEABLE_LENGTH = 4_096;

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

/**
 * The least class of a statement by the verb the engine reads, whatever the parser makes of it; a verb not
 * listed is unknown. PostgreSQL's EXPLAIN ANALYZE runs its statement, SQLite's EXPLAIN never does.
 */
const VERB_FLOORS: Record<SqlDialect, ReadonlyMap<string, SqlKind>> = (() => {
  const common: Record<SqlKind, readonly string[]> = {
    read: ["select", "with", "values", "table", "show", "begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release"],
    write: ["insert", "update", "delete", "replace", "merge", "upsert"],
    ddl: ["create", "alter", "drop", "truncate", "comment", "rename", "refresh"],
    admin: [
      "grant", "revoke", "set", "reset", "lock", "unlock", "attach", "detach", "vacuum", "analyze", "reindex", "pragma", "cluster",
      "checkpoint", "discard", "listen", "unlisten", "notify", "load", "security", "reassign", "import", "deallocate",
    ],
    unknown: [],
  };
  const floors = new Map(RISK_ORDER.flatMap((kind) => common[kind].map((verb) => [verb, kind] as const)));
  return { postgresql: new Map([...floors, ["explain", "unknown"]]), sqlite: new Map([...floors, ["explain", "read"]]) };
})();

/** SQLite commands classified from the engine's tokens alone (the parser has no grammar for most of them). */
const SQLITE_COMMANDS: ReadonlyMap<string, FunctionRisk> = new Map([
  ["attach", { kind: "admin", destructive: true }],
  ["detach", { kind: "admin", destructive: true }],
  ["vacuum", { kind: "admin", destructive: true }],
  ["pragma", { kind: "admin", destructive: true }],
  ["reindex", { kind: "admin", destructive: false }],
  ["analyze", { kind: "admin", destructive: false }],
]);

/** The read-only PRAGMAs whose argument names a table. */
const SQLITE_TABLE_PRAGMAS: ReadonlySet<string> = new Set(["table_info", "table_xinfo", "table_list", "index_list", "foreign_key_list"]);

/** SQLite's schema tables and raw pages: writing them (PRAGMA writable_schema, the dbpage extension) corrupts the database. */
const SQLITE_SCHEMA_TABLES: ReadonlySet<string> = new Set(["sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema", "sqlite_dbpage"]);

/** What SQLite's CREATE makes that runs later or elsewhere (triggers fire on other statements, views and virtual tables hide code). */
const SQLITE_ADMIN_OBJECTS: ReadonlySet<string> = new Set(["trigger", "view", "virtual"]);

/** Words between CREATE and the kind of object created. */
const CREATE_MODIFIERS: ReadonlySet<string> = new Set([
  "or", "replace", "temp", "temporary", "unique", "global", "local", "unlogged", "materialized", "recursive", "constraint",
]);

/** PostgreSQL keywords that may stand before `(` without calling a function (a check on calls the parser did not report). */
const POSTGRES_WORDS_BEFORE_PARENTHESES: ReadonlySet<string> = new Set([
  "as", "in", "exists", "values", "using", "over", "filter", "within", "any", "all", "some", "array", "row", "lateral",
  "on", "from", "join", "where", "and", "or", "not", "select", "then", "else", "when", "case", "by", "between", "is",
  "like", "ilike", "similar", "to", "escape", "distinct", "union", "intersect", "except", "limit", "offset", "fetch",
  "group", "having", "window", "partition", "order", "rows", "range", "groups", "with", "recursive", "cube", "rollup",
  "grouping", "sets", "tablesample", "repeatable", "returning", "ordinality", "interval", "numeric", "decimal", "dec",
  "varchar", "char", "character", "varying", "time", "timestamp", "bit", "float", "nchar", "national", "precision",
  "zone", "set", "into", "table", "only", "materialized", "collate", "integer", "int", "smallint", "bigint", "real",
  "double", "boolean", "cast", "extract", "overlay", "position", "substring", "trim", "coalesce", "nullif", "greatest",
  "least", "treat", "for", "of", "nulls", "first", "last", "asc", "desc", "preceding", "following", "current",
  "unbounded", "exclude", "ties", "others", "no", "only",
]);

/** Comparison operators of node-sql-parser's trees, and what each becomes under NOT. */
const NEGATED_COMPARISONS: ReadonlyMap<string, string> = new Map([
  ["=", "<>"], ["==", "<>"], ["<>", "="], ["!=", "="], ["<", ">="], [">", "<="], ["<=", ">"], [">=", "<"],
  ["IN", "NOT IN"], ["NOT IN", "IN"], ["BETWEEN", "NOT BETWEEN"], ["NOT BETWEEN", "BETWEEN"],
  ["LIKE", "NOT LIKE"], ["NOT LIKE", "LIKE"], ["ILIKE", "NOT ILIKE"], ["NOT ILIKE", "ILIKE"],
  ["GLOB", "NOT GLOB"], ["NOT GLOB", "GLOB"], ["SIMILAR TO", "NOT SIMILAR TO"], ["NOT SIMILAR TO", "SIMILAR TO"],
  ["REGEXP", "NOT REGEXP"], ["NOT REGEXP", "REGEXP"], ["~", "!~"], ["!~", "~"], ["~*", "!~*"], ["!~*", "~*"],
  ["IS", "IS NOT"], ["IS NOT", "IS"], ["MATCH", "NOT MATCH"], ["NOT MATCH", "MATCH"],
  ["@>", "@>"], ["<@", "<@"], ["&&", "&&"], ["?", "?"], ["@@", "@@"],
]);

/** Patterns that match every value: LIKE '%', GLOB '*', a regular expression that matches anything. */
const MATCH_EVERYTHING: Record<string, RegExp> = {
  LIKE: /^%+$/,
  ILIKE: /^%+$/,
  "SIMILAR TO": /^%+$/,
  GLOB: /^\*+$/,
  REGEXP: /^\^?(\.\*)*\$?$/,
  "~": /^\^?(\.\*)*\$?$/,
  "~*": /^\^?(\.\*)*\$?$/,
};

/** Literal node types of node-sql-parser's trees. */
const LITERAL_TYPES: ReadonlySet<string> = new Set(["bool", "number", "single_quote_string", "null", "hex_string"]);

/** Keys of a CREATE node that name what is created rather than a table read. */
const NAME_KEYS: ReadonlySet<string> = new Set(["trigger"]);

const parsers: Partial<Record<SqlDialect, PostgresParser | SqliteParser>> = {};

/** The dialect's parser, loaded on first use: the grammars are large and most starts never parse SQL. */
function parserFor(dialect: SqlDialect): PostgresParser | SqliteParser {
  // Static require paths, so the bundler embeds both grammars in the compiled binary.
  return (parsers[dialect] ??=
    dialect === "postgresql" ? new (require("node-sql-parser/build/postgresql").Parser)() : new (require("node-sql-parser/build/sqlite").Parser)());
}

// A memo of a pure function, not per-request state: the same text and options always give the same analysis.
const cache = new Map<string, Readonly<SqlAnalysis>>();

/**
 * Analyses a SQL text as the dialect's engine would run it; never throws. Text that is not understood, or
 * that is not exactly one statement, comes back as unknown and destructive. The result is the caller's own copy.
 */
export function analyzeSql(text: string, dialect: SqlDialect, options: SqlAnalysisOptions = {}): SqlAnalysis {
  // A caller outside the type system that names no known dialect gets the worst reading of all of them.
  if (!DIALECTS.includes(dialect)) return analyzeSqlEveryDialect(text, options);
  // Named as the analysis reports functions: lower-cased, pg_catalog dropped.
  const readFunctions = [...new Set((options.readFunctions ?? []).map((name) => name.trim().toLowerCase().replace(/^pg_catalog\./, "")))].sort();
  if (text.length > CACHEABLE_LENGTH) return analyzeText(text, dialect, new Set(readFunctions));
  const key = `${dialect}\u0000${JSON.stringify(readFunctions)}\u0000${text}`;
  let analysis = cache.get(key);
  if (analysis === undefined) {
    analysis = Object.freeze(analyzeText(text, dialect, new Set(readFunctions)));
    if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  } else {
    // Least recently used goes first: a hit moves to the back.
    cache.delete(key);
  }
  cache.set(key, analysis);
  return copyOf(analysis);
}

/**
 * Analyses a SQL text with every supported dialect and returns the worst reading, for an action that names
 * no configured database: the riskiest kind, destructive when any reading is, every table and function any
 * reading found, parsed only when every reading parsed it.
 */
export function analyzeSqlEveryDialect(text: string, options: SqlAnalysisOptions = {}): SqlAnalysis {
  const readings = DIALECTS.map((dialect) => ({ dialect, analysis: analyzeSql(text, dialect, options) }));
  const rank = (analysis: SqlAnalysis) => RISK_ORDER.indexOf(analysis.kind) * 2 + (analysis.destructive ? 1 : 0);
  const worst = readings.reduce((a, b) => (rank(b.analysis) > rank(a.analysis) ? b : a)).analysis;
  const union = (field: "tables" | "tables_written" | "functions") => [...new Set(readings.flatMap(({ analysis }) => analysis[field]))].sort();
  const statements = Math.max(...readings.map(({ analysis }) => analysis.statements));
  const errors = readings.filter(({ analysis }) => analysis.error !== undefined).map(({ dialect, analysis }) => `${ENGINE_NAMES[dialect]}: ${analysis.error}`);
  return {
    kind: worst.kind,
    destructive: readings.some(({ analysis }) => analysis.destructive),
    statements,
    multiple: statements > 1,
    statement_kinds: [...worst.statement_kinds],
    tables: union("tables"),
    tables_written: union("tables_written"),
    functions: union("functions"),
    parsed: readings.every(({ analysis }) => analysis.parsed),
    ...(errors.length > 0 ? { error: errors.join("; ") } : {}),
  };
}

function copyOf(analysis: Readonly<SqlAnalysis>): SqlAnalysis {
  return {
    ...analysis,
    statement_kinds: [...analysis.statement_kinds],
    tables: [...analysis.tables],
    tables_written: [...analysis.tables_written],
    functions: [...analysis.functions],
  };
}

/** What the walk over one statement has found so far. */
interface Findings {
  risk: number;
  destructive: boolean;
  tables: Set<string>;
  written: Set<string>;
  functions: Set<string>;
  /** Why the statement ranks where it does, when that needs saying (a disagreement, a call the parser missed). */
  notes: string[];
}

/** What one statement's analysis needs besides its text. */
interface WalkContext {
  dialect: SqlDialect;
  readFunctions: ReadonlySet<string>;
  budget: ParseBudget;
}

function newFindings(): Findings {
  return { risk: 0, destructive: false, tables: new Set(), written: new Set(), functions: new Set(), notes: [] };
}

function analyzeText(text: string, dialect: SqlDialect, readFunctions: ReadonlySet<string>): SqlAnalysis {
  if (text.length > MAX_LENGTH) return notParsed(`the text is longer than ${MAX_LENGTH} characters`);
  const engine = ENGINE_NAMES[dialect];
  const scan = scanSql(text, dialect);
  if (scan.problem !== undefined) return notParsed(`${engine}'s tokenizer: ${scan.problem}`);
  if (scan.statements.length === 0) {
    return { ...emptyAnalysis(), kind: "unknown", destructive: true, error: `the text holds no SQL statement; ${ONE_STATEMENT}` };
  }
  const total = newFindings();
  const kinds: string[] = [];
  // One budget for the whole text, however many statements it holds.
  const context: WalkContext = { dialect, readFunctions, budget: new ParseBudget(MIN_READS + READS_PER_CHARACTER * text.length) };
  for (const [index, statement] of scan.statements.entries()) {
    if (index >= MAX_PARSED_STATEMENTS) {
      kinds.push(statement.verb);
      raise(total, VERB_FLOORS[dialect].get(statement.verb) ?? "unknown");
      continue;
    }
    const outcome = analyzeStatement(text, statement, context);
    if ("failure" in outcome) {
      const where = scan.statements.length > 1 ? `statement ${index + 1}: ` : "";
      return notParsed(`${where}${outcome.failure}`);
    }
    kinds.push(outcome.verb);
    merge(total, outcome.found);
  }
  if (scan.statements.length > 1) {
    raise(total, "unknown");
    total.notes.push(`the text holds ${scan.statements.length} statements; ${ONE_STATEMENT}`);
  }
  if (scan.statements.length > MAX_PARSED_STATEMENTS) total.notes.push(`only the first ${MAX_PARSED_STATEMENTS} statements were parsed`);
  const notes = [...new Set(total.notes)];
  return {
    kind: RISK_ORDER[total.risk]!,
    destructive: total.destructive,
    statements: scan.statements.length,
    multiple: scan.statements.length > 1,
    statement_kinds: kinds,
    tables: [...total.tables].sort(),
    tables_written: [...total.written].sort(),
    functions: [...total.functions].sort(),
    parsed: true,
    ...(notes.length > 0 ? { error: truncate(notes.join("; ")) } : {}),
  };
}

function emptyAnalysis(): SqlAnalysis {
  return { kind: "read", destructive: false, statements: 0, multiple: false, statement_kinds: [], tables: [], tables_written: [], functions: [], parsed: true };
}

function notParsed(error: string): SqlAnalysis {
  return { ...emptyAnalysis(), kind: "unknown", destructive: true, parsed: false, error: truncate(error) };
}

function merge(total: Findings, found: Findings): void {
  total.risk = Math.max(total.risk, found.risk);
  total.destructive ||= found.destructive;
  for (const field of ["tables", "written", "functions"] as const) for (const value of found[field]) total[field].add(value);
  total.notes.push(...found.notes);
}

/** One statement: its verb and findings, or why it was not parsed. */
function analyzeStatement(source: string, statement: SqlStatement, context: WalkContext): { verb: string; found: Findings } | { failure: string } {
  const { dialect } = context;
  const found = newFindings();
  const command = dialect === "sqlite" ? SQLITE_COMMANDS.get(statement.verb) : undefined;
  if (command !== undefined) {
    if (statement.verb === "pragma") notePragma(statement, found);
    else noteRisk(found, command);
    return { verb: statement.verb, found };
  }
  raise(found, VERB_FLOORS[dialect].get(statement.verb) ?? "unknown");
  const canonical = canonicalText(source, statement, dialect);
  if (typeof canonical !== "string") return canonical;
  let nodes: unknown[];
  try {
    const budgeted = new BudgetedText(canonical, context.budget);
    // The parser reads its input through these methods; trimming would turn it back into a plain string.
    const ast = parserFor(dialect).astify(budgeted as unknown as string, { trimQuery: false });
    // A trailing ";" parses to an empty statement ([]): flattening drops it.
    nodes = [ast].flat(Infinity);
  } catch (error) {
    return { failure: parserMessage(error) };
  }
  const node = nodes.length === 1 && isNode(nodes[0]) ? nodes[0] : undefined;
  const disagreement = node === undefined ? `the analyser's parser reads ${nodes.length} statements` : verbDisagreement(statement, node);
  if (disagreement !== undefined) {
    raise(found, "unknown");
    const engine = ENGINE_NAMES[dialect];
    found.notes.push(`${engine} and the analyser's parser read the text differently: ${engine} runs a ${statement.verb.toUpperCase()} statement, ${disagreement}`);
    return { verb: statement.verb, found };
  }
  // A top-level node that is no known statement is one Invoke cannot classify.
  if (statementKind(node!) === undefined) raise(found, "unknown");
  inspect(node!, new Set(), found, context);
  noteEngineFacts(statement, node!, found, context);
  return { verb: verbOf(node!), found };
}

/**
 * The statement's text for the parser, rebuilt from the engine's tokens: comments become blanks (line breaks
 * kept, so error positions still point at the right line), and strings, quoted identifiers and placeholders
 * are rewritten in the one form node-sql-parser reads as the engine does. Everything else is copied as is.
 */
function canonicalText(source: string, statement: SqlStatement, dialect: SqlDialect): string | { failure: string } {
  let text = "";
  let cursor = statement.start;
  for (const token of statement.tokens) {
    text += source.slice(cursor, token.start).replace(/[^\n]/g, " ");
    const rendered = renderToken(source, token, dialect);
    if (rendered === undefined) {
      return { failure: `the analyser's parser cannot read ${source.slice(token.start, token.end)} as ${ENGINE_NAMES[dialect]} does` };
    }
    text += rendered.padEnd(token.end - token.start);
    cursor = token.end;
  }
  return text;
}

function renderToken(source: string, token: SqlToken, dialect: SqlDialect): string | undefined {
  const original = source.slice(token.start, token.end);
  switch (token.kind) {
    case "string":
      // The parser takes a backslash for an escape, which neither engine does in these strings: it must not see one.
      return `'${token.value.replaceAll("\\", "\u2216").replaceAll("'", "''")}'`;
    case "quoted":
      // SQLite's "…" may be a string (it falls back to one when no column has the name), so it keeps its quotes.
      // The parser reads neither quote doubled, and may take a backslash for an escape.
      if (token.value.includes("\\")) return undefined;
      if (dialect === "postgresql" || token.quote === '"') return token.value.includes('"') ? undefined : `"${token.value}"`;
      return token.value.includes("`") ? undefined : `\`${token.value}\``;
    case "word":
      // Both engines let `$` continue an identifier (`x$$` is one), where the parser would see a dollar quote or a variable.
      if (!original.includes("$")) return original;
      return dialect === "postgresql" ? `"${token.value}"` : `\`${original}\``;
    case "param":
      return dialect === "sqlite" ? "?" : original;
    case "punct":
      // PostgreSQL operators may hold a backtick, which the parser takes for a quote.
      return original === "`" ? undefined : original;
    default:
      return original;
  }
}

/** Why the parser's statement is not the one the engine reads, or undefined when they agree. */
function verbDisagreement(statement: SqlStatement, node: AstNode): string | undefined {
  const parsed = verbOf(node);
  if (parsed !== statement.verb) return `the analyser's parser a ${parsed.toUpperCase()} statement`;
  if (statement.verb !== "create" && statement.verb !== "drop" && statement.verb !== "alter") return undefined;
  if (typeof node.keyword !== "string") return undefined;
  const object = createdObject(statement);
  const keyword = node.keyword.toLowerCase();
  return object === keyword ? undefined : `the analyser's parser a ${statement.verb.toUpperCase()} ${keyword.toUpperCase()} statement`;
}

/** The kind of object a CREATE, DROP or ALTER names ("table", "trigger", "virtual" …), past OR REPLACE, TEMP and the like. */
function createdObject(statement: SqlStatement): string | undefined {
  return statement.words.slice(1).find((word) => !CREATE_MODIFIERS.has(word));
}

/** What the engine's tokens show beyond the parser's tree: dangerous calls, row locks, SQLite's schema tables and code-holding objects. */
function noteEngineFacts(statement: SqlStatement, node: AstNode, found: Findings, context: WalkContext): void {
  const { dialect } = context;
  const names = dialect === "postgresql" && found.risk === 0 ? astStrings(node) : undefined;
  for (const call of tokenCalls(statement.tokens)) {
    const denied = deniedFunction(call.name, dialect);
    if (denied !== undefined) {
      found.functions.add(functionFactName(call));
      noteRisk(found, denied);
    } else if (names !== undefined && !isAccountedCall(call, names)) {
      // The engine calls something the parser's tree does not show at all: it may be any function.
      raise(found, "write");
      found.notes.push(`PostgreSQL reads ${call.name}(…) as a call the analyser's parser did not report`);
    }
  }
  if (dialect === "postgresql" && hasRowLock(statement.tokens)) raise(found, "write");
  if (dialect === "sqlite") {
    // A PRAGMA's table-valued function runs even when named without parentheses (`FROM pragma_optimize`).
    for (const token of statement.tokens) {
      const named = (token.kind === "word" || token.kind === "quoted") && token.value.toLowerCase().startsWith("pragma_");
      const pragma = named ? deniedFunction(token.value, dialect) : undefined;
      if (pragma !== undefined) noteRisk(found, pragma);
    }
    if (statement.verb === "create" && SQLITE_ADMIN_OBJECTS.has(createdObject(statement) ?? "")) raise(found, "admin");
    if ([...found.written].some((table) => SQLITE_SCHEMA_TABLES.has(table.split(".").at(-1)!))) noteRisk(found, { kind: "admin", destructive: true });
  }
}

/** Whether the parser's tree (or the keywords and built-ins that precede a parenthesis) accounts for a name the engine calls. */
function isAccountedCall(call: FunctionCall, names: ReadonlySet<string>): boolean {
  return names.has(call.name.toLowerCase()) || POSTGRES_WORDS_BEFORE_PARENTHESES.has(call.name) || isPostgresReadFunction(call.name);
}

/** Calls as the engine's tokens show them: a name, perhaps schema-qualified, directly followed by `(`. */
function tokenCalls(tokens: SqlToken[]): FunctionCall[] {
  const calls: FunctionCall[] = [];
  for (let i = 0; i + 1 < tokens.length; i++) {
    const token = tokens[i]!;
    if ((token.kind !== "word" && token.kind !== "quoted") || tokens[i + 1]!.kind !== "punct" || tokens[i + 1]!.value !== "(") continue;
    const dot = tokens[i - 1];
    const qualifier = tokens[i - 2];
    const qualified = dot?.kind === "punct" && dot.value === "." && (qualifier?.kind === "word" || qualifier?.kind === "quoted");
    calls.push(qualified ? { name: token.value, schema: qualifier!.value } : { name: token.value });
  }
  return calls;
}

/** SELECT … FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE takes row locks. */
function hasRowLock(tokens: SqlToken[]): boolean {
  return tokens.some((token, i) => token.kind === "word" && token.value === "for" && ["update", "share", "no", "key"].includes(tokens[i + 1]?.value ?? ""));
}

/** Every string in a tree, lower-cased (an alias `g(n)` as `g`): the names the parser accounted for. */
function astStrings(node: unknown, into = new Set<string>()): Set<string> {
  if (typeof node === "string") into.add(node.toLowerCase().replace(/\(.*$/s, ""));
  else if (Array.isArray(node)) for (const item of node) astStrings(item, into);
  else if (isNode(node)) for (const value of Object.values(node)) astStrings(value, into);
  return into;
}

/** A PRAGMA: a read when it only queries one of the schema-describing pragmas, else an administrative and destructive command. */
function notePragma(statement: SqlStatement, found: Findings): void {
  const tokens = statement.tokens.slice(1);
  const isName = (token: SqlToken | undefined) => token?.kind === "word" || token?.kind === "quoted";
  const isPunct = (token: SqlToken | undefined, value: string) => token?.kind === "punct" && token.value === value;
  let at = 0;
  let schema: string | undefined;
  if (isName(tokens[0]) && isPunct(tokens[1], ".")) {
    schema = tokens[0]!.value.toLowerCase();
    at = 2;
  }
  const name = isName(tokens[at]) ? tokens[at]!.value.toLowerCase() : undefined;
  const rest = tokens.slice(at + 1);
  const argument = rest.length === 3 && isPunct(rest[0], "(") && isPunct(rest[2], ")") && rest[1]!.kind !== "punct" ? rest[1] : undefined;
  if (name === undefined || !isReadOnlyPragma(name) || (rest.length > 0 && argument === undefined)) {
    noteRisk(found, SQLITE_COMMANDS.get("pragma")!);
    return;
  }
  if (argument !== undefined && SQLITE_TABLE_PRAGMAS.has(name)) found.tables.add([schema, argument.value.toLowerCase()].filter(Boolean).join("."));
}

function noteRisk(found: Findings, risk: FunctionRisk): void {
  raise(found, risk.kind);
  if (risk.destructive) found.destructive = true;
}

/** How many more reads the parser may make of a text's statements. */
class ParseBudget {
  constructor(public remaining: number) {}
}

/** The text handed to the parser, which cannot be interrupted otherwise: it throws once the parser has read it too often. */
class BudgetedText extends String {
  private readonly budget: ParseBudget;

  constructor(text: string, budget: ParseBudget) {
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
    if (--this.budget.remaining < 0) throw new Error("the text is too costly to parse (the parser backtracks too much on it)");
  }
}

/**
 * Walks a subtree: every table reference counts as touched, every function call adds its risk, and every
 * statement in it (the top one, a CTE's, a trigger body's, an EXPLAIN's) adds its class, destructiveness and
 * targets. `ctes` are the CTE names in scope.
 */
function inspect(value: unknown, ctes: ReadonlySet<string>, found: Findings, context: WalkContext): void {
  if (Array.isArray(value)) {
    for (const item of value) inspect(item, ctes, found, context);
    return;
  }
  if (!isNode(value)) return;
  const table = relationName(value);
  if (table !== undefined && !(isUnqualified(value) && ctes.has(table))) found.tables.add(table);
  if (value.type === "function" || value.type === "aggr_func" || value.type === "window_func") noteCall(value, found, context);
  const kind = statementKind(value);
  if (kind !== undefined) noteStatement(value, kind, found);
  const scope = Array.isArray(value.with) ? inspectCtes(value.with, ctes, found, context) : undefined;
  for (const [key, child] of Object.entries(value)) {
    // SQLite's CREATE TRIGGER names the trigger the way it names a table.
    if (NAME_KEYS.has(key) || (key === "with" && scope !== undefined)) continue;
    inspect(child, scope ?? ctes, found, context);
  }
}

/** Walks CTE bodies, each seeing the CTEs before it (and itself when recursive); returns the scope of the main statement. */
function inspectCtes(ctes: unknown[], outer: ReadonlySet<string>, found: Findings, context: WalkContext): ReadonlySet<string> {
  const scope = new Set(outer);
  for (const cte of ctes) {
    const name = isNode(cte) ? cteName(cte) : undefined;
    // Without RECURSIVE, `WITH t AS (SELECT * FROM t)` reads the real table t.
    const own = name !== undefined && isNode(cte) && cte.recursive === true ? new Set([...scope, name]) : scope;
    inspect(cte, own, found, context);
    if (name !== undefined) scope.add(name);
  }
  return scope;
}

function noteCall(node: AstNode, found: Findings, context: WalkContext): void {
  const call = callOf(node);
  if (call === undefined) {
    // A call whose name the tree does not give in a known shape could be anything.
    raise(found, "write");
    return;
  }
  if (!isSyntaxCall(call)) found.functions.add(functionFactName(call));
  noteRisk(found, functionRisk(call, context.dialect, context.readFunctions));
}

/** The function a call node names, as the engine resolves it (bare names lower-cased, quoted ones as written). */
function callOf(node: AstNode): FunctionCall | undefined {
  if (node.type !== "function") return typeof node.name === "string" ? { name: node.name.toLowerCase() } : undefined;
  const parts = isNode(node.name) && Array.isArray(node.name.name) ? node.name.name : [];
  const names = parts.map(identifierOf);
  const schema = isNode(node.name) && isNode(node.name.schema) ? identifierOf(node.name.schema) : undefined;
  if (names.length === 0 || names.includes(undefined) || (isNode(node.name) && node.name.schema != null && schema === undefined)) return undefined;
  const qualifiers = [schema, ...names.slice(0, -1)].filter((part) => part !== undefined);
  return qualifiers.length > 0 ? { name: names.at(-1)!, schema: qualifiers.join(".") } : { name: names.at(-1)! };
}

/** An identifier node's name as the engine resolves it: quoted ones keep their case. */
function identifierOf(part: unknown): string | undefined {
  if (!isNode(part) || typeof part.value !== "string") return undefined;
  return part.type === "double_quote_string" || part.type === "backticks_quote_string" ? part.value : part.value.toLowerCase();
}

function noteStatement(statement: AstNode, kind: SqlKind, found: Findings): void {
  raise(found, kind);
  if (isDestructive(statement)) found.destructive = true;
  // SQLite's SELECT … FOR UPDATE does not exist; PostgreSQL's parser rejects it. A tree that has one locks rows.
  if (statement.type === "select" && statement.for_update != null) raise(found, "write");
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
      return statement.table != null && !restrictsRows(statement.where);
    default:
      return false;
  }
}

/**
 * Whether a WHERE condition restricts the rows it keeps, walking AND, OR and NOT: it does when it holds a
 * selective predicate, a comparison (=, <, IN, BETWEEN, LIKE, IS NULL …) between a column and something
 * not referring to that column, or a bare boolean column. AND restricts when either side does, OR only when
 * both do; IS NOT NULL, LIKE '%', constant-only expressions and self-comparisons (id = id) do not restrict.
 * Anything else (a function, EXISTS, CASE, text the parser kept raw) counts as not restricting.
 */
function restrictsRows(condition: unknown, negated = false): boolean {
  if (!isNode(condition)) return false;
  const operator = typeof condition.operator === "string" ? condition.operator.toUpperCase() : "";
  if (condition.type === "unary_expr" && operator === "NOT") return restrictsRows(condition.expr, !negated);
  const notArguments = condition.type === "function" && callOf(condition)?.name === "not" && isNode(condition.args) ? condition.args.value : undefined;
  if (Array.isArray(notArguments) && notArguments.length === 1) return restrictsRows(notArguments[0], !negated);
  if (condition.type === "column_ref") return true;
  if (condition.type !== "binary_expr") return false;
  if (operator === "AND" || operator === "OR") {
    const left = restrictsRows(condition.left, negated);
    const right = restrictsRows(condition.right, negated);
    // NOT (a AND b) is NOT a OR NOT b.
    return (operator === "AND") !== negated ? left || right : left && right;
  }
  const comparison = negated ? NEGATED_COMPARISONS.get(operator) : NEGATED_COMPARISONS.has(operator) ? operator : undefined;
  if (comparison === undefined) return false;
  if (comparison === "IS NOT" && isNode(condition.right) && condition.right.type === "null") return false;
  const everything = MATCH_EVERYTHING[comparison];
  if (everything !== undefined && isNode(condition.right) && typeof condition.right.value === "string" && LITERAL_TYPES.has(String(condition.right.type))) {
    if (everything.test(condition.right.value)) return false;
  }
  const left = columnsOf(condition.left);
  const right = columnsOf(condition.right);
  if (left === undefined || right === undefined) return false;
  const overlap = left.some((a) => right.some((b) => sameColumn(a, b)));
  return !overlap && (left.some((column) => column.definite) || right.some((column) => column.definite));
}

/** A column an expression refers to; not definite when it may be a string (SQLite's "…" with no such column). */
interface ColumnUse {
  name: string;
  table?: string;
  definite: boolean;
}

/** The columns an expression refers to outside subqueries, or undefined when it holds text the parser kept raw. */
function columnsOf(expression: unknown, into: ColumnUse[] = []): ColumnUse[] | undefined {
  if (Array.isArray(expression)) {
    for (const item of expression) if (columnsOf(item, into) === undefined) return undefined;
    return into;
  }
  if (!isNode(expression)) return into;
  // A subquery's columns are its own tables'.
  if ("ast" in expression || expression.type === "select") return into;
  if (expression.type === "default") return undefined;
  if (expression.type === "column_ref") {
    const column = isNode(expression.column) && isNode(expression.column.expr) ? expression.column.expr.value : expression.column;
    if (typeof column !== "string") return undefined;
    const table = typeof expression.table === "string" ? expression.table.toLowerCase() : undefined;
    into.push(table === undefined ? { name: column.toLowerCase(), definite: true } : { name: column.toLowerCase(), table, definite: true });
    return into;
  }
  if (expression.type === "double_quote_string" && typeof expression.value === "string") {
    into.push({ name: expression.value.toLowerCase(), definite: false });
    return into;
  }
  for (const child of Object.values(expression)) if (columnsOf(child, into) === undefined) return undefined;
  return into;
}

/** The same column, unless both name their table and the tables differ. */
function sameColumn(a: ColumnUse, b: ColumnUse): boolean {
  return a.name === b.name && (a.table === undefined || b.table === undefined || a.table === b.table);
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
  return start === undefined ? message : `line ${start.line}, column ${start.column}: ${message}`;
}

function truncate(text: string): string {
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text;
}

function isNode(value: unknown): value is AstNode {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
