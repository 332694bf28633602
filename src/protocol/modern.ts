/**
 * The modern protocol era (MCP 2026-07-28): every request carries its protocol version, client
 * capabilities and (optionally) client identity in `params._meta`; every result says what it is
 * (`resultType`) and who answered (`serverInfo` in its `_meta`). Era selection, the envelope's checks
 * and the result decoration live here; the dispatcher applies them, so both transports share them.
 */
import { PRODUCT_NAME, PRODUCT_TITLE, VERSION } from "../version.ts";
import { JsonRpcError, JsonRpcErrorCode, type JsonRpcRequest } from "./jsonrpc.ts";
import { isModernVersion, LEGACY_VERSIONS, SUPPORTED_VERSIONS } from "./versions.ts";

export const PROTOCOL_VERSION_META = "io.modelcontextprotocol/protocolVersion";
export const CLIENT_INFO_META = "io.modelcontextprotocol/clientInfo";
export const CLIENT_CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities";
export const SERVER_INFO_META = "io.modelcontextprotocol/serverInfo";
/** The tasks extension's identifier (SEP-2663). */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** A modern request's envelope, once checked. */
export interface ModernRequest {
  protocolVersion: string;
  clientName: string | null;
  /** Whether the client declared the tasks extension on this request. */
  tasks: boolean;
}

type Meta = Record<string, unknown>;

function metaOf(request: Pick<JsonRpcRequest, "params">): Meta | undefined {
  const meta = request.params?._meta;
  return typeof meta === "object" && meta !== null && !Array.isArray(meta) ? (meta as Meta) : undefined;
}

/** The protocol version a request's `_meta` names, if any. */
export function envelopeVersion(request: Pick<JsonRpcRequest, "params">): unknown {
  return metaOf(request)?.[PROTOCOL_VERSION_META];
}

/**
 * Whether a request is served in the modern era: its `_meta` names a version that is not a legacy one
 * (an unknown version is answered in the modern way, with -32022), or the transport already knows the
 * request is modern (HTTP: a modern `MCP-Protocol-Version` header).
 */
export function isModernRequest(request: Pick<JsonRpcRequest, "params">, transportVersion: string): boolean {
  const version = envelopeVersion(request);
  if (version !== undefined) return !(LEGACY_VERSIONS as readonly unknown[]).includes(version);
  return isModernVersion(transportVersion);
}

/** Checks a modern request's envelope: required `_meta` fields (-32602, HTTP 400), then the version (-32022, HTTP 400). */
export function checkEnvelope(request: Pick<JsonRpcRequest, "params">): ModernRequest {
  const meta = metaOf(request);
  const version = meta?.[PROTOCOL_VERSION_META];
  const capabilities = meta?.[CLIENT_CAPABILITIES_META];
  const missing = [
    typeof version !== "string" && PROTOCOL_VERSION_META,
    (typeof capabilities !== "object" || capabilities === null || Array.isArray(capabilities)) && CLIENT_CAPABILITIES_META,
  ].filter((key): key is string => key !== false);
  if (missing.length > 0) {
    throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, `Invalid params: params._meta must carry ${missing.join(" and ")}`, { missing }, 400);
  }
  if (!isModernVersion(version)) {
    throw new JsonRpcError(JsonRpcErrorCode.UnsupportedProtocolVersion, "Unsupported protocol version", { supported: SUPPORTED_VERSIONS, requested: version }, 400);
  }
  const info = meta![CLIENT_INFO_META] as { name?: unknown } | undefined;
  const extensions = (capabilities as { extensions?: unknown }).extensions;
  return {
    protocolVersion: version as string,
    clientName: typeof info?.name === "string" ? info.name.slice(0, 200) : null,
    tasks: typeof extensions === "object" && extensions !== null && TASKS_EXTENSION in extensions,
  };
}

/** Throws -32021 (HTTP 400) unless the client declared the tasks extension. */
export function requireTasksExtension(modern: ModernRequest): void {
  if (!modern.tasks) {
    throw new JsonRpcError(
      JsonRpcErrorCode.MissingRequiredClientCapability,
      `Missing required client capability: the ${TASKS_EXTENSION} extension`,
      { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
      400,
    );
  }
}

const SERVER_INFO = { name: PRODUCT_NAME, title: PRODUCT_TITLE, version: VERSION };

/** A result as the modern era sends it: `resultType` ("complete" unless it says otherwise) and `serverInfo` in `_meta`. */
export function modernResult(result: Record<string, unknown>): Record<string, unknown> {
  const meta = typeof result._meta === "object" && result._meta !== null ? (result._meta as Meta) : {};
  return { ...result, resultType: result.resultType ?? "complete", _meta: { ...meta, [SERVER_INFO_META]: SERVER_INFO } };
}
