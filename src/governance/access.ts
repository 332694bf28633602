/**
 * The access gate every authenticated surface (MCP over HTTP and stdio, admin REST) passes first, on
 * every request: credential, then rate limit. Returns the caller or a refusal with its HTTP status;
 * surfaces only choose the body. The `x-user-id` header and cookies never authenticate anyone.
 */
import type { Caller } from "./caller.ts";
import { keyAuthenticator, type KeyRefusal } from "./keys.ts";
import type { RateLimit } from "./profiles.ts";
import { findProfile } from "./profiles.ts";
import type { RateDecision, RateLimiter } from "./rate-limit.ts";
import type { DirectoryRepository } from "./repository.ts";

/** A refusal before anything is dispatched. */
export interface AccessRefusal {
  status: 401 | 403 | 429;
  /** snake_case reason, e.g. `missing_key`, `rate_limited`. */
  reason: string;
  message: string;
  headers: Record<string, string>;
}

/** A credential as presented, whatever carried it: HTTP headers, or the stdio server's environment. */
export interface PresentedCredential {
  /** The API key secret, or null when none was sent. */
  secret: string | null;
  /** Whether a session cookie came instead of a key. */
  cookie?: boolean;
}

/**
 * The rate-limit tokens of one admitted request's messages. Admission took the first; each further
 * message (of a JSON-RPC batch) takes its own, so a request of n messages costs n tokens.
 */
export interface MessageTokens {
  /** Takes the token of the next message, or refuses that message alone. */
  take(): AccessRefusal | undefined;
}

/** Settings of the gate. */
export interface AccessGateOptions {
  directory: DirectoryRepository;
  limiter: RateLimiter;
  /** Per-profile overrides of the limiter's default. */
  profileRateLimits?: Record<string, RateLimit>;
  now?: () => number;
  /** Told of every refusal by the rate limiter: the caller when known, undefined for keyless requests. */
  onRateLimited?: (caller: Caller | undefined) => void;
}

const KEY_REFUSALS: Record<KeyRefusal, string> = {
  malformed: "The API key is not in the inv_live_ format.",
  unknown: "The API key is not valid (unknown or revoked).",
  expired: "The API key has expired.",
  rotated: "This API key secret was replaced by a rotation and its grace period has ended; use the new secret.",
  disabled: "The API key's user is disabled; an admin of the tenant can enable them again.",
};

/** RFC 9110 requires a challenge on 401; a non-Bearer scheme keeps OAuth-capable clients from starting a login flow. */
const CHALLENGE = { "WWW-Authenticate": 'ApiKey header="X-API-Key"' };

/** How often a key's `last_used_at` is written at most: once a minute keeps writes off the hot path. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** The credential an HTTP request presents: `X-API-Key`, else `Authorization: Bearer`. */
function presentedCredential(headers: Headers): PresentedCredential {
  const key = headers.get("x-api-key");
  if (key !== null) return { secret: key.trim() };
  const authorization = headers.get("authorization");
  if (authorization !== null && /^bearer\s+/i.test(authorization)) return { secret: authorization.replace(/^bearer\s+/i, "").trim() };
  return { secret: null, cookie: headers.has("cookie") };
}

/** Rate-limit headers (IETF RateLimit header fields draft) plus Retry-After. */
function limitHeaders(decision: RateDecision): Record<string, string> {
  return {
    "Retry-After": String(decision.retryAfterSeconds),
    "RateLimit-Limit": String(decision.limit),
    "RateLimit-Remaining": String(decision.remaining),
    "RateLimit-Reset": String(decision.resetSeconds),
  };
}

/** Authenticates requests and applies rate limits. */
export class AccessGate {
  private readonly authenticate: ReturnType<typeof keyAuthenticator>;
  private readonly limiter: RateLimiter;
  private readonly profileRateLimits: Record<string, RateLimit>;
  private readonly now: () => number;
  private readonly directory: DirectoryRepository;
  private readonly lastUsedWritten = new Map<string, number>();
  private readonly onRateLimited: (caller: Caller | undefined) => void;

  constructor(options: AccessGateOptions) {
    this.directory = options.directory;
    this.authenticate = keyAuthenticator(options.directory);
    this.limiter = options.limiter;
    this.profileRateLimits = options.profileRateLimits ?? {};
    this.now = options.now ?? Date.now;
    this.onRateLimited = options.onRateLimited ?? (() => {});
  }

