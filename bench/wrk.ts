// Load generation with wrk: makes sure wrk is installed, runs it pinned to the load-generator
// CPU with bench/post.lua (fixed POST body and headers) and parses the exact figures that
// the script's done() hook prints. Note that wrk corrects its latency histogram for coordinated
// omission (a stall adds synthetic samples at the expected request interval), so p99 counts
// server stalls such as GC pauses the way a client sending at a constant rate would see them.
import { join } from "node:path";
import { LOADGEN_CPU, runPinned } from "./procs.ts";

const LUA_SCRIPT = join(import.meta.dir, "post.lua");

/** Returns wrk's version line, installing wrk with apt-get first when missing and running as root. */
export async function ensureWrk(): Promise<string> {
  if (!Bun.which("wrk")) {
    if (process.getuid?.() !== 0) {
      throw new Error("wrk is not installed. Install it with: sudo apt-get install -y wrk");
    }
    console.log("wrk is not installed; installing it with apt-get …");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    for (const cmd of [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]]) {
      const proc = Bun.spawnSync(cmd, { env, stdout: "inherit", stderr: "inherit" });
      if (proc.exitCode !== 0) throw new Error(`\`${cmd.join(" ")}\` failed; install wrk by hand`);
    }
  }
  const version = Bun.spawnSync(["wrk", "--version"]).stdout.toString();
  return version.split("\n")[0]!.replace(/ Copyright.*$/, "").trim();
}

/** One wrk run against a single URL. */
export interface WrkOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
}

/** Error counts as reported by wrk (status = responses with an HTTP status >= 400). */
export interface WrkErrors {
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
}

/** Figures of one wrk run; latencies in milliseconds. */
export interface WrkStats {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  errors: WrkErrors;
}

interface RawResult {
  requests: number;
  duration_us: number;
  p50_us: number;
  p99_us: number;
  mean_us: number;
  max_us: number;
  errors: WrkErrors;
}

/** Runs wrk with one thread and `connections` keep-alive connections and returns its figures. */
export async function runWrk(opts: WrkOptions): Promise<WrkStats> {
  const cmd = ["wrk", "-t1", `-c${opts.connections}`, `-d${opts.seconds}s`, "--timeout", "5s", "-s", LUA_SCRIPT, opts.url];
  const headerLines = Object.entries(opts.headers).map(([k, v]) => `${k}: ${v}`).join("\n");
  const { code, stdout, stderr } = await runPinned(cmd, {
    cpu: LOADGEN_CPU,
    env: { WRK_BODY: opts.body, WRK_HEADERS: headerLines },
    timeoutMs: (opts.seconds + 30) * 1000,
  });
  const line = stdout.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
  if (code !== 0 || !line) {
    throw new Error(`wrk failed (exit ${code}):\n${stdout}${stderr}`);
  }
  const raw = JSON.parse(line.slice("BENCH_RESULT ".length)) as RawResult;
  const seconds = raw.duration_us / 1e6;
  return {
    requests: raw.requests,
    seconds,
    rps: Math.round((raw.requests / seconds) * 10) / 10,
    p50Ms: raw.p50_us / 1000,
    p99Ms: raw.p99_us / 1000,
    meanMs: raw.mean_us / 1000,
    maxMs: raw.max_us / 1000,
    errors: raw.errors,
  };
}
