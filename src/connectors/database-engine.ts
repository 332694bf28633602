/**
 * What the `database` connector and its engines (SQLite in a worker process, PostgreSQL through Bun's
 * pool) share: how a call is handed to an engine, what comes back, the two kinds of failure, and how
 * database values become JSON. No engine code lives here, so the SQLite worker can import it alone.
 */
import type { SqlAnalysis } from "../policy/analyzers/sql.ts";

/** One bound value of a statement. */
export type SqlParam = string | number | boolean | null;

/** Where a statement runs: `read` on a connection or transaction the database keeps from writing. */
export type SqlMode = "read" | "write";

/** One call as an engine receives it. */
export interface SqlPlan {
  sql: string;
  params: SqlParam[];
  mode: SqlMode;
  /** The analysis policy saw; SQLite refuses the call when its own reading of the statement disagrees. */
  analysis: SqlAnalysis;
  timeoutMs: number;
  maxRows: number;
}

/** What one statement produced, with its values already made JSON-safe. */
export interface Outcome {
  columns: string[];
  rows: Record<string, unknown>[];
  truncated: boolean;
  rowsAffected?: number;
  lastInsertId?: number | string;
}

/** How a call reaches the database, per dialect. */
export interface SqlEngine {
  /** Runs one statement; throws StatementError (an answer) or ConnectorError (no answer). */
  run(plan: SqlPlan): Promise<Outcome>;
  /** Why the engine cannot work right now, beyond what the last call saw (undefined: nothing known). */
  problem(): string | undefined;
  /** Governance gaps found in the set-up (e.g. a PostgreSQL role that is a superuser). */
  warnings(): string[];
  close(): Promise<void>;
}

/** A statement the database (or the connector's own guard) answered with an error: becomes an `isError` result. */
export class StatementError extends Error {}

/** The refusals both dialects share, as the agent reads them. */
export const ONE_STATEMENT = "only one SQL statement per call: send each statement in its own call";
export const NO_STATEMENT = "the text holds no SQL statement";
export const OWN_TRANSACTION = "each call runs in its own transaction: BEGIN, SAVEPOINT and the like are not supported";
export const READ_ONLY_HINT = "query is read-only: use execute to change data";

/** The message of a call that ran out of time, the same on both dialects. */
export function timeoutMessage(timeoutMs: number): string {
  return `the statement did not finish within ${Math.round(timeoutMs)} ms`;
}

/**
 * The analysis with the engine's verdict folded in: a statement the connector refuses becomes the riskiest
 * kind, so policy denies it and a simulation predicts the refusal.
 */
export function refusedFacts(analysis: SqlAnalysis, reason: string): SqlAnalysis {
  return { ...analysis, kind: "unknown", destructive: true, error: reason };
}

/** A row with every value made JSON-safe. */
export function jsonRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) out[key] = jsonValue(value);
  return out;
}

/** A database value as JSON: safe integers as numbers, larger ones as strings, dates ISO, bytes base64. */
export function jsonValue(value: unknown): unknown {
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

/** An error's message, whatever was thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
