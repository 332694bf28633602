/** Small text helpers shared across modules: glob patterns and timestamps. */

/** `text` with every regular-expression metacharacter escaped. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A glob over names (`*` matches any run of characters, including dots) as a matcher. It never
 * backtracks past the last `*` seen, so a glob with many stars costs at most text × glob steps, where a
 * regular expression of `.*` runs could take far longer on a long, hostile name.
 */
export function globMatcher(glob: string): (text: string) => boolean {
  const stars = glob.split("*").length - 1;
  if (stars === 0) return (text) => text === glob;
  if (stars === 1) {
    // The common shapes (`db.*`, `*.query`, `fs.read_*_file`): a prefix and a suffix that must not overlap.
    const [prefix, suffix] = glob.split("*") as [string, string];
    return (text) => text.length >= prefix.length + suffix.length && text.startsWith(prefix) && text.endsWith(suffix);
  }
  return (text) => {
    let t = 0;
    let g = 0;
    let star = -1;
    let resume = 0;
    while (t < text.length) {
      if (g < glob.length && glob[g] !== "*" && glob[g] === text[t]) {
        t++;
        g++;
      } else if (g < glob.length && glob[g] === "*") {
        star = g++;
        resume = t;
      } else if (star >= 0) {
        g = star + 1;
        t = ++resume;
      } else {
        return false;
      }
    }
    while (g < glob.length && glob[g] === "*") g++;
    return g === glob.length;
  };
}

/** An epoch-milliseconds time as ISO 8601, keeping null. */
export function isoTime(time: number | null): string | null {
  return time === null ? null : new Date(time).toISOString();
}

/** `text` cut to `max` characters, saying how long it was: how input of any length is quoted back. */
export function cutText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}
