/**
 * What operators plug their tools into: GET /metrics (parsed with a Prometheus text parser, counters
 * moving with calls), one log line per request (no secrets), X-Request-Id returned and kept in the
 * records, OpenTelemetry spans of a governed call exported to an in-test OTLP collector, /healthz and
 * /readyz.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, it } from "bun:test";
import { join } from "node:path";
// @ts-expect-error: the parser ships no types; it returns metric families as plain objects.
import parsePrometheus from "parse-prometheus-text-format";
import { Registry } from "prom-client";
import type { RequestLogger } from "../../src/observability/logger.ts";
import { createRequestLogger } from "../../src/observability/logger.ts";
import { createTracing } from "../../src/observability/tracing.ts";
import { keyFor, request, rest, rpc, send, startTestServer, type TestServer } from "../support/harness.ts";
import { modern, modernRpc } from "../support/modern.ts";
import { attributesOf, startCollector } from "../support/otlp.ts";

interface Family {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string }[];
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function scrape(server: TestServer, key?: string): Promise<Map<string, Family>> {
  const answer = await send(server.app, "/metrics", { headers: key ? { "x-api-key": key } : {} });
  expect(answer.status).toBe(200);
  expect(answer.headers.get("content-type")).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
  return new Map((parsePrometheus(answer.text) as Family[]).map((family) => [family.name, family]));
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string>): number {
  const sample = families.get(name)?.metrics.find((metric) => Object.entries(labels).every(([key, wanted]) => metric.labels?.[key] === wanted));
  return sample === undefined ? 0 : Number(sample.value ?? sample.count);
}

const whoami = (id: number) => request(id, "tools/call", { name: "invoke.whoami", arguments: {} });

/** A server with a `database` connector on a small SQLite file. */
async function withDatabase(options: Parameters<typeof startTestServer>[0] = {}) {
  const server = startTestServer(options);
  cleanups.push(() => server[Symbol.asyncDispose]());
  const path = join(server.filesDir, "company.sqlite");
  const company = new Database(path, { create: true });
  company.run("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount INTEGER)");
  company.close();
  expect((await rest(server, "POST", "/v1/connectors", { name: "database", type: "database", dialect: "sqlite", path })).status).toBe(201);
  return server;
}

