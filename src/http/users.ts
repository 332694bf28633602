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
import { rest, restAccess, type AddressOf } from "./rest-access.ts";

/** The user and key routes. */
export function userRoutes(services: Services, addressOf: AddressOf) {
  const { directory } = services;
  return new Elysia({ name: "user-routes" })
    .use(restAccess(services, addressOf))
    .get("/v1/beta/users", async ({ caller }) => ({ users: await listUsers(directory, caller.tenantId) }), rest("admin", { summary: "List users", description: "The users of the caller's tenant." }))
    .post("/v1/beta/users", async ({ caller, body }) => json(await createUser(directory, caller.tenantId, validBody(NewUserSchema, body), services.now()), 201), rest("admin", { summary: "Create a user", body: NewUserSchema, status: 201 }))
    .patch(
      "/v1/beta/users/:userId",
      ({ caller, params, body }) => updateUser(directory, caller.tenantId, params.userId, validBody(UserChangeSchema, body), services.now()),
      rest("admin", { summary: "Change a user", description: "Change the role or disable; the user's keys and tokens follow on the next call.", body: UserChangeSchema }),
    )
    .delete("/v1/beta/users/:userId", ({ caller, params }) => removeUser(directory, caller.tenantId, params.userId, services.now()), rest("admin", { summary: "Remove a user", description: "Removes the user and revokes their keys." }))
    .get("/v1/beta/users/:userId/keys", async ({ caller, params }) => ({ keys: await listKeys(directory, caller.tenantId, params.userId) }), rest("admin", { summary: "List a user's keys", description: "Never the secrets." }))
    .post(
      "/v1/beta/users/:userId/keys",
      async ({ caller, params, body }) => json(await issueKey(directory, caller.tenantId, params.userId, validBody(NewKeySchema, body), caller.userId, services.now()), 201),
      rest("admin", { summary: "Create a key", description: "Returns the secret once.", body: NewKeySchema, status: 201 }),
    )
    .delete("/v1/beta/users/:userId/keys/:keyId", ({ caller, params }) => revokeKey(directory, caller.tenantId, params.userId, params.keyId, services.now()), rest("admin", { summary: "Revoke a key" }))
    .post(
      "/v1/beta/users/:userId/keys/:keyId/rotate",
      ({ caller, params, body }) => rotateKey(directory, caller.tenantId, params.userId, params.keyId, validBody(KeyRotationSchema, body)?.grace_seconds, services.now()),
      rest("admin", { summary: "Rotate a key", description: "A new secret; the old one keeps working for the grace period.", body: KeyRotationSchema, bodyOptional: true }),
    );
}
