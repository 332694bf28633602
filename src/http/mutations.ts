/**
 * Every admin REST mutation leaves an execution record before its answer is sent: who (from the
 * credential the route admitted), which route, the redacted parameters and body, the outcome. Whether
 * a route is a mutation is declared on the route (`rest()`): by its method, unless it says otherwise.
 */
import { recordAdminChange } from "../records/admin-change.ts";
import type { Services } from "../services.ts";
import type { Admission } from "./request-context.ts";

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The largest refused body a record keeps whole, as JSON characters; a larger one is recorded by its size. */
const MAX_REFUSED_BODY_CHARS = 16 * 1024;

/**
 * Whether a REST route changes something an admin should find in the record: POST, PUT, PATCH and
 * DELETE do, unless the route declares `mutation: false` (a query sent with POST, a vote recorded as a vote).
 */
export function isMutation(method: string, declared: { mutation?: boolean }): boolean {
  return declared.mutation ?? MUTATING.has(method);
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

/** Records a mutation route's call by an admitted caller; requests refused before admission have no actor and leave none. */
export async function recordMutation(services: Services, request: Request, route: string, { caller, at }: Admission, outcome: MutationOutcome): Promise<void> {
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
