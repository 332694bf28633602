/**
 * Tracing against an in-test OTLP/HTTP JSON collector: an incoming `traceparent` is continued, spans
 * of the request path link to their parents and carry their attributes, kinds and errors, invalid
 * trace context starts a new trace, and without an endpoint nothing is created or sent.
 */
import { afterEach, describe, expect, it, spyOn } from "bun:test";
import { StartupError } from "../../src/errors.ts";
import {
  createTracing,
  DISABLED_TRACING,
  inSpan,
  otlpTracesEndpointFromEnv,
  parseTraceparent,
  type Tracing,
  type TracingOptions,
} from "../../src/observability/tracing.ts";
import { VERSION } from "../../src/version.ts";
import { attributesOf, startCollector, type Collector, type KeyValue, type ReceivedSpan } from "../support/otlp.ts";

const INCOMING_TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const INCOMING_SPAN_ID = "b7ad6b7169203331";
const INCOMING = `00-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-01`;
const SPAN_KIND_INTERNAL = 1;
const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;
const STATUS_ERROR = 2;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tracingTo(collector: Collector, options: Omit<TracingOptions, "endpoint"> = {}): Promise<Tracing> {
  const tracing = await createTracing({ endpoint: collector.endpoint, ...options });
  cleanups.push(() => tracing.shutdown());
  return tracing;
}

/** Sets an environment variable until the end of the test. */
function setEnv(name: string, value: string): void {
  const saved = process.env[name];
  process.env[name] = value;
  cleanups.push(() => {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  });
}

function spanNamed(collector: Collector, name: string): ReceivedSpan {
  const matches = collector.spans.filter((span) => span.name === name);
  expect(matches).toHaveLength(1);
  return matches[0]!;
}

/** One governed call's spans as the request path will make them, continuing `INCOMING`. */
async function traceOneCall(tracing: Tracing): Promise<{ rootTraceparent: string }> {
  const root = tracing.startSpan("http POST /v1/mcp", { parent: INCOMING, kind: "server", attributes: { "http.request.method": "POST" } })!;
  const authorize = tracing.startSpan("authorize", { parent: root })!;
  authorize.setAttribute("invoke.agent_id", "agent_1");
  authorize.end();
  const policy = tracing.startSpan("policy.evaluate", { parent: root, attributes: { "invoke.policy.decision": "allow", "invoke.policy.rules": 3, "invoke.policy.cached": true } })!;
  policy.end();
  const connector = tracing.startSpan("connector.call", { parent: root, kind: "client", attributes: { "invoke.connector": "github" } })!;
  connector.setError("upstream timed out");
  connector.end();
  root.end();
  const rootTraceparent = root.traceparent();
  await tracing.shutdown();
  return { rootTraceparent };
}

