/**
 * MCP over HTTP (Streamable HTTP, JSON responses only, no SSE): request checks that belong to the
 * transport (origin, media types, size, credential, protocol-version header), then the shared
 * dispatcher. The order is fixed: origin → credential → media types → size → version → body.
 */
import type { Caller } from "../governance/caller.ts";
import type { KeyRefusal } from "../governance/keys.ts";
import type { McpDispatcher } from "../protocol/dispatcher.ts";
import { JsonRpcErrorCode, type JsonRpcResponse } from "../protocol/jsonrpc.ts";
import { DEFAULT_HTTP_VERSION, isSupportedVersion, SUPPORTED_VERSIONS } from "../protocol/versions.ts";
import { json, rpcRefusal } from "../http/respond.ts";

/** What the handler needs. */
export interface McpHttpOptions {
  dispatcher: McpDispatcher;
  authenticate(secret: string): Caller | KeyRefusal;
  isOriginAllowed(origin: string | null): boolean;
  maxBodyBytes: number;
}

const KEY_REFUSALS: Record<KeyRefusal, string> = {
  malformed: "The API key is not in the inv_live_ format.",
  unknown: "The API key is not valid (unknown or revoked).",
  expired: "The API key has expired.",
};

/** RFC 9110 requires a challenge on 401; a non-Bearer scheme keeps OAuth-capable clients from starting a login flow. */
const CHALLENGE = { "WWW-Authenticate": 'ApiKey header="X-API-Key"' };

/** The presented secret: `X-API-Key`, else `Authorization: Bearer`. */
function presentedKey(headers: Headers): string | null {
  const key = headers.get("x-api-key");
  if (key !== null) return key.trim();
  const authorization = headers.get("authorization");
  if (authorization !== null && /^bearer\s+/i.test(authorization)) return authorization.replace(/^bearer\s+/i, "").trim();
  return null;
}

/** Media types in an Accept or Content-Type header, lower-cased, without parameters. */
function mediaTypes(header: string): string[] {
  return header.split(",").map((part) => part.split(";")[0]!.trim().toLowerCase()).filter((type) => type.length > 0);
}

/** Whether an Accept header admits a JSON answer. A missing header admits anything (the seed's curl sends none). */
export function acceptsJson(accept: string | null): boolean {
  if (accept === null) return true;
  const types = mediaTypes(accept);
  return types.length === 0 || types.some((type) => type === "application/json" || type === "application/*" || type === "*/*");
}

/** Whether the client asks only for an SSE stream (a GET that opens one). */
export function wantsOnlyEventStream(accept: string | null): boolean {
  if (accept === null) return false;
  const types = mediaTypes(accept);
  return types.length > 0 && types.every((type) => type === "text/event-stream");
}

function isJsonContentType(contentType: string | null): boolean {
  if (contentType === null) return true;
  const [type] = mediaTypes(contentType);
  return type === "application/json" || (type !== undefined && type.startsWith("application/") && type.endsWith("+json"));
}

/** The HTTP status of a dispatch outcome: the error table says envelope and parse errors are 400. */
function statusOf(response: JsonRpcResponse | JsonRpcResponse[]): number {
  if (Array.isArray(response) || !("error" in response)) return 200;
  const code = response.error.code;
  return code === JsonRpcErrorCode.ParseError || code === JsonRpcErrorCode.InvalidRequest ? 400 : 200;
}

/** Builds the POST handler of the MCP endpoint. */
export function createMcpHttpHandler(options: McpHttpOptions): (request: Request) => Promise<Response> {
  const { dispatcher, authenticate, isOriginAllowed, maxBodyBytes } = options;

  return async (request) => {
    const headers = request.headers;
    if (!isOriginAllowed(headers.get("origin"))) {
      return rpcRefusal(403, JsonRpcErrorCode.Forbidden, "Origin not allowed.", { reason: "origin_not_allowed" });
    }

    const secret = presentedKey(headers);
    if (secret === null) {
      if (headers.has("cookie")) {
        // Seed 003: this surface is for agents holding server credentials; a browser session must not inherit it.
        return rpcRefusal(403, JsonRpcErrorCode.Forbidden, "Session cookies are not accepted here; send an API key in the X-API-Key header.", {
          reason: "session_cookie_rejected",
        });
      }
      return rpcRefusal(401, JsonRpcErrorCode.Unauthenticated, "Missing API key: send it in the X-API-Key header.", { reason: "missing_key" }, CHALLENGE);
    }
    const caller = authenticate(secret);
    if (typeof caller === "string") {
      return rpcRefusal(401, JsonRpcErrorCode.Unauthenticated, KEY_REFUSALS[caller], { reason: `${caller}_key` }, CHALLENGE);
    }

    if (!isJsonContentType(headers.get("content-type"))) {
      return rpcRefusal(415, JsonRpcErrorCode.BadTransport, "Content-Type must be application/json.", { reason: "unsupported_media_type" });
    }
    if (!acceptsJson(headers.get("accept"))) {
      return rpcRefusal(406, JsonRpcErrorCode.BadTransport, "This endpoint answers application/json; the Accept header must allow it.", {
        reason: "not_acceptable",
      });
    }
    const declaredLength = Number(headers.get("content-length") ?? 0);
    if (declaredLength > maxBodyBytes) return tooLarge(maxBodyBytes);

    const version = headers.get("mcp-protocol-version") ?? DEFAULT_HTTP_VERSION;
    if (!isSupportedVersion(version)) {
      return rpcRefusal(400, JsonRpcErrorCode.UnsupportedProtocolVersion, `Unsupported MCP-Protocol-Version: ${version}`, {
        supported: SUPPORTED_VERSIONS,
        requested: version,
      });
    }

    const body = await request.arrayBuffer();
    if (body.byteLength > maxBodyBytes) return tooLarge(maxBodyBytes);
    let payload: unknown;
    try {
      payload = JSON.parse(new TextDecoder().decode(body));
    } catch {
      return rpcRefusal(400, JsonRpcErrorCode.ParseError, "Parse error: the body is not valid JSON.");
    }

    const response = await dispatcher.handlePayload(payload, { caller, protocolVersion: version });
    if (response === undefined) return new Response(null, { status: 202 });
    return json(response, statusOf(response));
  };
}

function tooLarge(limit: number): Response {
  return rpcRefusal(413, JsonRpcErrorCode.BadTransport, `The request body exceeds ${limit} bytes.`, { reason: "payload_too_large", limit });
}
