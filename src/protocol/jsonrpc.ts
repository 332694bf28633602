/**
 * JSON-RPC 2.0 wire types and the error codes Invoke emits. Codes are their own enum, separate from
 * HTTP statuses and from the snake_case codes of `src/errors.ts`.
 */
import { cutText } from "../text.ts";
import type { AccessRefusal } from "../governance/access.ts";

/** JSON-RPC error codes. The -32768..-32000 range is reserved; application codes live outside it (MCP 2026-07-28, basic/index). */
export enum JsonRpcErrorCode {
  ParseError = -32700,
  InvalidRequest = -32600,
  MethodNotFound = -32601,
  InvalidParams = -32602,
  InternalError = -32603,
  /** MCP 2026-07-28: a header disagrees with the body. */
  HeaderMismatch = -32020,
  /** MCP 2026-07-28: the request needs a client capability it did not declare (`data.requiredCapabilities`). */
  MissingRequiredClientCapability = -32021,
  /** MCP 2026-07-28: the requested protocol version is not supported (`data.supported` lists ours). */
  UnsupportedProtocolVersion = -32022,
  /** Invoke: no valid credential. */
  Unauthenticated = -31001,
  /** Invoke: the credential is valid but not allowed here (role, origin, cookie). */
  Forbidden = -31003,
  /** Invoke: the request body or its media type is not acceptable. */
  BadTransport = -31004,
  /** Invoke: the caller is rate limited. */
  RateLimited = -31029,
}

/** A request or notification id. */
export type RequestId = string | number;

/** A request (has an id) or a notification (has none). */
export interface JsonRpcRequest {
  jsonrpc: "2.0";
  id?: RequestId;
  method: string;
  params?: Record<string, unknown>;
}

/** The error member of an error response. */
export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/** A response: `result` or `error`; `id` is omitted only when it could not be read. */
export type JsonRpcResponse =
  | { jsonrpc: "2.0"; id: RequestId; result: Record<string, unknown> }
  | { jsonrpc: "2.0"; id?: RequestId; error: JsonRpcErrorObject };

/** What one incoming value is, once looked at. */
export type IncomingMessage =
  | { kind: "request"; message: JsonRpcRequest & { id: RequestId } }
  | { kind: "notification"; message: JsonRpcRequest }
  | { kind: "response" }
  | { kind: "invalid"; id?: RequestId; reason: string };

/** Builds a success response. */
export function resultResponse(id: RequestId, result: Record<string, unknown>): JsonRpcResponse {
  return { jsonrpc: "2.0", id, result };
}

/** Builds an error response; `id` undefined means it could not be known and is omitted. */
export function errorResponse(id: RequestId | undefined, code: number, message: string, data?: unknown): JsonRpcResponse {
  const error: JsonRpcErrorObject = data === undefined ? { code, message } : { code, message, data };
  return id === undefined ? { jsonrpc: "2.0", error } : { jsonrpc: "2.0", id, error };
}

/** The JSON-RPC code of each refusal by the access gate, by the HTTP status it carries. */
export const ACCESS_REFUSAL_CODES: Record<AccessRefusal["status"], JsonRpcErrorCode> = {
  401: JsonRpcErrorCode.Unauthenticated,
  403: JsonRpcErrorCode.Forbidden,
  429: JsonRpcErrorCode.RateLimited,
};

/**
 * The `data` of a refusal's JSON-RPC error: its reason, and when rate limited the seconds until a retry
 * is admitted (a refused message of a batch or of stdio has no `Retry-After` header to carry it).
 */
export function refusalData(refusal: AccessRefusal): { reason: string; retry_after_seconds?: number } {
  const retryAfter = refusal.headers["Retry-After"];
  return retryAfter === undefined ? { reason: refusal.reason } : { reason: refusal.reason, retry_after_seconds: Number(retryAfter) };
}

/** A refusal by the access gate as the error response to one message (`id` undefined: none could be read). */
export function refusalResponse(id: RequestId | undefined, refusal: AccessRefusal): JsonRpcResponse {
  return errorResponse(id, ACCESS_REFUSAL_CODES[refusal.status], refusal.message, refusalData(refusal));
}

/** A failure inside dispatch that becomes a JSON-RPC error response (`httpStatus`: what HTTP answers with it; default 200). */
export class JsonRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = "JsonRpcError";
  }
}

/** The longest string id echoed back: a longer one is refused without being repeated, so no answer grows with its request. */
const MAX_ID_LENGTH = 256;

/** The longest method name an error message repeats. */
const MAX_METHOD_ECHO = 128;

/** Whether `id` is one Invoke accepts and echoes: a finite number, or a string of bounded length. */
export function isValidId(id: unknown): id is RequestId {
  return (typeof id === "string" && id.length <= MAX_ID_LENGTH) || (typeof id === "number" && Number.isFinite(id));
}

/** A method name as an error message may quote it: cut to a bounded length. */
export function quotedMethod(method: string): string {
  return cutText(method, MAX_METHOD_ECHO);
}

/** Classifies one decoded JSON value as a request, notification, response, or an invalid envelope. */
export function classifyMessage(value: unknown): IncomingMessage {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { kind: "invalid", reason: "a JSON-RPC message must be an object" };
  }
  const message = value as Record<string, unknown>;
  const id = isValidId(message.id) ? message.id : undefined;
  if (message.jsonrpc !== "2.0") return { kind: "invalid", id, reason: 'jsonrpc must be "2.0"' };
  if ("id" in message && id === undefined) {
    // MCP forbids null ids; other non-string, non-number ids are invalid in JSON-RPC itself.
    return { kind: "invalid", reason: `id must be a string of at most ${MAX_ID_LENGTH} characters or a number` };
  }
  if (!("method" in message)) {
    if (id !== undefined && ("result" in message || "error" in message)) return { kind: "response" };
    return { kind: "invalid", id, reason: "a request needs a method" };
  }
  if (typeof message.method !== "string" || message.method.length === 0) {
    return { kind: "invalid", id, reason: "method must be a non-empty string" };
  }
  if ("params" in message && (typeof message.params !== "object" || message.params === null || Array.isArray(message.params))) {
    // MCP params are always by name (an object).
    return { kind: "invalid", id, reason: "params must be an object" };
  }
  const request = message as unknown as JsonRpcRequest;
  return id === undefined ? { kind: "notification", message: request } : { kind: "request", message: request as JsonRpcRequest & { id: RequestId } };
}
