/**
 * The typed per-request context of the HTTP layer. Every route and hook receives, on the request's own
 * Elysia context, `info` (its id, timing, span and what the layers below learn, for the log line,
 * the metrics and the records) and `admission` (the REST caller it was admitted as, once a route's
 * access check has run): per-request facts travel with the request, never in module-level maps.
 */
import { Elysia } from "elysia";
import type { Caller } from "../governance/caller.ts";
import type { RequestInfo } from "../observability/requests.ts";

/** Who a REST request acts as (its tenant is the only one it may touch). */
export interface RestAccess {
  caller: Caller;
}

/** A REST request's admission: its caller, when it was admitted, and whether its route leaves an admin-change record. */
export interface Admission extends RestAccess {
  /** performance.now() at admission (the record's latency). */
  at: number;
  mutation: boolean;
}

/**
 * Declares `info` and `admission` on every context. Declared here, they are properties of the context
 * from its creation (one object shape, no per-request map); the app fills `info` when a request
 * arrives, `rest-access.ts` fills `admission`.
 */
export const requestContext = new Elysia({ name: "request-context" })
  .decorate("info", null as unknown as RequestInfo)
  .decorate("admission", null as Admission | null);
