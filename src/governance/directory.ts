/**
 * Users and their API keys, within one tenant: the services behind the admin REST routes and the
 * `invoke users` / `invoke keys` commands. Every query goes through a TenantScope.
 */
import { Type, type Static } from "@sinclair/typebox";
import { and, asc, count, eq, isNull, ne } from "drizzle-orm";
import { BadRequest, Conflict, Forbidden, NotFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { isoTime } from "../text.ts";
import { apiKeys, tenants, users } from "../storage/sqlite/schema.ts";
import type { TenantScope } from "../storage/sqlite/tenant-scope.ts";
import type { Store } from "../storage/sqlite/db.ts";
import { ROLES, roleAtLeast, type Role } from "./caller.ts";
import { createApiKey, credentialsChanged, rotateApiKey } from "./keys.ts";
import { effectiveScopes, findProfile, PROFILES } from "./profiles.ts";

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

type UserRow = typeof users.$inferSelect;

function userView(user: UserRow): UserView {
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

/** Creates a user in the scope's tenant. */
export function createUser(scope: TenantScope, input: NewUser, now = Date.now()): UserView {
  const email = input.email.trim().toLowerCase();
  // A removed user frees its email: records keep naming the old user by id.
  const existing = scope.store.db.select({ id: users.id }).from(users).where(scope.where(users, eq(users.email, email), isNull(users.removedAt))).get();
  if (existing) throw new Conflict(`a user with email ${email} already exists in this tenant`, "user_exists");
  const id = newId("usr");
  scope.store.db.insert(users).values({ id, tenantId: scope.tenantId, email, role: input.role, createdAt: now }).run();
  return { id, email, role: input.role, created_at: isoTime(now)!, disabled_at: null };
}

/** The scope's users, oldest first; removed users are not listed. */
export function listUsers(scope: TenantScope): UserView[] {
  return scope.store.db
    .select()
    .from(users)
    .where(scope.where(users, isNull(users.removedAt)))
    .orderBy(asc(users.createdAt), asc(users.id))
    .all()
    .map(userView);
}

function findUserRow(scope: TenantScope, idOrEmail: string, includeRemoved: boolean): UserRow {
  const byEmail = idOrEmail.includes("@");
  const condition = byEmail ? eq(users.email, idOrEmail.trim().toLowerCase()) : eq(users.id, idOrEmail);
  const user = scope.store.db
    .select()
    .from(users)
    .where(scope.where(users, condition, includeRemoved ? undefined : isNull(users.removedAt)))
    .get();
  if (!user) throw new NotFound(`no user ${idOrEmail} in this tenant`, "user_not_found");
  return user;
}

/**
 * A user of the scope's tenant by id or email; a user of another tenant is as absent as a missing one,
 * and so is a removed one (unless `includeRemoved`, by id: its keys stay listable, as revoked).
 */
export function findUser(scope: TenantScope, idOrEmail: string, { includeRemoved = false } = {}): UserView {
  return userView(findUserRow(scope, idOrEmail, includeRemoved && !idOrEmail.includes("@")));
}

/** How many enabled admins the scope's tenant has, not counting `exceptUserId`. */
function otherActiveAdmins(scope: TenantScope, exceptUserId: string): number {
  const row = scope.store.db
    .select({ n: count() })
    .from(users)
    .where(scope.where(users, eq(users.role, "admin"), isNull(users.disabledAt), isNull(users.removedAt), ne(users.id, exceptUserId)))
    .get();
  return row?.n ?? 0;
}

/** Refuses a change that would leave the tenant without an enabled admin: nobody could administer it over REST. */
function keepAnAdmin(scope: TenantScope, user: UserRow, what: string): void {
  const isActiveAdmin = user.role === "admin" && user.disabledAt === null;
  if (isActiveAdmin && otherActiveAdmins(scope, user.id) === 0) {
    throw new Conflict(`${user.email} is the last enabled admin of this tenant; make another user admin before you ${what} them`, "last_admin");
  }
}

/**
 * Changes a user's role or enables/disables them, atomically with the last-admin check (an immediate
 * transaction, so the server and the CLI cannot both demote "the other" last admin). Keys follow on
 * their next call: the gate reads the user's current row.
 */
export function updateUser(scope: TenantScope, idOrEmail: string, change: UserChange, now = Date.now()): UserView {
  const update = scope.store.sqlite.transaction((): UserView => {
    const user = findUserRow(scope, idOrEmail, false);
    const demoted = change.role !== undefined && change.role !== "admin";
    if (demoted) keepAnAdmin(scope, user, `make ${change.role}`);
    if (change.disabled === true) keepAnAdmin(scope, user, "disable");
    const set: Partial<UserRow> = {};
    if (change.role !== undefined) set.role = change.role;
    // Disabling twice keeps the first time, as revoking does.
    if (change.disabled !== undefined) set.disabledAt = change.disabled ? (user.disabledAt ?? now) : null;
    scope.store.db.update(users).set(set).where(scope.where(users, eq(users.id, user.id))).run();
    return userView({ ...user, ...set });
  });
  const view = update.immediate();
  credentialsChanged(scope.store);
  return view;
}

/**
 * Removes a user: a soft delete. The row stays (records, approvals and group histories name its id)
 * but refuses every credential, leaves lists and frees its email; its keys are revoked at once.
 */
export function removeUser(scope: TenantScope, idOrEmail: string, now = Date.now()): { id: string; email: string; removed_at: string; revoked_keys: number } {
  const remove = scope.store.sqlite.transaction(() => {
    const user = findUserRow(scope, idOrEmail, false);
    keepAnAdmin(scope, user, "remove");
    scope.store.db.update(users).set({ removedAt: now }).where(scope.where(users, eq(users.id, user.id))).run();
    const revoked = scope.store.db
      .update(apiKeys)
      .set({ revokedAt: now })
      .where(scope.where(apiKeys, eq(apiKeys.userId, user.id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id })
      .all();
    return { id: user.id, email: user.email, removed_at: isoTime(now)!, revoked_keys: revoked.length };
  });
  const result = remove.immediate();
  credentialsChanged(scope.store);
  return result;
}

/** Issues a key for an enabled user of the scope's tenant. The profile must not exceed the user's role. */
export function issueKey(scope: TenantScope, userId: string, input: NewKey, createdBy: string | null, now = Date.now()) {
  const user = findUser(scope, userId);
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
  const key = createApiKey(scope.store, { tenantId: scope.tenantId, userId: user.id, name: input.name, profile: profile.name, createdBy, expiresAt }, now);
  return {
    id: key.id,
    key: key.secret,
    user_id: user.id,
    name: input.name,
    profile: profile.name,
    prefix: key.prefix,
    scopes: [...effectiveScopes(profile, user.role)],
    allowed_tools: profile.allowed_tools,
    read_only: profile.read_only,
    created_by: createdBy,
    created_at: isoTime(key.createdAt)!,
    expires_at: isoTime(expiresAt),
  };
}

/** The keys of a user of the scope's tenant (revoked ones included, marked; a removed user's too, by id). */
export function listKeys(scope: TenantScope, userId: string): KeyView[] {
  const user = findUser(scope, userId, { includeRemoved: true });
  return scope.store.db
    .select()
    .from(apiKeys)
    .where(scope.where(apiKeys, eq(apiKeys.userId, user.id)))
    .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))
    .all()
    .map((key) => {
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

/** Revokes a key of a user of the scope's tenant; revoking twice keeps the first time. */
export function revokeKey(scope: TenantScope, userId: string, keyId: string, now = Date.now()): { id: string; revoked_at: string } {
  const user = findUser(scope, userId);
  const key = scope.store.db.select().from(apiKeys).where(scope.where(apiKeys, eq(apiKeys.id, keyId), eq(apiKeys.userId, user.id))).get();
  if (!key) throw new NotFound(`no key ${keyId} for user ${userId}`, "key_not_found");
  if (key.revokedAt === null) {
    scope.store.db.update(apiKeys).set({ revokedAt: now }).where(scope.where(apiKeys, eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt))).run();
    credentialsChanged(scope.store);
  }
  return { id: keyId, revoked_at: isoTime(key.revokedAt ?? now)! };
}

/**
 * Gives a live key of a user of the scope's tenant a new secret (same id, name and profile); the old
 * secret keeps working for `graceSeconds`. Returns the new secret, shown this once.
 */
export function rotateKey(scope: TenantScope, userId: string, keyId: string, graceSeconds = DEFAULT_ROTATION_GRACE_SECONDS, now = Date.now()) {
  const user = findUser(scope, userId);
  const key = scope.store.db.select().from(apiKeys).where(scope.where(apiKeys, eq(apiKeys.id, keyId), eq(apiKeys.userId, user.id))).get();
  if (!key) throw new NotFound(`no key ${keyId} for user ${userId}`, "key_not_found");
  if (key.revokedAt !== null) throw new Conflict(`key ${keyId} is revoked; issue a new key instead`, "key_revoked");
  if (key.expiresAt !== null && key.expiresAt <= now) throw new Conflict(`key ${keyId} has expired; issue a new key instead`, "key_expired");
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_ROTATION_GRACE_SECONDS) {
    throw new BadRequest(`the grace period must be 0 to ${MAX_ROTATION_GRACE_SECONDS} whole seconds`, undefined, "invalid_grace");
  }
  const rotated = rotateApiKey(scope.store, key.id, graceSeconds * 1000, now);
  return {
    id: key.id,
    key: rotated.secret,
    user_id: user.id,
    name: key.name,
    profile: key.profile,
    prefix: rotated.prefix,
    rotated_at: isoTime(now)!,
    previous_secret_valid_until: isoTime(rotated.previousValidUntil),
  };
}

/** The user id owning a key of the scope's tenant. */
export function findKeyOwner(scope: TenantScope, keyId: string): string {
  const key = scope.store.db.select({ userId: apiKeys.userId }).from(apiKeys).where(scope.where(apiKeys, eq(apiKeys.id, keyId))).get();
  if (!key) throw new NotFound(`no key ${keyId} in this tenant`, "key_not_found");
  return key.userId;
}

/** A tenant id by name, for the local CLI (which acts on one tenant of the file). */
export function tenantIdByName(store: Store, name: string): string {
  const tenant = store.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, name)).get();
  if (!tenant) throw new NotFound(`no tenant named "${name}"`, "tenant_not_found");
  return tenant.id;
}

/** The oldest tenant: the one bootstrap created. */
export function firstTenantId(store: Store): string {
  const tenant = store.db.select({ id: tenants.id }).from(tenants).orderBy(asc(tenants.createdAt)).limit(1).get();
  if (!tenant) throw new NotFound("the database has no tenant", "tenant_not_found");
  return tenant.id;
}

/** Every tenant, for `invoke tenants list`. */
export function listTenants(store: Store) {
  return store.db
    .select()
    .from(tenants)
    .orderBy(asc(tenants.createdAt), asc(tenants.name))
    .all()
    .map((tenant) => ({ id: tenant.id, name: tenant.name, created_at: isoTime(tenant.createdAt)! }));
}

