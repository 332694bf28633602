// Upstream overhead benchmark: what Invoke adds to a call of an HTTP upstream MCP server. The SDK
// fixture (test/fixtures/upstream-http.ts) runs as its own process and Invoke in front of it as
// connector `calc`; one sequential client (concurrency 1) then calls `calc.echo` through Invoke and
// `echo` on the upstream directly, alternating call by call with the same arguments, so both sides
// see the same machine state. Target: the difference of the medians stays under 1 ms. Every call
// through Invoke is authorised, checked by the default policy (read-only tools are allowed),
// forwarded and recorded; the record count and chain are checked afterwards.
// Part of `bun run bench`; alone: `bun bench/upstream.ts` (BENCH_UPSTREAM_CALLS, default 3000 pairs).
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { percentile } from "./stats.ts";
import { LOADGEN_CPU, SERVER_CPU, freePort, installExitHandlers, killAllSync, logTail, pinSelf, pollUntil, spawnPinned, stopProcess } from "./procs.ts";
import { initInvoke, invokeCommand, invokeHeaders, spawnInvoke, waitHealthy, type BenchContext } from "./targets.ts";

/** The target for the added median latency, in ms. */
export const OVERHEAD_TARGET_MS = 1;
const PROTOCOL_VERSION = "2025-11-25";
const MCP_HEADERS = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };
/** The same arguments on both paths: a short text the upstream echoes back. */
const ARGUMENTS = { text: "hello from the benchmark" };

/** Latency percentiles of one path, in ms. */
export interface PathLatency {
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

/** Figures of the upstream overhead benchmark. */
export interface UpstreamOverhead {
  invokeCommand: string;
  upstreamCommand: string;
  /** Measured calls per path (after `warmupCalls` per path). */
  calls: number;
  warmupCalls: number;
  throughInvoke: PathLatency;
  direct: PathLatency;
  /** Median through Invoke minus median direct. */
  overheadP50Ms: number;
  overheadP99Ms: number;
  targetMs: number;
  met: boolean;
  /** Calls Invoke answered (readiness probe, warm-up and measured). */
  answeredByInvoke: number;
  /** Execution records in the tenant's chain afterwards (refused probes too): at least `answeredByInvoke`. */
  records: number;
  chainOk: boolean;
}

/** One way of calling `echo`: where to POST and with which headers and body. */
interface Path {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** Starts the upstream fixture and Invoke in front of it, measures both paths side by side and stops both. */
export async function measureUpstreamOverhead(ctx: BenchContext, calls: number, warmupCalls = Math.min(1000, calls)): Promise<UpstreamOverhead> {
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  try {
    const upstreamPort = await freePort();
    const upstreamLog = join(ctx.tmpDir, "upstream-http.log");
    const upstreamArgs = [process.execPath, "test/fixtures/upstream-http.ts", "--port", String(upstreamPort)];
    // On the server CPU with Invoke: at concurrency 1 only one of them works at a time.
    children.push(spawnPinned(upstreamArgs, { cpu: SERVER_CPU, cwd: ctx.repoRoot, logFile: upstreamLog }));
    logs.push(upstreamLog);
    const upstreamUrl = `http://127.0.0.1:${upstreamPort}/mcp`;
    await waitHealthy(`http://127.0.0.1:${upstreamPort}/admin/headers`, children[0]!, upstreamLog);

    const cmd = invokeCommand(ctx, false);
    const db = await initInvoke(ctx, cmd);
    const configPath = join(ctx.tmpDir, "invoke-upstream-config.json");
    writeFileSync(
      configPath,
      JSON.stringify({
        rate_limit: { requests: 1_000_000_000, per_seconds: 1 },
        connectors: [{ name: "calc", type: "mcp_http", url: upstreamUrl, read_only_tools: ["*"], enable_tools: ["*"] }],
      }),
    );
    const invokePort = await freePort();
    const invokeLog = join(ctx.tmpDir, "invoke-upstream.log");
    children.push(spawnInvoke(ctx, cmd, db, invokePort, invokeLog, ["--config", configPath]));
    logs.push(invokeLog);
    const invokeBase = `http://127.0.0.1:${invokePort}`;
    await waitHealthy(`${invokeBase}/healthz`, children[1]!, invokeLog);

    const throughInvoke: Path = { url: `${invokeBase}/v1/mcp`, headers: invokeHeaders(db.adminKey), body: toolCall("calc.echo") };
    // The connector registers calc.echo once its first tools/list came back.
    await pollUntil(async () => (await callOnce(throughInvoke)).ok, { timeoutMs: 15_000, intervalMs: 20, child: children[1], what: "calc.echo through Invoke" });
    const direct: Path = { url: upstreamUrl, headers: await openSession(upstreamUrl), body: toolCall("echo") };

    const invokeTimes: number[] = [];
    const directTimes: number[] = [];
    for (let i = 0; i < warmupCalls + calls; i++) {
      // Alternating which path goes first cancels any advantage of going second (warm caches, a settled GC).
      const order: [Path, number[]][] = i % 2 === 0 ? [[throughInvoke, invokeTimes], [direct, directTimes]] : [[direct, directTimes], [throughInvoke, invokeTimes]];
      for (const [path, times] of order) {
        const { ok, ms, problem } = await callOnce(path);
        if (!ok) throw new Error(`call ${i} to ${path.url} failed: ${problem}`);
        if (i >= warmupCalls) times.push(ms);
      }
    }

    const verify = await fetch(`${invokeBase}/v1/executions/verify`, { headers: { "X-API-Key": db.adminKey } });
    const report = (await verify.json()) as { ok?: boolean; records?: number };
    const inv = latency(invokeTimes);
    const dir = latency(directTimes);
    const overheadP50Ms = round(inv.p50Ms - dir.p50Ms);
    return {
      invokeCommand: [...cmd, "serve", "--config", configPath].join(" "),
      upstreamCommand: upstreamArgs.join(" "),
      calls,
      warmupCalls,
      throughInvoke: inv,
      direct: dir,
      overheadP50Ms,
      overheadP99Ms: round(inv.p99Ms - dir.p99Ms),
      targetMs: OVERHEAD_TARGET_MS,
      met: overheadP50Ms < OVERHEAD_TARGET_MS,
      answeredByInvoke: 1 + warmupCalls + calls,
      records: report.records ?? 0,
      chainOk: verify.status === 200 && report.ok === true,
    };
  } catch (err) {
    const tails = logs.map((file) => `--- ${file} (tail) ---\n${logTail(file)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${tails}`);
  } finally {
    // Invoke first, so it does not log a lost upstream while stopping.
    for (const child of children.reverse()) await stopProcess(child);
  }
}

/** A JSON-RPC tools/call body for `name` with the shared arguments. */
function toolCall(name: string): string {
  return JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: ARGUMENTS } });
}

