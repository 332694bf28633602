// Servers under test: Invoke itself plus the baselines (a bare Bun.serve JSON-RPC echo, the same echo
// recording every call durably, and the official MCP SDK stateless server on Node and on Bun). Each target starts pinned to the
// server CPU on a free loopback port, waits until ready and knows its MCP URL and headers.
// Add entries to TARGETS to compare against more servers.
import type { ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { SERVER_CPU, freePort, logTail, pollUntil, runPinned, spawnPinned, stopProcess } from "./procs.ts";

/** Shared state of one benchmark run. */
export interface BenchContext {
  /** Repository root (the folder holding src/ and bench/). */
  repoRoot: string;
  /** Scratch folder for databases and server logs, deleted at the end of the run. */
  tmpDir: string;
}

/** A started, ready server under test. */
export interface RunningTarget {
  /** URL that receives the JSON-RPC POSTs. */
  url: string;
  /** HTTP headers sent with every request. */
  headers: Record<string, string>;
  /** The command line that was started, for the report. */
  command: string;
  /** File holding the server's stdout and stderr. */
  logFile: string;
  /** Stops the server and everything it spawned. */
  stop(): Promise<void>;
}

/** A server that can be benchmarked. */
export interface Target {
  /** Stable id used in the JSON results and in BENCH_TARGETS. */
  id: string;
  /** Human-readable name for the printed tables. */
  label: string;
  start(ctx: BenchContext): Promise<RunningTarget>;
}

/** Headers every MCP Streamable HTTP client sends with a POST. */
const MCP_HEADERS = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };
/** Protocol version header sent to the SDK server (Invoke gets the same request minus this). */
const SDK_HEADERS = { ...MCP_HEADERS, "MCP-Protocol-Version": "2025-11-25" };
const READY_TIMEOUT_MS = 30_000;

/** Invoke's command line: BENCH_BINARY, else the compiled dist/invoke if `preferCompiled` and built, else bun run. */
export function invokeCommand(ctx: BenchContext, preferCompiled: boolean): string[] {
  const binary = process.env.BENCH_BINARY;
  if (binary) return [resolve(binary)];
  const compiled = join(ctx.repoRoot, "dist", "invoke");
  if (preferCompiled && existsSync(compiled)) return [compiled];
  return [process.execPath, "run", "src/cli.ts"];
}

/** A freshly initialised Invoke database and its admin key. */
export interface InvokeDb {
  dbPath: string;
  adminKey: string;
}

/**
 * Server config for benchmarking: the per-key rate limit (60 requests/min by default) is raised far
 * beyond any load here, so the limiter still runs on every request but never refuses one.
 */
const BENCH_CONFIG = { rate_limit: { requests: 1_000_000_000, per_seconds: 1 } };

let dbCounter = 0;

/** Creates a fresh Invoke database in the scratch folder with `<cmd> init --db <file> --json`. */
export async function initInvoke(ctx: BenchContext, cmd: string[]): Promise<InvokeDb> {
  const dbPath = join(ctx.tmpDir, `invoke-${++dbCounter}.db`);
  const res = await runPinned([...cmd, "init", "--db", dbPath, "--json"], {
    cpu: SERVER_CPU,
    cwd: ctx.repoRoot,
    timeoutMs: 60_000,
  });
  const line = res.stdout.split("\n").findLast((l) => l.trim().startsWith("{"));
  const adminKey = line ? (JSON.parse(line) as { admin_key?: string }).admin_key : undefined;
  if (res.code !== 0 || !adminKey) {
    throw new Error(`invoke init failed (exit ${res.code}):\n${res.stdout}${res.stderr}`);
  }
  return { dbPath, adminKey };
}

/** Spawns `<cmd> serve [extraArgs]` on `port` (not waiting for readiness); output goes to `logFile`. */
export function spawnInvoke(
  ctx: BenchContext,
  cmd: string[],
  db: InvokeDb,
  port: number,
  logFile: string,
  extraArgs: string[] = [],
): ChildProcess {
  const args = [...cmd, "serve", "--db", db.dbPath, "--port", String(port), "--host", "127.0.0.1", ...extraArgs];
  return spawnPinned(args, { cpu: SERVER_CPU, cwd: ctx.repoRoot, logFile });
}

