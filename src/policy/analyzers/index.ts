/**
 * Argument analysers: they tell policies what an action really does (e.g. what a SQL text touches).
 * Which analyser applies follows the kind of tool the action names, never its name: the SQL analysis
 * covers every database connector's tools, in that connector's own dialect, whatever the connector is
 * called. An action that names no configured tool but carries SQL is analysed in every dialect, and the
 * worst verdict stands. Adding an analyser is adding its file and one line here.
 */
import { KIND_NAMES, type KindName } from "../../connectors/kinds/index.ts";
import { analyzeSql, analyzeSqlEveryDialect, type SqlDialect } from "./sql.ts";

/** The kind of tool an action names: a connector's kind, one of Invoke's own tools, or nothing configured. */
export type ToolKind = KindName | "invoke" | "unconfigured";
export const TOOL_KINDS: readonly ToolKind[] = [...KIND_NAMES, "invoke", "unconfigured"];

/** What an action names, as far as analysis cares: the tool's kind and, for databases, how SQL is judged. */
export interface ActionTarget {
  kind: ToolKind;
  /** For tools that run SQL (database connectors): the dialect and the functions reads may call beyond the built-in list. */
  sql?: { dialect: SqlDialect; readFunctions?: readonly string[] };
}

/** Facts by analyser name, e.g. `{ sql: { kind: "read", … } }`. */
export type Analysis = Record<string, Record<string, unknown>>;

/** An analyser. */
export interface Analyzer {
  /** The root under which rules address its facts, e.g. "sql". */
  name: string;
  /** The facts it produces, for validating rule fields. */
  facts: readonly string[];
  /** The facts about `params` of `action`, or undefined when there is nothing to analyse. */
  analyze(action: string, params: Record<string, unknown>, target: ActionTarget): Record<string, unknown> | undefined;
}

const sqlAnalyzer: Analyzer = {
  name: "sql",
  facts: ["kind", "destructive", "statements", "multiple", "statement_kinds", "tables", "tables_written", "functions", "parsed", "error"],
  analyze(action, params, target) {
    if (target.sql !== undefined) {
      if (typeof params.sql !== "string") return undefined;
      return { ...analyzeSql(params.sql, target.sql.dialect, { readFunctions: target.sql.readFunctions }) };
    }
    if (target.kind !== "unconfigured") return undefined;
    // Nothing configured says which engine would run it: SQL is judged as every engine would run it.
    const named = action.startsWith("database.");
    const text = typeof params.sql === "string" ? params.sql : named && typeof params.query === "string" ? params.query : undefined;
    return text === undefined ? undefined : { ...analyzeSqlEveryDialect(text) };
  },
};

/** Every analyser. */
export const ANALYZERS: readonly Analyzer[] = [sqlAnalyzer];

/** Runs every analyser that applies to `action` on its target. */
export function analyzeAction(action: string, params: Record<string, unknown>, target: ActionTarget): Analysis {
  const analysis: Analysis = {};
  for (const analyzer of ANALYZERS) {
    const facts = analyzer.analyze(action, params, target);
    if (facts !== undefined) analysis[analyzer.name] = facts;
  }
  return analysis;
}
