// No tenant can slow the others: a quiet tenant's `ping` and `tools/call` latency, measured alone and
// again while a noisy tenant keeps two 30-second SQLite queries running and hammers a policy regex
// that would backtrack catastrophically in a backtracking engine. Both phases run in one process
// against one server; the target is a quiet p99 under 50 ms with the noise on.
//
//   bun bench/isolation.ts            (BENCH_SECONDS per phase, default 10; BENCH_BINARY to pick a build)
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LOADGEN_CPU, SERVER_CPU, freePort, installExitHandlers, killAllSync, pinSelf, runPinned, stopProcess } from "./procs.ts";
import { percentile } from "./stats.ts";
import { initInvoke, invokeCommand, spawnInvoke, waitHealthy, type BenchContext } from "./targets.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const TARGET_P99_MS = 50;
/** A recursive query that counts for far longer than its 30 s limit: cancelled at the limit. */
const LONG_QUERY = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) AS n FROM c";
/** Catastrophic for a backtracking engine on 'aaaa…!'; linear for RE2. */
const EVIL_PATTERN = "^(a+)+$";

installExitHandlers();
pinSelf(LOADGEN_CPU);
const ctx: BenchContext = { repoRoot: dirname(import.meta.dir), tmpDir: mkdtempSync(join(tmpdir(), "invoke-bench-isolation-")) };
// The tenant's database lives outside the store's folder, which tenant connectors may never use.
const files = mkdtempSync(join(tmpdir(), "invoke-bench-isolation-files-"));
process.once("exit", () => {
  killAllSync();
  for (const dir of [ctx.tmpDir, files]) rmSync(dir, { recursive: true, force: true });
});

const cmd = invokeCommand(ctx, true);
const db = await initInvoke(ctx, cmd);
const noisyTenant = await runPinned([...cmd, "tenants", "create", "noisy", "--db", db.dbPath, "--json"], { cpu: SERVER_CPU, cwd: ctx.repoRoot, timeoutMs: 30_000 });
const noisyKey = (JSON.parse(noisyTenant.stdout.trim().split("\n").at(-1)!) as { admin_key: string }).admin_key;

const warehouse = join(files, "warehouse.sqlite");
const seed = new Database(warehouse, { create: true });
seed.run("CREATE TABLE t (x INTEGER)");
seed.close();

const configPath = join(ctx.tmpDir, "config.json");
writeFileSync(configPath, JSON.stringify({ rate_limit: { requests: 1_000_000_000, per_seconds: 1 }, tenant_connectors: { paths: [`${files}/**`] }, log: { level: "warn" } }));
const port = await freePort();
const logFile = join(ctx.tmpDir, "invoke.log");
const server = spawnInvoke(ctx, cmd, db, port, logFile, ["--config", configPath]);
const base = `http://127.0.0.1:${port}`;
await waitHealthy(`${base}/healthz`, server, logFile);

async function call(key: string, method: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, { method, headers: { "content-type": "application/json", "x-api-key": key }, body: JSON.stringify(body) });
}
const rpc = (key: string, id: number, method: string, params: Record<string, unknown> = {}) => call(key, "POST", "/v1/mcp", { jsonrpc: "2.0", id, method, params });

const added = await call(noisyKey, "POST", "/v1/connectors", { name: "warehouse", type: "database", dialect: "sqlite", path: warehouse, timeout_ms: 30_000 });
if (added.status !== 201) throw new Error(`adding the noisy tenant's connector failed: ${added.status} ${await added.text()}`);
const policy = [
  "version: 1",
  "defaults: {read_only: allow, mutating: deny}",
  "rules:",
  `  - {id: evil, effect: deny, reason: evil, match: {action: "payments.*"}, when: [{field: params.note, matches: "${EVIL_PATTERN}"}]}`,
  "  - {id: reads, effect: allow, reason: reads, when: [{field: sql.kind, equals: read}]}",
].join("\n");
const published = await call(noisyKey, "POST", "/v1/policies", { source: policy, publish: true });
if (published.status >= 300) throw new Error(`publishing the noisy policy failed: ${published.status} ${await published.text()}`);

/** The quiet tenant's latencies (ms) for `ping` and `tools/call invoke.whoami`, one request at a time, for SECONDS. */
async function measureQuiet(): Promise<{ ping: number[]; call: number[] }> {
  const out = { ping: [] as number[], call: [] as number[] };
  const until = performance.now() + SECONDS * 1000;
  for (let id = 0; performance.now() < until; id++) {
    const kind = id % 2 === 0 ? "ping" : "call";
    const started = performance.now();
    const response = kind === "ping" ? await rpc(db.adminKey, id, "ping") : await rpc(db.adminKey, id, "tools/call", { name: "invoke.whoami", arguments: {} });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`quiet tenant got ${response.status}`);
    out[kind].push(performance.now() - started);
  }
  return out;
}

function report(label: string, samples: { ping: number[]; call: number[] }): number {
  let worst = 0;
  for (const [name, values] of Object.entries(samples)) {
    const sorted = [...values].sort((a, b) => a - b);
    const p99 = percentile(sorted, 99);
    worst = Math.max(worst, p99);
    console.log(`  ${label.padEnd(22)} ${name.padEnd(5)} n=${String(sorted.length).padStart(6)}  p50 ${percentile(sorted, 50).toFixed(2)} ms  p99 ${p99.toFixed(2)} ms  max ${sorted.at(-1)!.toFixed(2)} ms`);
  }
  return worst;
}

console.log(`isolation: ${cmd.join(" ")}, ${SECONDS} s per phase`);
const alone = await measureQuiet();
report("quiet tenant alone", alone);

// The noise: two long queries, and a stream of simulations that run the evil pattern on a long note.
let noisy = true;
const evilNote = `${"a".repeat(5_000)}!`;
type Answer = { result?: { content?: { text?: string }[] }; error?: unknown };
const longQueries = [1, 2].map((id) => rpc(noisyKey, id, "tools/call", { name: "warehouse.query", arguments: { sql: LONG_QUERY } }).then((response) => response.json() as Promise<Answer>));
let simulations = 0;
const hammers = [1, 2, 3, 4].map(async (lane) => {
  while (noisy) {
    const response = await rpc(noisyKey, lane, "tools/call", {
      name: "invoke.policy.simulate",
      arguments: { agent_id: "noisy", action: "payments.send", params: { amount: 1, note: evilNote } },
    });
    await response.arrayBuffer();
    simulations++;
  }
});
await Bun.sleep(500);
const attacked = await measureQuiet();
noisy = false;
const worst = report("noisy tenant running", attacked);
await Promise.all(hammers);
console.log(`  noisy tenant: ${simulations} simulations of the evil pattern on a ${evilNote.length}-character note; the long queries are still running`);
const ratio = percentile([...attacked.call].sort((a, b) => a - b), 99) / percentile([...alone.call].sort((a, b) => a - b), 99);
console.log(`  quiet tools/call p99 under noise / alone: ${ratio.toFixed(2)}×`);
console.log(`  target: quiet p99 < ${TARGET_P99_MS} ms under noise: ${worst < TARGET_P99_MS ? "met" : "MISSED"} (${worst.toFixed(2)} ms)`);
const finished = await Promise.race([Promise.all(longQueries), Bun.sleep(35_000).then(() => undefined)]);
if (finished) console.log(`  long queries answered: ${finished.map((answer) => JSON.stringify(answer.result?.content?.[0]?.text ?? answer.error).slice(0, 90)).join(" | ")}`);
await stopProcess(server);
process.exit(worst < TARGET_P99_MS ? 0 : 1);
