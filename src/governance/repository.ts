/**
 * What the governance room keeps in a store: the directory (tenants, their users, the users' API keys)
 * and approver groups. Rows of a tenant are reached only through methods naming that tenant; each
 * write is one atomic step, including the checks it states (a unique email, the last admin).
 */
import type { Caller, Role } from "./caller.ts";

/** A tenant. */
export interface StoredTenant {
  id: string;
  /** Unique across the store. */
  name: string;
  createdAt: number;
}

/** A user of a tenant. */
export interface StoredUser {
  id: string;
  tenantId: string;
  /** Lower-cased; unique among the tenant's users that are not removed. */
  email: string;
  role: Role;
  createdAt: number;
  disabledAt: number | null;
  /** A removed user's row stays (records name its id) but refuses everything and frees its email. */
  removedAt: number | null;
}

/** A new user's fields. */
export type NewStoredUser = Pick<StoredUser, "id" | "email" | "role" | "createdAt">;

/** An API key as stored: never its secret, only the secret's digest. */
export interface StoredKey {
  id: string;
  tenantId: string;
  userId: string;
  name: string;
  profile: string;
  /** What people see of the secret. */
  prefix: string;
  createdBy: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  expiresAt: number | null;
  revokedAt: number | null;
  /** When the key last got a new secret. */
  rotatedAt: number | null;
}

/** A new key's fields: the digest of its secret, unique across the store. */
export type NewStoredKey = Pick<StoredKey, "id" | "tenantId" | "userId" | "name" | "profile" | "prefix" | "createdBy" | "createdAt" | "expiresAt"> & { secretHash: string };

/** A new secret for an existing key. */
export interface NewKeySecret {
  secretHash: string;
  prefix: string;
  /** Until when the replaced secret still admits the key; null refuses it at once. */
  previousValidUntil: number | null;
  rotatedAt: number;
}

/** A tenant with its first admin and that admin's key, stored together or not at all. */
export interface NewTenant {
  tenant: StoredTenant;
  admin: NewStoredUser;
  key: NewStoredKey;
}

/**
 * What authentication needs of the live key a secret's digest names: its user (neither removed nor in
 * another tenant) and tenant. Revoked keys are never found.
 */
export interface KeyHolder extends Pick<Caller, "tenantId" | "tenantName" | "userId" | "email" | "role" | "keyId" | "keyName" | "profile" | "expiresAt"> {
  disabledAt: number | null;
  /** Null when the digest is the key's current secret; else when the replaced secret stops admitting it (0: already refused). */
  graceEndsAt: number | null;
}

/** The last-admin rule: a change that would leave a tenant that has an enabled admin without one is refused. */
export type LastAdmin = "last_admin";

/** Tenants, users and keys. */
export interface DirectoryRepository {
  /**
   * Stores a tenant with its admin and key. `exists`: the name is taken; `not_first` (only with
   * `onlyIfFirst`): the store already holds a tenant. Nothing is stored unless `created`.
   */
  createTenant(tenant: NewTenant, options?: { onlyIfFirst?: boolean }): Promise<"created" | "exists" | "not_first">;
  /** Every tenant, oldest first (then by name). */
  listTenants(): Promise<StoredTenant[]>;
  /** A tenant by its name. */
  findTenantByName(name: string): Promise<StoredTenant | undefined>;

  /** Stores a user; false (nothing stored) when a user of the tenant that is not removed has the email. */
  addUser(tenantId: string, user: NewStoredUser): Promise<boolean>;
  /** The tenant's users that are not removed, oldest first. */
  listUsers(tenantId: string): Promise<StoredUser[]>;
  /** A user of the tenant by id; a removed one only with `includeRemoved`. */
  findUser(tenantId: string, userId: string, options?: { includeRemoved?: boolean }): Promise<StoredUser | undefined>;
  /** The user of the tenant, not removed, with the (lower-cased) email. */
  findUserByEmail(tenantId: string, email: string): Promise<StoredUser | undefined>;
  /** Changes a user's role or disabled time under the last-admin rule; undefined when there is no such user (or it is removed). */
  changeUser(tenantId: string, userId: string, change: { role?: Role; disabledAt?: number | null }): Promise<StoredUser | LastAdmin | undefined>;
  /** Marks a user removed and revokes its live keys, under the last-admin rule; undefined when there is no such user. */
  removeUser(tenantId: string, userId: string, at: number): Promise<{ revokedKeys: number } | LastAdmin | undefined>;

  /** Stores a key. */
  addKey(key: NewStoredKey): Promise<void>;
  /** The tenant's keys (one user's when `userId` is given), revoked ones included, oldest first. */
  listKeys(tenantId: string, userId?: string): Promise<StoredKey[]>;
  /** A key of the tenant. */
  findKey(tenantId: string, keyId: string): Promise<StoredKey | undefined>;
  /** Revokes a key of the tenant; a revoked key keeps its first revocation time. */
  revokeKey(tenantId: string, keyId: string, at: number): Promise<void>;
  /** Gives a key of the tenant a new secret; the current one becomes the replaced secret (an older replaced one is dropped). */
  rotateKey(tenantId: string, keyId: string, secret: NewKeySecret): Promise<void>;

  /** The holder of the live key whose current or replaced secret has this digest (asked on a request whose key is not cached). */
  findKeyHolder(secretHash: string): Promise<KeyHolder | undefined>;
  /**
   * A number that changes whenever users, keys or tenants may have changed, by this process or any other
   * sharing the store: callers cached under an older number are stale. Synchronous and cheap: asked on
   * every request.
   */
  credentialsVersion(): number;
  /** Notes when a key was last used (best effort). */
  noteKeyUse(keyId: string, at: number): Promise<void>;
}

/** An approver group with its members. */
export interface StoredGroup {
  name: string;
  createdAt: number;
  /** By email. */
  members: { userId: string; email: string; addedAt: number }[];
}

/** Approver groups per tenant. */
export interface GroupRepository {
  /** The tenant's groups by name. */
  listGroups(tenantId: string): Promise<StoredGroup[]>;
  /** One group of the tenant. */
  findGroup(tenantId: string, name: string): Promise<StoredGroup | undefined>;
  /** Stores an empty group; false when the tenant has one of that name. */
  addGroup(tenantId: string, group: { name: string; createdBy: string | null; createdAt: number }): Promise<boolean>;
  /** Deletes a group with its memberships. */
  deleteGroup(tenantId: string, name: string): Promise<void>;
  /**
   * Adds a user of the tenant to one of its groups, in one step with checking that both still exist (the
   * user not removed); a member stays as they were added. False, and nothing stored, when one is gone.
   */
  addMember(tenantId: string, name: string, member: { userId: string; addedBy: string | null; addedAt: number }): Promise<boolean>;
  /** Removes a user from a group of the tenant. */
  removeMember(tenantId: string, name: string, userId: string): Promise<void>;
}
