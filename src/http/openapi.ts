/**
 * The HTTP reference, generated from the routes themselves: `GET /openapi.json` (OpenAPI 3.1) walks
 * every registered route and reads what each declares as its Elysia `detail` (summary, scope, the very
 * TypeBox schemas its handler validates with); `GET /docs` renders the same document as one
 * self-contained HTML page. Routes of the core (health, metrics, the MCP endpoint) are described here.
 */
import { Type, type TObject, type TSchema } from "@sinclair/typebox";
import { Elysia } from "elysia";
import type { ServerConfig } from "../config.ts";
import type { Scope } from "../governance/caller.ts";
import { PRODUCT_TITLE, VERSION } from "../version.ts";
import { renderReferencePage } from "./reference-page.ts";
import { json } from "./respond.ts";

/** What a route says about itself, for the reference. Schemas are the ones its handler checks. */
export interface RouteDoc {
  summary: string;
  description?: string;
  /** The JSON body the handler validates (`validBody`). */
  body?: TSchema;
  /** The body may be left out (an empty body reads as null). */
  bodyOptional?: boolean;
  /** The query parameters: `rest()` makes this the route's Elysia `query` schema, validated before the handler runs (an invalid query string is a 400). */
  query?: TObject;
  /** `false` on a route that changes nothing although its method would (a query sent with POST): it leaves no admin-change record. */
  mutation?: false;
  /** The success status (default 200). */
  status?: number;
  /** The success body's schema (default: a JSON object). */
  response?: TSchema;
  /** The success body's media type (default application/json). */
  contentType?: string;
}

/**
 * Who may call a route: `scope` a key must hold ("key": any valid key, each operation checking its
 * own), none when anyone may; `keyOptional` when a key only adds detail.
 */
export interface RouteDetail extends RouteDoc {
  scope?: Scope | "key";
  keyOptional?: boolean;
}

/** What the generator reads of a registered route (`app.routes`). */
export interface RegisteredRoute {
  method: string;
  path: string;
  hooks?: { detail?: unknown; params?: unknown; query?: unknown };
}

/** A REST error body. */
export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: "snake_case, stable." }),
      message: Type.String(),
      details: Type.Optional(Type.Unknown({ description: "e.g. the first problems of an invalid body." })),
    }),
  },
  { description: "Every REST error." },
);

const RequestId = Type.Union([Type.String(), Type.Integer()]);
/** A JSON-RPC 2.0 request or notification (no `id`). */
export const JsonRpcRequestSchema = Type.Object({
  jsonrpc: Type.Literal("2.0"),
  id: Type.Optional(RequestId),
  method: Type.String({ description: "e.g. initialize, tools/list, tools/call, server/discover." }),
  params: Type.Optional(Type.Object({})),
});
/** A JSON-RPC 2.0 response: a result or an error. */
export const JsonRpcResponseSchema = Type.Union([
  Type.Object({ jsonrpc: Type.Literal("2.0"), id: RequestId, result: Type.Object({}) }),
  Type.Object({
    jsonrpc: Type.Literal("2.0"),
    id: Type.Optional(RequestId),
    error: Type.Object({ code: Type.Integer(), message: Type.String(), data: Type.Optional(Type.Unknown()) }),
  }),
]);

const MCP_SPEC = "https://modelcontextprotocol.io/specification";

