/**
 * Access for REST routes: the gate (credential, rate limit), then the scope the route needs, before
 * anything reads or validates the request. Refusals are thrown and rendered by `respond.ts`.
 */
import { Elysia } from "elysia";
import { InvokeError } from "../errors.ts";
import { isRefusal } from "../governance/access.ts";
import type { Caller } from "../governance/caller.ts";
import type { Scope } from "../governance/profiles.ts";
import type { Services } from "../services.ts";
import { TenantScope } from "../storage/sqlite/tenant-scope.ts";
import { authenticated } from "./mutations.ts";
import { readJsonBody } from "./request-body.ts";

/** Who a REST request acts as, and the tenant it may touch. */
export type RestAccess = {
  caller: Caller;
  scope: TenantScope;
};

/** The caller of a REST route and its tenant scope, or a thrown refusal (401/403/429 with its headers). */
export async function restCaller(services: Services, request: Request, clientAddress: () => string, scope: Scope): Promise<RestAccess> {
  const caller = await services.gate.admit(request.headers, clientAddress);
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

/**
 * The `access` route option every REST route declares (`{ access: "admin" }`): the request is admitted
 * with that scope before Elysia parses or validates anything, so a caller without a key learns nothing
 * about a route's input (401 whatever the body). The body is read here as bounded JSON (null when
 * empty) and left unchecked: handlers check it with `validBody`, whose answer lists a bounded number
 * of problems (Elysia's own validation error would repeat the whole body in its message).
 * Handlers receive `caller` and `scope`.
 */
export function restAccess(services: Services, addressOf: AddressOf) {
  // Each request is admitted once (one rate-limit token), at whichever hook sees it first.
  const admitted = new WeakMap<Request, Promise<RestAccess>>();
  const admit = (request: Request, scope: Scope): Promise<RestAccess> => {
    let access = admitted.get(request);
    if (access === undefined) {
      access = restCaller(services, request, () => addressOf(request), scope);
      admitted.set(request, access);
    }
    return access;
  };
  return new Elysia().macro({
    access: (scope: Scope) => ({
      // Elysia parses a body before any other hook runs (parse errors are rethrown wrapped; respond.ts unwraps them).
      parse: async ({ request }) => {
        try {
          await admit(request, scope);
        } catch (refusal) {
          // An unread body left to Bun stays buffered as long as the request lives (a recorded refusal keeps it a while).
          await request.body?.cancel();
          throw refusal;
        }
        // Never undefined: Elysia would then parse the (already read) stream again. An empty body is null.
        return (await readJsonBody(request, services.config.maxBodyBytes)) ?? null;
      },
      // Requests without a body, before their path and query are validated.
      transform: async ({ request }) => {
        await admit(request, scope);
      },
      resolve: ({ request }) => admit(request, scope),
    }),
  });
}
