// Invoke benchmark (`bun run bench`): tools/call throughput and p50/p99 latency of Invoke over
// loopback at several concurrencies, measured in the same run as a bare Bun.serve JSON-RPC echo
// (the ceiling) and the official MCP SDK stateless server (on Node and Bun), plus Invoke's
// cold start, the in-process policy-engine benchmark (bench/policy.ts) and Invoke's added latency in
// front of an HTTP upstream (bench/upstream.ts). Every Invoke tools/call writes an execution record;
// they are counted and their chain verified after Invoke's runs. Servers are pinned to CPU 0, wrk
// and this script to CPU 1. Prints tables and ratios; writes bench/results/latest.json.
//
// Environment: BENCH_SECONDS (per measured run, default 5), BENCH_WARMUP_SECONDS (default 2),
// BENCH_CONCURRENCY (default "1,16,64"), BENCH_TARGETS (ids, default all: invoke,echo,echo-recorded,sdk-node,
// sdk-bun), BENCH_COLDSTART_RUNS (default 5, 0 to skip), BENCH_UPSTREAM_CALLS (sequential calls per
// path in bench/upstream.ts, default 3000, 0 to skip), BENCH_BINARY (compiled Invoke to run).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, release, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { measureColdStart, type ColdStart } from "./coldstart.ts";
import type { runPolicyBenchmark } from "./policy.ts";
import { LOADGEN_CPU, SERVER_CPU, installExitHandlers, killAllSync, logTail, pinSelf } from "./procs.ts";
import { SCENARIOS, type Scenario } from "./scenarios.ts";
import { TARGETS, type BenchContext, type RunningTarget, type Target } from "./targets.ts";
import { measureUpstreamOverhead, printUpstreamOverhead, type UpstreamOverhead } from "./upstream.ts";
import { ensureWrk, runWrk, type WrkStats } from "./wrk.ts";

const RESULTS_FILE = join(import.meta.dir, "results", "latest.json");
/** Baselines that Invoke's figures are divided by, in print order. */
const RATIO_BASELINES = ["echo", "echo-recorded", "sdk-node"];
/** The target: governed, recorded calls at concurrency 16 reach this share of the bare echo's req/s. */
const ECHO_SHARE_TARGET = 0.3;

/** Figures of the in-process policy-engine benchmark (bench/policy.ts). */
type PolicyFigures = ReturnType<typeof runPolicyBenchmark>;

/** Settings of one run, read from the environment. */
interface Config {
  seconds: number;
  warmupSeconds: number;
  concurrencies: number[];
  targets: Target[];
  coldStartRuns: number;
  upstreamCalls: number;
}

/** Invoke's execution records after its runs: every answered tools/call must have one. */
interface Recording {
  /** tools/call requests Invoke answered with 200 (probes, warm-ups and measured runs). */
  answered: number;
  /** Records in the tenant's chain, per GET /v1/executions/verify. */
  records: number;
  chainOk: boolean;
}

/** Figures of one target × scenario × concurrency run. */
interface Measurement extends WrkStats {
  target: string;
  scenario: string;
  concurrency: number;
}

/** Invoke's figures divided by a baseline's (req/s above 1 and latency below 1 favour Invoke). */
interface Ratio {
  scenario: string;
  concurrency: number;
  baseline: string;
  rps: number;
  p50: number;
  p99: number;
}

/** Reads and validates the BENCH_* environment variables. */
function readConfig(): Config {
  const int = (name: string, fallback: number, min: number): number => {
    const raw = process.env[name];
    const value = raw === undefined || raw === "" ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
    return value;
  };
  const concurrencies = (process.env.BENCH_CONCURRENCY || "1,16,64").split(",").map(Number);
  if (concurrencies.some((c) => !Number.isInteger(c) || c < 1)) throw new Error("BENCH_CONCURRENCY must list integers >= 1");
  const ids = process.env.BENCH_TARGETS?.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = ids?.filter((id) => !TARGETS.some((t) => t.id === id)) ?? [];
  if (unknown.length) throw new Error(`unknown BENCH_TARGETS ${unknown.join(",")}; known: ${TARGETS.map((t) => t.id).join(",")}`);
  return {
    seconds: int("BENCH_SECONDS", 5, 1),
    warmupSeconds: int("BENCH_WARMUP_SECONDS", 2, 0),
    concurrencies,
    targets: ids ? TARGETS.filter((t) => ids.includes(t.id)) : TARGETS,
    coldStartRuns: int("BENCH_COLDSTART_RUNS", 5, 0),
    upstreamCalls: int("BENCH_UPSTREAM_CALLS", 3000, 0),
  };
}

