/**
 * The HTTP application: routes only. The MCP endpoint delegates to the transport
 * (`src/transports/http.ts`), REST to the route modules beside this one (each route declared with
 * `rest()`); every request carries its typed context (`request-context.ts`), every error leaves as
 * JSON through `respond.ts`.
 */
import { Elysia } from "elysia";
import { PROFILES } from "../governance/profiles.ts";
import { InvokeError } from "../errors.ts";
import { logError } from "../log.ts";
import { McpDispatcher } from "../protocol/dispatcher.ts";
import { isModernVersion, SUPPORTED_VERSIONS } from "../protocol/versions.ts";
import type { Services } from "../services.ts";
import { createMcpHttpHandler, wantsOnlyEventStream } from "../transports/http.ts";
import { PRODUCT_NAME, PRODUCT_TITLE, VERSION } from "../version.ts";
import { approvalRoutes } from "./approvals.ts";
import { brainRoutes } from "./brain.ts";
import { connectorRoutes } from "./connectors.ts";
import { executionRoutes } from "./executions.ts";
import { policyRoutes } from "./policies.ts";
import { userRoutes } from "./users.ts";
import { originPolicy } from "../governance/origins.ts";
import { recordMutation } from "./mutations.ts";
import { requestContext } from "./request-context.ts";
import { json, restError, restErrorFrom, validationError } from "./respond.ts";
import { groupRoutes } from "./groups.ts";
import { referenceRoutes } from "./openapi.ts";
import { restCaller } from "./rest-access.ts";
import { createRequestLogger, type RequestLogger } from "../observability/logger.ts";
import { requestInfoFor, type RequestInfo } from "../observability/requests.ts";
import { readiness, storeReady } from "../observability/health.ts";
import { addressRanges } from "../address-ranges.ts";
import { clientAddressOf } from "./client-address.ts";

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** The path of a request URL, without parsing the whole URL. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}

/**
 * The refusal inside Elysia's parse error, if any: a REST route's parse hook admits the caller and
 * bounds the body first, and Elysia wraps whatever it throws (401, 403, 429, 413, json_too_deep).
 */
function parseRefusal(error: unknown): InvokeError | undefined {
  const cause = (error as Error).cause;
  return cause instanceof InvokeError ? cause : undefined;
}

/** What the app is built from. */
export interface AppOptions {
  services: Services;
  /** Page size of `tools/list` (default 100). */
  pageSize?: number;
  /** The request log (default: from the config, on stdout). */
  logger?: RequestLogger;
}

/** The paths of the MCP endpoint (seed 000 uses the first, seed 003 the second). */
export const MCP_PATHS = ["/v1/mcp", "/api/v1/mcp"] as const;