describe("an enabled tracer", () => {
  it("continues the trace of an incoming traceparent", async () => {
    const collector = startCollector(cleanups);
    await traceOneCall(await tracingTo(collector));
    expect(collector.spans.map((span) => span.name).sort()).toEqual(["authorize", "connector.call", "http POST /v1/mcp", "policy.evaluate"]);
    for (const span of collector.spans) expect(span.traceId).toBe(INCOMING_TRACE_ID);
    expect(spanNamed(collector, "http POST /v1/mcp").parentSpanId).toBe(INCOMING_SPAN_ID);
  });

  it("links each step of the request path to the request's span", async () => {
    const collector = startCollector(cleanups);
    const { rootTraceparent } = await traceOneCall(await tracingTo(collector));
    const root = spanNamed(collector, "http POST /v1/mcp");
    expect(rootTraceparent).toBe(`00-${INCOMING_TRACE_ID}-${root.spanId}-01`);
    const spanIds = new Set(collector.spans.map((span) => span.spanId));
    expect(spanIds.size).toBe(4);
    expect(spanIds.has(INCOMING_SPAN_ID)).toBe(false);
    for (const name of ["authorize", "policy.evaluate", "connector.call"]) expect(spanNamed(collector, name).parentSpanId).toBe(root.spanId);
  });

  it("exports attributes, span kinds and error status", async () => {
    const collector = startCollector(cleanups);
    await traceOneCall(await tracingTo(collector));
    const root = spanNamed(collector, "http POST /v1/mcp");
    expect(root.kind).toBe(SPAN_KIND_SERVER);
    expect(attributesOf(root.attributes)).toEqual({ "http.request.method": "POST" });
    expect(attributesOf(spanNamed(collector, "authorize").attributes)).toEqual({ "invoke.agent_id": "agent_1" });
    const policy = spanNamed(collector, "policy.evaluate");
    expect(policy.kind).toBe(SPAN_KIND_INTERNAL);
    expect(attributesOf(policy.attributes)).toEqual({ "invoke.policy.decision": "allow", "invoke.policy.rules": 3, "invoke.policy.cached": true });
    expect(policy.status?.code).not.toBe(STATUS_ERROR);
    const connector = spanNamed(collector, "connector.call");
    expect(connector.kind).toBe(SPAN_KIND_CLIENT);
    expect(connector.status).toMatchObject({ code: STATUS_ERROR, message: "upstream timed out" });
  });

  it("names the service and version, and sends the configured headers", async () => {
    const collector = startCollector(cleanups);
    await traceOneCall(await tracingTo(collector, { headers: { authorization: "Bearer collector-key" } }));
    for (const span of collector.spans) {
      expect(span.resource["service.name"]).toBe("invoke");
      expect(span.resource["service.version"]).toBe(VERSION);
      expect(span.headers.get("authorization")).toBe("Bearer collector-key");
      expect(span.headers.get("content-type")).toBe("application/json");
    }
    const renamed = startCollector(cleanups);
    await traceOneCall(await tracingTo(renamed, { serviceName: "invoke-eu" }));
    expect(renamed.spans[0]?.resource["service.name"]).toBe("invoke-eu");
  });

  it("starts a new trace when the incoming traceparent is invalid", async () => {
    const collector = startCollector(cleanups);
    const tracing = await tracingTo(collector);
    const invalid = [
      INCOMING.toUpperCase(),
      `01-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-01`,
      `ff-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-01`,
      `00-${"0".repeat(32)}-${INCOMING_SPAN_ID}-01`,
      `00-${INCOMING_TRACE_ID}-${"0".repeat(16)}-01`,
      `${INCOMING}-extra`,
      INCOMING.slice(0, -1),
      "garbage",
      "",
    ];
    for (const [index, parent] of invalid.entries()) tracing.startSpan(`request ${index}`, { parent })!.end();
    await tracing.shutdown();
    expect(collector.spans).toHaveLength(invalid.length);
    for (const span of collector.spans) {
      expect(span.traceId).not.toBe(INCOMING_TRACE_ID);
      expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(span.parentSpanId ?? "").toBe("");
    }
    expect(new Set(collector.spans.map((span) => span.traceId)).size).toBe(invalid.length);
  });

  it("follows the caller's decision not to sample, still propagating the trace", async () => {
    const collector = startCollector(cleanups);
    const tracing = await tracingTo(collector);
    const span = tracing.startSpan("http POST /v1/mcp", { parent: `00-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-00` })!;
    span.end();
    const forwarded = parseTraceparent(span.traceparent());
    expect(forwarded).toMatchObject({ traceId: INCOMING_TRACE_ID, sampled: false });
    expect(forwarded?.spanId).not.toBe(INCOMING_SPAN_ID);
    await tracing.shutdown();
    expect(collector.requests).toBe(0);
  });

  it("keeps tracers apart: each exports only its own spans", async () => {
    const first = startCollector(cleanups);
    const second = startCollector(cleanups);
    const [a, b] = await Promise.all([tracingTo(first, { serviceName: "a" }), tracingTo(second, { serviceName: "b" })]);
    a.startSpan("from a")!.end();
    b.startSpan("from b")!.end();
    await Promise.all([a.shutdown(), b.shutdown()]);
    expect(first.spans.map((span) => [span.name, span.resource["service.name"]])).toEqual([["from a", "a"]]);
    expect(second.spans.map((span) => [span.name, span.resource["service.name"]])).toEqual([["from b", "b"]]);
  });

  it("logs an unreachable collector once and does not hold up shutdown", async () => {
    const unreachable = startCollector(cleanups);
    unreachable.stop();
    const logged = spyOn(console, "error").mockImplementation(() => {});
    cleanups.push(() => logged.mockRestore());
    const tracing = await createTracing({ endpoint: unreachable.endpoint, shutdownTimeoutMs: 300 });
    for (let i = 0; i < 3; i++) tracing.startSpan("lost")!.end();
    const started = performance.now();
    await tracing.shutdown();
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0]?.[0])).toContain(`trace export to ${unreachable.endpoint} failed`);
  });

  it("refuses an endpoint that is not an http(s) URL", async () => {
    await expect(createTracing({ endpoint: "collector:4318" })).rejects.toBeInstanceOf(StartupError);
    await expect(createTracing({ endpoint: "not a url" })).rejects.toBeInstanceOf(StartupError);
  });
});

