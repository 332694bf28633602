/** Small text helpers shared across modules: glob patterns and timestamps. */

/** `text` with every regular-expression metacharacter escaped. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

/** A glob over names (`*` matches any run of characters, including dots) as an anchored regular expression. */
export function globRegExp(glob: string): RegExp {
  return new RegExp(`^${escapeRegExp(glob).replaceAll("*", ".*")}$`);
}

/** An epoch-milliseconds time as ISO 8601, keeping null. */
export function isoTime(time: number | null): string | null {
  return time === null ? null : new Date(time).toISOString();
}