/** Builds the app; `app.handle(request)` serves a request in-process, `app.listen()` binds a port. */
export function createApp({ services, pageSize, logger = createRequestLogger({ level: services.config.logLevel, format: services.config.logFormat }) }: AppOptions) {
  const { config, metrics } = services;
  const dispatcher = new McpDispatcher({ services, pageSize, logError });
  const handleMcp = createMcpHttpHandler({
    dispatcher,
    gate: services.gate,
    isOriginAllowed: originPolicy(config.allowedOrigins),
    maxBodyBytes: config.maxBodyBytes,
    tracing: services.tracing,
  });
  // In-process requests (app.handle) have no socket; they share one limiter bucket per address.
  const trustedProxies = addressRanges(config.trustedProxies);
  const clientAddress = (request: Request) => clientAddressOf(app.server?.requestIP(request)?.address, request.headers, trustedProxies) ?? "in-process";

  const discovery = (request: Request, path: string) => {
    // A modern client never GETs (MCP 2026-07-28 has no GET stream); an SSE-only GET asks for a stream we do not offer.
    if (isModernVersion(request.headers.get("mcp-protocol-version")) || wantsOnlyEventStream(request.headers.get("accept"))) {
      return restError(405, "method_not_allowed", "This endpoint offers no SSE stream; send JSON-RPC requests with POST.", { Allow: "POST" });
    }
    // Named from the operator's public URL, else relative: never from the request's Host, which a client chooses.
    const base = config.publicUrl?.replace(/\/+$/, "") ?? "";
    return json({
      name: PRODUCT_NAME,
      title: PRODUCT_TITLE,
      version: VERSION,
      protocol_versions: SUPPORTED_VERSIONS,
      endpoint: `${base}${path}`,
      transport: "streamable-http",
      streaming: false,
      auth: { header: "X-API-Key", key_format: "inv_live_…" },
      key_profiles_url: `${base}/v1/mcp/key-profiles`,
    });
  };

  const errorResponse = (code: string | number, error: unknown, request: Request): Response => {
    if (code === "NOT_FOUND") {
      const path = new URL(request.url).pathname;
      if ((MCP_PATHS as readonly string[]).includes(path)) {
        return restError(405, "method_not_allowed", `${request.method} is not allowed on ${path}.`, { Allow: "GET, POST" });
      }
      return restError(404, "not_found", `No route for ${request.method} ${path}.`);
    }
    if (code === "VALIDATION") return validationError(error as never);
    if (code === "PARSE") {
      const refusal = parseRefusal(error);
      return refusal ? restErrorFrom(refusal, logError) : restError(400, "invalid_json", "The request body is not valid JSON.");
    }
    return restErrorFrom(error, logError);
  };

  /**
   * The end of every request, answered or failed, in the two hooks that already know its status (after
   * an admin mutation's record): X-Request-Id, the log line, the metrics and the request's span.
   */
  const finish = (info: RequestInfo, route: string, set: { headers: Record<string, unknown> }, response: unknown, status: number) => {
    // On a Response itself: a header in `set` makes Elysia copy the whole response to add it.
    if (response instanceof Response) response.headers.set("x-request-id", info.id);
    else set.headers["x-request-id"] = info.id;
    const elapsed = performance.now() - info.started;
    logger.request(info, status, elapsed);
    if (info.span) {
      info.span.setAttribute("http.response.status_code", status);
      if (status >= 500) info.span.setError(`HTTP ${status}`);
      info.span.end();
    }
    metrics.httpRequest(KNOWN_METHODS.has(info.method) ? info.method : "OTHER", route || "unmatched", status, elapsed / 1000);
  };

  const app = new Elysia()
    .use(requestContext)
    // Every request gets an id (X-Request-Id, kept in its records), and a span when tracing is on.
    .onRequest((context) => {
      const info = (context.info = requestInfoFor(context.request, pathOf(context.request.url), services.tracing.enabled));
      if (services.tracing.enabled) {
        info.span = services.tracing.startSpan(`http ${info.method} ${info.path}`, { parent: info.traceparent, kind: "server", attributes: { "invoke.request_id": info.id } });
      }
    })
    // Hooks name what they read: Elysia prepares only that (headers, query, cookies) for every request.
    .onError(async ({ code, error, request, route, params, body, set, info, admission }) => {
      const response = errorResponse(code, error, request);
      const message = ((code === "PARSE" && parseRefusal(error)) || (error as Error)).message;
      if (admission?.mutation) await recordMutation(services, request, route, admission, { status: response.status, params, body, error: message, requestId: info.id });
      finish(info, route, set, response, response.status);
      return response;
    })
    .onAfterHandle(async ({ request, route, params, body, response, set, info, admission }) => {
      const status = response instanceof Response ? response.status : typeof set.status === "number" ? set.status : 200;
      if (admission?.mutation) await recordMutation(services, request, route, admission, { status, params, body, result: response instanceof Response ? undefined : response, requestId: info.id });
      finish(info, route, set, response, status);
    })
    .get("/healthz", () => json({ status: "ok", version: VERSION }))
    .get("/readyz", async ({ request }) => {
      // Without a credential: ready or not, nothing about tenants, connectors or paths.
      if (!request.headers.has("x-api-key") && !request.headers.has("authorization")) {
        const status = (await storeReady(services.storeHealth)) ? "ready" : "not_ready";
        return json({ status }, status === "ready" ? 200 : 503);
      }
      const report = await readiness(services.storeHealth, services.connectors, (await restCaller(services, request, () => clientAddress(request), "admin")).caller.tenantId);
      return json(report, report.status === "ready" ? 200 : 503);
    })
    .get("/metrics", async ({ request }) => {
      if (!metrics.enabled) return restError(404, "not_found", "Metrics are turned off (metrics: {enabled: false} in the config).");
      if (config.metricsRequireKey) await restCaller(services, request, () => clientAddress(request), "traces:read");
      return new Response(await metrics.text(), { headers: { "content-type": metrics.contentType } });
    })
    .get("/v1/mcp/key-profiles", () => ({
      profiles: PROFILES.map(({ name, description, scopes, allowed_tools, read_only, min_role, rate_limit }) => ({
        name,
        description,
        scopes,
        allowed_tools,
        read_only,
        min_role,
        rate_limit: config.profileRateLimits[name] ?? rate_limit ?? config.rateLimit,
      })),
    }));
  for (const path of MCP_PATHS) {
    app.get(path, ({ request }) => discovery(request, path)).post(path, ({ request, info }) => handleMcp(request, info, () => clientAddress(request)), { parse: "none" });
  }
  app.use(userRoutes(services, clientAddress)).use(policyRoutes(services, clientAddress)).use(brainRoutes(services, clientAddress)).use(approvalRoutes(services, clientAddress)).use(connectorRoutes(services, clientAddress));
  app.use(executionRoutes(services, clientAddress));
  app.use(groupRoutes(services, clientAddress));
  app.use(referenceRoutes({ config, routes: () => app.routes, mcpPaths: MCP_PATHS }));
  return app;
}

/** The app's type, for tests and the CLI. */
export type App = ReturnType<typeof createApp>;
