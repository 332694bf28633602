/**
 * Redaction of secrets before arguments are recorded: a record is readable by every key with
 * traces:read, so credentials an agent passed to a tool must never reach it.
 */

/** Key names that hold secrets: matched anywhere in the name, case-insensitively (`db_password`, `X-Api-Key`, `refreshToken`). */
const SECRET_KEY = /pass(?:word|wd)|token|secret|authorization|api[-_]?key|cookie|credential|private[-_]?key/i;

/** What a redacted value is replaced by. */
export const REDACTED = "[REDACTED]";

/** A copy of `value` in which every value under a secret-looking key, at any depth and in arrays, is `[REDACTED]`; the input is not changed. */
export function redact(value: unknown): unknown {
  if (value === null || typeof value !== "object") return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return redact((value as { toJSON(): unknown }).toJSON());
  if (Array.isArray(value)) return value.map(redact);
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = SECRET_KEY.test(key) ? REDACTED : redact(item);
  return copy;
}
