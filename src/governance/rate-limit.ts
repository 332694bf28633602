/**
 * Token-bucket rate limiting per caller: per key once authenticated, per client address before (so
 * guessing keys is throttled too). Decisions are synchronous, so concurrent requests in this process
 * are admitted exactly up to the bucket. Full buckets carry no information and are dropped, which
 * keeps memory bounded by the number of recently active callers; past `maxBuckets` active callers new
 * ones are refused (fail-closed) rather than admitted unlimited.
 */
import type { RateLimit } from "./profiles.ts";

/** The limiter's answer. */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
  /** When refused: seconds until one request is admitted. */
  retryAfterSeconds: number;
}

/** Settings of a limiter. */
export interface RateLimiterOptions {
  defaultLimit: RateLimit;
  /** Most buckets kept at once. */
  maxBuckets?: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  limit: RateLimit;
}

/** A token-bucket limiter over string keys. */
export class RateLimiter {
  readonly defaultLimit: RateLimit;
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxBuckets: number;
  private readonly now: () => number;
  private decisionsSinceSweep = 0;

  constructor(options: RateLimiterOptions) {
    this.defaultLimit = options.defaultLimit;
    this.maxBuckets = options.maxBuckets ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  /** Takes one token from `key`'s bucket if it has one. */
  consume(key: string, limit: RateLimit = this.defaultLimit): RateDecision {
    const now = this.now();
    if (++this.decisionsSinceSweep >= 10_000) this.sweep(now);
    let bucket = this.refilled(key, limit, now);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxBuckets) this.sweep(now);
      if (this.buckets.size >= this.maxBuckets) return this.refusal(limit, 0, limit.per_seconds);
      bucket = { tokens: limit.requests, updatedAt: now, limit };
      this.buckets.set(key, bucket);
    }
    const perToken = (limit.per_seconds * 1000) / limit.requests;
    if (bucket.tokens < 1) return this.refusal(limit, bucket.tokens, Math.ceil(((1 - bucket.tokens) * perToken) / 1000));
    bucket.tokens -= 1;
    return {
      allowed: true,
      limit: limit.requests,
      remaining: Math.floor(bucket.tokens),
      resetSeconds: Math.ceil(((limit.requests - bucket.tokens) * perToken) / 1000),
      retryAfterSeconds: 0,
    };
  }

  /** What `key` has left, without taking anything. */
  peek(key: string, limit: RateLimit = this.defaultLimit): { limit: number; remaining: number; window_seconds: number } {
    const bucket = this.refilled(key, limit, this.now());
    return { limit: limit.requests, remaining: Math.floor(bucket?.tokens ?? limit.requests), window_seconds: limit.per_seconds };
  }

  /** How many buckets are held (for tests of eviction). */
  get size(): number {
    return this.buckets.size;
  }

  private refilled(key: string, limit: RateLimit, now: number): Bucket | undefined {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return undefined;
    if (bucket.limit.requests !== limit.requests || bucket.limit.per_seconds !== limit.per_seconds) {
      // The limit changed (configuration reload): start the caller on the new budget.
      this.buckets.delete(key);
      return undefined;
    }
    const elapsed = Math.max(0, now - bucket.updatedAt);
    bucket.tokens = Math.min(limit.requests, bucket.tokens + (elapsed * limit.requests) / (limit.per_seconds * 1000));
    bucket.updatedAt = now;
    return bucket;
  }

  private refusal(limit: RateLimit, tokens: number, retryAfterSeconds: number): RateDecision {
    const perToken = (limit.per_seconds * 1000) / limit.requests;
    return {
      allowed: false,
      limit: limit.requests,
      remaining: 0,
      resetSeconds: Math.ceil(((limit.requests - tokens) * perToken) / 1000),
      retryAfterSeconds: Math.max(1, retryAfterSeconds),
    };
  }

  /** Drops buckets that have refilled completely: they are indistinguishable from absent ones. */
  private sweep(now: number): void {
    this.decisionsSinceSweep = 0;
    for (const [key, bucket] of this.buckets) {
      const elapsed = now - bucket.updatedAt;
      if (bucket.tokens + (elapsed * bucket.limit.requests) / (bucket.limit.per_seconds * 1000) >= bucket.limit.requests) this.buckets.delete(key);
    }
  }
}
