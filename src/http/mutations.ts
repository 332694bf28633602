/**
 * Every admin REST mutation leaves an execution record before its answer is sent: who (from the
 * credential the route authenticated), which route, the redacted parameters and body, the outcome.
 * Queries sent with POST and approval votes (recorded as votes) are not mutations here.
 */
import type { Caller } from "../governance/caller.ts";
import { recordAdminChange } from "../records/admin-change.ts";
import type { Services } from "../services.ts";

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const NOT_MUTATIONS = new Set(["/v1/brain/query", "/v1/policies/check", "/v1/policies/simulate", "/v1/policies/backtest", "/v1/approvals/:id/approve", "/v1/approvals/:id/reject"]);

/** The largest refused body a record keeps whole, as JSON characters; a larger one is recorded by its size. */
const MAX_REFUSED_BODY_CHARS = 16 * 1024;

/** The caller each REST request authenticated as, and when: set by `restCaller`. */
export const authenticated = new WeakMap<Request, { caller: Caller; at: number }>();

/** Whether `method route` changes something an admin should find in the record. */
export function isMutation(method: string, route: string | undefined): route is string {
  return route !== undefined && MUTATING.has(method) && route.startsWith("/v1/") && !NOT_MUTATIONS.has(route) && !route.endsWith("/mcp");
}

/** How a request ended, as its mutation record keeps it. */
export interface MutationOutcome {
  status: number;
  params?: unknown;
  body?: unknown;
  result?: unknown;
  error?: string;
  requestId: string | null;
}

/** Records a mutation of an authenticated caller; requests refused before authentication have no actor and leave none. */
export async function recordMutation(services: Services, request: Request, route: string | undefined, outcome: MutationOutcome): Promise<void> {
  const actor = authenticated.get(request);
  if (actor === undefined || !isMutation(request.method, route)) return;
  const { caller, at } = actor;
  await recordAdminChange(services.records, {
    tenantId: caller.tenantId,
    userId: caller.userId,
    keyId: caller.keyId,
    profile: caller.profile,
    role: caller.role,
    clientName: request.headers.get("user-agent")?.slice(0, 200) ?? null,
    route: `${request.method} ${route}`,
    params: outcome.params,
    body: outcome.status >= 400 ? refusedBody(outcome.body) : outcome.body,
    ok: outcome.status < 400,
    error: outcome.error,
    latencyMs: performance.now() - at,
    result: outcome.result,
    requestId: outcome.requestId,
  });
}

/** A refused request's body as its record keeps it: whole when small, else its size (a refused megabyte is noise, not evidence). */
function refusedBody(body: unknown): unknown {
  const length = body === undefined ? 0 : (JSON.stringify(body)?.length ?? 0);
  return length <= MAX_REFUSED_BODY_CHARS ? body : { omitted: `a refused body of ${length} JSON characters` };
}
