/**
 * Rollups of the execution records: per tenant, per minute and per hour, per tool and per agent, the
 * tool calls' counts and a latency histogram. `ExecutionLedger.rollUp` adds the records past each
 * tenant's progress mark (off the request path, every second and before each summary), so
 * `invoke.observability.summary` reads a few thousand rows instead of scanning millions of records.
 *
 * The histogram has HISTOGRAM_BUCKETS log-spaced buckets, three per doubling from 1/128 ms to 65.5 s
 * (bucket 0 below, the last one above): a percentile read from it is within a factor 2^(1/3) ≈ 1.26
 * of the exact one.
 */
import type { Database } from "bun:sqlite";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
/** Histogram buckets: 0 below LOWEST_MS, then three per doubling, the last one open-ended. */
export const HISTOGRAM_BUCKETS = 71;
const LOWEST_MS = 2 ** -7;
const PER_DOUBLING = 3;

export type Dimension = "tool" | "agent";

/** The counters of one rollup row (also the shape of a summed group). */
export interface Counters {
  calls: number;
  errors: number;
  denials: number;
  approvals_required: number;
  refused: number;
  rate_limited: number;
  latency_sum: number;
  histogram: number[];
}

/** A tool call as the rollups count it. */
export interface CountedCall {
  tenantId: string;
  at: number;
  tool: string;
  agentId: string | null;
  decision: string | null;
  status: string;
  latencyMs: number;
}

/** The histogram bucket of a latency (the SQL of migration 0007 computes the same). */
export function bucketOf(latencyMs: number): number {
  if (!(latencyMs >= LOWEST_MS)) return 0;
  return Math.min(HISTOGRAM_BUCKETS - 1, Math.floor(PER_DOUBLING * Math.log2(latencyMs / LOWEST_MS)) + 1);
}

/** The lower and upper bound (ms) of a bucket; the open-ended ones get finite bounds for interpolation. */
function boundsOf(bucket: number): [number, number] {
  if (bucket === 0) return [0, LOWEST_MS];
  return [LOWEST_MS * 2 ** ((bucket - 1) / PER_DOUBLING), LOWEST_MS * 2 ** (bucket / PER_DOUBLING)];
}

/** The `q` quantile (0 < q ≤ 1) read from a histogram, interpolated geometrically inside its bucket; null when empty. */
export function quantile(histogram: readonly number[], q: number): number | null {
  const total = histogram.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let bucket = 0; bucket < histogram.length; bucket++) {
    const count = histogram[bucket]!;
    if (count === 0 || seen + count < rank) {
      seen += count;
      continue;
    }
    const [low, high] = boundsOf(bucket);
    const within = (rank - seen) / count;
    const value = bucket === 0 ? high * within : low * (high / low) ** within;
    return Math.round(value * 1000) / 1000;
  }
  return boundsOf(histogram.length - 1)[1];
}

export function emptyCounters(): Counters {
  return { calls: 0, errors: 0, denials: 0, approvals_required: 0, refused: 0, rate_limited: 0, latency_sum: 0, histogram: new Array(HISTOGRAM_BUCKETS).fill(0) };
}

const SCALARS = ["calls", "errors", "denials", "approvals_required", "refused", "rate_limited", "latency_sum"] as const;
const HISTOGRAM_COLUMNS = Array.from({ length: HISTOGRAM_BUCKETS }, (_, bucket) => `h${bucket}`);
const COUNTER_COLUMNS = [...SCALARS, ...HISTOGRAM_COLUMNS];
/** In the order of RollupBatch's row keys. */
const KEY_COLUMNS = ["tenant_id", "span", "bucket", "dimension", "name"];
const SPANS = [MINUTE_MS, HOUR_MS];

/** Adds `from` into `into`. */
export function addCounters(into: Counters, from: Counters): void {
  for (const name of SCALARS) into[name] += from[name];
  for (let bucket = 0; bucket < HISTOGRAM_BUCKETS; bucket++) into.histogram[bucket]! += from.histogram[bucket]!;
}

/** Counts to add to the rollups, collected over one batch and written in its transaction. */
export class RollupBatch {
  private readonly rows = new Map<string, { key: (string | number)[]; counters: Counters }>();

  get size(): number {
    return this.rows.size;
  }

