/**
 * The instance's key file: the keys that must live outside the database, so that a copy of the store
 * alone reveals no connector secret and cannot forge the record checkpoints. It holds the AES-256-GCM
 * keys that encrypt connector secrets (the newest first; older ones stay to read what they sealed
 * until `invoke connectors rotate-key` re-seals it) and the Ed25519 key that signs checkpoints.
 *
 * Where: config `key_file`, else `INVOKE_KEY_FILE`, else beside the config file (`invoke.keys`), else
 * beside the database (`<db>.keys`). Created on first start, readable by its owner only (0600); an
 * existing file with wider permissions is refused.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, openSync, readFileSync, renameSync, statSync, writeFileSync, closeSync, fsyncSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { StartupError } from "../errors.ts";

/** One symmetric key for connector secrets. */
export interface SecretKey {
  id: string;
  key: Buffer;
}

/** The keys, loaded. */
export interface InstanceKeys {
  /** Where they were read from. */
  path: string;
  /** Secret keys, the one that seals new secrets first. */
  secretKeys: SecretKey[];
  /** Signs checkpoints. */
  signingKey: KeyObject;
  /** Verifies them: what an outside verifier needs (PEM, SPKI). */
  publicKeyPem: string;
}

interface KeyFileContent {
  version: 1;
  secret_keys: { id: string; key: string }[];
  signing_key: string;
}

/** Where the key file is for a database and an optional config file (see the module header). */
export function keyFilePath(options: { keyFile?: string; configPath?: string; db: string }, env: Record<string, string | undefined> = process.env): string {
  if (options.keyFile) return resolve(options.keyFile);
  if (env.INVOKE_KEY_FILE) return resolve(env.INVOKE_KEY_FILE);
  if (options.configPath) return join(dirname(resolve(options.configPath)), "invoke.keys");
  return `${resolve(options.db)}.keys`;
}

/** Reads the key file at `path`, creating it (0600) when it does not exist yet. */
export function loadInstanceKeys(path: string): InstanceKeys {
  if (!existsSync(path)) writeKeyFile(path, { version: 1, secret_keys: [newSecretKey()], signing_key: newSigningKey() });
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) throw new StartupError(`key file ${path} is readable by others (mode ${mode.toString(8)}); make it 0600: chmod 600 ${path}`);
  let content: KeyFileContent;
  try {
    content = JSON.parse(readFileSync(path, "utf8")) as KeyFileContent;
    if (content.version !== 1 || !Array.isArray(content.secret_keys) || content.secret_keys.length === 0 || typeof content.signing_key !== "string") throw new Error("unexpected content");
  } catch (error) {
    throw new StartupError(`key file ${path} is not a valid Invoke key file: ${(error as Error).message}`);
  }
  const signingKey = createPrivateKey(content.signing_key);
  return {
    path,
    secretKeys: content.secret_keys.map(({ id, key }) => ({ id, key: Buffer.from(key, "base64") })),
    signingKey,
    publicKeyPem: createPublicKey(signingKey).export({ type: "spki", format: "pem" }).toString(),
  };
}

/** Adds a new secret key in front (it seals from now on); the older ones stay for reading. Returns the new keys. */
export function addSecretKey(path: string): InstanceKeys {
  const content = JSON.parse(readFileSync(path, "utf8")) as KeyFileContent;
  writeKeyFile(path, { ...content, secret_keys: [newSecretKey(), ...content.secret_keys] });
  return loadInstanceKeys(path);
}

/** Keeps only the newest secret key (after every secret was re-sealed with it). */
export function dropOldSecretKeys(path: string): void {
  const content = JSON.parse(readFileSync(path, "utf8")) as KeyFileContent;
  writeKeyFile(path, { ...content, secret_keys: content.secret_keys.slice(0, 1) });
}

function newSecretKey(): { id: string; key: string } {
  return { id: `sk_${randomBytes(6).toString("hex")}`, key: randomBytes(32).toString("base64") };
}

function newSigningKey(): string {
  return generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

/** Writes the file atomically (temp file, fsync, rename), owner-only from its first byte. */
function writeKeyFile(path: string, content: KeyFileContent): void {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(temporary, "w", 0o600);
    try {
      writeFileSync(fd, `${JSON.stringify(content, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(temporary, 0o600);
    renameSync(temporary, path);
  } catch (error) {
    throw new StartupError(`cannot write key file ${path}: ${(error as Error).message}`);
  }
}
