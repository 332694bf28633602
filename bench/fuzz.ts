// Hostile bodies against every route of a real server: deep JSON, YAML alias bombs and merge keys,
// malformed policies near and over the size limit, strings near the body limit, wrong types, random
// bytes, invalid UTF-8, oversized JSON-RPC batches, requests without a key. The server must never
// answer 5xx, never die, answer every error in a small body, and keep its peak resident memory
// (VmHWM) under 512 MiB. Exits 1 when any of these fails.
//
//   bun bench/fuzz.ts            (FUZZ_REQUESTS, default 20000; FUZZ_CONCURRENCY, default 8; FUZZ_SEED; FUZZ_BODIES)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DEFAULT_CONFIG } from "../src/config.ts";
import { createApp, MCP_PATHS } from "../src/http/app.ts";
import { createServices } from "../src/services.ts";
import { openStore } from "../src/storage/sqlite/db.ts";
import { LOADGEN_CPU, freePort, installExitHandlers, killAllSync, logTail, pinSelf, stopProcess } from "./procs.ts";
import { initInvoke, invokeCommand, spawnInvoke, waitHealthy, type BenchContext } from "./targets.ts";

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 20_000);
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 8);
const MAX_PEAK_MIB = 512;
/** The largest error answer allowed. */
const MAX_ERROR_BYTES = 16 * 1024;
const BODY_LIMIT = DEFAULT_CONFIG.maxBodyBytes;

installExitHandlers();
pinSelf(LOADGEN_CPU);
const ctx: BenchContext = { repoRoot: dirname(import.meta.dir), tmpDir: mkdtempSync(join(tmpdir(), "invoke-bench-fuzz-")) };
process.once("exit", () => {
  killAllSync();
  rmSync(ctx.tmpDir, { recursive: true, force: true });
});

/** Every route the app serves, read from an in-process app on a scratch database. */
function appRoutes(): { method: string; path: string }[] {
  const store = openStore(join(ctx.tmpDir, "routes.db"));
  const app = createApp({ services: createServices({ store, config: { ...DEFAULT_CONFIG, db: join(ctx.tmpDir, "routes.db"), logLevel: "off" } }) });
  const routes = app.routes
    .filter((route) => route.method !== "HEAD" && route.method !== "OPTIONS" && route.path !== "/*")
    .map((route) => ({ method: route.method === "ALL" ? "POST" : route.method, path: route.path.replace(/:[A-Za-z]+/g, "x1") }));
  store.close();
  return routes;
}