  /** Counts a tool call under its minute and hour, its tool and its agent. */
  addCall(call: CountedCall): void {
    this.add(call.tenantId, call.at, call.tool, call.agentId, (counters) => {
      counters.calls++;
      if (call.status === "error" || call.status === "refused") counters.errors++;
      if (call.status === "refused") counters.refused++;
      if (call.decision === "deny") counters.denials++;
      if (call.decision === "require_approval") counters.approvals_required++;
      counters.latency_sum += call.latencyMs;
      counters.histogram[bucketOf(call.latencyMs)]!++;
    });
  }

  /** Counts a request refused by the rate limiter (before its body was read: the tool is not known). */
  addRateLimited(tenantId: string, at: number, agentId: string): void {
    this.add(tenantId, at, null, agentId, (counters) => counters.rate_limited++);
  }

  private add(tenantId: string, at: number, tool: string | null, agentId: string | null, count: (counters: Counters) => void): void {
    for (const span of SPANS) {
      const bucket = at - (at % span);
      if (tool !== null) count(this.row(tenantId, span, bucket, "tool", tool));
      count(this.row(tenantId, span, bucket, "agent", agentId ?? ""));
    }
  }

  private row(tenantId: string, span: number, bucket: number, dimension: Dimension, name: string): Counters {
    const id = `${tenantId}\u0000${span}\u0000${bucket}\u0000${dimension}\u0000${name}`;
    let row = this.rows.get(id);
    if (row === undefined) {
      row = { key: [tenantId, span, bucket, dimension, name], counters: emptyCounters() };
      this.rows.set(id, row);
    }
    return row.counters;
  }

  /** Writes the counts with `upsert`, in the caller's transaction. */
  write(upsert: ReturnType<typeof prepareUpsert>): void {
    for (const { key, counters } of this.rows.values()) upsert.run(...key, ...SCALARS.map((name) => counters[name]), ...counters.histogram);
  }
}

/** The statement adding one row's counts to the rollups. */
export function prepareUpsert(sqlite: Database) {
  const columns = [...KEY_COLUMNS, ...COUNTER_COLUMNS];
  return sqlite.prepare<unknown, (string | number)[]>(
    `INSERT INTO execution_rollups (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")}) ` +
      `ON CONFLICT (${KEY_COLUMNS.join(", ")}) DO UPDATE SET ${COUNTER_COLUMNS.map((name) => `${name} = ${name} + excluded.${name}`).join(", ")}`,
  );
}

/** One group of a summed range. */
export interface RollupGroup extends Counters {
  name: string;
}

/**
 * The counters of `dimension` summed per name over [from, to) (both minute-aligned): whole hours from
 * the hourly rows, the minutes at either end from the minute rows.
 */
export function sumRollups(sqlite: Database, tenantId: string, dimension: Dimension, from: number, to: number): RollupGroup[] {
  const firstHour = Math.ceil(from / HOUR_MS) * HOUR_MS;
  const lastHour = Math.floor(to / HOUR_MS) * HOUR_MS;
  const ranges: [number, number, number][] =
    firstHour < lastHour
      ? [
          [HOUR_MS, firstHour, lastHour],
          [MINUTE_MS, from, firstHour],
          [MINUTE_MS, lastHour, to],
        ]
      : [[MINUTE_MS, from, to]];
  // One index range per part (an OR of them would scan the tenant's rows); summed per name over all parts.
  const parts = ranges.map(() => `SELECT * FROM execution_rollups WHERE tenant_id = ? AND span = ? AND dimension = ? AND bucket >= ? AND bucket < ?`).join(" UNION ALL ");
  const rows = sqlite
    .query<Record<string, number | string>, (string | number)[]>(
      `SELECT name, ${COUNTER_COLUMNS.map((name) => `total(${name}) AS ${name}`).join(", ")} FROM (${parts}) GROUP BY name ORDER BY name`,
    )
    .all(...ranges.flatMap(([span, start, end]) => [tenantId, span, dimension, start, end]));
  return rows.map((row) => ({
    name: String(row.name),
    calls: Number(row.calls),
    errors: Number(row.errors),
    denials: Number(row.denials),
    approvals_required: Number(row.approvals_required),
    refused: Number(row.refused),
    rate_limited: Number(row.rate_limited),
    latency_sum: Number(row.latency_sum),
    histogram: HISTOGRAM_COLUMNS.map((name) => Number(row[name])),
  }));
}