/** Sends `scenario` once and throws unless the target answers 200 with a successful result. */
async function probe(running: RunningTarget, scenario: Scenario): Promise<void> {
  const res = await fetch(running.url, { method: "POST", headers: running.headers, body: scenario.body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`probe answered HTTP ${res.status}: ${text.slice(0, 500)}`);
  // A Streamable HTTP server may answer as SSE; the JSON-RPC response is then in a data: line.
  const json = res.headers.get("content-type")?.startsWith("text/event-stream")
    ? text.split("\n").find((l) => l.startsWith("data:"))?.slice(5)
    : text;
  let problem: string | null;
  try {
    problem = scenario.check(JSON.parse(json ?? ""));
  } catch {
    problem = "response is not valid JSON";
  }
  if (problem) throw new Error(`probe failed: ${problem}\n${text.slice(0, 500)}`);
}

/** Starts one target, then for each scenario probes it, warms it up and measures every concurrency. */
async function benchTarget(target: Target, ctx: BenchContext, config: Config): Promise<{ command: string; runs: Measurement[]; recording?: Recording }> {
  const running = await target.start(ctx);
  console.log(`\n▶ ${target.label}: ${running.command}`);
  const runs: Measurement[] = [];
  let answered = 0;
  const answeredIn = (stats: WrkStats) => stats.requests - stats.errors.status;
  try {
    for (const scenario of SCENARIOS) {
      await probe(running, scenario);
      answered++;
      const load = { url: running.url, body: scenario.body, headers: running.headers };
      if (config.warmupSeconds > 0) {
        answered += answeredIn(await runWrk({ ...load, connections: Math.max(...config.concurrencies), seconds: config.warmupSeconds }));
      }
      for (const concurrency of config.concurrencies) {
        const stats = await runWrk({ ...load, connections: concurrency, seconds: config.seconds });
        answered += answeredIn(stats);
        runs.push({ target: target.id, scenario: scenario.id, concurrency, ...stats });
        console.log(
          `  ${scenario.title}  c=${String(concurrency).padEnd(3)} ${fmtInt(stats.rps).padStart(8)} req/s` +
            `  p50 ${fmtMs(stats.p50Ms)} ms  p99 ${fmtMs(stats.p99Ms)} ms${errorNote(stats)}`,
        );
      }
    }
    const recording = target.id === "invoke" ? { answered, ...(await verifyRecords(running)) } : undefined;
    return { command: running.command, runs, recording };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- server log (tail) ---\n${logTail(running.logFile)}`);
  } finally {
    await running.stop();
  }
}

/** Counts Invoke's execution records and verifies their chain over REST, with the key the runs used. */
async function verifyRecords(running: RunningTarget): Promise<{ records: number; chainOk: boolean }> {
  const res = await fetch(new URL("/v1/executions/verify", running.url), { headers: { "X-API-Key": running.headers["X-API-Key"]! } });
  const report = (await res.json()) as { ok?: boolean; records?: number };
  return { records: report.records ?? 0, chainOk: res.status === 200 && report.ok === true };
}

/** Invoke's figures divided by each baseline's, per scenario and concurrency. */
function ratios(runs: Measurement[]): Ratio[] {
  const out: Ratio[] = [];
  const find = (target: string, scenario: string, concurrency: number) =>
    runs.find((r) => r.target === target && r.scenario === scenario && r.concurrency === concurrency);
  for (const baseline of RATIO_BASELINES) {
    for (const inv of runs.filter((r) => r.target === "invoke")) {
      const base = find(baseline, inv.scenario, inv.concurrency);
      if (!base) continue;
      out.push({
        scenario: inv.scenario,
        concurrency: inv.concurrency,
        baseline,
        rps: round(inv.rps / base.rps, 3),
        p50: round(inv.p50Ms / base.p50Ms, 3),
        p99: round(inv.p99Ms / base.p99Ms, 3),
      });
    }
  }
  return out;
}

const round = (n: number, digits: number) => Number(n.toFixed(digits));
const fmtInt = (n: number) => Math.round(n).toLocaleString("en-US");
const fmtMs = (n: number) => n.toFixed(3);
const fmtRatio = (n: number) => `${n.toFixed(2)}×`;

/** Sum of all wrk error counters of a run. */
function totalErrors(s: WrkStats): number {
  return Object.values(s.errors).reduce((a, b) => a + b, 0);
}

/** " ⚠ errors: …" suffix for the progress line, empty when there were none. */
function errorNote(s: WrkStats): string {
  const parts = Object.entries(s.errors).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  return parts.length ? `  ⚠ errors: ${parts.join(", ")}` : "";
}

/** Prints rows as an aligned table: first column left-aligned, the others right-aligned. */
function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("   ");
  console.log(line(header));
  console.log(widths.map((w) => "─".repeat(w)).join("   "));
  for (const r of rows) console.log(line(r));
}

/** Prints the result table, the ratio table of each scenario, the cold-start and policy figures and the targets. */
function printReport(
  config: Config,
  runs: Measurement[],
  rat: Ratio[],
  cold: ColdStart | null,
  policy: PolicyFigures | null,
  recording: Recording | null,
  upstream: UpstreamOverhead | null,
): void {
  const label = (id: string) => TARGETS.find((t) => t.id === id)?.label ?? id;
  for (const scenario of SCENARIOS) {
    const measured = runs.filter((r) => r.scenario === scenario.id);
    if (!measured.length) continue;
    console.log(`\n=== ${scenario.title}: ${config.seconds} s per run, servers on CPU ${SERVER_CPU}, wrk (1 thread) on CPU ${LOADGEN_CPU}`);
    console.log("    (latency percentiles as wrk reports them, i.e. corrected for coordinated omission)\n");
    printTable(
      ["target", "conc", "req/s", "p50 ms", "p99 ms", "errors"],
      measured.map((r) => [label(r.target), String(r.concurrency), fmtInt(r.rps), fmtMs(r.p50Ms), fmtMs(r.p99Ms), String(totalErrors(r))]),
    );
    const rows = rat.filter((r) => r.scenario === scenario.id);
    if (rows.length) {
      console.log("\nInvoke / baseline (req/s: higher is better for Invoke; latency: lower is better)\n");
      printTable(
        ["baseline", "conc", "req/s", "p50", "p99"],
        rows.map((r) => [label(r.baseline), String(r.concurrency), fmtRatio(r.rps), fmtRatio(r.p50), fmtRatio(r.p99)]),
      );
    }
  }
  if (cold) {
    const s = (x: { median: number; min: number; max: number }) =>
      `${x.median.toFixed(1)} ms median (min ${x.min.toFixed(1)}, max ${x.max.toFixed(1)})`;
    console.log(`\n=== Cold start of Invoke (${cold.command}), ${cold.runs} spawns, polled every 2 ms\n`);
    console.log(`  spawn → GET /healthz 200:        ${s(cold.healthzMs)}`);
    if (cold.healthzCpuMs) console.log(`  CPU used by that first 200:      ${s(cold.healthzCpuMs)}`);
    console.log(`  spawn → first tools/call 200:    ${s(cold.firstCallMs)}`);
  }
  if (policy) {
    const us = (x: { p50: number; p99: number }) => `p50 ${x.p50.toFixed(2)} µs, p99 ${x.p99.toFixed(2)} µs`;
    console.log(`\n=== Policy engine, in process (bench/policy.ts), ${fmtInt(policy.rules)} rules\n`);
    console.log(`  load + validate:                 ${policy.load_ms.median.toFixed(1)} ms median (max ${policy.load_ms.max.toFixed(1)})`);
    console.log(`  evaluate one action:             ${us(policy.evaluate_us)}`);
    console.log(`  same, default pack (3 rules):    ${us(policy.baseline_default_pack_us)}`);
  }
  printRecordedTarget(runs, rat, recording);
  if (upstream) printUpstreamOverhead(upstream);
}

/** The throughput target for governed, durably recorded calls: share of the echo at c16, p99 at c64. */
function printRecordedTarget(runs: Measurement[], rat: Ratio[], recording: Recording | null): void {
  const scenario = SCENARIOS[0]!;
  const share = rat.find((r) => r.baseline === "echo" && r.scenario === scenario.id && r.concurrency === 16);
  const at64 = runs.find((r) => r.target === "invoke" && r.scenario === scenario.id && r.concurrency === 64);
  if (!share && !at64 && !recording) return;
  console.log(`\n=== Governed, durably recorded calls (${scenario.title}; every call writes an execution record)\n`);
  if (recording) {
    const all = recording.records >= recording.answered;
    console.log(
      `  execution records after Invoke's runs: ${fmtInt(recording.records)} for ${fmtInt(recording.answered)} answered calls` +
        ` (${all ? "all recorded" : "RECORDS MISSING"}), chain ${recording.chainOk ? "verifies" : "BROKEN"}`,
    );
  }
  if (share) {
    const met = share.rps >= ECHO_SHARE_TARGET;
    console.log(`  TARGET req/s at c=16 ≥ ${ECHO_SHARE_TARGET * 100}% of the bare Bun.serve echo's: ${(share.rps * 100).toFixed(1)}% (${met ? "met" : "MISSED"})`);
  }
  // What recording alone costs: the echo that durably records every call, against the bare echo.
  const echoAt16 = runs.find((r) => r.target === "echo" && r.scenario === scenario.id && r.concurrency === 16);
  const recordedAt16 = runs.find((r) => r.target === "echo-recorded" && r.scenario === scenario.id && r.concurrency === 16);
  if (echoAt16 && recordedAt16) {
    console.log(`  the echo that durably records every call, at c=16: ${((recordedAt16.rps / echoAt16.rps) * 100).toFixed(1)}% of the bare echo (the ceiling of any recording server)`);
  }
  if (at64) console.log(`  p99 at c=64: ${fmtMs(at64.p99Ms)} ms (${fmtInt(at64.rps)} req/s)`);
}

