// Old vs new (`bun run bench:compare`): the commit before the redesign and the working tree, side by side
// in one run. The old commit is checked out with `git worktree add` into a temporary folder (sharing this
// node_modules); each side's server starts as bench/run.ts starts Invoke (`bun run src/cli.ts serve`,
// pinned to CPU 0), wrk (CPU 1) loads the two in turn round after round so drift falls on both alike, and
// each side's compiled binary (built by its own `bun run build`) is cold-started in turn too. Prints one
// table (tools/call req/s, p50 and p99 at each concurrency, cold start to /healthz and the CPU it used):
// old, new, new/old, and the run's own noise, the larger relative spread (max − min) / median of the two
// sides' repeated runs; a difference within it is not a difference. Writes bench/results/compare.json.
//
// Environment: BENCH_BASE (the old commit, default f6034f5), BENCH_ROUNDS (default 4), BENCH_SECONDS (per
// run, default 5), BENCH_CONCURRENCY (default "1,16,64"), BENCH_COLDSTART_RUNS (per side, default 7),
// BENCH_QUICK=1 (a smoke run: 1 s runs, 2 rounds, 2 cold starts, unless set otherwise).
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { alternateRuns, prepare, type Variant } from "./alternate.ts";
import { measureColdStart, type ColdStart } from "./coldstart.ts";
import { SERVER_CPU, runPinned } from "./procs.ts";
import { SCENARIOS } from "./scenarios.ts";
import { median } from "./stats.ts";
import { invoke, type BenchContext, type RunningTarget } from "./targets.ts";
import type { WrkStats } from "./wrk.ts";

const RESULTS_FILE = join(import.meta.dir, "results", "compare.json");
const DEFAULT_BASE = "f6034f5";

if (process.env.BENCH_QUICK) {
  process.env.BENCH_SECONDS ??= "1";
  process.env.BENCH_ROUNDS ??= "2";
  process.env.BENCH_COLDSTART_RUNS ??= "2";
}
if (process.env.BENCH_BINARY) {
  // Each side runs its own build: one binary for both would compare nothing.
  console.warn("⚠ BENCH_BINARY is ignored by bench/compare.ts");
  delete process.env.BENCH_BINARY;
}

/** One side of the comparison: a checkout of the code and its own scratch folder. */
interface Side {
  label: string;
  commit: string;
  ctx: BenchContext;
}

/** One row of the table: a figure of both sides, the median and every sample of each. */
interface Row {
  figure: string;
  /** Whether a larger value is better (req/s) or worse (latencies). */
  higherIsBetter: boolean;
  old: number;
  new: number;
  ratio: number;
  /** The larger relative spread of the two sides' samples. */
  noise: number;
  verdict: "better" | "worse" | "within noise";
  samples: { old: number[]; new: number[] };
}

/** Runs git in `cwd` and returns its trimmed stdout; throws with its stderr on failure. */
function git(cwd: string, ...args: string[]): string {
  const result = Bun.spawnSync(["git", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`git ${args.join(" ")} failed: ${result.stderr.toString().trim()}`);
  return result.stdout.toString().trim();
}

/** Checks `ref` out into a worktree under the scratch folder (removed on exit), sharing this checkout's node_modules. */
function checkoutBase(ctx: BenchContext, ref: string): Side {
  const root = join(ctx.tmpDir, "base");
  const commit = git(ctx.repoRoot, "rev-parse", "--verify", `${ref}^{commit}`);
  git(ctx.repoRoot, "worktree", "add", "--detach", root, commit);
  process.once("exit", () => {
    Bun.spawnSync(["git", "worktree", "remove", "--force", root], { cwd: ctx.repoRoot });
    Bun.spawnSync(["git", "worktree", "prune"], { cwd: ctx.repoRoot });
  });
  symlinkSync(realpathSync(join(ctx.repoRoot, "node_modules")), join(root, "node_modules"));
  return { label: `old ${commit.slice(0, 7)}`, commit, ctx: { repoRoot: root, tmpDir: scratch(ctx, "old") } };
}

/** A scratch subfolder, so that both sides' databases, configs and logs never share a name. */
function scratch(ctx: BenchContext, name: string): string {
  const dir = join(ctx.tmpDir, name);
  mkdirSync(dir);
  return dir;
}

/** Builds the side's compiled binary into its dist/ with its own `bun run build`. */
async function build(side: Side): Promise<void> {
  const result = await runPinned([process.execPath, "run", "build"], { cpu: SERVER_CPU, cwd: side.ctx.repoRoot, timeoutMs: 300_000 });
  if (result.code !== 0) throw new Error(`${side.label}: bun run build failed:\n${result.stdout}${result.stderr}`);
}

/** Sends the scenario's request once and throws unless it succeeds. */
async function probe(side: Side, server: RunningTarget): Promise<void> {
  const scenario = SCENARIOS[0]!;
  const answer = await fetch(server.url, { method: "POST", headers: server.headers, body: scenario.body });
  const problem = answer.status === 200 ? scenario.check(await answer.json()) : `HTTP ${answer.status}`;
  if (problem !== null) throw new Error(`${side.label} does not answer the benchmark request: ${problem}`);
}

/** Old and new samples of one figure, compared against the run's own noise. */
function row(figure: string, higherIsBetter: boolean, old: number[], now: number[]): Row {
  const spread = (samples: number[]) => (Math.max(...samples) - Math.min(...samples)) / median(samples);
  const ratio = median(now) / median(old);
  const noise = Math.max(spread(old), spread(now));
  const change = higherIsBetter ? ratio - 1 : 1 - ratio;
  const verdict = Math.abs(ratio - 1) <= noise ? "within noise" : change > 0 ? "better" : "worse";
  return { figure, higherIsBetter, old: median(old), new: median(now), ratio, noise, verdict, samples: { old, new: now } };
}

/** Throughput and latency rows of one concurrency from each side's runs. */
function loadRows(concurrency: number, old: WrkStats[], now: WrkStats[]): Row[] {
  const pick = (runs: WrkStats[], key: "rps" | "p50Ms" | "p99Ms") => runs.map((stats) => stats[key]);
  return [
    row(`c${concurrency} req/s`, true, pick(old, "rps"), pick(now, "rps")),
    row(`c${concurrency} p50 ms`, false, pick(old, "p50Ms"), pick(now, "p50Ms")),
    row(`c${concurrency} p99 ms`, false, pick(old, "p99Ms"), pick(now, "p99Ms")),
  ];
}

function printTable(rows: Row[], old: Side, now: Side): void {
  const number = (value: number) => (value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(2));
  const lines = [["figure", old.label, now.label, "new/old", "noise", ""]];
  for (const r of rows) lines.push([r.figure, number(r.old), number(r.new), r.ratio.toFixed(3), `±${(r.noise * 100).toFixed(1)}%`, r.verdict]);
  const widths = lines[0]!.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)));
  for (const line of lines) console.log(`  ${line.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join("  ")}`);
}

