/**
 * The MCP protocol versions Invoke speaks, in both eras (MCP 2026-07-28, basic/versioning): modern
 * versions carry version, identity and capabilities in every request's `_meta`; legacy ones open with
 * an `initialize` handshake.
 */

/** Modern-era versions (per-request `_meta`), newest first. */
export const MODERN_VERSIONS = ["2026-07-28"] as const;

/** Legacy-era versions (initialize handshake), newest first. */
export const LEGACY_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"] as const;

/** The newest legacy version: the answer when a client asks for one we do not speak. */
export const LATEST_LEGACY_VERSION = LEGACY_VERSIONS[0];

/** Every version Invoke serves (server/discover's `supportedVersions`, the -32022 error's `supported`). */
export const SUPPORTED_VERSIONS: readonly string[] = [...MODERN_VERSIONS, ...LEGACY_VERSIONS];

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

/** Whether `version` is a modern-era one we serve. */
export function isModernVersion(version: unknown): boolean {
  return (MODERN_VERSIONS as readonly unknown[]).includes(version);
}

/** Whether a client speaking `version` may send batches. */
export function allowsBatches(version: string): boolean {
  return BATCH_VERSIONS.has(version);
}
