/**
 * What a SQLite statement really does, as SQLite itself compiled it, and whether the connector lets it run.
 * Two checks, both independent of policy: the text (read with the engine's own tokenizer) must hold exactly
 * one statement that is not ATTACH, DETACH, VACUUM, transaction control or a PRAGMA outside a short
 * read-only list; and the prepared statement's bytecode (`EXPLAIN`) must not attach, detach, vacuum, load
 * an extension or write the schema table outside DDL, and must agree with the SQL analysis policy saw:
 * a statement the analysis calls a read must not write, and one that writes must write only the tables
 * the analysis lists. Pure functions: the SQLite worker feeds them the bytecode and the schema.
 */
import type { SqlAnalysis } from "../policy/analyzers/sql.ts";
import { scanSql, type SqlToken } from "../policy/analyzers/sql-lexer.ts";
import { NO_STATEMENT, ONE_STATEMENT, OWN_TRANSACTION, refusedFacts } from "./database-engine.ts";

/** PRAGMAs that only describe the schema; every other one (query_only, writable_schema, journal_mode …) is refused. */
const READ_ONLY_PRAGMAS: readonly string[] = ["table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list"];

const TRANSACTION_VERBS = new Set(["begin", "commit", "end", "rollback", "savepoint", "release"]);

/** Statements whose own program may write the schema table (and create b-trees, and reparse the schema). */
const SCHEMA_VERBS = new Set(["create", "drop", "alter", "analyze"]);

/** Functions that reach beyond the configured file or load native code, named as `EXPLAIN` shows them. */
const REFUSED_FUNCTIONS = new Set(["sqlite_attach", "sqlite_detach", "load_extension"]);

/** Tables SQLite maintains itself while writing a user table: writing them needs no mention in the analysis. */
const BOOKKEEPING_TABLE = /^(sqlite_sequence|sqlite_stat[1-4])$/;

const SCHEMA_TABLES = new Set(["sqlite_schema", "sqlite_master", "sqlite_temp_schema", "sqlite_temp_master"]);

/** What the text holds, read before SQLite prepares anything (some PRAGMAs act while being prepared). */
export interface TextCheck {
  /** The statement's leading keyword, lower-cased. */
  verb: string;
  /** Why the connector refuses the text, whatever policy decides. */
  refusal?: string;
}

/** One row of `EXPLAIN <statement>`. */
export interface ExplainRow {
  addr: number;
  opcode: string;
  p1: number;
  p2: number;
  p3: number;
  p4: string | null;
  p5: number;
}

/** A table or index of one database, from its `sqlite_schema`. */
export interface SchemaEntry {
  rootpage: number;
  tbl_name: string;
}

/** What the prepared statement would do, read from its bytecode. */
export interface EngineView {
  /** `sqlite3_stmt_readonly()`: the statement makes no direct change to the database file. */
  readonly: boolean;
  /** Tables the statement's own program writes or empties (an index counts as its table); `sqlite_schema` for the schema table. */
  writes: string[];
  /** Tables written by the triggers and foreign-key actions it fires. */
  triggerWrites: string[];
  /** It writes a b-tree it creates itself (CREATE INDEX, CREATE TABLE … AS). */
  createsObjects: boolean;
  /** Destroy, DropTable or Clear (DELETE without WHERE empties the table at once). */
  destroys: boolean;
  /** A trigger it fires empties a table. */
  triggerDestroys: boolean;
  /** ParseSchema or SetCookie: the schema changes. */
  changesSchema: boolean;
  /** VACUUM, including VACUUM INTO. */
  vacuums: boolean;
  /** Functions its program calls, lower-cased. */
  functions: string[];
  /** Writes to a database other than main and temp. */
  writesAttached: boolean;
}

/** Checks the text with SQLite's own tokenizer: one statement, and none the connector refuses. */
export function checkSqliteText(text: string): TextCheck {
  const { statements } = scanSql(text, "sqlite");
  if (statements.length === 0) return { verb: "", refusal: NO_STATEMENT };
  if (statements.length > 1) return { verb: statements[0]!.verb, refusal: ONE_STATEMENT };
  const { verb, tokens } = statements[0]!;
  if (TRANSACTION_VERBS.has(verb)) return { verb, refusal: OWN_TRANSACTION };
  // EXPLAIN does not run its statement, but SQLite still compiles it, and some PRAGMAs act while compiled.
  const inner = verb === "explain" ? tokens.slice(isWord(tokens[1], "query") && isWord(tokens[2], "plan") ? 3 : 1) : tokens;
  const refusal = refusalOfVerb(inner) ?? refusalOfPragmaFunction(tokens);
  return refusal === undefined ? { verb } : { verb, refusal };
}

