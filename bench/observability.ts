// Observability-cost benchmark (`bun bench/observability.ts`): what the request log and the metrics
// cost in throughput. Two Invoke servers from the same build run side by side on CPU 0 — one as
// shipped (a JSON log line per request, metrics kept), one with `log: {level: off}` and
// `metrics: {enabled: false}` — and wrk (CPU 1) loads them in turn, BENCH_ROUNDS times each, so slow
// drifts of this machine fall on both alike. Prints each round and the medians; the target is a cost
// below 5% of req/s at concurrency 16.
//
// Environment: BENCH_ROUNDS (default 4), BENCH_SECONDS (per run, default 5), BENCH_CONNECTIONS (default 16).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LOADGEN_CPU, installExitHandlers, killAllSync, pinSelf } from "./procs.ts";
import { SCENARIOS } from "./scenarios.ts";
import { invoke, invokeQuiet, type BenchContext } from "./targets.ts";
import { ensureWrk, runWrk } from "./wrk.ts";

const TARGET = 0.05;
const rounds = Number(process.env.BENCH_ROUNDS ?? 4);
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = sorted.length / 2;
  return Number.isInteger(middle) ? (sorted[middle - 1]! + sorted[middle]!) / 2 : sorted[Math.floor(middle)]!;
}

installExitHandlers();
pinSelf(LOADGEN_CPU);
await ensureWrk();
const ctx: BenchContext = { repoRoot: dirname(import.meta.dir), tmpDir: mkdtempSync(join(tmpdir(), "invoke-bench-obs-")) };
process.once("exit", () => {
  killAllSync();
  rmSync(ctx.tmpDir, { recursive: true, force: true });
});
const scenario = SCENARIOS[0]!;
const servers = [
  { label: "log + metrics on ", running: await invoke.start(ctx), rps: [] as number[] },
  { label: "log + metrics off", running: await invokeQuiet.start(ctx), rps: [] as number[] },
];
console.log(`${scenario.title}, c=${connections}, ${rounds} rounds of ${seconds} s per server, alternating\n`);
for (const { running } of servers) await runWrk({ url: running.url, body: scenario.body, headers: running.headers, connections, seconds: 2 }); // warm-up
for (let round = 1; round <= rounds; round++) {
  for (const server of servers) {
    const { running } = server;
    const stats = await runWrk({ url: running.url, body: scenario.body, headers: running.headers, connections, seconds });
    server.rps.push(stats.rps);
    console.log(`  round ${round}  ${server.label}  ${Math.round(stats.rps).toLocaleString("en-US").padStart(7)} req/s  p99 ${stats.p99Ms.toFixed(2)} ms`);
  }
}
const [on, off] = servers.map((server) => median(server.rps)) as [number, number];
const cost = 1 - on / off;
console.log(`\n  median: on ${Math.round(on).toLocaleString("en-US")} req/s, off ${Math.round(off).toLocaleString("en-US")} req/s`);
console.log(`  TARGET request log + metrics cost < ${TARGET * 100}% of req/s: ${(cost * 100).toFixed(1)}% (${cost < TARGET ? "met" : "MISSED"})`);
for (const { running } of servers) await running.stop();
