/**
 * Connector secrets sealed at rest: the secret fields of a stored connector configuration (listed once,
 * by each kind's `mapSecrets`) are each replaced by `invoke-sealed:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`,
 * AES-256-GCM with a fresh 96-bit nonce per seal, under the key file's current secret key. The additional
 * data binds a ciphertext to its tenant, connector and field, so one cannot be moved to another place.
 * The rest of the configuration stays readable JSON (readiness checks and `targetOf` read it).
 *
 * A value without the prefix is read as it is: a database written before sealing keeps working, and its
 * values are sealed on the next write or by `invoke connectors rotate-key`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { loadInstanceKeys, type SecretKey } from "../governance/key-file.ts";
import { SECRET_NAME } from "../records/secret-patterns.ts";
import { kindOf } from "./model.ts";
import type { ConnectorSpec } from "./model.ts";

const PREFIX = "invoke-sealed:v1:";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Which connector a configuration belongs to: part of each secret's additional data. */
export interface SecretPlace {
  tenantId: string;
  name: string;
}

/** A sealed value whose key the key file does not hold (even after reading it again), or that does not decrypt. */
export class UnreadableSecret extends Error {
  override name = "UnreadableSecret";
}

/** A copy of the configuration with `map` applied to each of its kind's secret fields (`url`, `headers.<name>`, `env.<name>`). */
export const mapSecretFields = (spec: ConnectorSpec, map: (value: string, field: string) => string): ConnectorSpec => kindOf(spec).mapSecrets(spec, map);

/**
 * The values of a (clear) configuration that are secret wherever they appear, for value-based
 * redaction: URL passwords and credential query values, header values (and the credential after a
 * scheme, `Bearer x` → `x`), environment values under a secret-looking name or that look like a key.
 */
export function secretValues(spec: ConnectorSpec): string[] {
  const values: string[] = [];
  mapSecretFields(spec, (value, field) => {
    if (field === "url") values.push(...urlSecrets(value));
    else if (field.startsWith("headers.")) values.push(value, value.slice(value.indexOf(" ") + 1).trim());
    else if (SECRET_NAME.test(field) || looksLikeKey(value)) values.push(value);
    return value;
  });
  return [...new Set(values.filter((value) => value.length >= 4))];
}

function urlSecrets(url: string): string[] {
  try {
    const parsed = new URL(url);
    const out = parsed.password ? [parsed.password, decodeURIComponent(parsed.password)] : [];
    for (const [name, value] of parsed.searchParams) if (SECRET_NAME.test(name) || /^(key|sig|signature|code)$/i.test(name)) out.push(value);
    return out;
  } catch {
    return [];
  }
}

/** At least 8 characters mixing three of lower case, upper case, digits and symbols: a generated key, not `production`. */
function looksLikeKey(value: string): boolean {
  if (value.length < 8) return false;
  return [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((kind) => kind.test(value)).length >= 3;
}

/** Whether a stored value is sealed. */
export const isSealed = (value: string) => value.startsWith(PREFIX);

/** Seals and opens connector configurations with the key file's secret keys. */
export class ConnectorSecrets {
  /**
   * `keyFile`: read again before each seal (so a rotation done by another process is followed, never
   * sealing with a key it dropped) and when a value names a key not loaded yet. Without it (tests that
   * build services by hand), `keys` is all there is.
   */
  constructor(
    private keys: SecretKey[],
    private readonly keyFile?: string,
  ) {
    if (keys.length === 0) throw new Error("no secret key to seal connector secrets with");
  }

  /** The id of the key that seals now. */
  get currentKeyId(): string {
    return this.keys[0]!.id;
  }

  /** A clear configuration as stored text, its secret fields sealed with the current key. */
  seal(spec: ConnectorSpec, place: SecretPlace): string {
    this.reload();
    const key = this.keys[0]!;
    return JSON.stringify(mapSecretFields(spec, (value, field) => sealValue(key, value, additionalData(place, field))));
  }

  /** Stored text as the clear configuration; throws UnreadableSecret when a sealed value cannot be opened. */
  open(config: string, place: SecretPlace): ConnectorSpec {
    return mapSecretFields(JSON.parse(config) as ConnectorSpec, (value, field) => (isSealed(value) ? this.unseal(value, additionalData(place, field)) : value));
  }

  private unseal(value: string, aad: Buffer): string {
    const separator = value.indexOf(":", PREFIX.length);
    const id = value.slice(PREFIX.length, separator);
    let key = this.keys.find((candidate) => candidate.id === id);
    if (key === undefined) {
      // Sealed by a rotation in another process since this one read the key file.
      this.reload();
      key = this.keys.find((candidate) => candidate.id === id);
    }
    if (key === undefined || separator < 0) throw new UnreadableSecret(`a connector secret is sealed with key ${id}, which the key file${this.keyFile ? ` ${this.keyFile}` : ""} does not hold`);
    const sealed = Buffer.from(value.slice(separator + 1), "base64url");
    try {
      const decipher = createDecipheriv("aes-256-gcm", key.key, sealed.subarray(0, NONCE_BYTES));
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new UnreadableSecret(`a connector secret sealed with key ${id} does not decrypt (altered, or moved from another connector)`);
    }
  }

  private reload(): void {
    if (this.keyFile !== undefined) this.keys = loadInstanceKeys(this.keyFile).secretKeys;
  }
}

function additionalData(place: SecretPlace, field: string): Buffer {
  return Buffer.from(`invoke connector secret\u0000${place.tenantId}\u0000${place.name}\u0000${field}`, "utf8");
}

function sealValue(key: SecretKey, value: string, aad: Buffer): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key.key, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
  return `${PREFIX}${key.id}:${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64url")}`;
}
