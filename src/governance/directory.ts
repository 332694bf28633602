/**
 * Users and their API keys, within one tenant: the services behind the admin REST routes and the
 * `invoke users` / `invoke keys` commands. Every query goes through a TenantScope.
 */
import { Type, type Static } from "@sinclair/typebox";
import { asc, eq, isNull } from "drizzle-orm";
import { BadRequest, Conflict, Forbidden, NotFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { isoTime } from "../text.ts";
import { apiKeys, tenants, users } from "../storage/schema.ts";
import type { TenantScope } from "../storage/tenant-scope.ts";
import type { Store } from "../storage/db.ts";
import { ROLES, roleAtLeast, type Role } from "./caller.ts";
import { createApiKey, credentialsChanged } from "./keys.ts";
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

/** A user as the API shows it. */
export interface UserView {
  id: string;
  email: string;
  role: Role;
  created_at: string;
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
}

/** Creates a user in the scope's tenant. */
export function createUser(scope: TenantScope, input: NewUser, now = Date.now()): UserView {
  const email = input.email.trim().toLowerCase();
  const existing = scope.store.db.select({ id: users.id }).from(users).where(scope.where(users, eq(users.email, email))).get();
  if (existing) throw new Conflict(`a user with email ${email} already exists in this tenant`, "user_exists");
  const id = newId("usr");
  scope.store.db.insert(users).values({ id, tenantId: scope.tenantId, email, role: input.role, createdAt: now }).run();
  return { id, email, role: input.role, created_at: isoTime(now)! };
}

/** The scope's users, oldest first. */
export function listUsers(scope: TenantScope): UserView[] {
  return scope.store.db
    .select()
    .from(users)
    .where(scope.where(users))
    .orderBy(asc(users.createdAt), asc(users.id))
    .all()
    .map((user) => ({ id: user.id, email: user.email, role: user.role, created_at: isoTime(user.createdAt)! }));
}

/** A user of the scope's tenant by id or email; a user of another tenant is as absent as a missing one. */
export function findUser(scope: TenantScope, idOrEmail: string): UserView {
  const column = idOrEmail.includes("@") ? users.email : users.id;
  const value = idOrEmail.includes("@") ? idOrEmail.trim().toLowerCase() : idOrEmail;
  const user = scope.store.db.select().from(users).where(scope.where(users, eq(column, value))).get();
  if (!user) throw new NotFound(`no user ${idOrEmail} in this tenant`, "user_not_found");
  return { id: user.id, email: user.email, role: user.role, created_at: isoTime(user.createdAt)! };
}

/** Issues a key for a user of the scope's tenant. The profile must not exceed the user's role. */
export function issueKey(scope: TenantScope, userId: string, input: NewKey, createdBy: string | null, now = Date.now()) {
  const user = findUser(scope, userId);
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

/** The keys of a user of the scope's tenant (revoked ones included, marked). */
export function listKeys(scope: TenantScope, userId: string): KeyView[] {
  const user = findUser(scope, userId);
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
    .orderBy(asc(tenants.createdAt))
    .all()
    .map((tenant) => ({ id: tenant.id, name: tenant.name, created_at: isoTime(tenant.createdAt)! }));
}

