/**
 * The one place that turns errors into HTTP responses. REST errors are `{"error":{"code","message"}}`;
 * unknown errors are logged and answered with a masked 500, never a stack trace. An answer to a client
 * mistake stays small whatever the request: messages are cut and detail lists are capped.
 */
import { InvokeError } from "../errors.ts";
import { errorResponse, type JsonRpcResponse } from "../protocol/jsonrpc.ts";
import { issueSummary, MAX_LISTED_ISSUES, truncate } from "./request-body.ts";

/** The longest error message an answer carries, in characters. */
const MAX_MESSAGE_CHARS = 4096;
/** The largest `details` an answer carries, as JSON characters; larger details are left out. */
const MAX_DETAILS_CHARS = 8192;

/** A JSON response. */
export function json(body: unknown, status = 200, headers?: Record<string, string>): Response {
  return Response.json(body, headers ? { status, headers } : { status });
}

/** A REST error response with a snake_case code. */
export function restError(status: number, code: string, message: string, headers?: Record<string, string>): Response {
  return json({ error: { code, message } }, status, headers);
}

/**
 * Elysia's validation failure (path parameters and query strings; REST bodies are checked by
 * `validBody`), as a 400 in the shape of an invalid body's: the first failing paths, and the rest counted.
 */
export function validationError(error: unknown): Response {
  const { all = [], type } = error as { all?: { path?: string; message?: string }[]; type?: string };
  const issues = all.slice(0, MAX_LISTED_ISSUES).map((issue) => ({ path: truncate(issue.path || "/"), message: truncate(issue.message ?? "invalid") }));
  const summary = issueSummary(issues.map((issue) => `${issue.path}: ${issue.message}`), all.length - issues.length);
  const what = type === "query" ? "query string" : "request";
  return json({ error: { code: "invalid_request", message: `Invalid ${what}${summary ? `: ${summary}` : ""}`, details: issues } }, 400);
}

/** Maps any thrown value to a REST error response. */
export function restErrorFrom(error: unknown, log: (message: string, error: unknown) => void): Response {
  if (error instanceof InvokeError) {
    const body: { code: string; message: string; details?: unknown } = { code: error.code, message: truncate(error.message, MAX_MESSAGE_CHARS) };
    if (error.details !== undefined && JSON.stringify(error.details).length <= MAX_DETAILS_CHARS) body.details = error.details;
    return json({ error: body }, error.status, error.headers);
  }
  log("unhandled error", error);
  return restError(500, "internal_error", "Internal error; the details are in the server log.");
}

/** A JSON-RPC error response sent with an HTTP status, for refusals before dispatch (no id is known yet). */
export function rpcRefusal(status: number, code: number, message: string, data?: unknown, headers?: Record<string, string>): Response {
  const body: JsonRpcResponse = errorResponse(undefined, code, message, data);
  return json(body, status, headers);
}
