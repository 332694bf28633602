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
export function createApiKey(store: Store, key: NewKey): { id: string; secret: string; prefix: string; createdAt: number } {
  const secret = generateKeySecret();
  const id = newId("key");
  const createdAt = Date.now();
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

/**
 * Resolves a presented secret to its caller, or says why not. Revoked keys are indistinguishable from
 * unknown ones to the presenter. Built once per store: the lookup is a prepared statement.
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

  return (secret, now = Date.now()) => {
    if (!KEY_SHAPE.test(secret)) return "malformed";
    const row = lookup.get({ hash: hashKeySecret(secret) });
    if (row === undefined) return "unknown";
    if (row.expiresAt !== null && row.expiresAt <= now) return "expired";
    const profile = findProfile(row.profile);
    // A key whose profile this build does not know grants nothing: refuse it rather than guess.
    if (profile === undefined) return "unknown";
    const role = row.role as Role;
    return { ...row, role, scopes: effectiveScopes(profile, role), allowedTools: profile.allowed_tools, readOnly: profile.read_only };
  };
}