/** Initializes an MCP session on the upstream and returns the headers its later requests need. */
async function openSession(url: string): Promise<Record<string, string>> {
  const init = await fetch(url, {
    method: "POST",
    headers: MCP_HEADERS,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "invoke-bench", version: "1" } },
    }),
  });
  const sessionId = init.headers.get("mcp-session-id");
  const answer = parseRpc(init.headers.get("content-type"), await init.text()) as { result?: { protocolVersion?: string } } | undefined;
  if (init.status !== 200 || !sessionId || !answer?.result) throw new Error(`upstream initialize answered HTTP ${init.status} without a session`);
  const headers = { ...MCP_HEADERS, "Mcp-Session-Id": sessionId, "MCP-Protocol-Version": answer.result.protocolVersion ?? PROTOCOL_VERSION };
  const initialized = await fetch(url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) });
  await initialized.body?.cancel();
  if (initialized.status !== 202) throw new Error(`upstream notifications/initialized answered HTTP ${initialized.status}`);
  return headers;
}

/** Times one call (request sent to body fully read) and checks that the echo came back. */
async function callOnce(path: Path): Promise<{ ok: boolean; ms: number; problem?: string }> {
  const started = performance.now();
  const res = await fetch(path.url, { method: "POST", headers: path.headers, body: path.body });
  const text = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200) return { ok: false, ms, problem: `HTTP ${res.status}: ${text.slice(0, 300)}` };
  const rpc = parseRpc(res.headers.get("content-type"), text) as { result?: { isError?: boolean; structuredContent?: { text?: unknown } } } | undefined;
  const ok = rpc?.result?.isError !== true && rpc?.result?.structuredContent?.text === ARGUMENTS.text;
  return ok ? { ok, ms } : { ok, ms, problem: text.slice(0, 300) };
}

/** The JSON-RPC message of a response: the body itself, or the first `data:` line of an SSE body (Streamable HTTP may answer either way). */
function parseRpc(contentType: string | null, text: string): unknown {
  const json = contentType?.startsWith("text/event-stream") ? text.split("\n").find((line) => line.startsWith("data:"))?.slice(5) : text;
  try {
    return JSON.parse(json ?? "");
  } catch {
    return undefined;
  }
}

function latency(times: number[]): PathLatency {
  const sorted = [...times].sort((a, b) => a - b);
  return { p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)), meanMs: round(sorted.reduce((a, b) => a + b, 0) / sorted.length) };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** Prints the figures, labelled with the target. */
export function printUpstreamOverhead(r: UpstreamOverhead): void {
  const ms = (n: number) => `${n.toFixed(3)} ms`;
  console.log(`\n=== Invoke in front of an HTTP upstream: ${r.calls} sequential calls per path (after ${r.warmupCalls} warm-up), alternating`);
  console.log(`    servers on CPU ${SERVER_CPU}, client (fetch, keep-alive) on CPU ${LOADGEN_CPU}; time = request sent to body read\n`);
  console.log(`  calc.echo through Invoke:   p50 ${ms(r.throughInvoke.p50Ms)}   p99 ${ms(r.throughInvoke.p99Ms)}   mean ${ms(r.throughInvoke.meanMs)}`);
  console.log(`  echo on the upstream:       p50 ${ms(r.direct.p50Ms)}   p99 ${ms(r.direct.p99Ms)}   mean ${ms(r.direct.meanMs)}`);
  console.log(`  added by Invoke:            p50 ${ms(r.overheadP50Ms)}   p99 ${ms(r.overheadP99Ms)}`);
  console.log(`  TARGET median added < ${r.targetMs} ms: ${r.met ? "met" : "MISSED"} (${ms(r.overheadP50Ms)})`);
  console.log(`  execution records afterwards: ${r.records} for ${r.answeredByInvoke} answered calls, chain ${r.chainOk ? "verifies" : "BROKEN"}`);
}

if (import.meta.main) {
  installExitHandlers();
  pinSelf(LOADGEN_CPU);
  const calls = Number(process.env.BENCH_UPSTREAM_CALLS || 3000);
  const ctx: BenchContext = { repoRoot: dirname(import.meta.dir), tmpDir: mkdtempSync(join(tmpdir(), "invoke-bench-")) };
  try {
    const result = await measureUpstreamOverhead(ctx, calls);
    printUpstreamOverhead(result);
    if (!result.chainOk || result.records < result.answeredByInvoke) process.exitCode = 1;
  } finally {
    killAllSync();
    rmSync(ctx.tmpDir, { recursive: true, force: true });
  }
}
