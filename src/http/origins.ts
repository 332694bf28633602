/** The `Origin` allow-list that guards the MCP endpoint against DNS rebinding (MCP transports spec). */

/** Returns a predicate: true when a request with this `Origin` header value may proceed. */
export function originPolicy(patterns: readonly string[]): (origin: string | null) => boolean {
  const exact = new Set(patterns.filter((pattern) => !pattern.includes("*")));
  const globs = patterns.filter((pattern) => pattern.includes("*")).map((pattern) => new Bun.Glob(pattern));
  const allowAll = patterns.includes("*");
  return (origin) => {
    // Requests without Origin come from non-browser clients, which DNS rebinding cannot drive.
    if (origin === null || allowAll) return true;
    return exact.has(origin) || globs.some((glob) => glob.match(origin));
  };
}
