/**
 * Redaction of secrets before arguments, errors and log lines are kept or shown: a record is readable by
 * every key with traces:read, so credentials an agent passed to a tool must never reach it. Values go by
 * their key's name (`password`, `token`…) and by their shape (see `secret-patterns.ts`): only the secret
 * part of a string is replaced, the rest stays readable.
 */
import { redactText, REDACTED, SECRET_NAME } from "./secret-patterns.ts";

export { REDACTED, redactText };

/**
 * A copy of `value` in which every value under a secret-looking key, and every secret inside a string
 * (keys included), at any depth and in arrays, is `[REDACTED]`; `known` are further values to hide (a
 * tenant's connector secrets). The input is not changed.
 */
export function redact(value: unknown, known: readonly string[] = []): unknown {
  if (typeof value === "string") return redactText(value, known);
  if (value === null || typeof value !== "object") return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return redact((value as { toJSON(): unknown }).toJSON(), known);
  if (Array.isArray(value)) return value.map((item) => redact(item, known));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[redactText(key, known)] = SECRET_NAME.test(key) ? REDACTED : redact(item, known);
  return copy;
}
