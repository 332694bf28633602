/** The W3C Trace Context `traceparent` value (https://www.w3.org/TR/trace-context/#traceparent-header). */

/** The ids and sampled flag carried by a valid `traceparent`. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

// Version 00 only, lowercase hex, exact length: §3.2.2 says to ignore a value that does not match
// the version's format, and a request carrying one starts a new trace.
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_SPAN_ID = "0".repeat(16);

/** The trace context in a `traceparent` header or MCP `_meta.traceparent`, or undefined when invalid. */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== "string") return undefined;
  const match = TRACEPARENT.exec(value);
  if (!match) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  // All-zero ids are invalid (§3.2.2.3, §3.2.2.4).
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** The `traceparent` value naming a span, to forward downstream or return to the caller. */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`;
}
