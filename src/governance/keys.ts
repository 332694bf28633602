/**
 * API keys: `inv_live_` + 40 base62 characters, shown once, stored only as a SHA-256 digest.
 * Keys carry 238 bits of entropy, so a fast hash is enough: there is nothing to brute-force.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import { newId, randomBase62 } from "../ids.ts";
import type { Store } from "../storage/db.ts";
import { apiKeys, tenants, users } from "../storage/schema.ts";
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

/** Why a presented key was refused. */
export type KeyRefusal = "malformed" | "unknown" | "expired";

const localEpochs = new WeakMap<Store, number>();

/** Tells every authenticator on `store` that users, keys or tenants changed in this process. */
export function credentialsChanged(store: Store): void {
  localEpochs.set(store, (localEpochs.get(store) ?? 0) + 1);
}

/**
 * Resolves a presented secret to its caller, or says why not. Revoked keys, and keys whose user row is
 * gone, are indistinguishable from unknown ones to the presenter; the role is the user's current one.
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
    })
    .from(apiKeys)
    .innerJoin(users, and(eq(users.id, apiKeys.userId), eq(users.tenantId, apiKeys.tenantId)))
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(and(eq(apiKeys.secretHash, sql.placeholder("hash")), isNull(apiKeys.revokedAt)))
    .prepare();
  const dataVersion = store.sqlite.prepare("PRAGMA data_version");
  const readDataVersion = () => (dataVersion.get() as { data_version: number }).data_version;

  const cache = new Map<string, Caller | "unknown">();
  let epoch = localEpochs.get(store) ?? 0;
  let version = readDataVersion();

  const resolve = (hash: string): Caller | "unknown" => {
    const row = lookup.get({ hash });
    if (row === undefined) return "unknown";
    const profile = findProfile(row.profile);
    // A key whose profile this build does not know grants nothing: refuse it rather than guess.
    if (profile === undefined) return "unknown";
    const role = row.role as Role;
    return { ...row, role, scopes: effectiveScopes(profile, role), allowedTools: profile.allowed_tools, readOnly: profile.read_only };
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
    let caller = cache.get(hash);
    if (caller === undefined) {
      caller = resolve(hash);
      // Unknown secrets are not cached: guesses would fill memory. They are throttled per address instead.
      if (caller !== "unknown") cache.set(hash, caller);
    }
    if (caller !== "unknown" && caller.expiresAt !== null && caller.expiresAt <= now) return "expired";
    return caller;
  };
}