/** The routes of the core, which `app.ts` registers without a `detail`. */
function coreRouteDocs(config: Pick<ServerConfig, "metricsRequireKey">, mcpPaths: readonly string[]): Record<string, RouteDetail> {
  const docs: Record<string, RouteDetail> = {
    "GET /healthz": { summary: "Liveness", description: "The process answers.", response: Type.Object({ status: Type.Literal("ok"), version: Type.String() }) },
    "GET /readyz": {
      summary: "Readiness",
      description: "Without a key: `ready` or `not_ready` only (503 when not ready). With an admin key: the detail of each check.",
      scope: "admin",
      keyOptional: true,
      response: Type.Object({ status: Type.Union([Type.Literal("ready"), Type.Literal("not_ready")]) }, { additionalProperties: true }),
    },
    "GET /metrics": {
      summary: "Prometheus metrics",
      description: "Prometheus text exposition; 404 when metrics are turned off.",
      ...(config.metricsRequireKey && { scope: "traces:read" as const }),
      contentType: "text/plain",
      response: Type.String(),
    },
    "GET /v1/mcp/key-profiles": { summary: "Key profiles", description: "The key profiles and what each grants." },
  };
  for (const path of mcpPaths) {
    docs[`GET ${path}`] = {
      summary: "MCP discovery",
      description: "Name, version, supported protocol versions, endpoint, auth header and key-profiles URL. A request that accepts only `text/event-stream` is answered 405 (no SSE).",
    };
    docs[`POST ${path}`] = {
      summary: "MCP JSON-RPC",
      description:
        `The Model Context Protocol over HTTP (${MCP_SPEC}): a JSON-RPC 2.0 request, notification or batch; every request gets an ` +
        "`application/json` answer, a notification 202 with an empty body. Any key whose user is an editor or admin; each tool checks its own scope.",
      scope: "key",
      body: Type.Union([JsonRpcRequestSchema, Type.Array(JsonRpcRequestSchema, { minItems: 1 })]),
      response: Type.Union([JsonRpcResponseSchema, Type.Array(JsonRpcResponseSchema)]),
    };
  }
  return docs;
}

/** The tag of a path, and what each tag covers. */
const TAGS: [prefix: RegExp, name: string, description: string][] = [
  [/^\/(api\/)?v1\/mcp/, "MCP", "The MCP endpoint and its discovery."],
  [/^\/v1\/beta\/users/, "Users and keys", "People in the caller's tenant and their API keys."],
  [/^\/v1\/beta\/groups/, "Groups", "Approver groups, as policy rules name them."],
  [/^\/v1\/policies/, "Policies", "Versions, drafts, publication, simulation and backtests."],
  [/^\/v1\/approvals/, "Approvals", "Four-eyes requests and their decisions."],
  [/^\/v1\/executions/, "Executions", "The execution ledger."],
  [/^\/v1\/connectors/, "Connectors", "Upstream MCP servers and databases, and their pinned tools."],
  [/^\/v1\/brain/, "Brain", "The company brain: entities and relations."],
  [/^/, "Operations", "Health, readiness, metrics and this reference."],
];

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Invalid request (body, parameters or JSON).",
  401: "No credential, or an unknown, revoked or expired key.",
  403: "The key lacks the scope or role this route needs.",
  404: "Not found.",
  413: "The body is larger than the configured limit.",
  429: "Rate limited (see Retry-After).",
};

/** A TypeBox schema as plain JSON Schema (TypeBox keeps its own markers under symbol keys). */
function plainSchema(schema: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema));
}

/** The OpenAPI path of an Elysia path: `:name` becomes `{name}`. */
export function openApiPath(path: string): string {
  return path.replace(/:(\w+)/g, "{$1}");
}

/** The OpenAPI 3.1 document of `routes`. */
export function openApiDocument(routes: readonly RegisteredRoute[], config: Pick<ServerConfig, "publicUrl" | "metricsRequireKey">, mcpPaths: readonly string[]) {
  const core = coreRouteDocs(config, mcpPaths);
  const paths: Record<string, Record<string, ReturnType<typeof operation>>> = {};
  const usedTags = new Set<string>();
  for (const route of routes) {
    const method = route.method.toLowerCase();
    const detail = (route.hooks?.detail as RouteDetail | undefined)?.summary ? (route.hooks!.detail as RouteDetail) : core[`${route.method} ${route.path}`];
    const path = openApiPath(route.path);
    const tag = TAGS.find(([prefix]) => prefix.test(route.path))!;
    usedTags.add(tag[1]);
    (paths[path] ??= {})[method] = operation(route, detail ?? { summary: "" }, tag[1], mcpPaths.includes(route.path));
  }
  return {
    openapi: "3.1.0",
    info: {
      title: `${PRODUCT_TITLE} HTTP API`,
      version: VERSION,
      description: "The governed MCP gateway: the MCP endpoint, and REST for people and scripts. Errors outside JSON-RPC are `{\"error\":{\"code\",\"message\"}}`.",
    },
    servers: [{ url: config.publicUrl?.replace(/\/+$/, "") || "/" }],
    tags: TAGS.filter(([, name]) => usedTags.has(name)).map(([, name, description]) => ({ name, description })),
    paths,
    components: {
      securitySchemes: {
        ApiKey: { type: "apiKey", in: "header", name: "X-API-Key", description: "An Invoke key (`inv_live_…`)." },
        Bearer: { type: "http", scheme: "bearer", description: "The same key as `Authorization: Bearer`." },
      },
      schemas: { Error: plainSchema(ErrorBodySchema) },
    },
    externalDocs: { description: "Model Context Protocol specification", url: MCP_SPEC },
  };
}

