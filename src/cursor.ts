/**
 * Opaque pagination cursors (base64url-encoded JSON): an offset (tools/list, the company brain's ranked
 * pages) or the sort key of the last item seen (lists that grow while they are paged: approvals).
 */

/** The cursor for the page starting at `offset`. */
export function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString("base64url");
}

/** The offset of a cursor we issued; 0 without one; undefined for anything we did not issue. */
export function decodeCursor(cursor: unknown): number | undefined {
  if (cursor === undefined) return 0;
  if (typeof cursor !== "string") return undefined;
  try {
    const offset = (JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { o?: unknown }).o;
    if (Number.isSafeInteger(offset) && (offset as number) >= 0) return offset as number;
  } catch {
    // Not ours.
  }
  return undefined;
}

/** The cursor for the page after the item whose sort key is `key`. */
export function encodeKeyCursor(key: readonly [number, string]): string {
  return Buffer.from(JSON.stringify({ k: key })).toString("base64url");
}

/** The sort key of a key cursor we issued; undefined for anything we did not issue. */
export function decodeKeyCursor(cursor: string): [number, string] | undefined {
  try {
    const key = (JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { k?: unknown }).k;
    if (Array.isArray(key) && key.length === 2 && Number.isSafeInteger(key[0]) && typeof key[1] === "string") return [key[0], key[1]];
  } catch {
    // Not ours.
  }
  return undefined;
}
