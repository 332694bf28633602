/**
 * Tracing of the request path (HTTP request → authorisation → policy → connector call) as
 * OpenTelemetry spans exported over OTLP/HTTP. Without an endpoint the tracer is a shared no-op: spans
 * are `undefined`, nothing is allocated and the OpenTelemetry SDK is never loaded. An incoming W3C
 * `traceparent` (header or MCP `_meta`) is continued. Span errors and string attributes leave with
 * anything secret-shaped redacted (a connector's error may quote a URL with its password).
 */
import { StartupError } from "../errors.ts";
import { redactText } from "../records/redact.ts";
import { PRODUCT_NAME } from "../version.ts";
import { parseTraceparent, type TraceParent } from "./traceparent.ts";

export { parseTraceparent, type TraceParent };

/** A span attribute value. */
export type AttributeValue = string | number | boolean;

/** Span attributes by name. */
export type Attributes = Record<string, AttributeValue>;

/** What a span stands for: the request Invoke serves, a call it makes, or a step in between. */
export type SpanKind = "server" | "client" | "internal";

/** An open span. */
export interface SpanHandle {
  /** Sets (or replaces) one attribute. */
  setAttribute(key: string, value: AttributeValue): void;
  /** Marks the span as failed, with a message for the trace viewer. */
  setError(message: string): void;
  /** Ends the span; it is exported with the next batch. Later calls are ignored. */
  end(): void;
  /** This span's W3C `traceparent` value, to forward downstream or return to the caller. */
  traceparent(): string;
}

/** How a span starts. */
export interface SpanOptions {
  /** The parent: a span of this process, or a `traceparent` value (an invalid one starts a new trace). */
  parent?: SpanHandle | string;
  attributes?: Attributes;
  /** Defaults to "internal". */
  kind?: SpanKind;
}

/** A tracer: `enabled` lets call sites skip building attributes when tracing is off. */
export interface Tracing {
  readonly enabled: boolean;
  /** Starts a span, or returns undefined when tracing is off. */
  startSpan(name: string, options?: SpanOptions): SpanHandle | undefined;
  /** Exports the spans still queued and stops exporting. */
  shutdown(): Promise<void>;
}

/** Where spans go. Without `endpoint`, tracing is off. */
export interface TracingOptions {
  /** The OTLP/HTTP JSON traces URL, e.g. http://collector:4318/v1/traces. */
  endpoint?: string;
  /** The `service.name` resource attribute; defaults to "invoke". */
  serviceName?: string;
  /** Headers sent with every export (e.g. an API key of a hosted collector). */
  headers?: Record<string, string>;
  /** How long `shutdown` waits for the last export; defaults to 5 s. */
  shutdownTimeoutMs?: number;
}

/** The tracer used when no endpoint is configured: every method is a no-op. */
export const DISABLED_TRACING: Tracing = Object.freeze({
  enabled: false,
  startSpan: () => undefined,
  shutdown: () => Promise.resolve(),
});

/**
 * A tracer exporting to `options.endpoint`, or {@link DISABLED_TRACING} without one. Asynchronous
 * because the OpenTelemetry SDK is only loaded when tracing is on.
 */
export async function createTracing(options: TracingOptions): Promise<Tracing> {
  if (options.endpoint === undefined) return DISABLED_TRACING;
  const endpoint = parseEndpoint(options.endpoint);
  // A constant specifier, so `bun build --compile` embeds the module; it is evaluated on first use only.
  const { createOtlpTracing } = await import("./otlp.ts");
  return redactingTracing(
    createOtlpTracing({
      endpoint,
      serviceName: options.serviceName ?? PRODUCT_NAME,
      headers: options.headers ?? {},
      shutdownTimeoutMs: options.shutdownTimeoutMs ?? 5_000,
    }),
  );
}

/** `tracing` with every string attribute and error message redacted before it reaches the exporter. */
export function redactingTracing(tracing: Tracing): Tracing {
  return {
    enabled: tracing.enabled,
    startSpan(name, options) {
      const parent = options?.parent instanceof RedactingSpan ? options.parent.inner : options?.parent;
      const attributes = options?.attributes && Object.fromEntries(Object.entries(options.attributes).map(([key, value]) => [key, redactAttribute(value)]));
      const span = tracing.startSpan(name, { ...options, parent, attributes });
      return span && new RedactingSpan(span);
    },
    shutdown: () => tracing.shutdown(),
  };
}

const redactAttribute = (value: AttributeValue): AttributeValue => (typeof value === "string" ? redactText(value) : value);

/** A span whose attributes and error pass through redaction; `inner` is what the exporter knows as a parent. */
class RedactingSpan implements SpanHandle {
  constructor(readonly inner: SpanHandle) {}

  setAttribute(key: string, value: AttributeValue): void {
    this.inner.setAttribute(key, redactAttribute(value));
  }

  setError(message: string): void {
    this.inner.setError(redactText(message));
  }

  end(): void {
    this.inner.end();
  }

  traceparent(): string {
    return this.inner.traceparent();
  }
}

/**
 * Runs `fn` in a child span of `parent` that ends when `fn` returns or settles, marked failed if it
 * throws or rejects. With tracing off, `fn` is called with undefined and nothing else happens.
 */
export function inSpan<R>(
  tracing: Tracing,
  name: string,
  parent: SpanHandle | string | undefined,
  attributes: Attributes | undefined,
  fn: (span: SpanHandle | undefined) => R,
): R {
  if (!tracing.enabled) return fn(undefined);
  const span = tracing.startSpan(name, { parent, attributes });
  let result: R;
  try {
    result = fn(span);
  } catch (error) {
    endFailed(span, error);
    throw error;
  }
  if (!(result instanceof Promise)) {
    span?.end();
    return result;
  }
  return result.then(
    (value) => {
      span?.end();
      return value;
    },
    (error: unknown) => {
      endFailed(span, error);
      throw error;
    },
  ) as R;
}

/**
 * The traces endpoint named by the standard OpenTelemetry variables in `env`, for the configuration to
 * fall back on: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT plus
 * `/v1/traces` (the spec's per-signal path); none when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
 */
export function otlpTracesEndpointFromEnv(env: Record<string, string | undefined>): string | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === "none") return undefined;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, "")}/v1/traces` : undefined;
}

function parseEndpoint(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new StartupError(`tracing endpoint is not a URL: ${value}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new StartupError(`tracing endpoint must be http(s): ${value}`);
  return url.href;
}

function endFailed(span: SpanHandle | undefined, error: unknown): void {
  span?.setError(error instanceof Error ? error.message : String(error));
  span?.end();
}