/** One operation of the document. */
function operation(route: RegisteredRoute, detail: RouteDetail, tag: string, isMcp: boolean) {
  const parameters: { name: string; in: "path" | "query"; required: boolean; schema: unknown }[] = [];
  const declaredParams = route.hooks?.params as TObject | undefined;
  for (const [, name] of route.path.matchAll(/:(\w+)/g)) {
    const schema = declaredParams?.properties?.[name!] ?? Type.String();
    parameters.push({ name: name!, in: "path", required: true, schema: plainSchema(schema) });
  }
  const query = route.hooks?.query as TObject | undefined;
  for (const [name, schema] of Object.entries(query?.properties ?? {})) {
    parameters.push({ name, in: "query", required: query!.required?.includes(name) ?? false, schema: plainSchema(schema) });
  }

  const errors = new Set<number>();
  if (detail.body || parameters.length > 0) errors.add(400);
  if (detail.scope) [401, 403, 429].forEach((status) => errors.add(status));
  if (detail.body) errors.add(413);
  if (route.path.includes(":")) errors.add(404);
  // The MCP endpoint answers refusals in JSON-RPC (an error without an id).
  const errorSchema = isMcp ? plainSchema(JsonRpcResponseSchema.anyOf[1]) : { $ref: "#/components/schemas/Error" };
  const responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }> = {
    [String(detail.status ?? 200)]: {
      description: "Success.",
      content: { [detail.contentType ?? "application/json"]: { schema: detail.response ? plainSchema(detail.response) : { type: "object" } } },
    },
  };
  if (isMcp && route.method === "POST") responses["202"] = { description: "Notifications only: accepted, empty body." };
  for (const status of [...errors].sort()) responses[String(status)] = { description: ERROR_DESCRIPTIONS[status]!, content: { "application/json": { schema: errorSchema } } };

  const secured = detail.scope !== undefined;
  const security: Record<string, string[]>[] = secured ? [...(detail.keyOptional ? [{}] : []), { ApiKey: [] }, { Bearer: [] }] : [];
  return {
    tags: [tag],
    summary: detail.summary,
    ...(detail.description && { description: detail.description }),
    operationId: `${route.method.toLowerCase()}${route.path.replace(/[^A-Za-z0-9]+(\w)?/g, (_, next: string | undefined) => (next ?? "").toUpperCase())}`,
    security,
    ...(secured && { "x-invoke-scope": detail.scope }),
    ...(parameters.length > 0 && { parameters }),
    ...(detail.body && {
      requestBody: { required: !detail.bodyOptional, content: { "application/json": { schema: plainSchema(detail.body) } } },
    }),
    responses,
    ...(isMcp && route.method === "POST" && { externalDocs: { description: "MCP specification", url: MCP_SPEC } }),
  };
}

/** What the reference routes read: the config and, once every route is registered, the app's routes. */
export interface ReferenceOptions {
  config: Pick<ServerConfig, "publicUrl" | "metricsRequireKey">;
  routes: () => readonly RegisteredRoute[];
  mcpPaths: readonly string[];
}

/** `GET /openapi.json` and `GET /docs`, built on first request (routes do not change once the app is built). */
export function referenceRoutes({ config, routes, mcpPaths }: ReferenceOptions) {
  let document: ReturnType<typeof openApiDocument> | undefined;
  let page: string | undefined;
  const current = () => (document ??= openApiDocument(routes(), config, mcpPaths));
  const documentDetail: RouteDetail = { summary: "OpenAPI document", description: "This API as OpenAPI 3.1." };
  const pageDetail: RouteDetail = { summary: "API reference", description: "This API as a readable HTML page.", contentType: "text/html", response: Type.String() };
  return new Elysia({ name: "reference-routes" })
    .get("/openapi.json", () => json(current()), { detail: documentDetail })
    .get(
      "/docs",
      () =>
        new Response((page ??= renderReferencePage(current())), {
          // The page is self-contained: nothing may load from elsewhere.
          headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'" },
        }),
      { detail: pageDetail },
    );
}