/** Headers for Invoke's MCP endpoint, authenticated with `adminKey`. */
export function invokeHeaders(adminKey: string): Record<string, string> {
  return { ...MCP_HEADERS, "X-API-Key": adminKey };
}

/** Resolves once GET `url` answers 200 (polling every `intervalMs`); throws with the log tail otherwise. */
export async function waitHealthy(url: string, child: ChildProcess, logFile: string, intervalMs = 5): Promise<void> {
  try {
    await pollUntil(async () => (await fetch(url, { signal: AbortSignal.timeout(1000) })).status === 200, {
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs,
      child,
      what: url,
    });
  } catch (err) {
    await stopProcess(child);
    throw new Error(`${(err as Error).message}\n--- server log (tail) ---\n${logTail(logFile)}`);
  }
}

/** Starts a generic HTTP target (`cmd` gets `--port <P>`) serving MCP on /mcp and health on /healthz. */
async function startSimple(ctx: BenchContext, id: string, cmd: string[], headers: Record<string, string>): Promise<RunningTarget> {
  const port = await freePort();
  const logFile = join(ctx.tmpDir, `${id}.log`);
  const args = [...cmd, "--port", String(port)];
  const child = spawnPinned(args, { cpu: SERVER_CPU, cwd: ctx.repoRoot, logFile });
  await waitHealthy(`http://127.0.0.1:${port}/healthz`, child, logFile);
  return { url: `http://127.0.0.1:${port}/mcp`, headers, command: args.join(" "), logFile, stop: () => stopProcess(child) };
}

/** Invoke with `config` added to BENCH_CONFIG. */
function invokeTarget(id: string, label: string, config: Record<string, unknown> = {}): Target {
  return {
    id,
    label,
    async start(ctx) {
      const cmd = invokeCommand(ctx, false);
      const db = await initInvoke(ctx, cmd);
      const port = await freePort();
      const logFile = join(ctx.tmpDir, `${id}.log`);
      const configPath = join(ctx.tmpDir, `${id}-config.json`);
      writeFileSync(configPath, JSON.stringify({ ...BENCH_CONFIG, ...config }));
      const child = spawnInvoke(ctx, cmd, db, port, logFile, ["--config", configPath]);
      await waitHealthy(`http://127.0.0.1:${port}/healthz`, child, logFile);
      return {
        url: `http://127.0.0.1:${port}/v1/mcp`,
        headers: invokeHeaders(db.adminKey),
        command: [...cmd, "serve", "--config", configPath].join(" "),
        logFile,
        stop: () => stopProcess(child),
      };
    },
  };
}

/** Invoke as shipped: a JSON log line per request (to the log file) and metrics. */
export const invoke = invokeTarget("invoke", "Invoke");
/** The baseline of the observability cost (bench/observability.ts): the same server with the request log and metrics off. */
export const invokeQuiet = invokeTarget("invoke-quiet", "Invoke, log and metrics off", { log: { level: "off" }, metrics: { enabled: false } });

const echo: Target = {
  id: "echo",
  label: "bare Bun.serve echo",
  start: (ctx) => startSimple(ctx, "echo", [process.execPath, "bench/targets/echo.ts"], MCP_HEADERS),
};

/** The echo plus a durable, hash-chained, group-committed record of every call: the ceiling of any server that records calls. */
const echoRecorded: Target = {
  id: "echo-recorded",
  label: "Bun.serve echo, durably recorded",
  start: (ctx) => startSimple(ctx, "echo-recorded", [process.execPath, "bench/targets/echo.ts", "--record", join(ctx.tmpDir, "echo-recorded.db")], MCP_HEADERS),
};

const sdkNode: Target = {
  id: "sdk-node",
  label: "MCP SDK on Node",
  start: (ctx) => startSimple(ctx, "sdk-node", ["node", "bench/targets/sdk-server.mjs"], SDK_HEADERS),
};

const sdkBun: Target = {
  id: "sdk-bun",
  label: "MCP SDK on Bun",
  start: (ctx) => startSimple(ctx, "sdk-bun", [process.execPath, "bench/targets/sdk-server.mjs"], SDK_HEADERS),
};

/** All targets, benchmarked in this order. */
export const TARGETS: Target[] = [invoke, echo, echoRecorded, sdkNode, sdkBun];
