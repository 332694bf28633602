/**
 * REST routes as declared: `rest(scope, doc)` gives a route its access (the scope it is admitted with),
 * whether it is a mutation, its query schema and its reference entry. The access check runs before
 * anything reads or validates the request: the gate (credential, rate limit), then the scope.
 * Refusals are thrown and rendered by `respond.ts`.
 */
import type { TObject } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { InvokeError } from "../errors.ts";
import { isRefusal } from "../governance/access.ts";
import type { Scope } from "../governance/caller.ts";
import type { Services } from "../services.ts";
import { isMutation } from "./mutations.ts";
import type { RouteDetail, RouteDoc } from "./openapi.ts";
import { numberParams, readQuery } from "./query-string.ts";
import { readJsonBody } from "./request-body.ts";
import { requestContext, type Admission, type RestAccess } from "./request-context.ts";

/** What a REST route's access check reads of its declaration. */
export interface RestRoute {
  scope: Scope;
  mutation?: false;
  /** The query parameters its schema declares numbers. */
  numbers: readonly string[];
}

/**
 * The options of a REST route: its `access` (admission with `scope`, mutation by method unless
 * `doc.mutation` says otherwise), the `query` schema Elysia validates, and the same declaration as its
 * `detail` for the reference. (`Q` is inferred from `query` alone: inferred through `RouteDoc`, Elysia's
 * route types recurse too deep for the compiler.)
 */
export function rest<Q extends TObject = TObject>(scope: Scope, doc: Omit<RouteDoc, "query"> & { query?: Q }): { access: RestRoute; query: Q; detail: RouteDetail } {
  return { access: { scope, mutation: doc.mutation, numbers: numberParams(doc.query) }, query: doc.query as Q, detail: { ...doc, scope } };
}

/** The caller of a REST request through the gate (credential, rate limit), or its thrown refusal (401/429 with its headers). */
async function authenticate(services: Services, request: Request, clientAddress: () => string, mutation: boolean): Promise<Admission> {
  const caller = await services.gate.admit(request.headers, clientAddress);
  if (isRefusal(caller)) throw new InvokeError(caller.status, caller.reason, caller.message, undefined, caller.headers);
  return { caller, at: performance.now(), mutation };
}

/** `access` if its caller holds `scope`, else a thrown 403. */
function requireScope<A extends RestAccess>(access: A, scope: Scope): A {
  if (access.caller.scopes.has(scope)) return access;
  const needs = scope === "admin" ? "an admin key (profile admin, role admin)" : `a key with scope ${scope}`;
  throw new InvokeError(403, scope === "admin" ? "admin_required" : "scope_required", `Forbidden: this route needs ${needs}.`);
}

/** The caller of a REST request outside the declared routes (readiness, metrics), or a thrown refusal (401/403/429). */
export async function restCaller(services: Services, request: Request, clientAddress: () => string, scope: Scope): Promise<RestAccess> {
  return requireScope(await authenticate(services, request, clientAddress, false), scope);
}

/** Resolves a request's client address (for the limiter of requests without a valid key). */
export type AddressOf = (request: Request) => string;

/**
 * The `access` route option (set by `rest()`): the request is admitted before Elysia parses or
 * validates anything, so a caller without a key learns nothing about a route's input (401 whatever
 * the body or query). The body is read here as bounded JSON (null when empty) and left unchecked:
 * handlers check it with `validBody`, whose answer lists a bounded number of problems (Elysia's own
 * validation error would repeat the whole body in its message). Handlers receive `caller`.
 */
export function restAccess(services: Services, addressOf: AddressOf) {
  const authenticated = (request: Request, route: RestRoute) => authenticate(services, request, () => addressOf(request), isMutation(request.method, route));
  // Each request is admitted once (one rate-limit token), at whichever hook sees it first. The admission
  // is kept on the context before the scope is checked: from there on a mutation, refused or not, leaves a record.
  // (Hooks read the context's properties by name, never pass it whole: Elysia would then prepare all of it.)
  return new Elysia().use(requestContext).macro({
    access: (route: RestRoute) => ({
      // Elysia parses a body before any other hook runs (parse errors are rethrown wrapped; respond.ts unwraps them).
      parse: async (context) => {
        try {
          requireScope((context.admission ??= await authenticated(context.request, route)), route.scope);
        } catch (refusal) {
          // An unread body left to Bun stays buffered as long as the request lives (a recorded refusal keeps it a while).
          await context.request.body?.cancel();
          throw refusal;
        }
        // Never undefined: Elysia would then parse the (already read) stream again. An empty body is null.
        return (await readJsonBody(context.request, services.config.maxBodyBytes)) ?? null;
      },
      // Requests without a body are admitted here; then the query is read against the route's schema, before Elysia validates it.
      transform: async (context) => {
        requireScope((context.admission ??= await authenticated(context.request, route)), route.scope);
        readQuery(route.numbers, context.query);
      },
      resolve: ({ admission }) => ({ caller: admission!.caller }),
    }),
  });
}
