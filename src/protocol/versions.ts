/** The MCP protocol versions Invoke speaks, and how an `initialize` request negotiates one. */

/** Legacy-era versions (initialize handshake), newest first. */
export const LEGACY_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const;

/** The newest legacy version: the answer when a client asks for one we do not speak. */
export const LATEST_LEGACY_VERSION = LEGACY_VERSIONS[0];

/** Every version a request may name in `MCP-Protocol-Version`. */
export const SUPPORTED_VERSIONS: readonly string[] = LEGACY_VERSIONS;

/** The version assumed when an HTTP request carries no `MCP-Protocol-Version` header (transports spec). */
export const DEFAULT_HTTP_VERSION = "2025-03-26";

/** Versions whose clients may send JSON-RPC batches (removed in 2025-06-18). */
const BATCH_VERSIONS: ReadonlySet<string> = new Set(["2024-11-05", "2025-03-26"]);

/** Echo a supported requested version, else answer the newest legacy one (lifecycle spec). */
export function negotiateVersion(requested: unknown): string {
  return typeof requested === "string" && (LEGACY_VERSIONS as readonly string[]).includes(requested) ? requested : LATEST_LEGACY_VERSION;
}

/** Whether `version` is one we serve. */
export function isSupportedVersion(version: string): boolean {
  return SUPPORTED_VERSIONS.includes(version);
}

/** Whether a client speaking `version` may send batches. */
export function allowsBatches(version: string): boolean {
  return BATCH_VERSIONS.has(version);
}