  /** The rate limit that applies to `caller`. */
  rateLimitFor(caller: Pick<Caller, "profile">): RateLimit {
    return this.profileRateLimits[caller.profile] ?? findProfile(caller.profile)?.rate_limit ?? this.limiter.defaultLimit;
  }

  /** The caller's remaining budget, for `invoke.whoami`. */
  headroom(caller: Caller) {
    return this.limiter.peek(`key:${caller.keyId}`, this.rateLimitFor(caller));
  }

  /** Resolves a secret to its caller without rate limiting (the stdio server's check at start, before it serves). */
  async callerFor(secret: string): Promise<Caller | KeyRefusal> {
    return this.authenticate(secret, this.now());
  }

  /**
   * Resolves the request's caller from the key's current row (revocation, expiry, the user's role), or
   * refuses it, and takes the request's token. `clientAddress` (asked only when needed) keys the limiter
   * for requests without a valid key.
   */
  async admit(from: Headers | PresentedCredential, clientAddress: () => string): Promise<Caller | AccessRefusal> {
    const { secret, cookie } = from instanceof Headers ? presentedCredential(from) : from;
    const authenticated = secret === null ? "missing" : this.authenticate(secret, this.now());
    // A cached caller is admitted at once, without a wait: the hot path (and stdio admits in arrival order).
    const outcome = authenticated instanceof Promise ? await authenticated : authenticated;
    if (typeof outcome === "string") {
      const limited = this.limit(`addr:${clientAddress()}`, this.limiter.defaultLimit);
      if (limited) {
        this.onRateLimited(undefined);
        return limited;
      }
      if (outcome === "missing") {
        return cookie
          ? // Seed 003: this surface is for agents holding server credentials; a browser session must not inherit it.
            refusal(403, "session_cookie_rejected", "Session cookies are not accepted here; send an API key in the X-API-Key header.")
          : refusal(401, "missing_key", "Missing API key: send it in the X-API-Key header.", CHALLENGE);
      }
      // A disabled user is known and authenticated, just not allowed: 403, so clients do not retry other credentials.
      if (outcome === "disabled") return refusal(403, "user_disabled", KEY_REFUSALS.disabled);
      return refusal(401, `${outcome}_key`, KEY_REFUSALS[outcome], CHALLENGE);
    }
    const limited = this.limitCaller(outcome);
    if (limited) return limited;
    this.noteUse(outcome.keyId);
    return outcome;
  }

  /** Takes one request from an authenticated caller's budget. */
  private limitCaller(caller: Caller): AccessRefusal | undefined {
    const limited = this.limit(`key:${caller.keyId}`, this.rateLimitFor(caller));
    if (limited) this.onRateLimited(caller);
    return limited;
  }

  /** The tokens of the messages of a request `admit` let in (its first token already taken). */
  messageTokens(caller: Caller): MessageTokens {
    let prepaid = 1;
    return { take: () => (prepaid-- > 0 ? undefined : this.limitCaller(caller)) };
  }

  /** Takes a token; a limiter that fails refuses (fail-closed), never admits unlimited. */
  private limit(bucket: string, limit: RateLimit): AccessRefusal | undefined {
    let decision: RateDecision;
    try {
      decision = this.limiter.consume(bucket, limit);
    } catch {
      return refusal(429, "rate_limiter_unavailable", "The rate limiter could not decide; try again shortly.", { "Retry-After": "1" });
    }
    if (decision.allowed) return undefined;
    return refusal(429, "rate_limited", `Rate limit of ${decision.limit} requests per ${limit.per_seconds} s exceeded; retry in ${decision.retryAfterSeconds} s.`, limitHeaders(decision));
  }

  private noteUse(keyId: string): void {
    const now = this.now();
    const last = this.lastUsedWritten.get(keyId);
    if (last !== undefined && now - last < LAST_USED_RESOLUTION_MS) return;
    this.lastUsedWritten.set(keyId, now);
    // Best effort: a failed write refuses nothing. Written at most once per key per resolution, on this
    // thread (the SQLite store writes before it returns, so it waits out another process's write lock).
    this.directory.noteKeyUse(keyId, now).catch(() => {});
  }
}

/** Whether `value` is a refusal rather than a caller. */
export function isRefusal(value: Caller | AccessRefusal): value is AccessRefusal {
  return "status" in value;
}

function refusal(status: AccessRefusal["status"], reason: string, message: string, headers: Record<string, string> = {}): AccessRefusal {
  return { status, reason, message, headers };
}
