/** Access for REST routes: the gate (credential, rate limit), then the scope the route needs. Refusals are thrown and rendered by `respond.ts`. */
import { InvokeError } from "../errors.ts";
import { isRefusal } from "../governance/access.ts";
import type { Caller } from "../governance/caller.ts";
import type { Scope } from "../governance/profiles.ts";
import type { Services } from "../services.ts";
import { TenantScope } from "../storage/tenant-scope.ts";
import { authenticated } from "./mutations.ts";

/** The caller of a REST route and its tenant scope, or a thrown refusal (401/403/429 with its headers). */
export function restCaller(services: Services, request: Request, clientAddress: () => string, scope: Scope): { caller: Caller; scope: TenantScope } {
  const caller = services.gate.admit(request.headers, clientAddress);
  if (isRefusal(caller)) throw new InvokeError(caller.status, caller.reason, caller.message, undefined, caller.headers);
  // From here on the request has an actor: a mutation, refused or not, leaves a record.
  authenticated.set(request, { caller, at: performance.now() });
  if (!caller.scopes.has(scope)) {
    const needs = scope === "admin" ? "an admin key (profile admin, role admin)" : `a key with scope ${scope}`;
    throw new InvokeError(403, scope === "admin" ? "admin_required" : "scope_required", `Forbidden: this route needs ${needs}.`);
  }
  return { caller, scope: new TenantScope(services.store, caller.tenantId) };
}

/** Resolves a request's client address (for the limiter of requests without a valid key). */
export type AddressOf = (request: Request) => string;
