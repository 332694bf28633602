/**
 * Rollups of the execution records: per tenant, per minute and per hour, per tool and per agent, the
 * tool calls' counts and a latency histogram. The ledger folds each record it commits into counts and
 * `ExecutionLedger.rollUp` writes them with the records other processes added (every second and before
 * each summary), so `invoke.observability.summary` reads a few thousand rows instead of millions of records.
 *
 * The histogram has HISTOGRAM_BUCKETS log-spaced buckets, three per doubling from 1/128 ms to 65.5 s
 * (bucket 0 below, the last one above): a percentile read from it is within a factor 2^(1/3) ≈ 1.26
 * of the exact one.
 */
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

/** The scalar counters, in the order stores keep them. */
export const SCALARS = ["calls", "errors", "denials", "approvals_required", "refused", "rate_limited", "latency_sum"] as const;
const SPANS = [MINUTE_MS, HOUR_MS];

/** The key of one rollup row. */
export interface RollupKey {
  tenantId: string;
  span: number;
  bucket: number;
  dimension: Dimension;
  name: string;
}

/** Adds `from` into `into`. */
export function addCounters(into: Counters, from: Counters): void {
  for (const name of SCALARS) into[name] += from[name];
  for (let bucket = 0; bucket < HISTOGRAM_BUCKETS; bucket++) into.histogram[bucket]! += from.histogram[bucket]!;
}

/** Counts to add to the rollups, collected over one batch and written in its transaction. */
export class RollupBatch {
  private readonly rows = new Map<string, { key: RollupKey; counters: Counters }>();
  /** The rows the last call was counted in, reused while calls keep their tenant, minute, tool and agent (the common case under load). */
  private recent: { tenantId: string; minute: number; tool: string | null; agentId: string | null; rows: Counters[] } | undefined;

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
    const minute = at - (at % MINUTE_MS);
    let recent = this.recent;
    if (recent === undefined || recent.minute !== minute || recent.tool !== tool || recent.agentId !== agentId || recent.tenantId !== tenantId) {
      const rows: Counters[] = [];
      for (const span of SPANS) {
        const bucket = at - (at % span);
        if (tool !== null) rows.push(this.row(tenantId, span, bucket, "tool", tool));
        rows.push(this.row(tenantId, span, bucket, "agent", agentId ?? ""));
      }
      recent = this.recent = { tenantId, minute, tool, agentId, rows };
    }
    for (const row of recent.rows) count(row);
  }

  private row(tenantId: string, span: number, bucket: number, dimension: Dimension, name: string): Counters {
    const id = `${tenantId}\u0000${span}\u0000${bucket}\u0000${dimension}\u0000${name}`;
    let row = this.rows.get(id);
    if (row === undefined) {
      row = { key: { tenantId, span, bucket, dimension, name }, counters: emptyCounters() };
      this.rows.set(id, row);
    }
    return row.counters;
  }

  /** Adds every row of `other`. */
  merge(other: RollupBatch): void {
    for (const { key, counters } of other.rows.values()) addCounters(this.row(key.tenantId, key.span, key.bucket, key.dimension, key.name), counters);
  }

  /** The rows to add, with their keys. */
  entries(): Iterable<{ key: RollupKey; counters: Counters }> {
    return this.rows.values();
  }
}

/** One group of a summed range. */
export interface RollupGroup extends Counters {
  name: string;
}
