// Observability-cost benchmark (`bun bench/observability.ts`): what the request log and the metrics
// cost in throughput. Two Invoke servers from the same build run side by side on CPU 0 — one as
// shipped (a JSON log line per request, metrics kept), one with `log: {level: off}` and
// `metrics: {enabled: false}` — and wrk (CPU 1) loads them in turn, BENCH_ROUNDS times each, so slow
// drifts of this machine fall on both alike. Prints each round and the medians; the target is a cost
// below 5% of req/s at concurrency 16.
//
// Environment: BENCH_ROUNDS (default 4), BENCH_SECONDS (per run, default 5), BENCH_CONNECTIONS (default 16).
import { alternate, prepare } from "./alternate.ts";
import { SCENARIOS } from "./scenarios.ts";
import { invoke, invokeQuiet } from "./targets.ts";

const TARGET = 0.05;
const { ctx, settings } = await prepare("obs");
const { rounds, seconds, connections } = settings;
const scenario = SCENARIOS[0]!;
const servers = [
  { label: "log + metrics on", running: await invoke.start(ctx) },
  { label: "log + metrics off", running: await invokeQuiet.start(ctx) },
];
console.log(`${scenario.title}, c=${connections}, ${rounds} rounds of ${seconds} s per server, alternating\n`);
const [on, off] = (await alternate(
  servers.map(({ label, running }) => ({ label, url: running.url, body: scenario.body, headers: running.headers })),
  settings,
)) as [number, number];
const cost = 1 - on / off;
console.log(`\n  median: on ${Math.round(on).toLocaleString("en-US")} req/s, off ${Math.round(off).toLocaleString("en-US")} req/s`);
console.log(`  TARGET request log + metrics cost < ${TARGET * 100}% of req/s: ${(cost * 100).toFixed(1)}% (${cost < TARGET ? "met" : "MISSED"})`);
for (const { running } of servers) await running.stop();