describe("GET /metrics", () => {
  it("parses as Prometheus text; tool-call, HTTP, rate-limit, approval and connector metrics move with what happens", async () => {
    const server = await withDatabase({ config: { profileRateLimits: { operator: { requests: 2, per_seconds: 60 } } } });
    const before = await scrape(server);
    expect(before.get("invoke_tool_calls_total")?.type).toBe("COUNTER");
    expect(before.get("invoke_tool_call_duration_seconds")?.type).toBe("HISTOGRAM");
    expect(before.has("process_cpu_seconds_total")).toBe(true);
    expect(value(before, "invoke_connector_up", { connector: "database", tenant: "default" })).toBe(1);

    for (let id = 0; id < 3; id++) await rpc(server, whoami(id));
    await rpc(server, request(9, "tools/call", { name: "database.execute", arguments: { sql: "drop table invoices" } }));
    await rpc(server, request(10, "tools/call", { name: "database.execute", arguments: { sql: "UPDATE invoices SET amount = 1 WHERE id = 1" } }));
    await rpc(server, request(11, "tools/call", { name: "no.such_tool", arguments: {} }));
    const limited = await keyFor(server, "editor", "operator", "limited@example.com");
    for (let id = 0; id < 4; id++) await rpc(server, whoami(id), { key: limited });

    await Bun.sleep(5); // HTTP metrics are written after the response has gone out
    const after = await scrape(server);
    expect(value(after, "invoke_tool_calls_total", { tool: "invoke.whoami", decision: "none", status: "ok" })).toBe(5);
    expect(value(after, "invoke_tool_calls_total", { tool: "database.execute", decision: "deny", status: "denied" })).toBe(1);
    expect(value(after, "invoke_tool_calls_total", { tool: "database.execute", decision: "require_approval", status: "pending_approval" })).toBe(1);
    // A made-up tool name is not a label: clients cannot mint time series.
    expect(value(after, "invoke_tool_calls_total", { tool: "(unknown)", status: "refused" })).toBe(1);
    expect([...after.get("invoke_tool_calls_total")!.metrics].some((metric) => metric.labels?.tool === "no.such_tool")).toBe(false);
    // (The parser merges a histogram's labelled series; its _count line is read from the text.)
    const text = (await send(server.app, "/metrics")).text as string;
    expect(text).toContain('invoke_tool_call_duration_seconds_count{tool="invoke.whoami"} 5\n');
    // Buckets are cumulative, end at +Inf with the count, and the sum is the time spent.
    const buckets = [...text.matchAll(/^invoke_tool_call_duration_seconds_bucket\{tool="invoke\.whoami",le="([^"]+)"\} (\d+)$/gm)].map(([, le, n]) => [le, Number(n)] as const);
    expect(buckets.length).toBe(19);
    expect(buckets.at(-1)).toEqual(["+Inf", 5]);
    expect(buckets.map(([, n]) => n)).toEqual(buckets.map(([, n]) => n).toSorted((a, b) => a - b));
    expect(buckets.find(([le]) => le === "30")?.[1]).toBe(5);
    expect(Number(/^invoke_tool_call_duration_seconds_sum\{tool="invoke\.whoami"\} (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(value(after, "invoke_rate_limit_refusals_total", { profile: "operator" })).toBe(2);
    expect(value(after, "invoke_approvals_pending", { tenant: "default" })).toBe(1);
    expect(value(after, "invoke_http_requests_total", { method: "POST", route: "/v1/mcp", status: "200" })).toBeGreaterThanOrEqual(8);
    expect(value(after, "invoke_http_requests_total", { method: "POST", route: "/v1/mcp", status: "429" })).toBe(2);
  });

  it("can be turned off: nothing is counted and GET /metrics is a 404", async () => {
    using server = startTestServer({ config: { metricsEnabled: false } });
    await rpc(server, whoami(1));
    const response = await send(server.app, "/metrics");
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ error: { code: "not_found" } });
    expect(await server.services.metrics.text()).not.toContain("invoke.whoami");
  });

  it("can require a key with traces:read", async () => {
    using server = startTestServer({ config: { metricsRequireKey: true } });
    expect((await send(server.app, "/metrics")).status).toBe(401);
    const families = await scrape(server, server.adminKey);
    expect(families.has("invoke_http_requests_total")).toBe(true);
  });
});

describe("request log and request ids", () => {
  /** A logger whose lines the test reads. */
  function capture(): { logger: RequestLogger; lines: () => Promise<Record<string, unknown>[]>; raw: () => string } {
    let text = "";
    const logger = createRequestLogger({ level: "info", format: "json", sink: { write: (chunk) => void (text += chunk) } });
    return {
      logger,
      raw: () => text,
      lines: async () => {
        await Bun.sleep(5);
        return text
          .split("\n")
          .filter(Boolean)
          .map((line) => JSON.parse(line));
      },
    };
  }

  it("writes one JSON line per request with its id, tenant, key id, method, tool, decision, status and latency — never the key", async () => {
    const log = capture();
    using server = startTestServer({ logger: log.logger });
    const answer = await rpc(server, whoami(1), { headers: { "x-invoke-agent-id": "probe" } });
    await rest(server, "GET", "/v1/approvals");
    await send(server.app, "/v1/mcp", { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    const lines = await log.lines();
    expect(lines).toHaveLength(3);
    const [call, listing, anonymous] = lines as Record<string, unknown>[];
    const keyId = (await server.services.records.list(server.tenantId, { tool: "invoke.whoami" })).records[0]!.key_id;
    expect(call).toMatchObject({
      level: "info",
      msg: "request",
      request_id: answer.headers.get("x-request-id"),
      tenant_id: server.tenantId,
      key_id: keyId,
      method: "POST",
      path: "/v1/mcp",
      rpc_method: "tools/call",
      tool: "invoke.whoami",
      decision: null,
      outcome: "ok",
      status: 200,
    });
    expect(call!.latency_ms).toBeGreaterThan(0);
    expect(listing).toMatchObject({ method: "GET", path: "/v1/approvals", status: 200 });
    expect(anonymous).toMatchObject({ status: 401, tenant_id: null, key_id: null });
    expect(log.raw()).not.toContain(server.adminKey);
    expect(log.raw()).not.toContain(server.adminKey.slice(-12));
  });

  it("returns X-Request-Id on every answer, keeps it in the call's record, and continues a sane id the client sent", async () => {
    using server = startTestServer();
    const answer = await rpc(server, whoami(1));
    const id = answer.headers.get("x-request-id")!;
    expect(id).toMatch(/^req_[0-9A-Za-z]{16}$/);
    expect((await server.services.records.list(server.tenantId, { tool: "invoke.whoami" })).records[0]!.request_id).toBe(id);
    expect((await rpc(server, whoami(9))).headers.get("x-request-id")).not.toBe(id);
    const given = await rpc(server, whoami(2), { headers: { "x-request-id": "trace-abc.123" } });
    expect(given.headers.get("x-request-id")).toBe("trace-abc.123");
    const hostile = await rpc(server, whoami(3), { headers: { "x-request-id": "bad id\twith spaces" } });
    expect(hostile.headers.get("x-request-id")).toMatch(/^req_/);
    expect((await send(server.app, "/no/such/route")).headers.get("x-request-id")).toMatch(/^req_/);
    expect((await server.services.records.verify(server.tenantId)).ok).toBe(true);
  });
});

describe("tracing", () => {
  it("exports request → authorize → tools/call → policy.evaluate → connector.call, continuing the caller's traceparent", async () => {
    const collector = startCollector(cleanups);
    const tracing = await createTracing({ endpoint: collector.endpoint });
    const server = await withDatabase({ tracing });
    const incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    await rpc(server, request(1, "tools/call", { name: "database.query", arguments: { sql: "SELECT 1" } }), { headers: { traceparent: incoming } });
    // A traceparent in the call's _meta (no header) continues that trace instead.
    const metaTrace = "00-11111111111111111111111111111111-2222222222222222-01";
    await rpc(server, request(2, "tools/call", { name: "invoke.whoami", arguments: {}, _meta: { traceparent: metaTrace } }));
    // The same in the modern era (MCP 2026-07-28), where _meta also carries the request's envelope.
    const modernTrace = "00-33333333333333333333333333333333-4444444444444444-01";
    const modernCall = modern(3, "tools/call", { name: "invoke.whoami", arguments: {} }, { meta: { traceparent: modernTrace } });
    expect((await modernRpc(server, modernCall)).body.result.resultType).toBe("complete");
    await tracing.shutdown();

    const named = (name: string) => collector.spans.filter((span) => span.name === name);
    const [http] = named("http POST /v1/mcp").filter((span) => span.traceId === "0af7651916cd43dd8448eb211c80319c");
    expect(http?.parentSpanId).toBe("b7ad6b7169203331");
    const inTrace = collector.spans.filter((span) => span.traceId === http!.traceId);
    const one = (name: string) => inTrace.find((span) => span.name === name)!;
    expect(one("authorize").parentSpanId).toBe(http!.spanId);
    expect(one("tools/call").parentSpanId).toBe(http!.spanId);
    expect(one("policy.evaluate").parentSpanId).toBe(one("tools/call").spanId);
    expect(one("connector.call").parentSpanId).toBe(one("tools/call").spanId);
    expect(attributesOf(one("tools/call").attributes)).toMatchObject({ "invoke.tool": "database.query", "invoke.decision": "allow", "invoke.status": "ok" });
    expect(attributesOf(one("connector.call").attributes)).toMatchObject({ "invoke.connector": "database" });

    const metaCall = named("tools/call").find((span) => span.traceId === "11111111111111111111111111111111");
    expect(metaCall?.parentSpanId).toBe("2222222222222222");
    const modernSpan = named("tools/call").find((span) => span.traceId === "33333333333333333333333333333333");
    expect(modernSpan?.parentSpanId).toBe("4444444444444444");
  });

  it("creates no spans without an endpoint", async () => {
    using server = startTestServer();
    expect(server.services.tracing.enabled).toBe(false);
    expect((await rpc(server, whoami(1), { headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } })).status).toBe(200);
  });
});

describe("health", () => {
  it("/healthz says alive; /readyz checks the store, migrations and connectors, with JSON detail for an admin", async () => {
    const server = await withDatabase();
    expect((await send(server.app, "/healthz")).body).toMatchObject({ status: "ok" });
    expect(await send(server.app, "/readyz")).toMatchObject({ status: 200, body: { status: "ready" } });
    const asAdmin = { headers: { "x-api-key": server.adminKey } };
    const ready = await send(server.app, "/readyz", asAdmin);
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: "ready",
      checks: { store: { ok: true, writable: true }, migrations: { ok: true }, connectors: { ok: true, items: [{ name: "database", healthy: true }] } },
    });
    // Another process holding the write lock: not ready (the store cannot take records), and says why.
    const other = new Database(server.dbPath);
    other.run("PRAGMA busy_timeout = 0");
    other.run("BEGIN IMMEDIATE");
    server.store.sqlite.run("PRAGMA busy_timeout = 50");
    try {
      expect(await send(server.app, "/readyz")).toMatchObject({ status: 503, body: { status: "not_ready" } });
      const busy = await send(server.app, "/readyz", asAdmin);
      expect(busy.status).toBe(503);
      expect(busy.body.checks.store).toMatchObject({ ok: false, writable: false, detail: expect.stringContaining("locked") });
    } finally {
      other.run("ROLLBACK");
      other.close();
      server.store.sqlite.run("PRAGMA busy_timeout = 5000");
    }
  });
});
