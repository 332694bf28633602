/** The `Origin` allow-list that guards the MCP endpoint against DNS rebinding (MCP transports spec). */
import { escapeRegExp } from "../text.ts";

/** A pattern as a regular expression: `*` stands for one DNS label or a port, nothing wider. */
function patternToRegExp(pattern: string): RegExp {
  const escaped = escapeRegExp(pattern).replaceAll("*", "[A-Za-z0-9-]+");
  return new RegExp(`^${escaped}$`, "i");
}

/** Returns a predicate: true when a request with this `Origin` header value may proceed. "*" alone allows every origin. */
export function originPolicy(patterns: readonly string[]): (origin: string | null) => boolean {
  if (patterns.includes("*")) return () => true;
  const exact = new Set(patterns.filter((pattern) => !pattern.includes("*")).map((pattern) => pattern.toLowerCase()));
  const wildcards = patterns.filter((pattern) => pattern.includes("*")).map(patternToRegExp);
  // Requests without Origin come from non-browser clients, which DNS rebinding cannot drive.
  return (origin) => origin === null || exact.has(origin.toLowerCase()) || wildcards.some((pattern) => pattern.test(origin));
}