let seed = Number(process.env.FUZZ_SEED ?? 20_261_129);
/** A deterministic pseudo-random number in [0, 1). */
function random(): number {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const between = (low: number, high: number) => low + Math.floor(random() * (high - low));

function aliasBomb(levels: number, width = 9): string {
  const lines = [`l0: &l0 [${Array(width).fill('"lol"').join(",")}]`];
  for (let level = 1; level <= levels; level++) lines.push(`l${level}: &l${level} [${Array(width).fill(`*l${level - 1}`).join(",")}]`);
  return `${lines.join("\n")}\nversion: 1\nrules: []\n`;
}

const WRONG_VALUES: unknown[] = [null, true, 0, -1, 1e308, "", "x", [], {}, [[[]]], { a: { b: {} } }, "\u0000", "🙂".repeat(100), Array(500).fill(1)];
const FIELDS = ["source", "comment", "publish", "agent_id", "action", "params", "policy_version", "days", "entities", "relations", "query", "entity_type", "limit", "email", "role", "name", "profile", "expires_at", "tools", "type", "path", "dialect", "to", "user", "jsonrpc", "id", "method"];

/** Hostile YAML policy sources. */
const YAML_SOURCES: (() => string)[] = [
  () => aliasBomb(between(3, 14)),
  () => aliasBomb(between(2, 6), between(10, 200)),
  () => `version: 1\nrules: *${"n".repeat(between(1, 5000))}\n`,
  () => `base: &b {id: r, effect: allow}\nversion: 1\nrules:\n  - <<: *b\n    reason: x\n`,
  () => `${aliasBomb(8)}x:\n  <<: [*l8, *l8, *l8]\n`,
  () => `rules: ${pick(["[", "{", "{a: "]).repeat(between(30, 60_000))}`,
  () => `rules:\n${"\t- x\n".repeat(between(100, 40_000))}`,
  () => "a: 1\n".repeat(between(100, 40_000)),
  () => `version: 1\nrules:\n${"  - {id: r, effect: maybe, match: 7}\n".repeat(between(10, 5_000))}`,
  () => `${Array.from({ length: between(10, 400) }, (_, depth) => `${" ".repeat(depth)}k${depth}:`).join("\n")} 1\n`,
  () => `version: 1\nrules:\n${Array.from({ length: between(1, 300) }, (_, index) => `  - id: ${"x".repeat(between(1, 4000))}${index}\n    effect: maybe\n`).join("")}`,
  () => `%YAML 1.1\n--- !!binary |\n  ${"QUJD".repeat(between(1, 20_000))}\n`,
  () => `a: !!${"tag".repeat(200)} x\n? ${"[".repeat(20)}\n: y\n`,
  () => `"${"\\u00".repeat(between(1, 10_000))}`,
];

/** Hostile request bodies (a string, or raw bytes). */
const BODIES: (() => string | Uint8Array)[] = [
  () => pick(["[", "{\"a\":"]).repeat(between(65, 60_000)),
  () => `${"[".repeat(between(65, 5_000))}${"]".repeat(5_000)}`,
  () => JSON.stringify({ source: pick(YAML_SOURCES)(), publish: random() < 0.5 }),
  () => JSON.stringify({ source: pick(YAML_SOURCES)(), days: between(1, 365) }),
  () => JSON.stringify({ [pick(FIELDS)]: "x".repeat(BODY_LIMIT - between(20, 2_000)) }),
  () => "x".repeat(BODY_LIMIT + between(1, 100_000)),
  () => JSON.stringify(Object.fromEntries(Array.from({ length: between(1, 30) }, () => [pick(FIELDS), pick(WRONG_VALUES)]))),
  () => JSON.stringify({ entities: Array.from({ length: between(100, 20_000) }, () => pick(WRONG_VALUES)) }),
  () => JSON.stringify({ relations: Array.from({ length: between(100, 5_000) }, () => ({ from: 1, relation: "BAD REL", to: [] })) }),
  () => JSON.stringify({ agent_id: "a", action: "database.execute", params: { sql: `SELECT ${"(".repeat(between(10, 50_000))}1` } }),
  () => Uint8Array.from({ length: between(1, 20_000) }, () => Math.floor(random() * 256)),
  () => new Uint8Array([0x7b, 0x22, 0x73, 0x6f, 0x75, 0x72, 0x63, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x22, 0x7d]),
  () => `{"source":"${"\\ud800".repeat(between(1, 10_000))}"}`,
  () => pick(["", " ", "null", "0", "\"x\"", "[]", "{}", "{", "}", "[1,]", "{\"a\":1,}", "\u0000"]),
  () => JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: pick(["invoke.policy.simulate", "invoke.company_brain.query", "x".repeat(5_000)]), arguments: Object.fromEntries(Array.from({ length: between(1, 20) }, () => [pick(FIELDS), pick(WRONG_VALUES)])) } }),
  () => JSON.stringify(Array.from({ length: between(1, 3_000) }, (_, id) => ({ jsonrpc: "2.0", id, method: pick(["ping", "tools/list", "nope", "tools/call"]), params: { name: 7 } }))),
  () => JSON.stringify({ jsonrpc: "2.0", id: { a: [1] }, method: "x".repeat(between(1, 100_000)) }),
  () => JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "invoke.policy.simulate", arguments: { agent_id: "a", action: "b", params: JSON.parse(`${"[".repeat(60)}${"]".repeat(60)}`) } } }),
];

/** FUZZ_BODIES=0,3,7 keeps only those generators (to find which one costs memory). */
const ONLY = process.env.FUZZ_BODIES?.split(",").map(Number);
const GENERATORS = ONLY ? BODIES.filter((_, index) => ONLY.includes(index)) : BODIES;

const CONTENT_TYPES = ["application/json", "application/json", "application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", ""];

const routes = appRoutes();
const cmd = invokeCommand(ctx, false);
const db = await initInvoke(ctx, cmd);
const unlimited = { requests: 1_000_000_000, per_seconds: 1 };
const configPath = join(ctx.tmpDir, "config.json");
writeFileSync(configPath, JSON.stringify({ rate_limit: unlimited, profile_rate_limits: { admin: unlimited }, log: { level: "off" } }));
const port = await freePort();
const logFile = join(ctx.tmpDir, "invoke.log");
const server = spawnInvoke(ctx, cmd, db, port, logFile, ["--config", configPath]);
const base = `http://127.0.0.1:${port}`;
await waitHealthy(`${base}/healthz`, server, logFile);
const pid = server.pid!;

