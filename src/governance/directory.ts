/**
 * Users and their API keys, within one tenant: the services behind the admin REST routes and the
 * `invoke users` / `invoke keys` commands. Every function acts on the tenant it is given, through the
 * directory repository.
 */
import { Type, type Static } from "@sinclair/typebox";
import { BadRequest, Conflict, Forbidden, NotFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { isoTime } from "../text.ts";
import { ROLES, roleAtLeast, type Role } from "./caller.ts";
import { newKeySecret } from "./keys.ts";
import { effectiveScopes, findProfile, PROFILES } from "./profiles.ts";
import type { DirectoryRepository, StoredUser } from "./repository.ts";

/** `POST /v1/beta/users` body. */
export const NewUserSchema = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 320, pattern: "^[^@\\s]+@[^@\\s]+$", description: "Unique within the tenant." }),
    role: Type.Union(ROLES.map((role) => Type.Literal(role)), { description: "viewer, editor or admin" }),
  },
  { additionalProperties: false },
);
export type NewUser = Static<typeof NewUserSchema>;

/** `POST /v1/beta/users/:userId/keys` body (seed 000). */
export const NewKeySchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    profile: Type.String({ description: `One of ${PROFILES.map((profile) => profile.name).join(", ")}` }),
    expires_at: Type.Optional(Type.String({ description: "ISO 8601 time in the future; omit for a key that does not expire." })),
  },
  { additionalProperties: false },
);
export type NewKey = Static<typeof NewKeySchema>;