const { ctx, settings } = await prepare("compare");
const concurrencies = (process.env.BENCH_CONCURRENCY || "1,16,64").split(",").map(Number);
const coldStartRuns = Number(process.env.BENCH_COLDSTART_RUNS ?? 7);
const baseRef = process.env.BENCH_BASE || DEFAULT_BASE;
const dirty = git(ctx.repoRoot, "status", "--porcelain", "--untracked-files=no") !== "";
const head = git(ctx.repoRoot, "rev-parse", "HEAD");
const old = checkoutBase(ctx, baseRef);
const now: Side = { label: `new ${head.slice(0, 7)}${dirty ? "+" : ""}`, commit: head, ctx: { repoRoot: ctx.repoRoot, tmpDir: scratch(ctx, "new") } };
const sides = [old, now];

console.log(`Comparing ${old.label} with ${now.label}${dirty ? " (working tree with uncommitted changes)" : ""}: ${SCENARIOS[0]!.title}, ${settings.rounds} rounds of ${settings.seconds} s per side and concurrency, alternating\n`);
for (const side of sides) await build(side);

const rows: Row[] = [];
const servers = await Promise.all(sides.map((side) => invoke.start(side.ctx)));
try {
  for (const [index, side] of sides.entries()) await probe(side, servers[index]!);
  const variants: Variant[] = sides.map((side, index) => ({ label: side.label, url: servers[index]!.url, body: SCENARIOS[0]!.body, headers: servers[index]!.headers }));
  for (const connections of concurrencies) {
    console.log(`c${connections}:`);
    const [oldRuns, newRuns] = (await alternateRuns(variants, { ...settings, connections })) as [WrkStats[], WrkStats[]];
    const failed = [...oldRuns, ...newRuns].filter((stats) => Object.values(stats.errors).some((count) => count > 0));
    if (failed.length > 0) console.warn(`⚠ c${connections}: ${failed.length} run(s) had errors: ${JSON.stringify(failed.map((stats) => stats.errors))}`);
    rows.push(...loadRows(connections, oldRuns, newRuns));
  }
} finally {
  await Promise.all(servers.map((server) => server.stop()));
}

if (coldStartRuns > 0) {
  const coldStarts = sides.map(() => [] as ColdStart[]);
  for (let round = 0; round < coldStartRuns; round++) {
    for (const [index, side] of sides.entries()) coldStarts[index]!.push(await measureColdStart(side.ctx, SCENARIOS[0]!, 1));
  }
  const [oldStarts, newStarts] = coldStarts as [ColdStart[], ColdStart[]];
  rows.push(row("cold start to /healthz ms", false, oldStarts.map((start) => start.healthzMs.median), newStarts.map((start) => start.healthzMs.median)));
  const cpu = (starts: ColdStart[]) => starts.flatMap((start) => (start.healthzCpuMs ? [start.healthzCpuMs.median] : []));
  if (cpu(oldStarts).length === coldStartRuns && cpu(newStarts).length === coldStartRuns) rows.push(row("cold start CPU ms", false, cpu(oldStarts), cpu(newStarts)));
}

console.log("");
printTable(rows, old, now);
mkdirSync(join(import.meta.dir, "results"), { recursive: true });
writeFileSync(
  RESULTS_FILE,
  `${JSON.stringify({ date: new Date().toISOString(), old: { ref: baseRef, commit: old.commit }, new: { commit: head, uncommittedChanges: dirty }, settings: { rounds: settings.rounds, seconds: settings.seconds, concurrencies, coldStartRuns }, rows }, null, 2)}\n`,
);
console.log(`\nwrote ${RESULTS_FILE}`);