/** The server's resident memory now and at its peak, in MiB, from /proc (the last values read if it is gone). */
let memory = { rss: 0, hwm: 0 };
function sampleMemory(): void {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
    memory = { rss: kib("VmRSS") / 1024, hwm: Math.max(memory.hwm, kib("VmHWM") / 1024) };
  } catch {
    // the process is gone: the crash is reported below
  }
}
sampleMemory();
const idleMib = memory.rss;
const sampler = setInterval(sampleMemory, 20);

const statuses = new Map<number, number>();
const serverErrors: string[] = [];
const oversized: string[] = [];
let transportErrors = 0;
let largestError = 0;
let sent = 0;
const started = performance.now();

async function worker(): Promise<void> {
  while (sent < REQUESTS) {
    const index = sent++;
    const route = routes[index % routes.length]!;
    const withKey = random() < 0.9;
    const body = route.method === "GET" ? undefined : pick(GENERATORS)();
    const contentType = pick(CONTENT_TYPES);
    const headers: Record<string, string> = {};
    if (contentType) headers["content-type"] = contentType;
    if (withKey) headers["x-api-key"] = random() < 0.95 ? db.adminKey : `inv_live_${"A".repeat(between(1, 400))}`;
    if (MCP_PATHS.includes(route.path as (typeof MCP_PATHS)[number]) && random() < 0.3) headers["mcp-protocol-version"] = pick(["2025-03-26", "2026-07-28", "x".repeat(300)]);
    const query = route.method === "GET" ? `?limit=${pick(["-1", "abc", "1e99", "x".repeat(3000)])}&from=${pick(["", "[", "9".repeat(400)])}&status=${pick(["pending", "%ff%fe"])}` : "";
    try {
      const response = await fetch(`${base}${route.path}${query}`, { method: route.method, headers, body, signal: AbortSignal.timeout(60_000) });
      const answer = await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status >= 500) serverErrors.push(`${route.method} ${route.path}: ${response.status} ${new TextDecoder().decode(answer.slice(0, 200))}`);
      if (response.status >= 400) {
        largestError = Math.max(largestError, answer.byteLength);
        if (answer.byteLength > MAX_ERROR_BYTES) {
          const sample = typeof body === "string" ? body.slice(0, 100) : "(bytes)";
          oversized.push(`${route.method} ${route.path}: ${response.status}, ${answer.byteLength} bytes, for ${JSON.stringify({ ...headers, "x-api-key": headers["x-api-key"] && "…" })} ${sample}: ${new TextDecoder().decode(answer.slice(0, 160))}`);
        }
      }
    } catch (error) {
      transportErrors++;
      if (transportErrors <= 5) console.error(`  ${route.method} ${route.path}: ${(error as Error).message}`);
    }
  }
}

console.log(`fuzz: ${REQUESTS} hostile requests over ${routes.length} routes, ${CONCURRENCY} at a time, against ${cmd.join(" ")} (idle RSS ${idleMib.toFixed(0)} MiB)`);
await Promise.all(Array.from({ length: CONCURRENCY }, worker));
const seconds = (performance.now() - started) / 1000;
sampleMemory();
clearInterval(sampler);
const alive = server.exitCode === null && server.signalCode === null && (await fetch(`${base}/healthz`).then((response) => response.status === 200, () => false));

console.log(`  requests       ${REQUESTS} in ${seconds.toFixed(1)} s`);
console.log(`  statuses       ${[...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`).join("  ")}`);
console.log(`  5xx            ${serverErrors.length}`);
console.log(`  transport err  ${transportErrors}`);
console.log(`  largest error  ${largestError} bytes (limit ${MAX_ERROR_BYTES})`);
console.log(`  peak RSS       ${memory.hwm.toFixed(0)} MiB (VmHWM; limit ${MAX_PEAK_MIB}); RSS at the end ${memory.rss.toFixed(0)} MiB`);
console.log(`  server alive   ${alive}`);
for (const line of serverErrors.slice(0, 10)) console.log(`  5xx: ${line}`);
console.log(`  oversized      ${oversized.length} error answers over ${MAX_ERROR_BYTES} bytes`);
for (const line of oversized.slice(0, 3)) console.log(`  oversized: ${line.slice(0, 400)}`);
if (!alive) console.log(`--- server log (tail) ---\n${logTail(logFile)}`);
await stopProcess(server);
const failed = serverErrors.length > 0 || oversized.length > 0 || transportErrors > 0 || !alive || memory.hwm >= MAX_PEAK_MIB;
console.log(failed ? "FAIL" : "PASS");
process.exit(failed ? 1 : 0);