/** `PATCH /v1/beta/users/:userId` body. */
export const UserChangeSchema = Type.Object(
  {
    role: Type.Optional(Type.Union(ROLES.map((role) => Type.Literal(role)), { description: "viewer, editor or admin; the user's keys are cut to it on their next call." })),
    disabled: Type.Optional(Type.Boolean({ description: "true: the user's keys are refused (403 user_disabled) until set back to false." })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UserChange = Static<typeof UserChangeSchema>;

/** The longest grace period a rotated key's old secret may get: 30 days. */
export const MAX_ROTATION_GRACE_SECONDS = 30 * 24 * 3600;
/** The grace period when none is asked for: 24 hours. */
export const DEFAULT_ROTATION_GRACE_SECONDS = 24 * 3600;

/** `POST /v1/beta/users/:userId/keys/:keyId/rotate` body (may be empty). */
export const KeyRotationSchema = Type.Union([
  Type.Null(),
  Type.Object(
    {
      grace_seconds: Type.Optional(
        Type.Integer({ minimum: 0, maximum: MAX_ROTATION_GRACE_SECONDS, description: "How long the old secret keeps working; 0 refuses it at once. Default 86400 (24 h)." }),
      ),
    },
    { additionalProperties: false },
  ),
]);
export type KeyRotation = Static<typeof KeyRotationSchema>;

/** A user as the API shows it. */
export interface UserView {
  id: string;
  email: string;
  role: Role;
  created_at: string;
  /** When the user was disabled; null while enabled. */
  disabled_at: string | null;
}

function userView(user: StoredUser): UserView {
  return { id: user.id, email: user.email, role: user.role, created_at: isoTime(user.createdAt)!, disabled_at: isoTime(user.disabledAt) };
}

/** A key as the API shows it: never the secret. */
export interface KeyView {
  id: string;
  user_id: string;
  name: string;
  profile: string;
  prefix: string;
  scopes: string[];
  allowed_tools: string[];
  read_only: boolean;
  created_by: string | null;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  /** When the key last got a new secret. */
  rotated_at: string | null;
}

/** Emails are kept and compared trimmed and lower-cased. */
/** An email as the directory stores and compares it. */
export const normalEmail = (email: string) => email.trim().toLowerCase();

/** Creates a user in the tenant. */
export async function createUser(directory: DirectoryRepository, tenantId: string, input: NewUser, now = Date.now()): Promise<UserView> {
  const user = { id: newId("usr"), email: normalEmail(input.email), role: input.role, createdAt: now };
  // A removed user frees its email: records keep naming the old user by id.
  if (!(await directory.addUser(tenantId, user))) throw new Conflict(`a user with email ${user.email} already exists in this tenant`, "user_exists");
  return userView({ ...user, tenantId, disabledAt: null, removedAt: null });
}

/** The tenant's users, oldest first; removed users are not listed. */
export async function listUsers(directory: DirectoryRepository, tenantId: string): Promise<UserView[]> {
  return (await directory.listUsers(tenantId)).map(userView);
}

async function findUserRow(directory: DirectoryRepository, tenantId: string, idOrEmail: string, includeRemoved: boolean): Promise<StoredUser> {
  const user = idOrEmail.includes("@") ? await directory.findUserByEmail(tenantId, normalEmail(idOrEmail)) : await directory.findUser(tenantId, idOrEmail, { includeRemoved });
  if (!user) throw new NotFound(`no user ${idOrEmail} in this tenant`, "user_not_found");
  return user;
}

/**
 * A user of the tenant by id or email; a user of another tenant is as absent as a missing one, and so
 * is a removed one (unless `includeRemoved`, by id: its keys stay listable, as revoked).
 */
export async function findUser(directory: DirectoryRepository, tenantId: string, idOrEmail: string, { includeRemoved = false } = {}): Promise<UserView> {
  return userView(await findUserRow(directory, tenantId, idOrEmail, includeRemoved));
}

/** Refuses a change that would leave the tenant without an enabled admin: nobody could administer it over REST. */
function lastAdmin(user: StoredUser, what: string): Conflict {
  return new Conflict(`${user.email} is the last enabled admin of this tenant; make another user admin before you ${what} them`, "last_admin");
}

/**
 * Changes a user's role or enables/disables them, atomically with the last-admin check (so the server
 * and the CLI cannot both demote "the other" last admin). Keys follow on their next call: the gate
 * reads the user's current row.
 */
export async function updateUser(directory: DirectoryRepository, tenantId: string, idOrEmail: string, change: UserChange, now = Date.now()): Promise<UserView> {
  const user = await findUserRow(directory, tenantId, idOrEmail, false);
  // Disabling twice keeps the first time, as revoking does.
  const disabledAt = change.disabled === undefined ? undefined : change.disabled ? (user.disabledAt ?? now) : null;
  const changed = await directory.changeUser(tenantId, user.id, { ...(change.role !== undefined && { role: change.role }), ...(disabledAt !== undefined && { disabledAt }) });
  if (changed === undefined) throw new NotFound(`no user ${idOrEmail} in this tenant`, "user_not_found");
  if (changed === "last_admin") throw lastAdmin(user, change.role !== undefined && change.role !== "admin" ? `make ${change.role}` : "disable");
  return userView(changed);
}

/**
 * Removes a user: a soft delete. The row stays (records, approvals and group histories name its id)
 * but refuses every credential, leaves lists and frees its email; its keys are revoked at once.
 */
export async function removeUser(directory: DirectoryRepository, tenantId: string, idOrEmail: string, now = Date.now()): Promise<{ id: string; email: string; removed_at: string; revoked_keys: number }> {
  const user = await findUserRow(directory, tenantId, idOrEmail, false);
  const removed = await directory.removeUser(tenantId, user.id, now);
  if (removed === undefined) throw new NotFound(`no user ${idOrEmail} in this tenant`, "user_not_found");
  if (removed === "last_admin") throw lastAdmin(user, "remove");
  return { id: user.id, email: user.email, removed_at: isoTime(now)!, revoked_keys: removed.revokedKeys };
}

/** Issues a key for an enabled user of the tenant. The profile must not exceed the user's role. */
export async function issueKey(directory: DirectoryRepository, tenantId: string, userId: string, input: NewKey, createdBy: string | null, now = Date.now()) {
  const user = await findUser(directory, tenantId, userId);
  if (user.disabled_at !== null) throw new Conflict(`${user.email} is disabled; enable them before issuing keys`, "user_disabled");
  const profile = findProfile(input.profile);
  if (!profile) {
    throw new BadRequest(`unknown profile "${input.profile}"; known profiles: ${PROFILES.map((known) => known.name).join(", ")}`, undefined, "unknown_profile");
  }
  if (!roleAtLeast(user.role, profile.min_role)) {
    throw new Forbidden(`profile ${profile.name} needs role ${profile.min_role} or higher; ${user.email} has role ${user.role}`, "profile_exceeds_role");
  }
  let expiresAt: number | null = null;
  if (input.expires_at !== undefined) {
    expiresAt = Date.parse(input.expires_at);
    if (Number.isNaN(expiresAt)) throw new BadRequest(`expires_at "${input.expires_at}" is not an ISO 8601 time`, undefined, "invalid_expires_at");
    if (expiresAt <= now) throw new BadRequest("expires_at must be in the future", undefined, "invalid_expires_at");
  }
  const { secret, secretHash, prefix } = newKeySecret();
  const id = newId("key");
  await directory.addKey({ id, tenantId, userId: user.id, name: input.name, profile: profile.name, secretHash, prefix, createdBy, createdAt: now, expiresAt });
  return {
    id,
    key: secret,
    user_id: user.id,
    name: input.name,
    profile: profile.name,
    prefix,
    scopes: [...effectiveScopes(profile, user.role)],
    allowed_tools: profile.allowed_tools,
    read_only: profile.read_only,
    created_by: createdBy,
    created_at: isoTime(now)!,
    expires_at: isoTime(expiresAt),
  };
}

/** The keys of a user of the tenant (revoked ones included, marked; a removed user's too, by id). */
export async function listKeys(directory: DirectoryRepository, tenantId: string, userId: string): Promise<KeyView[]> {
  const user = await findUser(directory, tenantId, userId, { includeRemoved: true });
  return (await directory.listKeys(tenantId, user.id)).map((key) => {
    const profile = findProfile(key.profile);
    return {
      id: key.id,
      user_id: key.userId,
      name: key.name,
      profile: key.profile,
      prefix: key.prefix,
      scopes: profile ? [...effectiveScopes(profile, user.role)] : [],
      allowed_tools: profile?.allowed_tools ?? [],
      read_only: profile?.read_only ?? true,
      created_by: key.createdBy,
      created_at: isoTime(key.createdAt)!,
      last_used_at: isoTime(key.lastUsedAt),
      expires_at: isoTime(key.expiresAt),
      revoked_at: isoTime(key.revokedAt),
      rotated_at: isoTime(key.rotatedAt),
    };
  });
}

/** A key of a user of the tenant (the user not removed). */
async function findUsersKey(directory: DirectoryRepository, tenantId: string, userId: string, keyId: string) {
  const user = await findUser(directory, tenantId, userId);
  const key = await directory.findKey(tenantId, keyId);
  if (!key || key.userId !== user.id) throw new NotFound(`no key ${keyId} for user ${userId}`, "key_not_found");
  return { user, key };
}

/** Revokes a key of a user of the tenant; revoking twice keeps the first time. */
export async function revokeKey(directory: DirectoryRepository, tenantId: string, userId: string, keyId: string, now = Date.now()): Promise<{ id: string; revoked_at: string }> {
  const { key } = await findUsersKey(directory, tenantId, userId, keyId);
  if (key.revokedAt === null) await directory.revokeKey(tenantId, keyId, now);
  return { id: keyId, revoked_at: isoTime(key.revokedAt ?? now)! };
}

/**
 * Gives a live key of a user of the tenant a new secret (same id, name and profile, so its records stay
 * one key's); the old secret keeps working for `graceSeconds` (0: refused at once). Only the latest
 * replaced secret has a grace period: an older one still in its grace is refused from now on. Returns
 * the new secret, shown this once.
 */
export async function rotateKey(directory: DirectoryRepository, tenantId: string, userId: string, keyId: string, graceSeconds = DEFAULT_ROTATION_GRACE_SECONDS, now = Date.now()) {
  const { user, key } = await findUsersKey(directory, tenantId, userId, keyId);
  if (key.revokedAt !== null) throw new Conflict(`key ${keyId} is revoked; issue a new key instead`, "key_revoked");
  if (key.expiresAt !== null && key.expiresAt <= now) throw new Conflict(`key ${keyId} has expired; issue a new key instead`, "key_expired");
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_ROTATION_GRACE_SECONDS) {
    throw new BadRequest(`the grace period must be 0 to ${MAX_ROTATION_GRACE_SECONDS} whole seconds`, undefined, "invalid_grace");
  }
  const { secret, secretHash, prefix } = newKeySecret();
  const previousValidUntil = graceSeconds > 0 ? now + graceSeconds * 1000 : null;
  await directory.rotateKey(tenantId, key.id, { secretHash, prefix, previousValidUntil, rotatedAt: now });
  return {
    id: key.id,
    key: secret,
    user_id: user.id,
    name: key.name,
    profile: key.profile,
    prefix,
    rotated_at: isoTime(now)!,
    previous_secret_valid_until: isoTime(previousValidUntil),
  };
}

/** The user id owning a key of the tenant. */
export async function findKeyOwner(directory: DirectoryRepository, tenantId: string, keyId: string): Promise<string> {
  const key = await directory.findKey(tenantId, keyId);
  if (!key) throw new NotFound(`no key ${keyId} in this tenant`, "key_not_found");
  return key.userId;
}

/** A tenant id by name, for the local CLI (which acts on one tenant of the file). */
export async function tenantIdByName(directory: DirectoryRepository, name: string): Promise<string> {
  const tenant = await directory.findTenantByName(name);
  if (!tenant) throw new NotFound(`no tenant named "${name}"`, "tenant_not_found");
  return tenant.id;
}

/** The oldest tenant: the one bootstrap created. */
export async function firstTenantId(directory: DirectoryRepository): Promise<string> {
  const [tenant] = await directory.listTenants();
  if (!tenant) throw new NotFound("the database has no tenant", "tenant_not_found");
  return tenant.id;
}

/** Every tenant, for `invoke tenants list`. */
export async function listTenants(directory: DirectoryRepository) {
  return (await directory.listTenants()).map((tenant) => ({ id: tenant.id, name: tenant.name, created_at: isoTime(tenant.createdAt)! }));
}