/** A PRAGMA in its table-valued form (`SELECT * FROM pragma_optimize`) acts as the PRAGMA does: the same list applies. */
function refusalOfPragmaFunction(tokens: SqlToken[]): string | undefined {
  for (const token of tokens) {
    if (token.kind !== "word" && token.kind !== "quoted") continue;
    const name = token.value.toLowerCase();
    if (!name.startsWith("pragma_") || READ_ONLY_PRAGMAS.includes(name.slice("pragma_".length))) continue;
    return `the connector refuses ${name}: only the table-valued forms of ${READ_ONLY_PRAGMAS.join(", ")} may run`;
  }
  return undefined;
}

function refusalOfVerb(tokens: SqlToken[]): string | undefined {
  const verb = tokens[0]?.kind === "word" ? tokens[0].value : "";
  switch (verb) {
    case "attach":
    case "detach":
      return `the connector refuses ${verb.toUpperCase()}: a call reaches only the configured database file`;
    case "vacuum":
      return "the connector refuses VACUUM: it rewrites the whole file (and VACUUM INTO writes a copy elsewhere)";
    case "pragma": {
      // PRAGMA [schema.]name …
      const named = tokens[2]?.kind === "punct" && tokens[2].value === "." ? tokens[3] : tokens[1];
      const name = named?.kind === "word" || named?.kind === "quoted" ? named.value.toLowerCase() : "";
      if (READ_ONLY_PRAGMAS.includes(name)) return undefined;
      return `the connector refuses PRAGMA ${name || "(unnamed)"}: only ${READ_ONLY_PRAGMAS.join(", ")} may run`;
    }
    default:
      return undefined;
  }
}

function isWord(token: SqlToken | undefined, word: string): boolean {
  return token?.kind === "word" && token.value === word;
}

