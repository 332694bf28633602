/**
 * API keys: `inv_live_` + 40 base62 characters, shown once, stored only as a SHA-256 digest.
 * Keys carry 238 bits of entropy, so a fast hash is enough: there is nothing to brute-force.
 */
import { and, eq, isNull, or, sql } from "drizzle-orm";
import { newId, randomBase62 } from "../ids.ts";
import type { Store } from "../storage/sqlite/db.ts";
import { apiKeys, tenants, users } from "../storage/sqlite/schema.ts";
import type { Caller, Role } from "./caller.ts";
import { effectiveScopes, findProfile } from "./profiles.ts";

const KEY_PREFIX = "inv_live_";
const KEY_SHAPE = /^inv_live_[0-9A-Za-z]{32,128}$/;

/** A new secret in the public key format. */
export function generateKeySecret(): string {
  return KEY_PREFIX + randomBase62(40);
}

/** The digest under which a secret is stored and looked up. */
export function hashKeySecret(secret: string): string {
  return new Bun.CryptoHasher("sha256").update(secret).digest("hex");
}

/** What people see of a key instead of its secret: the format prefix and four characters. */
function displayPrefix(secret: string): string {
  return secret.slice(0, KEY_PREFIX.length + 4);
}

/** The fields of a new key. */
export interface NewKey {
  tenantId: string;
  userId: string;
  name: string;
  profile: string;
  createdBy: string | null;
  expiresAt?: number | null;
}

/** Stores a new key and returns its id and its secret (the only time the secret exists outside the caller). */
export function createApiKey(store: Store, key: NewKey, createdAt = Date.now()): { id: string; secret: string; prefix: string; createdAt: number } {
  const secret = generateKeySecret();
  const id = newId("key");
  const prefix = displayPrefix(secret);
  store.db
    .insert(apiKeys)
    .values({
      id,
      tenantId: key.tenantId,
      userId: key.userId,
      name: key.name,
      profile: key.profile,
      secretHash: hashKeySecret(secret),
      prefix,
      createdBy: key.createdBy,
      createdAt,
      expiresAt: key.expiresAt ?? null,
    })
    .run();
  return { id, secret, prefix, createdAt };
}

/**
 * Issues a new secret for an existing key: same id, name and profile, so its records stay one key's.
 * The replaced secret keeps admitting the key for `graceMs` (0: refused at once); only the latest
 * replaced secret has a grace period, an older one still in its grace is refused from now on.
 */
export function rotateApiKey(store: Store, keyId: string, graceMs: number, now = Date.now()): { secret: string; prefix: string; previousValidUntil: number | null } {
  const secret = generateKeySecret();
  const prefix = displayPrefix(secret);
  const previousValidUntil = graceMs > 0 ? now + graceMs : null;
  store.db
    .update(apiKeys)
    .set({
      secretHash: hashKeySecret(secret),
      prefix,
      previousSecretHash: previousValidUntil === null ? null : sql`${apiKeys.secretHash}`,
      previousSecretExpiresAt: previousValidUntil,
      rotatedAt: now,
    })
    .where(eq(apiKeys.id, keyId))
    .run();
  credentialsChanged(store);
  return { secret, prefix, previousValidUntil };
}

/**
 * Why a presented key was refused. `rotated`: a replaced secret past its grace period; `disabled`: the
 * key is valid but its user is disabled (the only refusal that tells the presenter the key is known).
 */
export type KeyRefusal = "malformed" | "unknown" | "expired" | "rotated" | "disabled";

const localEpochs = new WeakMap<Store, number>();

/** Tells every authenticator on `store` that users, keys or tenants changed in this process. */
export function credentialsChanged(store: Store): void {
  localEpochs.set(store, (localEpochs.get(store) ?? 0) + 1);
}

/**
 * Resolves a presented secret to its caller, or says why not. Revoked keys, and keys whose user row is
 * gone or removed, are indistinguishable from unknown ones to the presenter; a disabled user's keys are
 * refused as such; the role is the user's current one. A rotated key's replaced secret admits it until
 * its grace period ends.
 *
 * Resolved callers are cached: the joined lookup costs more than the rest of a cheap call. The cache
 * is dropped when this process changes credentials (`credentialsChanged`) and when another process has
 * committed to the file (SQLite's `data_version`, read on every call: about 1.5 µs), so a revocation,
 * a role change or a removal from any process is seen on the very next call, on every transport.
 */
export function keyAuthenticator(store: Store): (secret: string, now?: number) => Caller | KeyRefusal {
  const lookup = store.db
    .select({
      tenantId: apiKeys.tenantId,
      tenantName: tenants.name,
      userId: apiKeys.userId,
      email: users.email,
      role: users.role,
      keyId: apiKeys.id,
      keyName: apiKeys.name,
      profile: apiKeys.profile,
      expiresAt: apiKeys.expiresAt,
      secretHash: apiKeys.secretHash,
      previousSecretExpiresAt: apiKeys.previousSecretExpiresAt,
      disabledAt: users.disabledAt,
    })
    .from(apiKeys)
    .innerJoin(users, and(eq(users.id, apiKeys.userId), eq(users.tenantId, apiKeys.tenantId), isNull(users.removedAt)))
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(and(or(eq(apiKeys.secretHash, sql.placeholder("hash")), eq(apiKeys.previousSecretHash, sql.placeholder("hash"))), isNull(apiKeys.revokedAt)))
    .prepare();
  const dataVersion = store.sqlite.prepare("PRAGMA data_version");
  const readDataVersion = () => (dataVersion.get() as { data_version: number }).data_version;

  /** A resolved secret: its caller, and until when a replaced secret still admits it (null: the current secret). */
  type Resolved = { caller: Caller; graceEndsAt: number | null } | "unknown" | "disabled";
  const cache = new Map<string, Resolved>();
  let epoch = localEpochs.get(store) ?? 0;
  let version = readDataVersion();

  const resolve = (hash: string): Resolved => {
    const row = lookup.get({ hash });
    if (row === undefined) return "unknown";
    const { secretHash, previousSecretExpiresAt, disabledAt, ...fields } = row;
    const profile = findProfile(row.profile);
    // A key whose profile this build does not know grants nothing: refuse it rather than guess.
    if (profile === undefined) return "unknown";
    if (disabledAt !== null) return "disabled";
    const role = row.role as Role;
    const caller = { ...fields, role, scopes: effectiveScopes(profile, role), allowedTools: profile.allowed_tools, readOnly: profile.read_only };
    return { caller, graceEndsAt: secretHash === hash ? null : (previousSecretExpiresAt ?? 0) };
  };

  return (secret, now = Date.now()) => {
    if (!KEY_SHAPE.test(secret)) return "malformed";
    const currentEpoch = localEpochs.get(store) ?? 0;
    const currentVersion = readDataVersion();
    if (currentEpoch !== epoch || currentVersion !== version) {
      cache.clear();
      epoch = currentEpoch;
      version = currentVersion;
    }
    const hash = hashKeySecret(secret);
    let resolved = cache.get(hash);
    if (resolved === undefined) {
      resolved = resolve(hash);
      // Unknown secrets are not cached: guesses would fill memory. They are throttled per address instead.
      if (resolved !== "unknown") cache.set(hash, resolved);
    }
    if (typeof resolved === "string") return resolved;
    const { caller, graceEndsAt } = resolved;
    if (caller.expiresAt !== null && caller.expiresAt <= now) return "expired";
    if (graceEndsAt !== null && graceEndsAt <= now) return "rotated";
    return caller;
  };
}
