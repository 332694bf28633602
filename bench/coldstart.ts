// Cold-start measurement of Invoke: time from spawning `serve` to the first 200 answer of
// GET /healthz and to the first successful MCP tools/call, polling every 2 ms, and the CPU time the
// process (all its threads, on its one pinned CPU) had used by that first 200: on a machine shared
// with other work the wall time varies with the load, the CPU time much less. Uses the compiled
// binary (BENCH_BINARY or dist/invoke) when available, else `bun run src/cli.ts`.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { freePort, pollUntil, stopProcess } from "./procs.ts";
import type { Scenario } from "./scenarios.ts";
import { median } from "./stats.ts";
import { initInvoke, invokeCommand, invokeHeaders, spawnInvoke, waitHealthy, type BenchContext } from "./targets.ts";

const POLL_MS = 2;

/** Summary of several samples in milliseconds. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Cold-start figures of Invoke over several spawns. */
export interface ColdStart {
  command: string;
  /** True when the compiled binary is older than src/, i.e. measures older code. */
  staleBinary: boolean;
  runs: number;
  healthzMs: Spread;
  /** CPU time of the process at its first /healthz 200; absent where /proc is not available. */
  healthzCpuMs?: Spread;
  firstCallMs: Spread;
}

/** Spawns Invoke `runs` times and measures time to healthy and to the first `scenario` call. */
export async function measureColdStart(ctx: BenchContext, scenario: Scenario, runs: number): Promise<ColdStart> {
  const cmd = invokeCommand(ctx, true);
  const staleBinary = isOlderThanSources(cmd[0]!, ctx.repoRoot);
  if (staleBinary) {
    console.warn(`⚠ ${cmd[0]} is older than src/; rebuild it (bun run build) to measure the current code.`);
  }
  const db = await initInvoke(ctx, cmd);
  const headers = invokeHeaders(db.adminKey);
  const healthz: number[] = [];
  const healthzCpu: (number | undefined)[] = [];
  const firstCall: number[] = [];
  for (let i = 0; i < runs; i++) {
    const port = await freePort();
    const logFile = join(ctx.tmpDir, `coldstart-${i}.log`);
    const t0 = performance.now();
    const child = spawnInvoke(ctx, cmd, db, port, logFile);
    try {
      await waitHealthy(`http://127.0.0.1:${port}/healthz`, child, logFile, POLL_MS);
      healthz.push(performance.now() - t0);
      healthzCpu.push(cpuTimeMs(child.pid!));
      const call = () => fetch(`http://127.0.0.1:${port}/v1/mcp`, { method: "POST", headers, body: scenario.body });
      await pollUntil(async () => (await call()).status === 200, {
        timeoutMs: 10_000,
        intervalMs: POLL_MS,
        child,
        what: "first tools/call",
      });
      firstCall.push(performance.now() - t0);
    } finally {
      await stopProcess(child);
    }
  }
  const cpuKnown = healthzCpu.every((ms) => ms !== undefined);
  return { command: [...cmd, "serve"].join(" "), staleBinary, runs, healthzMs: spread(healthz), ...(cpuKnown && { healthzCpuMs: spread(healthzCpu as number[]) }), firstCallMs: spread(firstCall) };
}

/** CPU time (ms) process `pid` has used so far, summed over its threads (Linux schedstat, in ns); undefined without /proc. */
function cpuTimeMs(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/task`).reduce((sum, thread) => sum + Number(readFileSync(`/proc/${pid}/task/${thread}/schedstat`, "utf8").split(" ")[0]) / 1e6, 0);
  } catch {
    return undefined;
  }
}

/** Whether `file` (a compiled binary) was modified before the newest file under src/; false for non-binaries. */
function isOlderThanSources(file: string, repoRoot: string): boolean {
  if (file === process.execPath) return false;
  const built = statSync(file).mtimeMs;
  for (const path of new Bun.Glob("src/**/*").scanSync({ cwd: repoRoot })) {
    if ((statSync(join(repoRoot, path), { throwIfNoEntry: false })?.mtimeMs ?? 0) > built) return true;
  }
  return false;
}

/** Median, min and max of `samples`, rounded to 0.01 ms. */
function spread(samples: number[]): Spread {
  const ms = (n: number) => Math.round(n * 100) / 100;
  return { median: ms(median(samples)), min: ms(Math.min(...samples)), max: ms(Math.max(...samples)) };
}
