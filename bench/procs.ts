// Child-process helpers for the benchmark: CPU-pinned spawning via `taskset`, tracking of
// every child so none outlives the run (even on error or Ctrl-C), free loopback ports and
// polling. Each child gets its own process group so wrappers and grandchildren die too.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

/** CPU that every server under test is pinned to. */
export const SERVER_CPU = 0;
/** CPU that the load generator (wrk) is pinned to. */
export const LOADGEN_CPU = 1;

const live = new Set<ChildProcess>();

/** Options for {@link spawnPinned}. */
export interface SpawnOptions {
  /** CPU to pin the process (and all its threads and children) to. */
  cpu: number;
  /** Working directory; defaults to the current one. */
  cwd?: string;
  /** Extra environment variables on top of the current environment. */
  env?: Record<string, string>;
  /** File receiving stdout and stderr; output is discarded when absent. */
  logFile?: string;
}

/** Spawns `cmd` pinned to one CPU in its own process group and tracks it until it exits. */
export function spawnPinned(cmd: string[], opts: SpawnOptions): ChildProcess {
  const out = opts.logFile ? openSync(opts.logFile, "a") : "ignore";
  const child = spawn("taskset", ["-c", String(opts.cpu), ...cmd], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", out, out],
    detached: true,
  });
  if (typeof out === "number") closeSync(out);
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

/** Result of {@link runPinned}. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` pinned to one CPU to completion (killed after `timeoutMs`) and captures its output. */
export function runPinned(cmd: string[], opts: Omit<SpawnOptions, "logFile"> & { timeoutMs: number }): Promise<RunResult> {
  const child = spawn("taskset", ["-c", String(opts.cpu), ...cmd], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  live.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => killGroup(child, "SIGKILL"), opts.timeoutMs);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Stops a child's whole process group: SIGTERM, then SIGKILL after a grace period. */
export async function stopProcess(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  killGroup(child, "SIGTERM");
  const timer = setTimeout(() => killGroup(child, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
  killGroup(child, "SIGKILL"); // leftovers in the group, if any
}

/** Kills every tracked child immediately; safe to call from exit handlers. */
export function killAllSync(): void {
  for (const child of live) killGroup(child, "SIGKILL");
  live.clear();
}

/** Pins this process (all its threads) to `cpu`, keeping the orchestrator off the server CPU. */
export function pinSelf(cpu: number): void {
  const res = Bun.spawnSync(["taskset", "-a", "-p", "-c", String(cpu), String(process.pid)], { stdout: "ignore" });
  if (res.exitCode !== 0) throw new Error(`taskset could not pin the benchmark to CPU ${cpu}: ${res.stderr}`);
}

/** Makes sure no child survives the benchmark process, however it ends. */
export function installExitHandlers(): void {
  process.on("exit", killAllSync);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
    process.on(signal, () => {
      killAllSync();
      process.exit(code);
    });
  }
}

/** Sends `signal` to the child's whole process group, ignoring groups that are gone. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

/** Returns a TCP port on 127.0.0.1 that is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Calls `check` every `intervalMs` until it returns true; throws after `timeoutMs` or if `child` exits. */
export async function pollUntil(
  check: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs: number; child?: ChildProcess; what: string },
): Promise<void> {
  const deadline = performance.now() + opts.timeoutMs;
  while (performance.now() < deadline) {
    if (opts.child && (opts.child.exitCode !== null || opts.child.signalCode !== null)) {
      throw new Error(`${opts.what}: process exited (${opts.child.exitCode ?? opts.child.signalCode})`);
    }
    if (await check().catch(() => false)) return;
    await Bun.sleep(opts.intervalMs);
  }
  throw new Error(`${opts.what}: not ready after ${opts.timeoutMs} ms`);
}

/** Last `maxChars` characters of a log file, for error messages. */
export function logTail(file: string, maxChars = 2000): string {
  try {
    return readFileSync(file, "utf8").slice(-maxChars);
  } catch {
    return "";
  }
}
