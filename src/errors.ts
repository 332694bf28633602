/**
 * Errors that carry their own HTTP status and machine-readable code. One place turns them into
 * responses (`src/http/respond.ts`); JSON-RPC codes are a separate enum (`src/protocol/jsonrpc.ts`).
 */

/** Base class: a failure the caller can understand and act on (never a masked 500). */
export class InvokeError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400: the request is malformed. */
export class BadRequest extends InvokeError {
  constructor(message: string, details?: unknown, code = "bad_request") {
    super(400, code, message, details);
  }
}

/** 401: no credential, or one that is unknown, revoked or expired. */
export class Unauthenticated extends InvokeError {
  constructor(message: string, code = "invalid_credentials") {
    super(401, code, message);
  }
}

/** 403: the caller is known but not allowed (the body never says "Unauthorized": bridges would start a login). */
export class Forbidden extends InvokeError {
  constructor(message: string, code = "forbidden") {
    super(403, code, message);
  }
}

/** 404: no such thing in the caller's tenant. */
export class NotFound extends InvokeError {
  constructor(message: string, code = "not_found") {
    super(404, code, message);
  }
}

/** 409: the request conflicts with the current state. */
export class Conflict extends InvokeError {
  constructor(message: string, code = "conflict") {
    super(409, code, message);
  }
}

/** A failure of the store or configuration at start-up: the CLI prints the message and exits 1. */
export class StartupError extends Error {
  override name = "StartupError";
}
