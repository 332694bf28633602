/**
 * Admin REST for people and scripts: users and their API keys in the caller's tenant (seed 000's
 * `POST /v1/beta/users/:userId/keys`). Thin controller: access through the gate, work in the
 * directory service, tenant taken from the key only.
 */
import { Elysia } from "elysia";
import { InvokeError } from "../errors.ts";
import { isRefusal } from "../governance/access.ts";
import { authorizeAdmin } from "../governance/authorize.ts";
import type { Caller } from "../governance/caller.ts";
import { createUser, issueKey, listKeys, listUsers, NewKeySchema, NewUserSchema, revokeKey } from "../governance/directory.ts";
import type { Services } from "../services.ts";
import { TenantScope } from "../storage/tenant-scope.ts";
import { json } from "./respond.ts";

/** The caller of an admin route, or a thrown refusal (401/403/429 with its headers). */
export function requireAdmin(services: Services, request: Request, clientAddress: () => string): Caller {
  const caller = services.gate.admit(request.headers, clientAddress);
  if (isRefusal(caller)) throw new InvokeError(caller.status, caller.reason, caller.message, undefined, caller.headers);
  const refusal = authorizeAdmin(caller);
  if (refusal) throw new InvokeError(403, "admin_required", `Forbidden: ${refusal.message}.`);
  return caller;
}

/** The admin routes. `clientAddress` resolves the caller's address for the limiter. */
export function adminRoutes(services: Services, clientAddress: (request: Request) => string) {
  return new Elysia({ name: "admin-routes" })
    .derive({ as: "scoped" }, ({ request }) => {
      const caller = requireAdmin(services, request, () => clientAddress(request));
      return { caller, scope: new TenantScope(services.store, caller.tenantId) };
    })
    .get("/v1/beta/users", ({ scope }) => ({ users: listUsers(scope) }))
    .post("/v1/beta/users", ({ scope, body }) => json(createUser(scope, body, services.now()), 201), { body: NewUserSchema })
    .get("/v1/beta/users/:userId/keys", ({ scope, params }) => ({ keys: listKeys(scope, params.userId) }))
    .post("/v1/beta/users/:userId/keys", ({ scope, caller, params, body }) => json(issueKey(scope, params.userId, body, caller.userId, services.now()), 201), {
      body: NewKeySchema,
    })
    .delete("/v1/beta/users/:userId/keys/:keyId", ({ scope, params }) => revokeKey(scope, params.userId, params.keyId, services.now()));
}
