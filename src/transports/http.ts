/**
 * MCP over HTTP (Streamable HTTP, JSON responses only, no SSE), both protocol eras on one endpoint:
 * request checks that belong to the transport (origin, media types, size, credential, protocol headers),
 * then the shared dispatcher, whose answer carries its HTTP status. The order is fixed: origin →
 * credential and rate limit → role → media types → size → body → headers against the body (modern
 * era) or the version header (legacy).
 */
import { isRefusal, type AccessGate } from "../governance/access.ts";
import { authorizeMcpAccess } from "../governance/authorize.ts";
import type { McpDispatcher } from "../protocol/dispatcher.ts";
import { ACCESS_REFUSAL_CODES, errorResponse, isValidId, JsonRpcErrorCode, refusalData, type JsonRpcRequest } from "../protocol/jsonrpc.ts";
import { envelopeVersion, isModernRequest } from "../protocol/modern.ts";
import { headerValue } from "../protocol/param-headers.ts";
import { DEFAULT_HTTP_VERSION, isSupportedVersion, SUPPORTED_VERSIONS } from "../protocol/versions.ts";
import { json, rpcRefusal } from "../http/respond.ts";
import { parseJsonBody, TOO_DEEP_MESSAGE } from "../http/request-body.ts";
import type { RequestInfo } from "../observability/requests.ts";
import { DISABLED_TRACING, inSpan, type Tracing } from "../observability/tracing.ts";

/** What the handler needs. */
export interface McpHttpOptions {
  dispatcher: McpDispatcher;
  gate: AccessGate;
  isOriginAllowed(origin: string | null): boolean;
  maxBodyBytes: number;
  /** Spans for authorisation (under the request's span); disabled by default. */
  tracing?: Tracing;
}

/** Media types in an Accept or Content-Type header, lower-cased, without parameters. */
function mediaTypes(header: string): string[] {
  return header.split(",").map((part) => part.split(";")[0]!.trim().toLowerCase()).filter((type) => type.length > 0);
}

/** Whether an Accept header admits a JSON answer. A missing header admits anything (the seed's curl sends none). */
export function acceptsJson(accept: string | null): boolean {
  if (accept === null || accept === "application/json, text/event-stream") return true;
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
  if (contentType === null || contentType === "application/json") return true;
  const [type] = mediaTypes(contentType);
  return type === "application/json" || (type !== undefined && type.startsWith("application/") && type.endsWith("+json"));
}

/** Where `Mcp-Name` comes from in the body, per method (streamable-http: standard request headers; tasks extension). */
const NAME_SOURCES: Record<string, string> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
};

/**
 * Why a modern request's headers disagree with its body (streamable-http: server validation), or
 * undefined when they agree: `MCP-Protocol-Version` and `Mcp-Method` on every request, `Mcp-Name` where
 * the method names something, each present and equal to the body's value.
 */
function headerMismatch(headers: Headers, message: JsonRpcRequest): string | undefined {
  const expect: [string, unknown][] = [
    ["MCP-Protocol-Version", envelopeVersion(message)],
    ["Mcp-Method", message.method],
  ];
  const nameSource = NAME_SOURCES[message.method];
  if (nameSource !== undefined) expect.push(["Mcp-Name", message.params?.[nameSource]]);
  for (const [name, body] of expect) {
    const raw = headers.get(name);
    if (raw === null) return `Header mismatch: the ${name} header is required`;
    const value = headerValue(raw);
    if (value === null) return `Header mismatch: the ${name} header has invalid characters or a malformed Base64 value`;
    // A body without the value (no _meta version) is the envelope's error, reported by the dispatcher.
    if (body === undefined && name === "MCP-Protocol-Version") continue;
    if (value !== body) return `Header mismatch: ${name} header value '${value}' does not match body value '${typeof body === "string" ? body : JSON.stringify(body ?? null)}'`;
  }
  return undefined;
}

