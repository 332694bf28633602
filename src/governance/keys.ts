/**
 * API keys: `inv_live_` + 40 base62 characters, shown once, stored only as a SHA-256 digest.
 * Keys carry 238 bits of entropy, so a fast hash is enough: there is nothing to brute-force.
 */
import { randomBase62 } from "../ids.ts";
import type { Caller } from "./caller.ts";
import { effectiveScopes, findProfile } from "./profiles.ts";
import type { DirectoryRepository } from "./repository.ts";

const KEY_PREFIX = "inv_live_";
const KEY_SHAPE = /^inv_live_[0-9A-Za-z]{32,128}$/;

/** The digest under which a secret is stored and looked up. */
function hashKeySecret(secret: string): string {
  return new Bun.CryptoHasher("sha256").update(secret).digest("hex");
}

/**
 * A new secret in the public key format (shown once, then only its digest exists), with what is
 * stored of it: the digest and what people see instead of the secret (the format prefix and four characters).
 */
export function newKeySecret(): { secret: string; secretHash: string; prefix: string } {
  const secret = KEY_PREFIX + randomBase62(40);
  return { secret, secretHash: hashKeySecret(secret), prefix: secret.slice(0, KEY_PREFIX.length + 4) };
}

/**
 * Why a presented key was refused. `rotated`: a replaced secret past its grace period; `disabled`: the
 * key is valid but its user is disabled (the only refusal that tells the presenter the key is known).
 */
export type KeyRefusal = "malformed" | "unknown" | "expired" | "rotated" | "disabled";

/**
 * Resolves a presented secret to its caller, or says why not. Revoked keys, and keys whose user row is
 * gone or removed, are indistinguishable from unknown ones to the presenter; a disabled user's keys are
 * refused as such; the role is the user's current one. A rotated key's replaced secret admits it until
 * its grace period ends.
 *
 * Resolved callers are cached: the joined lookup costs more than the rest of a cheap call, and a cached
 * answer is given at once (no promise: the gate's hot path). The cache is dropped whenever the
 * directory's `credentialsVersion` moves (read on every call, cheaply), so a revocation, a role change
 * or a removal from any process is seen on the very next call, on every transport.
 */
export function keyAuthenticator(directory: DirectoryRepository): (secret: string, now?: number) => Caller | KeyRefusal | Promise<Caller | KeyRefusal> {
  /** A resolved secret: its caller, and until when a replaced secret still admits it (null: the current secret). */
  type Resolved = { caller: Caller; graceEndsAt: number | null } | "unknown" | "disabled";
  const cache = new Map<string, Resolved>();
  let version = directory.credentialsVersion();

  const resolve = async (hash: string): Promise<Resolved> => {
    const holder = await directory.findKeyHolder(hash);
    if (holder === undefined) return "unknown";
    const { graceEndsAt, disabledAt, ...fields } = holder;
    const profile = findProfile(holder.profile);
    // A key whose profile this build does not know grants nothing: refuse it rather than guess.
    if (profile === undefined) return "unknown";
    if (disabledAt !== null) return "disabled";
    const caller = { ...fields, scopes: effectiveScopes(profile, holder.role), allowedTools: profile.allowed_tools, readOnly: profile.read_only };
    return { caller, graceEndsAt };
  };

  const answer = (resolved: Resolved, now: number): Caller | KeyRefusal => {
    if (typeof resolved === "string") return resolved;
    const { caller, graceEndsAt } = resolved;
    if (caller.expiresAt !== null && caller.expiresAt <= now) return "expired";
    if (graceEndsAt !== null && graceEndsAt <= now) return "rotated";
    return caller;
  };

  return (secret, now = Date.now()) => {
    if (!KEY_SHAPE.test(secret)) return "malformed";
    const current = directory.credentialsVersion();
    if (current !== version) {
      cache.clear();
      version = current;
    }
    const hash = hashKeySecret(secret);
    const cached = cache.get(hash);
    if (cached !== undefined) return answer(cached, now);
    return resolve(hash).then((resolved) => {
      // Unknown secrets are not cached: guesses would fill memory. They are throttled per address instead.
      // Nor is an answer read while credentials changed: it may predate the change.
      if (resolved !== "unknown" && directory.credentialsVersion() === current) cache.set(hash, resolved);
      return answer(resolved, now);
    });
  };
}
