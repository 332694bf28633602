/** An in-test OTLP/HTTP JSON traces receiver (collector) for the tracing tests. */
/** An OTLP JSON `AnyValue` (only the scalar kinds this module sends). */
export interface AnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
export interface KeyValue {
  key: string;
  value: AnyValue;
}
export interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: KeyValue[];
  status?: { code?: number; message?: string };
}
export interface ExportTraceServiceRequest {
  resourceSpans: { resource: { attributes: KeyValue[] }; scopeSpans: { spans: ExportedSpan[] }[] }[];
}

/** A span as received, with its resource's attributes and the export request's headers. */
export interface ReceivedSpan extends ExportedSpan {
  resource: Record<string, unknown>;
  headers: Headers;
}

/** An OTLP/HTTP JSON traces receiver on a free port. */
export interface Collector {
  endpoint: string;
  requests: number;
  spans: ReceivedSpan[];
  stop(): void;
}

/** Starts a collector on a free port; `cleanups` gets its stop. */
export function startCollector(cleanups: (() => unknown)[]): Collector {
  const collector: Collector = { endpoint: "", requests: 0, spans: [], stop: () => server.stop(true) };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      if (request.method !== "POST" || new URL(request.url).pathname !== "/v1/traces") return new Response("not found", { status: 404 });
      collector.requests++;
      const body = (await request.json()) as ExportTraceServiceRequest;
      for (const resourceSpans of body.resourceSpans) {
        const resource = attributesOf(resourceSpans.resource.attributes);
        for (const scope of resourceSpans.scopeSpans) {
          for (const span of scope.spans) collector.spans.push({ ...span, resource, headers: request.headers });
        }
      }
      return Response.json({});
    },
  });
  collector.endpoint = `http://127.0.0.1:${server.port}/v1/traces`;
  cleanups.push(() => collector.stop());
  return collector;
}

/** OTLP attributes as a plain object. */
export function attributesOf(list: KeyValue[]): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const { key, value } of list) {
    attributes[key] = value.stringValue ?? value.boolValue ?? value.doubleValue ?? (value.intValue === undefined ? undefined : Number(value.intValue));
  }
  return attributes;
}

