/**
 * What is known about one request as it goes through Invoke: its id (returned as X-Request-Id and kept
 * in its execution records), and what the layers below learn (tenant, key, JSON-RPC method, tool,
 * decision), so the one log line and the metrics written when it ends can say so.
 */
import { randomBase62 } from "../ids.ts";
import type { SpanHandle } from "./tracing.ts";

export interface RequestInfo {
  id: string;
  /** performance.now() when it arrived. */
  started: number;
  method: string;
  path: string;
  tenantId?: string;
  keyId?: string;
  rpcMethod?: string;
  tool?: string;
  decision?: string | null;
  /** The call's outcome (ok, denied, pending_approval, error, refused…). */
  outcome?: string;
  /** W3C traceparent the request came with (header, or MCP `_meta`). */
  traceparent?: string;
  /** The request's span, when tracing is on. */
  span?: SpanHandle;
}

/** An id a client sent that we keep: short, printable, no spaces (anything else gets a new one). */
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Request ids: a random prefix per process, then a counter (ids must be unique, not secret; cheap on every request). */
const PREFIX = `req_${randomBase62(8)}`;
let counter = 0;

export function newRequestId(): string {
  return `${PREFIX}${(++counter).toString(36).padStart(8, "0")}`;
}

/** The request's info: continues the client's X-Request-Id when it is a sane one; its traceparent is read only when tracing is on. */
export function requestInfoFor(request: Request, path: string, tracing: boolean): RequestInfo {
  const given = request.headers.get("x-request-id");
  return {
    id: given !== null && CLIENT_ID.test(given) ? given : newRequestId(),
    started: performance.now(),
    method: request.method,
    path,
    traceparent: tracing ? (request.headers.get("traceparent") ?? undefined) : undefined,
  };
}
