/**
 * The observability summary: over the last hour, day or week, per tool or per agent — calls, errors,
 * denials, approvals by outcome, rate-limit refusals and latency percentiles. Counts and latencies
 * come from the execution records' rollups (brought up to date first), approvals from the approval
 * requests. The window is whole minutes: from the start of the minute `window` ago to the end of the
 * current one, and the answer says exactly which.
 */
import { Type, type Static } from "@sinclair/typebox";
import type { ApprovalRepository } from "../approvals/repository.ts";
import { addCounters, emptyCounters, HOUR_MS, MINUTE_MS, quantile, type Counters, type Dimension, type RollupGroup } from "../records/rollups.ts";

export const WINDOWS = { "1h": HOUR_MS, "24h": 24 * HOUR_MS, "7d": 7 * 24 * HOUR_MS } as const;
export type Window = keyof typeof WINDOWS;

const Approvals = Type.Object({
  pending: Type.Integer(),
  approved: Type.Integer({ description: "Granted: approved, executing, executed or failed when run." }),
  rejected: Type.Integer(),
  expired: Type.Integer(),
  withdrawn: Type.Integer({ description: "Withdrawn by the requester (an MCP task cancelled) before a decision." }),
});

const Figures = Type.Object({
  calls: Type.Integer({ description: "tools/call requests answered (refusals included)." }),
  errors: Type.Integer({ description: "Calls that failed: tool or upstream errors, and refusals (unknown tool, bad arguments, not allowed)." }),
  denials: Type.Integer({ description: "Calls policy denied." }),
  approvals_required: Type.Integer({ description: "Calls policy sent to four-eyes approval." }),
  rate_limit_refusals: Type.Integer({ description: "Requests refused by the rate limiter (counted per agent: the tool is not known yet)." }),
  approvals: Approvals,
  latency_ms: Type.Union([
    Type.Object({ p50: Type.Number(), p95: Type.Number(), p99: Type.Number(), mean: Type.Number() }, { description: "Within a factor 1.26 (histogram buckets)." }),
    Type.Null(),
  ]),
});

export const SummarySchema = Type.Object({
  window: Type.String(),
  group_by: Type.String(),
  from: Type.String({ description: "ISO 8601, inclusive." }),
  to: Type.String({ description: "ISO 8601, exclusive." }),
  totals: Figures,
  groups: Type.Array(Type.Composite([Type.Object({ name: Type.String() }), Figures])),
});
export type Summary = Static<typeof SummarySchema>;
type Figures = Static<typeof Figures>;

const noApprovals = () => ({ pending: 0, approved: 0, rejected: 0, expired: 0, withdrawn: 0 });

function figures(counters: Counters, approvals: Figures["approvals"]): Figures {
  const latency =
    counters.calls === 0
      ? null
      : {
          p50: quantile(counters.histogram, 0.5)!,
          p95: quantile(counters.histogram, 0.95)!,
          p99: quantile(counters.histogram, 0.99)!,
          mean: Math.round((counters.latency_sum / counters.calls) * 1000) / 1000,
        };
  return {
    calls: counters.calls,
    errors: counters.errors,
    denials: counters.denials,
    approvals_required: counters.approvals_required,
    rate_limit_refusals: counters.rate_limited,
    approvals,
    latency_ms: latency,
  };
}

/** The execution records' roll-ups, as the summary reads them. */
export interface RollupSource {
  /** Brings the roll-ups up to date with every record appended so far. */
  rollUp(): Promise<unknown>;
  /** The tenant's roll-ups over [from, to), summed per name of `dimension`. */
  rollups(tenantId: string, dimension: Dimension, from: number, to: number): Promise<RollupGroup[]>;
}

/** Approval requests created in [from, to), by outcome, per tool or agent. */
async function approvalsBy(approvals: Pick<ApprovalRepository, "countByStatus">, now: number, tenantId: string, dimension: Dimension, from: number, to: number): Promise<Map<string, Figures["approvals"]>> {
  const out = new Map<string, Figures["approvals"]>();
  for (const { name, status, count } of await approvals.countByStatus(dimension, { now, tenantId, from, to })) {
    const counts = out.get(name) ?? noApprovals();
    if (status === "pending" || status === "rejected" || status === "expired" || status === "withdrawn") counts[status] += count;
    else counts.approved += count;
    out.set(name, counts);
  }
  return out;
}

/** Summaries of what a tenant's agents did. */
export class ObservabilitySummary {
  constructor(
    private readonly rollups: RollupSource,
    private readonly approvals: Pick<ApprovalRepository, "countByStatus">,
    private readonly now: () => number = Date.now,
  ) {}

  /** The summary of a tenant's last `window`, grouped by tool or agent. */
  async summarize(tenantId: string, window: Window = "24h", groupBy: Dimension = "tool"): Promise<Summary> {
    await this.rollups.rollUp();
    const now = this.now();
    const to = now - (now % MINUTE_MS) + MINUTE_MS;
    const from = to - WINDOWS[window];
    const approvals = await approvalsBy(this.approvals, now, tenantId, groupBy, from, to);
    const groups = await this.rollups.rollups(tenantId, groupBy, from, to);
    // Totals come from the agent rollups, which also hold the rate-limit refusals no tool can be named for.
    const totals = emptyCounters();
    for (const group of groupBy === "agent" ? groups : await this.rollups.rollups(tenantId, "agent", from, to)) addCounters(totals, group);
    const allApprovals = noApprovals();
    for (const counts of approvals.values()) for (const key of Object.keys(allApprovals) as (keyof typeof allApprovals)[]) allApprovals[key] += counts[key];
    const names = new Set([...groups.map((group) => group.name), ...approvals.keys()]);
    const byName = new Map(groups.map((group) => [group.name, group]));
    return {
      window,
      group_by: groupBy,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      totals: figures(totals, allApprovals),
      groups: [...names].sort().map((name) => ({ name, ...figures(byName.get(name) ?? emptyCounters(), approvals.get(name) ?? noApprovals()) })),
    };
  }
}
