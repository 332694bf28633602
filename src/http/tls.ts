/**
 * The certificate and key that `serve` answers HTTPS with, read from the operator's PEM files and
 * checked before use, so a bad file is one clear line at start and, on SIGHUP, leaves the served pair in place.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { StartupError } from "../errors.ts";

/** Where the PEM files are. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/** The PEM text of a matching certificate (chain) and key, as `Bun.serve`'s `tls` option takes it. */
export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 fingerprint of the leaf certificate, for the log. */
  fingerprint: string;
  /** When the leaf certificate expires, as the certificate says it. */
  validTo: string;
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === "ENOENT" ? "it does not exist" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a folder" : String((error as Error).message).split("\n")[0];
    throw new StartupError(`cannot read the TLS ${what} ${path}: ${why}`);
  }
}

/** Reads and checks the pair; throws a one-line StartupError naming the file at fault. */
export function readTls(files: TlsFiles): TlsMaterial {
  const cert = readPem(files.cert, "certificate");
  const key = readPem(files.key, "key");
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new StartupError(`the TLS certificate ${files.cert} is not a PEM certificate`);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new StartupError(`the TLS key ${files.key} is not an unencrypted PEM private key`);
  }
  if (!leaf.checkPrivateKey(privateKey)) throw new StartupError(`the TLS key ${files.key} does not match the certificate ${files.cert}`);
  return { cert, key, fingerprint: leaf.fingerprint256, validTo: leaf.validTo };
}
