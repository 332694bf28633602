/**
 * Secrets recognised by their shape inside any string: Invoke's own keys, well-known token formats
 * (JWTs, GitHub, Slack, Stripe, AWS key ids), passwords in URLs' userinfo, credential-bearing query
 * parameters and `name=value` pairs, `"name": "value"` pairs of JSON held in a string, bearer and basic
 * credentials, PEM private keys. Only the secret part is replaced; the rest stays readable.
 *
 * Cost: every scan is linear in the text. Each regex starts on a literal or at the start of a run its
 * own classes cannot re-enter, and bounded quantifiers cap any backtracking; a string with nothing
 * secret-looking costs a few native substring searches.
 */

/** What a redacted value is replaced by. */
export const REDACTED = "[REDACTED]";

/** Names that hold secrets: matched anywhere in the name, case-insensitively (`db_password`, `X-Api-Key`, `refreshToken`). */
export const SECRET_NAME = /pass(?:word|wd)|token|secret|authorization|api[-_]?key|cookie|credential|private[-_]?key/i;

/** Query parameters that carry a credential only in a URL (`?key=`, `&sig=`): too common a name elsewhere. */
const QUERY_SECRET = new Set(["key", "code", "sig", "signature", "x-amz-signature", "x-goog-signature", "auth", "session", "sessionid", "sid", "jwt", "hmac", "pwd"]);

/** Invoke's API keys (`inv_live_` + base62), wherever they start. */
const INVOKE_KEY = /inv_live_[0-9A-Za-z]{8,}/g;

/** Tokens of a known format, each starting a run of token characters (the look-behind keeps the scan linear). */
const KNOWN_TOKENS =
  /(?<![A-Za-z0-9_-])(?:eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abeprs]-[A-Za-z0-9-]{10,}|[rs]k_live_[A-Za-z0-9]{16,}|AKIA[0-9A-Z]{16})/g;

/** `scheme://user:password@`: the password, up to the last `@` before the host (RFC 3986 userinfo). */
const URL_PASSWORD = /(:\/\/[^\s/?#@:]*:)[^\s/?#]*@/g;

/** `name=value` after a delimiter (query strings, DSNs, form bodies); values quoted with ' or " too. */
const NAME_EQUALS = /(?<=^|[?&;\s,({])([A-Za-z_][A-Za-z0-9_.-]{0,63})=(?:'([^']{0,512})'|"([^"]{0,512})"|([^&\s#;,"'<>(){}?]*))/g;

/** `"name": "` of JSON inside a string; the value is then read by hand, only for secret names. */
const JSON_NAME = /"([A-Za-z_][A-Za-z0-9_.-]{0,63})"\s*:\s*"/g;

/** `Bearer <token>` (RFC 6750 b64token). */
const BEARER = /\b(bearer\s+)[A-Za-z0-9\-._~+/]{6,}=*/gi;

/** `Basic <base64>`: redacted when it decodes to `user:password` (RFC 7617), so prose like "Basic usage" stays. */
const BASIC = /\b(basic\s+)([A-Za-z0-9+/]{6,}={0,2})/gi;

/**
 * `text` with every secret it holds replaced by `[REDACTED]`. `known` are values that are secret
 * wherever they appear (a tenant's connector secrets): a value equal to one is redacted whole, and a
 * known value of 8 characters or more is redacted inside longer strings too.
 */
export function redactText(text: string, known: readonly string[] = []): string {
  if (known.length > 0) {
    if (known.includes(text)) return REDACTED;
    for (const secret of known) if (secret.length >= 8 && text.includes(secret)) text = text.split(secret).join(REDACTED);
  }
  if (text.length < 6) return text;
  if (text.includes("-----BEGIN ")) text = redactPrivateKeys(text);
  if (text.includes("://")) text = text.replace(URL_PASSWORD, `$1${REDACTED}@`);
  if (text.includes("=")) text = text.replace(NAME_EQUALS, redactPair);
  if (text.includes('"')) text = redactJsonPairs(text);
  if (text.includes("inv_live_")) text = text.replace(INVOKE_KEY, REDACTED);
  text = text.replace(KNOWN_TOKENS, REDACTED);
  text = text.replace(BEARER, `$1${REDACTED}`);
  return text.replace(BASIC, (match, head: string, value: string) => (Buffer.from(value, "base64").toString("latin1").includes(":") ? `${head}${REDACTED}` : match));
}

function redactPair(match: string, name: string, single: string | undefined, double: string | undefined, plain: string | undefined, offset: number, whole: string): string {
  const inQuery = offset > 0 && (whole[offset - 1] === "?" || whole[offset - 1] === "&");
  if (!SECRET_NAME.test(name) && !(inQuery && QUERY_SECRET.has(name.toLowerCase()))) return match;
  if (single !== undefined) return `${name}='${REDACTED}'`;
  if (double !== undefined) return `${name}="${REDACTED}"`;
  return plain ? `${name}=${REDACTED}` : match;
}

/** Redacts the string values of secret-named members of JSON text held in a string. */
function redactJsonPairs(text: string): string {
  let out = "";
  let from = 0;
  JSON_NAME.lastIndex = 0;
  for (let match = JSON_NAME.exec(text); match !== null; match = JSON_NAME.exec(text)) {
    if (!SECRET_NAME.test(match[1]!)) continue;
    const start = JSON_NAME.lastIndex;
    let end = start;
    while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
    out += text.slice(from, start) + REDACTED;
    from = Math.min(end, text.length);
    JSON_NAME.lastIndex = from;
  }
  return out + text.slice(from);
}

/** Replaces the body of every `-----BEGIN … PRIVATE KEY-----` block (to its END line, or to the end of the text). */
function redactPrivateKeys(text: string): string {
  let out = "";
  let from = 0;
  for (;;) {
    const begin = text.indexOf("-----BEGIN ", from);
    if (begin < 0) break;
    const labelEnd = text.indexOf("-----", begin + 11);
    if (labelEnd < 0) break;
    const bodyStart = labelEnd + 5;
    if (!text.slice(begin + 11, labelEnd).includes("PRIVATE KEY")) {
      out += text.slice(from, bodyStart);
      from = bodyStart;
      continue;
    }
    out += text.slice(from, bodyStart) + REDACTED;
    const end = text.indexOf("-----END ", bodyStart);
    from = end < 0 ? text.length : end;
    if (end < 0) break;
  }
  return out + text.slice(from);
}
