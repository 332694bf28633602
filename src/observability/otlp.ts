/**
 * The enabled tracer: OpenTelemetry SDK spans batched to an OTLP/HTTP JSON exporter. Loaded by
 * `createTracing` only when an endpoint is configured. The provider is private to each tracer (no
 * global registration), so several can coexist.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Context, type Span } from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { logError } from "../log.ts";
import { PRODUCT_NAME, VERSION } from "../version.ts";
import { formatTraceparent, parseTraceparent } from "./traceparent.ts";
import type { AttributeValue, SpanHandle, SpanKind as InvokeSpanKind, SpanOptions, Tracing } from "./tracing.ts";

/** A resolved tracing configuration. */
export interface OtlpTracingOptions {
  endpoint: string;
  serviceName: string;
  headers: Record<string, string>;
  shutdownTimeoutMs: number;
}

const SPAN_KINDS: Record<InvokeSpanKind, SpanKind> = {
  server: SpanKind.SERVER,
  client: SpanKind.CLIENT,
  internal: SpanKind.INTERNAL,
};

/** A tracer exporting to `options.endpoint` in batches. */
export function createOtlpTracing(options: OtlpTracingOptions): Tracing {
  const exporter = new FailureLoggingExporter(new OTLPTraceExporter({ url: options.endpoint, headers: options.headers }), options.endpoint);
  const provider = new TracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName, [ATTR_SERVICE_VERSION]: VERSION }),
    ),
    spanProcessors: [new BatchSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer(PRODUCT_NAME, VERSION);
  return {
    enabled: true,
    startSpan(name: string, spanOptions?: SpanOptions): SpanHandle {
      const span = tracer.startSpan(
        name,
        { kind: SPAN_KINDS[spanOptions?.kind ?? "internal"], attributes: spanOptions?.attributes },
        parentContext(spanOptions?.parent),
      );
      return new OtelSpanHandle(span);
    },
    // An unreachable collector must neither fail nor hold up the process's shutdown (the exporter
    // retries for up to 10 s): the loss is logged instead.
    async shutdown(): Promise<void> {
      let timer: Timer | undefined;
      const timedOut = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`no answer within ${options.shutdownTimeoutMs} ms`), options.shutdownTimeoutMs);
      });
      try {
        const timeout = await Promise.race([provider.shutdown(), timedOut]);
        if (timeout) exporter.noteResult(false, timeout);
      } catch (error) {
        exporter.noteResult(false, error);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** An SDK span behind the module's small interface. */
class OtelSpanHandle implements SpanHandle {
  constructor(readonly span: Span) {}

  setAttribute(key: string, value: AttributeValue): void {
    this.span.setAttribute(key, value);
  }

  setError(message: string): void {
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  end(): void {
    this.span.end();
  }

  traceparent(): string {
    const context = this.span.spanContext();
    return formatTraceparent(context.traceId, context.spanId, (context.traceFlags & TraceFlags.SAMPLED) !== 0);
  }
}

/** The context a span starts in: its local parent, a continued remote trace, or a new trace. */
function parentContext(parent: SpanHandle | string | undefined): Context {
  if (parent instanceof OtelSpanHandle) return trace.setSpan(ROOT_CONTEXT, parent.span);
  const remote = parseTraceparent(parent);
  if (!remote) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: remote.traceId,
    spanId: remote.spanId,
    traceFlags: remote.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  });
}

/**
 * Logs the first failed export of each run of failures (the SDK's own diagnostics are off unless a
 * global logger is registered), so an unreachable collector is one line, not one per batch.
 */
class FailureLoggingExporter implements SpanExporter {
  private failing = false;

  constructor(
    private readonly inner: SpanExporter,
    private readonly endpoint: string,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      this.noteResult(result.code === ExportResultCode.SUCCESS, result.error);
      done(result);
    });
  }

  /** Records the outcome of an export, logging the first failure of a run. */
  noteResult(succeeded: boolean, error: unknown): void {
    if (!succeeded && !this.failing) logError(`trace export to ${this.endpoint} failed, spans were dropped`, error ?? "no detail");
    this.failing = !succeeded;
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}
