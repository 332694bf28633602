/**
 * The one place that turns errors into HTTP responses. REST errors are `{"error":{"code","message"}}`;
 * unknown errors are logged and answered with a masked 500, never a stack trace.
 */
import { InvokeError } from "../errors.ts";
import { errorResponse, type JsonRpcResponse } from "../protocol/jsonrpc.ts";

/** A JSON response. */
export function json(body: unknown, status = 200, headers?: Record<string, string>): Response {
  return Response.json(body, headers ? { status, headers } : { status });
}

/** A REST error response with a snake_case code. */
export function restError(status: number, code: string, message: string, headers?: Record<string, string>): Response {
  return json({ error: { code, message } }, status, headers);
}

/** Elysia's body-validation failure, as a 400 with each failing path. */
export function validationError(error: unknown): Response {
  const issues = ((error as { all?: { path?: string; message?: string }[] }).all ?? []).map((issue) => ({ path: issue.path || "/", message: issue.message ?? "invalid" }));
  const summary = issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ");
  return json({ error: { code: "invalid_request", message: `Invalid request body${summary ? `: ${summary}` : ""}`, details: issues } }, 400);
}

/** Maps any thrown value to a REST error response. */
export function restErrorFrom(error: unknown, log: (message: string, error: unknown) => void): Response {
  if (error instanceof InvokeError) {
    const body: { code: string; message: string; details?: unknown } = { code: error.code, message: error.message };
    if (error.details !== undefined) body.details = error.details;
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
