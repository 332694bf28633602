// Alternating wrk runs for A/B benchmarks on this noisy machine: each variant is loaded in turn,
// round after round, so slow drifts fall on all alike; the medians are compared.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LOADGEN_CPU, installExitHandlers, killAllSync, pinSelf } from "./procs.ts";
import type { BenchContext } from "./targets.ts";
import { median } from "./stats.ts";
import { ensureWrk, runWrk, type WrkStats } from "./wrk.ts";

/** Settings of an alternating benchmark, from BENCH_ROUNDS (default 4), BENCH_SECONDS (per run, default 5) and BENCH_CONNECTIONS (default 16). */
export interface AlternateSettings {
  rounds: number;
  seconds: number;
  connections: number;
}

/**
 * Prepares an alternating benchmark: this process pinned to the load generator's CPU, wrk at hand, a
 * temporary folder for the servers (removed, and the servers killed, on exit); the settings from the
 * environment.
 */
export async function prepare(name: string): Promise<{ ctx: BenchContext; settings: AlternateSettings }> {
  installExitHandlers();
  pinSelf(LOADGEN_CPU);
  await ensureWrk();
  const ctx: BenchContext = { repoRoot: dirname(import.meta.dir), tmpDir: mkdtempSync(join(tmpdir(), `invoke-bench-${name}-`)) };
  process.once("exit", () => {
    killAllSync();
    rmSync(ctx.tmpDir, { recursive: true, force: true });
  });
  const setting = (variable: string, fallback: number) => Number(process.env[variable] ?? fallback);
  return { ctx, settings: { rounds: setting("BENCH_ROUNDS", 4), seconds: setting("BENCH_SECONDS", 5), connections: setting("BENCH_CONNECTIONS", 16) } };
}

/** One side of an A/B comparison: what wrk sends, and where. */
export interface Variant {
  label: string;
  url: string;
  body: string;
  headers: Record<string, string>;
}

/** Warms each variant up (2 s), then runs them in turn for `rounds` rounds; prints each run and returns the median req/s of each. */
export async function alternate(variants: Variant[], options: AlternateSettings): Promise<number[]> {
  return (await alternateRuns(variants, options)).map((runs) => median(runs.map((stats) => stats.rps)));
}

/** Like {@link alternate}, but returns every run's figures: one array of `rounds` runs per variant. */
export async function alternateRuns(variants: Variant[], options: AlternateSettings): Promise<WrkStats[][]> {
  const { rounds, seconds, connections } = options;
  const runs = variants.map(() => [] as WrkStats[]);
  for (const variant of variants) await runWrk({ ...variant, connections, seconds: 2 });
  const width = Math.max(...variants.map((variant) => variant.label.length));
  for (let round = 1; round <= rounds; round++) {
    for (const [index, variant] of variants.entries()) {
      const stats = await runWrk({ ...variant, connections, seconds });
      runs[index]!.push(stats);
      console.log(`  round ${round}  ${variant.label.padEnd(width)}  ${Math.round(stats.rps).toLocaleString("en-US").padStart(7)} req/s  p99 ${stats.p99Ms.toFixed(2)} ms`);
    }
  }
  return runs;
}
