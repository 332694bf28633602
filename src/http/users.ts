/**
 * Admin REST for users and their API keys in the caller's tenant (seed 000's
 * `POST /v1/beta/users/:userId/keys`), and their lifecycle: role changes, disabling, removal and key
 * rotation. Thin controller over the directory service.
 */
import { Elysia } from "elysia";
import {
  createUser,
  issueKey,
  KeyRotationSchema,
  listKeys,
  listUsers,
  NewKeySchema,
  NewUserSchema,
  removeUser,
  revokeKey,
  rotateKey,
  updateUser,
  UserChangeSchema,
} from "../governance/directory.ts";
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
    .patch("/v1/beta/users/:userId", ({ scope, params, body }) => updateUser(scope, params.userId, validBody(UserChangeSchema, body), services.now()), admin)
    .delete("/v1/beta/users/:userId", ({ scope, params }) => removeUser(scope, params.userId, services.now()), admin)
    .get("/v1/beta/users/:userId/keys", ({ scope, params }) => ({ keys: listKeys(scope, params.userId) }), admin)
    .post("/v1/beta/users/:userId/keys", ({ scope, caller, params, body }) => json(issueKey(scope, params.userId, validBody(NewKeySchema, body), caller.userId, services.now()), 201), admin)
    .delete("/v1/beta/users/:userId/keys/:keyId", ({ scope, params }) => revokeKey(scope, params.userId, params.keyId, services.now()), admin)
    .post(
      "/v1/beta/users/:userId/keys/:keyId/rotate",
      ({ scope, params, body }) => rotateKey(scope, params.userId, params.keyId, validBody(KeyRotationSchema, body)?.grace_seconds, services.now()),
      admin,
    );
}