/** Reads the bytecode of a prepared statement; `schemas[i]` is database i's schema (0 main, 1 temp). */
export function readBytecode(readonly: boolean, rows: readonly ExplainRow[], schemas: readonly (readonly SchemaEntry[])[]): EngineView {
  const tables = schemas.map((entries) => new Map(entries.map((entry) => [entry.rootpage, entry.tbl_name.toLowerCase()])));
  const view: EngineView = {
    readonly,
    writes: [],
    triggerWrites: [],
    createsObjects: false,
    destroys: false,
    triggerDestroys: false,
    changesSchema: false,
    vacuums: false,
    functions: [],
    writesAttached: false,
  };
  let inTrigger = false;
  for (const [index, row] of rows.entries()) {
    // Trigger and foreign-key programs follow the statement's own, each numbered from 0 again.
    if (index > 0 && row.addr === 0) inTrigger = true;
    switch (row.opcode) {
      case "OpenWrite": {
        // p3 is the database (0 main, 1 temp, 2+ attached); with OPFLAG_P2ISREG (0x10) p2 is a register holding
        // the root page of a b-tree the statement has just created.
        if (row.p3 >= 2) view.writesAttached = true;
        else if ((row.p5 & 0x10) !== 0) view.createsObjects = true;
        else (inTrigger ? view.triggerWrites : view.writes).push(tableOfPage(tables[row.p3], row.p3, row.p2));
        break;
      }
      case "Destroy":
      case "Clear": {
        // Both empty the b-tree at root page p1, of database p3 (Destroy) or p2 (Clear).
        const database = row.opcode === "Destroy" ? row.p3 : row.p2;
        if (database >= 2) view.writesAttached = true;
        else (inTrigger ? view.triggerWrites : view.writes).push(tableOfPage(tables[database], database, row.p1));
        if (inTrigger) view.triggerDestroys = true;
        else view.destroys = true;
        break;
      }
      case "DropTable":
        view.destroys = true;
        break;
      case "ParseSchema":
      case "SetCookie":
        view.changesSchema = true;
        break;
      case "Vacuum":
        view.vacuums = true;
        break;
      case "Function":
      case "PureFunc": {
        // p4 reads `name(argc)`.
        const name = /^([^(]+)\(/.exec(row.p4 ?? "")?.[1]?.toLowerCase();
        if (name !== undefined && !view.functions.includes(name)) view.functions.push(name);
        break;
      }
    }
  }
  view.writes = [...new Set(view.writes)].sort();
  view.triggerWrites = [...new Set(view.triggerWrites)].sort();
  return view;
}

function tableOfPage(tables: Map<number, string> | undefined, database: number, page: number): string {
  if (page === 1) return database === 0 ? "sqlite_schema" : "sqlite_temp_schema";
  const name = tables?.get(page) ?? `(root page ${page})`;
  return database === 1 ? `temp.${name}` : name;
}

/**
 * The final SQL facts, and why the connector refuses the statement (undefined: it may run). A refused
 * statement's facts say `unknown` and destructive, with the reason as `error`. Tables that triggers and
 * foreign-key actions write are added to the facts, and a trigger that empties a table makes the statement
 * destructive: policy sees everything the call changes.
 */
export function reconcile(analysis: SqlAnalysis, text: TextCheck, view: EngineView): { facts: SqlAnalysis; refusal?: string } {
  const refusal = text.refusal ?? engineRefusal(analysis, text.verb, view) ?? disagreement(analysis, view);
  if (refusal !== undefined) return { facts: refusedFacts(analysis, refusal), refusal };
  // An analysis that understood nothing lists nothing; the engine's own writes are the facts then.
  const engineWrites = analysis.kind === "unknown" ? view.writes : [];
  const extra = [...view.triggerWrites, ...engineWrites].filter((table) => !isInternalTable(table));
  const destructive = analysis.destructive || view.triggerDestroys;
  if (extra.length === 0 && destructive === analysis.destructive) return { facts: analysis };
  const merge = (tables: string[]) => [...new Set([...tables, ...extra])].sort();
  return { facts: { ...analysis, destructive, tables: merge(analysis.tables), tables_written: merge(analysis.tables_written) } };
}

/** What the bytecode of a statement SQLite did not compile shows: nothing, so only the text and the analysis decide. */
const NOTHING_COMPILED: EngineView = readBytecode(true, [], []);

/** The facts when SQLite cannot compile the statement or cannot be reached: the refusals that need no bytecode. */
export function factsWithoutBytecode(analysis: SqlAnalysis, text: TextCheck): SqlAnalysis {
  return reconcile(analysis, text, NOTHING_COMPILED).facts;
}

/** What the connector never runs, whatever the analysis or policy says. */
function engineRefusal(analysis: SqlAnalysis, verb: string, view: EngineView): string | undefined {
  const refused = view.functions.filter((name) => REFUSED_FUNCTIONS.has(name));
  if (refused.length > 0) return `the connector refuses ${refused.join(", ")}(): a call reaches only the configured database file, and extensions stay disabled`;
  if (view.vacuums) return "the connector refuses VACUUM: it rewrites the whole file (and VACUUM INTO writes a copy elsewhere)";
  if (view.writesAttached) return "the connector refuses writes to an attached database";
  const schemaWrite = analysis.tables_written.some((table) => SCHEMA_TABLES.has(bareName(table)));
  if (schemaWrite || (!SCHEMA_VERBS.has(verb) && view.writes.some((table) => SCHEMA_TABLES.has(bareName(table))))) {
    return "the connector refuses writes to sqlite_schema: change the schema with CREATE, ALTER and DROP";
  }
  return undefined;
}

/** Where SQLite's reading contradicts the analysis (only an analysis that understood the statement can be contradicted). */
function disagreement(analysis: SqlAnalysis, view: EngineView): string | undefined {
  if (!analysis.parsed || analysis.kind === "unknown") return undefined;
  const says = `the analysis says ${analysis.destructive ? "a destructive " : ""}${analysis.kind}`;
  if (analysis.kind === "read") {
    const writes = [...view.writes, ...(view.destroys ? ["(drops or empties a table)"] : []), ...(view.createsObjects ? ["(creates a table or index)"] : [])];
    if (!view.readonly || writes.length > 0 || view.changesSchema) {
      return `SQLite disagrees with the SQL analysis: ${says}, but SQLite would write${writes.length > 0 ? ` ${writes.join(", ")}` : " to the database"}`;
    }
    return undefined;
  }
  const shapesSchema = analysis.kind === "ddl" || analysis.kind === "admin";
  const listed = new Set(analysis.tables_written.map(bareName));
  const unlisted = view.writes.filter((table) => {
    const name = bareName(table);
    if (listed.has(name) || BOOKKEEPING_TABLE.test(name)) return false;
    return !(shapesSchema && SCHEMA_TABLES.has(name));
  });
  if (unlisted.length > 0) return `SQLite disagrees with the SQL analysis: SQLite would write ${unlisted.join(", ")}, which the analysis does not list`;
  if (view.destroys && analysis.kind !== "ddl" && !analysis.destructive) return `SQLite disagrees with the SQL analysis: ${says}, but SQLite would drop or empty a table`;
  if (view.createsObjects && !shapesSchema) return `SQLite disagrees with the SQL analysis: ${says}, but SQLite would create a table or index`;
  if (view.changesSchema && !shapesSchema) return `SQLite disagrees with the SQL analysis: ${says}, but SQLite would change the schema`;
  return undefined;
}

/** A table name without the `main.` or `temp.` that may qualify it. */
function bareName(table: string): string {
  return table.replace(/^(main|temp)\./, "");
}

function isInternalTable(table: string): boolean {
  const name = bareName(table);
  return SCHEMA_TABLES.has(name) || BOOKKEEPING_TABLE.test(name) || name.startsWith("(");
}
