/** Random identifiers and secrets: base62 from the system CSPRNG, unbiased by rejection sampling. */

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `length` random base62 characters. */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      // 248 = 4 * 62: bytes at or above it would favour the first characters.
      if (byte < 248) out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A new id with a readable type prefix, e.g. `usr_4fT…`. */
export function newId(prefix: "ten" | "usr" | "key" | "pol" | "exe" | "apr"): string {
  return `${prefix}_${randomBase62(20)}`;
}
