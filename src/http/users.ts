/**
 * Admin REST for users and their API keys in the caller's tenant (seed 000's
 * `POST /v1/beta/users/:userId/keys`). Thin controller over the directory service.
 */
import { Elysia } from "elysia";
import { createUser, issueKey, listKeys, listUsers, NewKeySchema, NewUserSchema, revokeKey } from "../governance/directory.ts";
import type { Services } from "../services.ts";
import { json } from "./respond.ts";
import { restCaller, type AddressOf } from "./rest-access.ts";

/** The user and key routes. */
export function userRoutes(services: Services, addressOf: AddressOf) {
  return new Elysia({ name: "user-routes" })
    .derive(({ request }) => restCaller(services, request, () => addressOf(request), "admin"))
    .get("/v1/beta/users", ({ scope }) => ({ users: listUsers(scope) }))
    .post("/v1/beta/users", ({ scope, body }) => json(createUser(scope, body, services.now()), 201), { body: NewUserSchema })
    .get("/v1/beta/users/:userId/keys", ({ scope, params }) => ({ keys: listKeys(scope, params.userId) }))
    .post("/v1/beta/users/:userId/keys", ({ scope, caller, params, body }) => json(issueKey(scope, params.userId, body, caller.userId, services.now()), 201), {
      body: NewKeySchema,
    })
    .delete("/v1/beta/users/:userId/keys/:keyId", ({ scope, params }) => revokeKey(scope, params.userId, params.keyId, services.now()));
}
