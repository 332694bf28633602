/**
 * Observability-summary benchmark: `invoke.observability.summary` over BENCH_SUMMARY_RECORDS tool-call
 * records (default 1,000,000) spread over the last 7 days less an hour, 20 tools and 10 agents. Times the roll-up of the
 * records (what the server does every second, here all at once) and the summary itself, per window and
 * grouping (median of 5). Run: `bun bench/summary.ts`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_CONFIG } from "../src/config.ts";
import { bootstrapIfEmpty } from "../src/governance/bootstrap.ts";
import { createServices } from "../src/services.ts";
import { ExecutionLedger } from "../src/records/ledger.ts";
import { openStore } from "../src/storage/sqlite/db.ts";
import { sqliteRepositories } from "../src/storage/sqlite/index.ts";

const total = Number(process.env.BENCH_SUMMARY_RECORDS ?? 1_000_000);
const DAY = 24 * 3_600_000;

export async function runSummaryBenchmark(records = total) {
  const dir = mkdtempSync(join(tmpdir(), "invoke-bench-summary-"));
  const store = openStore(join(dir, "invoke.db"));
  try {
    const tenantId = (await bootstrapIfEmpty(sqliteRepositories(store).directory))!.tenant_id;
    const now = Date.now();
    const services = createServices({ store, config: { ...DEFAULT_CONFIG, db: join(dir, "invoke.db") }, now: () => now });
    const started = performance.now();
    // Written by a ledger of their own, as another process would: the server's roll-up reads them back
    // from the store. 10,000 queued at a time, committed 1,000 per transaction.
    const writer = new ExecutionLedger(sqliteRepositories(store).records);
    for (let from = 0; from < records; from += 10_000) {
      const chunk = Array.from({ length: Math.min(records, from + 10_000) - from }, (_, offset) => from + offset);
      await Promise.all(
        chunk.map((i) =>
          writer.append({
            tenantId,
            kind: "tool_call",
            tool: `connector${i % 4}.tool${i % 5}`,
            agentId: `agent_${i % 10}`,
            arguments: {},
            decision: i % 7 === 0 ? "deny" : "allow",
            status: i % 7 === 0 ? "denied" : i % 50 === 0 ? "error" : "ok",
            latencyMs: 0.05 + (i % 1000) / 10,
            at: now - Math.floor((i / records) * (7 * DAY - 3_600_000)),
          }),
        ),
      );
    }
    const writeSeconds = (performance.now() - started) / 1000;
    const rollStarted = performance.now();
    const rolled = await services.records.rollUp();
    const rollSeconds = (performance.now() - rollStarted) / 1000;
    const timings: Record<string, number> = {};
    for (const window of ["1h", "24h", "7d"] as const) {
      for (const groupBy of ["tool", "agent"] as const) {
        const runs: number[] = [];
        for (let run = 0; run < 5; run++) {
          const t = performance.now();
          const summary = await services.summary.summarize(tenantId, window, groupBy);
          if (window === "7d" && summary.totals.calls < records) throw new Error(`the summary missed records: ${summary.totals.calls}`);
          runs.push(performance.now() - t);
        }
        runs.sort((a, b) => a - b);
        timings[`${window} by ${groupBy}`] = runs[2]!;
      }
    }
    return { records, write_per_second: Math.round(records / writeSeconds), rolled, roll_up_per_second: Math.round(rolled / rollSeconds), summary_ms: timings };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const figures = await runSummaryBenchmark();
  console.log(`records: ${figures.records.toLocaleString()} (written at ${figures.write_per_second.toLocaleString()}/s)`);
  console.log(`roll-up: ${figures.rolled.toLocaleString()} records at ${figures.roll_up_per_second.toLocaleString()}/s`);
  for (const [name, ms] of Object.entries(figures.summary_ms)) console.log(`summary ${name.padEnd(14)} ${ms.toFixed(1)} ms${ms < 200 ? "" : "  (target < 200 ms: MISSED)"}`);
}
