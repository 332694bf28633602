/**
 * Canonical JSON and SHA-256: the two primitives of the record chain. Canonical JSON sorts object keys
 * by UTF-16 code units and writes numbers as JavaScript does (the RFC 8785 rules), so the same value
 * always yields the same text and anyone can recompute a digest from an export.
 */

/** The canonical JSON text of `value`; undefined where `JSON.stringify` gives undefined (undefined, functions). */
export function canonicalJson(value: unknown): string | undefined {
  if (value !== null && typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    value = (value as { toJSON(): unknown }).toJSON();
  }
  // Scalars (and non-finite numbers as null, bigints as a TypeError) exactly as JSON.stringify writes them.
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item) ?? "null").join(",")}]`;
  const members: string[] = [];
  for (const key of Object.keys(value).sort()) {
    const text = canonicalJson((value as Record<string, unknown>)[key]);
    if (text !== undefined) members.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${members.join(",")}}`;
}

/** The SHA-256 of `text` (UTF-8) as 64 lowercase hex digits. */
export function sha256Hex(text: string): string {
  return Bun.CryptoHasher.hash("sha256", text, "hex");
}

/** The digest of a value: SHA-256 of its canonical JSON. */
export function digestOf(value: unknown): string {
  return sha256Hex(canonicalJson(value) ?? "null");
}
