/** Opaque pagination cursors (an offset, base64url-encoded JSON), shared by tools/list and the company brain. */

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
