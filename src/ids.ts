/** Random identifiers and secrets: base62 from the system CSPRNG, unbiased by rejection sampling. */

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** CSPRNG bytes drawn 4 KB at a time (one call per ~150 ids, not one each), each used once. */
const pool = new Uint8Array(4096);
let used = pool.length;

/** `length` random base62 characters. */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    if (used === pool.length) {
      crypto.getRandomValues(pool);
      used = 0;
    }
    const byte = pool[used]!;
    // Zeroed once used: a secret made of these bytes does not linger in the pool.
    pool[used++] = 0;
    // 248 = 4 * 62: bytes at or above it would favour the first characters.
    if (byte < 248) out += ALPHABET[byte % 62];
  }
  return out;
}

/** A new id with a readable type prefix, e.g. `usr_4fT…`. */
export function newId(prefix: "ten" | "usr" | "key" | "pol" | "exe" | "apr"): string {
  return `${prefix}_${randomBase62(20)}`;
}