/** Fraction (0–1) of all CPUs' time spent busy over the next `ms` milliseconds, from /proc/stat. */
async function cpuBusy(ms: number): Promise<number> {
  const sample = () => {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3]! + fields[4]!; // idle + iowait
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
  };
  const before = sample();
  await Bun.sleep(ms);
  const after = sample();
  return 1 - (after.idle - before.idle) / Math.max(1, after.total - before.total);
}

/** Versions and machine facts recorded with the results. */
async function environment(wrkVersion: string) {
  const git = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { stderr: "ignore" });
  const node = Bun.spawnSync(["node", "--version"], { stderr: "ignore" });
  return {
    date: new Date().toISOString(),
    gitCommit: git.exitCode === 0 ? git.stdout.toString().trim() : null,
    bun: Bun.version,
    node: node.exitCode === 0 ? node.stdout.toString().trim() : null,
    wrk: wrkVersion,
    cpu: cpus()[0]?.model ?? null,
    cpus: availableParallelism(),
    kernel: release(),
    cpuBusyAtStart: round(await cpuBusy(500), 3),
  };
}

/** Runs the whole benchmark and returns the process exit code. */
async function main(): Promise<number> {
  installExitHandlers();
  const config = readConfig();
  if (availableParallelism() < 2) throw new Error("the benchmark needs 2 CPUs (server on CPU 0, wrk on CPU 1)");
  if (!Bun.which("taskset")) throw new Error("taskset is missing. Install it with: sudo apt-get install -y util-linux");
  pinSelf(LOADGEN_CPU);
  const env = await environment(await ensureWrk());
  if (env.cpuBusyAtStart > 0.1) {
    console.warn(`⚠ other processes keep the CPUs ${Math.round(env.cpuBusyAtStart * 100)}% busy; figures will be noisy.`);
  }
  const ctx: BenchContext = { repoRoot: dirname(import.meta.dir), tmpDir: mkdtempSync(join(tmpdir(), "invoke-bench-")) };
  const cleanUp = () => {
    killAllSync();
    rmSync(ctx.tmpDir, { recursive: true, force: true });
  };
  process.once("exit", cleanUp); // also covers Ctrl-C, which exits from the signal handler
  const runs: Measurement[] = [];
  const commands: Record<string, string> = {};
  const failures: { target: string; error: string }[] = [];
  let cold: ColdStart | null = null;
  let policy: PolicyFigures | null = null;
  let recording: Recording | null = null;
  let upstream: UpstreamOverhead | null = null;
  try {
    for (const target of config.targets) {
      try {
        const res = await benchTarget(target, ctx, config);
        commands[target.id] = res.command;
        runs.push(...res.runs);
        recording ??= res.recording ?? null;
      } catch (err) {
        failures.push({ target: target.id, error: (err as Error).message });
        console.error(`\n✖ ${target.label} failed: ${(err as Error).message}`);
      }
    }
    const withInvoke = config.targets.some((t) => t.id === "invoke");
    if (withInvoke && config.coldStartRuns > 0) {
      console.log("\n▶ cold start of Invoke");
      try {
        cold = await measureColdStart(ctx, SCENARIOS[0]!, config.coldStartRuns);
      } catch (err) {
        failures.push({ target: "invoke-cold-start", error: (err as Error).message });
        console.error(`\n✖ cold start failed: ${(err as Error).message}`);
      }
    }
    if (withInvoke) {
      console.log("\n▶ policy engine (in process)");
      try {
        policy = (await import("./policy.ts")).runPolicyBenchmark();
      } catch (err) {
        failures.push({ target: "invoke-policy", error: (err as Error).message });
        console.error(`\n✖ policy benchmark failed: ${(err as Error).message}`);
      }
    }
    if (withInvoke && config.upstreamCalls > 0) {
      console.log("\n▶ Invoke in front of an HTTP upstream");
      try {
        upstream = await measureUpstreamOverhead(ctx, config.upstreamCalls);
      } catch (err) {
        failures.push({ target: "invoke-upstream", error: (err as Error).message });
        console.error(`\n✖ upstream benchmark failed: ${(err as Error).message}`);
      }
    }
  } finally {
    cleanUp();
  }

  for (const r of runs.filter((r) => totalErrors(r) > 0)) {
    failures.push({ target: r.target, error: `${r.scenario} at concurrency ${r.concurrency}:${errorNote(r)}` });
  }
  if (recording && (recording.records < recording.answered || !recording.chainOk)) {
    failures.push({ target: "invoke-records", error: `${recording.records} records for ${recording.answered} answered calls, chain ok: ${recording.chainOk}` });
  }
  if (upstream && (upstream.records < upstream.answeredByInvoke || !upstream.chainOk)) {
    failures.push({ target: "invoke-upstream-records", error: `${upstream.records} records for ${upstream.answeredByInvoke} answered calls, chain ok: ${upstream.chainOk}` });
  }
  const rat = ratios(runs);
  printReport(config, runs, rat, cold, policy, recording, upstream);
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  const report = {
    environment: env,
    config: {
      seconds: config.seconds,
      warmupSeconds: config.warmupSeconds,
      concurrencies: config.concurrencies,
      serverCpu: SERVER_CPU,
      loadgenCpu: LOADGEN_CPU,
    },
    scenarios: SCENARIOS.map((s) => ({ id: s.id, title: s.title, body: JSON.parse(s.body) })),
    targets: config.targets.map((t) => ({ id: t.id, label: t.label, command: commands[t.id] ?? null })),
    results: runs,
    ratios: rat,
    coldStart: cold,
    policy,
    recording,
    upstream,
    failures,
  };
  writeFileSync(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nResults written to ${RESULTS_FILE}`);
  if (failures.length) console.error(`\n${failures.length} failure(s): ${failures.map((f) => f.target).join(", ")}`);
  return failures.length ? 1 : 0;
}

process.exitCode = await main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  return 1;
});
