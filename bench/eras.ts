// Protocol-era benchmark (`bun bench/eras.ts`): what serving a tools/call in the modern era (MCP
// 2026-07-28: the `_meta` envelope checked, headers compared with the body, resultType and serverInfo
// added) costs against the same call in the legacy era (2025-11-25), on one Invoke server. wrk (CPU 1)
// loads the two request kinds in turn, BENCH_ROUNDS times each; prints each round and the medians.
//
// Environment: BENCH_ROUNDS (default 4), BENCH_SECONDS (per run, default 5), BENCH_CONNECTIONS (default 16).
import { alternate, prepare } from "./alternate.ts";
import { SCENARIOS } from "./scenarios.ts";
import { invoke } from "./targets.ts";

const { ctx, settings } = await prepare("eras");
const { rounds, seconds, connections } = settings;

const legacy = SCENARIOS[0]!;
const call = JSON.parse(legacy.body) as { params: Record<string, unknown> };
const modernBody = JSON.stringify({
  ...call,
  params: {
    ...call.params,
    _meta: {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1.0.0" },
      "io.modelcontextprotocol/clientCapabilities": {},
    },
  },
});
const server = await invoke.start(ctx);
const modernHeaders = { ...server.headers, "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": String(call.params.name) };
for (const [body, headers] of [[legacy.body, server.headers], [modernBody, modernHeaders]] as const) {
  const answer = (await (await fetch(server.url, { method: "POST", headers, body })).json()) as unknown;
  const problem = legacy.check(answer);
  if (problem !== null) throw new Error(`the benchmark request is not answered as expected: ${problem}`);
}

console.log(`${legacy.title}, c=${connections}, ${rounds} rounds of ${seconds} s per era, alternating\n`);
const [old, modern] = (await alternate(
  [
    { label: "2025-11-25 (legacy)", url: server.url, body: legacy.body, headers: server.headers },
    { label: "2026-07-28 (modern)", url: server.url, body: modernBody, headers: modernHeaders },
  ],
  settings,
)) as [number, number];
console.log(`\n  median: legacy ${Math.round(old).toLocaleString("en-US")} req/s, modern ${Math.round(modern).toLocaleString("en-US")} req/s`);
console.log(`  modern / legacy: ${(modern / old).toFixed(3)} (${((1 - modern / old) * 100).toFixed(1)}% cost)`);
await server.stop();