/** Builds the POST handler of the MCP endpoint; `info` is the request's own, from the app's request context. */
export function createMcpHttpHandler(options: McpHttpOptions): (request: Request, info: RequestInfo, clientAddress: () => string) => Promise<Response> {
  const { dispatcher, gate, isOriginAllowed, maxBodyBytes } = options;

  return async (request, info, clientAddress) => {
    const headers = request.headers;
    if (!isOriginAllowed(headers.get("origin"))) {
      return rpcRefusal(403, JsonRpcErrorCode.Forbidden, "Origin not allowed.", { reason: "origin_not_allowed" });
    }

    const caller = await inSpan(options.tracing ?? DISABLED_TRACING, "authorize", info.span, undefined, async (span) => {
      const admitted = await gate.admit(headers, clientAddress);
      if (isRefusal(admitted)) span?.setError(admitted.reason);
      return admitted;
    });
    if (isRefusal(caller)) return rpcRefusal(caller.status, ACCESS_REFUSAL_CODES[caller.status], caller.message, refusalData(caller), caller.headers);
    info.tenantId = caller.tenantId;
    info.keyId = caller.keyId;
    const roleRefusal = authorizeMcpAccess(caller);
    if (roleRefusal) return rpcRefusal(403, JsonRpcErrorCode.Forbidden, `Forbidden: ${roleRefusal.message}.`, { reason: "role_too_low", rule: roleRefusal.rule });

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

    const body = await request.text();
    // A string of n UTF-16 units holds at most 3n UTF-8 bytes: count bytes only when that could matter.
    if (body.length * 3 > maxBodyBytes && Buffer.byteLength(body) > maxBodyBytes) return tooLarge(maxBodyBytes);
    // Nesting is bounded before parsing: every walker downstream (schemas, redaction, records) recurses.
    const parsed = parseJsonBody(body);
    if (!parsed.ok) return rpcRefusal(400, JsonRpcErrorCode.ParseError, parsed.problem === "too_deep" ? `Parse error: ${TOO_DEEP_MESSAGE}` : "Parse error: the body is not valid JSON.");
    const payload = parsed.value;

    const version = headers.get("mcp-protocol-version") ?? DEFAULT_HTTP_VERSION;
    const message = typeof payload === "object" && payload !== null && !Array.isArray(payload) ? (payload as JsonRpcRequest) : undefined;
    if (message !== undefined && typeof message.method === "string" && isModernRequest(message, version)) {
      // The modern era: headers must agree with the body (an unsupported version is then the dispatcher's -32022).
      const mismatch = headerMismatch(headers, message);
      if (mismatch !== undefined) {
        return json(errorResponse(isValidId(message.id) ? message.id : undefined, JsonRpcErrorCode.HeaderMismatch, mismatch), 400);
      }
    } else if (!isSupportedVersion(version)) {
      return rpcRefusal(400, JsonRpcErrorCode.UnsupportedProtocolVersion, `Unsupported MCP-Protocol-Version: ${version}`, {
        supported: SUPPORTED_VERSIONS,
        requested: version,
      });
    }

    // Stateless HTTP has no session to remember the client by: an agent names itself per request.
    const agentId = request.headers.get("x-invoke-agent-id") ?? undefined;
    const { response, status } = await dispatcher.handlePayload(payload, {
      caller,
      // Admission took this request's token; each further message of a batch takes its own.
      tokens: gate.messageTokens(caller),
      protocolVersion: version,
      agent: { agentId: agentId?.slice(0, 200), clientName: request.headers.get("user-agent")?.slice(0, 200) ?? null },
      request: info,
      headers,
    });
    if (response === undefined) return new Response(null, { status: 202 });
    return json(response, status);
  };
}

function tooLarge(limit: number): Response {
  return rpcRefusal(413, JsonRpcErrorCode.BadTransport, `The request body exceeds ${limit} bytes.`, { reason: "payload_too_large", limit });
}
