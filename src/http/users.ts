/**
 * Admin REST for users and their API keys in the caller's tenant (seed 000's
 * `POST /v1/beta/users/:userId/keys`). Thin controller over the directory service.
 */
import { Elysia } from "elysia";
import { createUser, issueKey, listKeys, listUsers, NewKeySchema, NewUserSchema, revokeKey } from "../governance/directory.ts";
import type { Services } from "../services.ts";
import { validBody } from "./request-body.ts";
import { json } from "./respond.ts";
import { restAccess, type AddressOf } from "./rest-access.ts";

/** The user and key routes. */
export function userRoutes(services: Services, addressOf: AddressOf) {
  const admin = { access: "admin" } as const;
  return new Elysia({ name: "user-routes" })
    .use(restAccess(services, addressOf))
    .get("/v1/beta/users", ({ scope }) => ({ users: listUsers(scope) }), admin)
    .post("/v1/beta/users", ({ scope, body }) => json(createUser(scope, validBody(NewUserSchema, body), services.now()), 201), admin)
    .get("/v1/beta/users/:userId/keys", ({ scope, params }) => ({ keys: listKeys(scope, params.userId) }), admin)
    .post("/v1/beta/users/:userId/keys", ({ scope, caller, params, body }) => json(issueKey(scope, params.userId, validBody(NewKeySchema, body), caller.userId, services.now()), 201), admin)
    .delete("/v1/beta/users/:userId/keys/:keyId", ({ scope, params }) => revokeKey(scope, params.userId, params.keyId, services.now()), admin);
}