describe("inSpan", () => {
  it("ends a child span when the function returns, and passes its value through", async () => {
    const collector = startCollector(cleanups);
    const tracing = await tracingTo(collector);
    const root = tracing.startSpan("http POST /v1/mcp", { parent: INCOMING })!;
    const value = inSpan(tracing, "policy.evaluate", root, { "invoke.tool": "github.create_issue" }, (span) => {
      span?.setAttribute("invoke.policy.decision", "deny");
      return 42;
    });
    expect(value).toBe(42);
    expect(await inSpan(tracing, "connector.call", root, undefined, async () => "done")).toBe("done");
    root.end();
    await tracing.shutdown();
    const policy = spanNamed(collector, "policy.evaluate");
    expect(policy.parentSpanId).toBe(spanNamed(collector, "http POST /v1/mcp").spanId);
    expect(attributesOf(policy.attributes)).toEqual({ "invoke.tool": "github.create_issue", "invoke.policy.decision": "deny" });
    expect(spanNamed(collector, "connector.call").status?.code).not.toBe(STATUS_ERROR);
  });

  it("records a thrown or rejected error on the span and rethrows it", async () => {
    const collector = startCollector(cleanups);
    const tracing = await tracingTo(collector);
    expect(() =>
      inSpan(tracing, "authorize", INCOMING, undefined, () => {
        throw new Error("key revoked");
      }),
    ).toThrow("key revoked");
    await expect(inSpan(tracing, "connector.call", INCOMING, undefined, () => Promise.reject(new Error("upstream 502")))).rejects.toThrow("upstream 502");
    await tracing.shutdown();
    expect(spanNamed(collector, "authorize").status).toMatchObject({ code: STATUS_ERROR, message: "key revoked" });
    expect(spanNamed(collector, "connector.call").status).toMatchObject({ code: STATUS_ERROR, message: "upstream 502" });
  });
});

describe("a tracer without an endpoint", () => {
  it("creates no spans and sends nothing, even with the OpenTelemetry variables set", async () => {
    const collector = startCollector(cleanups);
    setEnv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.replace("/v1/traces", ""));
    setEnv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.endpoint);
    const tracing = await createTracing({ serviceName: "invoke", headers: { authorization: "x" } });
    expect(tracing).toBe(DISABLED_TRACING);
    expect(tracing.enabled).toBe(false);
    expect(tracing.startSpan("http POST /v1/mcp", { parent: INCOMING })).toBeUndefined();
    let received: unknown = "not called";
    expect(inSpan(tracing, "policy.evaluate", undefined, undefined, (span) => ((received = span), "value"))).toBe("value");
    expect(received).toBeUndefined();
    await tracing.shutdown();
    await Bun.sleep(50);
    expect(collector.requests).toBe(0);
  });
});

describe("parseTraceparent", () => {
  it("reads the ids and the sampled flag of a version-00 value", () => {
    expect(parseTraceparent(INCOMING)).toEqual({ traceId: INCOMING_TRACE_ID, spanId: INCOMING_SPAN_ID, sampled: true });
    expect(parseTraceparent(`00-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-00`)?.sampled).toBe(false);
    // Unknown flag bits are allowed; only bit 0 (sampled) is read.
    expect(parseTraceparent(`00-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-03`)?.sampled).toBe(true);
    expect(parseTraceparent(`00-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-02`)?.sampled).toBe(false);
  });

  it("ignores values that are not valid W3C trace context", () => {
    for (const value of [
      INCOMING.toUpperCase(),
      `01-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-01`,
      `00-${"0".repeat(32)}-${INCOMING_SPAN_ID}-01`,
      `00-${INCOMING_TRACE_ID}-${"0".repeat(16)}-01`,
      `00-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-1`,
      `00-${INCOMING_TRACE_ID}-${INCOMING_SPAN_ID}-0g`,
      ` ${INCOMING}`,
      `${INCOMING},${INCOMING}`,
      undefined,
      42,
      { traceparent: INCOMING },
    ]) {
      expect(parseTraceparent(value)).toBeUndefined();
    }
  });
});

describe("otlpTracesEndpointFromEnv", () => {
  it("prefers the traces endpoint, else appends /v1/traces to the base endpoint", () => {
    expect(otlpTracesEndpointFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://a:4318/custom", OTEL_EXPORTER_OTLP_ENDPOINT: "http://b:4318" })).toBe("http://a:4318/custom");
    expect(otlpTracesEndpointFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://b:4318/" })).toBe("http://b:4318/v1/traces");
    expect(otlpTracesEndpointFromEnv({})).toBeUndefined();
  });

  it("returns nothing when OpenTelemetry is switched off", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://b:4318" };
    expect(otlpTracesEndpointFromEnv({ ...endpoint, OTEL_SDK_DISABLED: "true" })).toBeUndefined();
    expect(otlpTracesEndpointFromEnv({ ...endpoint, OTEL_TRACES_EXPORTER: "none" })).toBeUndefined();
  });
});
