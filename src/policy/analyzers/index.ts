/**
 * Argument analysers: they tell policies what an action really does (e.g. what a SQL text touches).
 * An analyser applies to some actions, reads their params, and contributes facts under its name
 * (`sql.kind`, `sql.destructive`, …). Adding one is adding its file and one line here.
 */
import { analyzeSql } from "./sql.ts";

/** An analyser. */
export interface Analyzer {
  /** The root under which rules address its facts, e.g. "sql". */
  name: string;
  /** The facts it produces, for validating rule fields. */
  facts: readonly string[];
  /** The literal action-name prefix it applies to (e.g. "database."), for validating rules and skipping work. */
  actionPrefix: string;
  /** The facts about `params`, or undefined when there is nothing to analyse. */
  analyze(params: Record<string, unknown>): Record<string, unknown> | undefined;
}

const sqlAnalyzer: Analyzer = {
  name: "sql",
  facts: ["kind", "destructive", "statements", "multiple", "statement_kinds", "tables", "tables_written", "parsed", "error"],
  actionPrefix: "database.",
  analyze(params) {
    const text = typeof params.sql === "string" ? params.sql : typeof params.query === "string" ? params.query : undefined;
    return text === undefined ? undefined : { ...analyzeSql(text) };
  },
};

/** Every analyser. */
export const ANALYZERS: readonly Analyzer[] = [sqlAnalyzer];

/** Runs every analyser that applies to `action`. */
export function analyzeAction(action: string, params: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const analysis: Record<string, Record<string, unknown>> = {};
  for (const analyzer of ANALYZERS) {
    if (!action.startsWith(analyzer.actionPrefix)) continue;
    const facts = analyzer.analyze(params);
    if (facts !== undefined) analysis[analyzer.name] = facts;
  }
  return analysis;
}
