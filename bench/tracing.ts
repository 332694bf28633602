/**
 * Tracing benchmark: the cost per request of the request path's four spans (HTTP request →
 * authorisation → policy → connector call) with tracing off (the shared no-op) and on (SDK spans
 * batched to an OTLP/HTTP JSON collector in a child process). "Hot path" is the time spent on the
 * requests themselves; "with export" is this process's CPU time including batching, JSON encoding and
 * the HTTP export. Run with `bun bench/tracing.ts`.
 */
import { createTracing, DISABLED_TRACING, inSpan, type Tracing } from "../src/observability/tracing.ts";

const INCOMING = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const SPANS_PER_REQUEST = 4;

/** The spans one governed call makes, as the request path will make them. */
async function tracedRequest(tracing: Tracing): Promise<number> {
  const root = tracing.startSpan("http POST /v1/mcp", { parent: INCOMING, kind: "server" });
  const agent = inSpan(tracing, "authorize", root, undefined, (span) => {
    span?.setAttribute("invoke.agent_id", "agent_1");
    return 1;
  });
  const decision = inSpan(tracing, "policy.evaluate", root, undefined, (span) => {
    span?.setAttribute("invoke.policy.decision", "allow");
    return 2;
  });
  const result = await inSpan(tracing, "connector.call", root, undefined, async (span) => {
    span?.setAttribute("invoke.connector", "github");
    return 3;
  });
  root?.end();
  return agent + decision + result;
}

/** The same request with no tracing code at all: the floor. */
async function untracedRequest(): Promise<number> {
  const agent = 1;
  const decision = 2;
  const result = await (async () => 3)();
  return agent + decision + result;
}

// The collector runs in its own process so that its JSON parsing is not counted as Invoke's CPU.
const COLLECTOR_SOURCE = `
let received = 0;
const server = Bun.serve({ port: 0, hostname: "127.0.0.1", async fetch(request) {
  if (new URL(request.url).pathname === "/count") return new Response(String(received));
  const body = await request.json();
  for (const resource of body.resourceSpans) for (const scope of resource.scopeSpans) received += scope.spans.length;
  return Response.json({});
} });
console.log(server.port);
`;

/** An OTLP/HTTP JSON collector in a child process, counting the spans it receives at GET /count. */
async function startCollectorProcess(): Promise<{ url: string; [Symbol.asyncDispose](): Promise<void> }> {
  const child = Bun.spawn([process.execPath, "-e", COLLECTOR_SOURCE], { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  let output = "";
  while (!output.includes("\n")) {
    const chunk = await reader.read();
    if (chunk.done) throw new Error("the collector exited before listening");
    output += new TextDecoder().decode(chunk.value);
  }
  return {
    url: `http://127.0.0.1:${output.trim()}`,
    async [Symbol.asyncDispose]() {
      child.kill();
      await child.exited;
    },
  };
}

/** Mean nanoseconds per call of `request` over `count` sequential calls. */
async function nanosecondsPerRequest(request: () => Promise<number>, count: number): Promise<number> {
  let sink = 0;
  for (let i = 0; i < 10_000; i++) sink += await request();
  const started = Bun.nanoseconds();
  for (let i = 0; i < count; i++) sink += await request();
  const elapsed = Bun.nanoseconds() - started;
  if (sink === 0) throw new Error("unreachable: keeps the calls from being optimised away");
  return elapsed / count;
}

/** Mean nanoseconds per call of synchronous `call` over `count` calls. */
function nanosecondsPerCall(call: () => number, count: number): number {
  let sink = 0;
  for (let i = 0; i < 100_000; i++) sink += call();
  const started = Bun.nanoseconds();
  for (let i = 0; i < count; i++) sink += call();
  const elapsed = Bun.nanoseconds() - started;
  if (sink === 0) throw new Error("unreachable: keeps the calls from being optimised away");
  return elapsed / count;
}

/** Runs the benchmark and returns its figures. */
export async function runTracingBenchmark(requests = 50_000) {
  const floorNs = await nanosecondsPerRequest(untracedRequest, 1_000_000);
  const disabledNs = await nanosecondsPerRequest(() => tracedRequest(DISABLED_TRACING), 1_000_000);
  const emptyCallNs = nanosecondsPerCall(() => 1, 10_000_000);
  const disabledStartSpanNs = nanosecondsPerCall(() => (DISABLED_TRACING.startSpan("authorize") ? 0 : 1), 10_000_000);
  const disabledInSpanNs = nanosecondsPerCall(() => inSpan(DISABLED_TRACING, "policy.evaluate", undefined, undefined, () => 1), 10_000_000);

  await using collector = await startCollectorProcess();
  const tracing = await createTracing({ endpoint: `${collector.url}/v1/traces` });
  let hotNs = 0;
  const cpuBefore = process.cpuUsage();
  // Batches small enough for the exporter to keep up (its queue holds 2,048 spans), as under real load.
  for (let done = 0; done < requests; done += 100) {
    const started = Bun.nanoseconds();
    for (let i = 0; i < 100; i++) await tracedRequest(tracing);
    hotNs += Bun.nanoseconds() - started;
    await Bun.sleep(1);
  }
  await tracing.shutdown();
  const cpu = process.cpuUsage(cpuBefore);
  const received = Number(await (await fetch(`${collector.url}/count`)).text());
  const spans = requests * SPANS_PER_REQUEST;
  return {
    floor_ns_per_request: floorNs,
    disabled_ns_per_request: disabledNs,
    disabled_overhead_ns_per_request: disabledNs - floorNs,
    empty_call_ns: emptyCallNs,
    disabled_start_span_ns: disabledStartSpanNs,
    disabled_in_span_ns: disabledInSpanNs,
    enabled_hot_path_us_per_request: hotNs / requests / 1000,
    enabled_hot_path_us_per_span: hotNs / spans / 1000,
    enabled_with_export_cpu_us_per_span: (cpu.user + cpu.system) / spans,
    spans_exported: received,
    spans_created: spans,
  };
}

if (import.meta.main) {
  const result = await runTracingBenchmark();
  console.log(`floor (same request, no tracing code): ${result.floor_ns_per_request.toFixed(0)} ns/request`);
  console.log(`tracing off: ${result.disabled_ns_per_request.toFixed(0)} ns/request (${result.disabled_overhead_ns_per_request.toFixed(0)} ns over the floor for 4 spans)`);
  console.log(`tracing off, one call: startSpan ${result.disabled_start_span_ns.toFixed(2)} ns, inSpan ${result.disabled_in_span_ns.toFixed(2)} ns (an empty call: ${result.empty_call_ns.toFixed(2)} ns)`);
  console.log(`tracing on, hot path: ${result.enabled_hot_path_us_per_request.toFixed(2)} µs/request, ${result.enabled_hot_path_us_per_span.toFixed(2)} µs/span`);
  console.log(`tracing on, with batching + OTLP/JSON export: ${result.enabled_with_export_cpu_us_per_span.toFixed(2)} µs CPU/span`);
  console.log(`spans exported: ${result.spans_exported} of ${result.spans_created}`);
}
