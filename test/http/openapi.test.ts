/**
 * The HTTP reference: `GET /openapi.json` is a valid OpenAPI 3.1 document that covers exactly the
 * registered routes, states each route's auth as the route enforces it, and carries the very schemas
 * the handlers validate with; `GET /docs` renders it as a page that loads nothing from elsewhere.
 */
import { validate } from "@readme/openapi-parser";
import { describe, expect, it } from "bun:test";
import { BrainQueryInput } from "../../src/tools/company-brain-query.ts";
import { NewConnector } from "../../src/connectors/model.ts";
import { NewKeySchema, NewUserSchema, UserChangeSchema } from "../../src/governance/directory.ts";
import { SCOPES } from "../../src/governance/caller.ts";
import { PROFILES } from "../../src/governance/profiles.ts";
import { openApiPath } from "../../src/http/openapi.ts";
import pkg from "../../package.json";
import type { ServerConfig } from "../../src/config.ts";
import { keyFor, send, startTestServer, type TestServer } from "../support/harness.ts";

type Operation = {
  summary: string;
  security: Record<string, string[]>[];
  "x-invoke-scope"?: string;
  parameters?: { name: string; in: string; required: boolean; schema: unknown }[];
  requestBody?: { required: boolean; content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
  externalDocs?: { url: string };
};
type Document = { openapi: string; info: { version: string }; servers: { url: string }[]; paths: Record<string, Record<string, Operation>> };

/** A server whose limiter never gets in the way of a request to every route. */
function unlimitedServer(config: Partial<ServerConfig> = {}): TestServer {
  const unlimited = { requests: 1_000_000, per_seconds: 1 };
  return startTestServer({ config: { rateLimit: unlimited, profileRateLimits: { admin: unlimited, operator: unlimited, mcp_readonly: unlimited }, ...config } });
}

async function documentOf(server: TestServer): Promise<Document> {
  const answer = await send(server.app, "/openapi.json");
  expect(answer.status).toBe(200);
  return answer.body;
}

/** Every operation of a document, with its method and path. */
function operations(document: Document): [method: string, path: string, operation: Operation][] {
  return Object.entries(document.paths).flatMap(([path, byMethod]) => Object.entries(byMethod).map(([method, operation]) => [method.toUpperCase(), path, operation] as [string, string, Operation]));
}

/** Whether an operation needs a key (it has security and no empty, anonymous alternative). */
function needsKey(operation: Operation): boolean {
  return operation.security.length > 0 && operation.security.every((requirement) => Object.keys(requirement).length > 0);
}

/** The status of `method` on an OpenAPI path, with a JSON body `{}` where the method has one (the body is left unread). */
async function statusOf(server: TestServer, method: string, path: string, key?: string): Promise<number> {
  const headers: Record<string, string> = { "content-type": "application/json", ...(key && { "x-api-key": key }) };
  const response = await server.app.handle(new Request(`http://localhost${concrete(path)}`, { method, headers, body: method === "GET" || method === "DELETE" ? undefined : "{}" }));
  await response.body?.cancel();
  return response.status;
}

/** A concrete URL path for an OpenAPI path. */
function concrete(path: string): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => (name === "version" ? "1" : `no-such-${name}`));
}

describe("GET /openapi.json", () => {
  it("is a valid OpenAPI 3.1 document of this version", async () => {
    using server = unlimitedServer();
    const document = await documentOf(server);
    const result = await validate(structuredClone(document) as never);
    expect(result.valid ? [] : result.errors.map((error) => error.message)).toEqual([]);
    expect(document.openapi).toBe("3.1.0");
    expect(document.info.version).toBe(pkg.version);
  });

  it("covers every registered route, and only those", async () => {
    using server = unlimitedServer();
    const document = await documentOf(server);
    const registered = server.app.routes.map((route) => `${route.method} ${openApiPath(route.path)}`).sort();
    const documented = operations(document).map(([method, path]) => `${method} ${path}`).sort();
    expect(documented).toEqual(registered);
    expect(documented).toContain("GET /openapi.json");
    expect(documented).toContain("POST /v1/beta/users/{userId}/keys");
  });

  it("gives every operation a summary, its path parameters and its auth", async () => {
    using server = unlimitedServer();
    for (const [method, path, operation] of operations(await documentOf(server))) {
      const where = `${method} ${path}`;
      expect(operation.summary, where).toMatch(/\w/);
      expect(Array.isArray(operation.security), where).toBe(true);
      const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);
      expect((operation.parameters ?? []).filter((parameter) => parameter.in === "path").map((parameter) => parameter.name), where).toEqual(pathParams);
      if (operation.security.length === 0) {
        expect(operation["x-invoke-scope"], where).toBeUndefined();
        continue;
      }
      expect([...SCOPES, "key"] as (string | undefined)[], where).toContain(operation["x-invoke-scope"]);
      expect(operation.responses["401"]?.content?.["application/json"], where).toBeDefined();
    }
  });

  it("states a key where the route refuses a request without one, and none where it does not", async () => {
    using server = unlimitedServer();
    const refusedWithoutKey: string[] = [];
    const documentedKeyed: string[] = [];
    for (const [method, path, operation] of operations(await documentOf(server))) {
      if (needsKey(operation)) documentedKeyed.push(`${method} ${path}`);
      if ((await statusOf(server, method, path)) === 401) refusedWithoutKey.push(`${method} ${path}`);
    }
    expect(refusedWithoutKey).toEqual(documentedKeyed);
    expect(documentedKeyed.length).toBeGreaterThan(40);
  });

  it("names the scope each REST route enforces: a read-only key passes its read scopes and is refused the others", async () => {
    using server = unlimitedServer();
    const readScopes = new Set<string>(PROFILES.find((profile) => profile.name === "mcp_readonly")!.scopes);
    const key = await keyFor(server, "viewer", "mcp_readonly");
    const mismatches: string[] = [];
    const checked = new Set<string>();
    for (const [method, path, operation] of operations(await documentOf(server))) {
      const scope = operation["x-invoke-scope"];
      if (scope === undefined || scope === "key") continue;
      checked.add(scope);
      const status = await statusOf(server, method, path, key);
      if ((status === 403) === readScopes.has(scope)) mismatches.push(`${method} ${path} (${scope}): ${status}`);
    }
    expect(mismatches).toEqual([]);
    // Both kinds were tried: read scopes and write scopes (admin among them).
    expect([...checked].filter((scope) => readScopes.has(scope)).length).toBeGreaterThanOrEqual(4);
    expect(checked).toContain("admin");
  });

  it("carries the schemas the handlers validate with", async () => {
    using server = unlimitedServer();
    const document = await documentOf(server);
    const bodyOf = (method: string, path: string) => document.paths[path]?.[method]?.requestBody?.content["application/json"]?.schema;
    const json = (schema: unknown) => JSON.parse(JSON.stringify(schema));
    expect(bodyOf("post", "/v1/beta/users")).toEqual(json(NewUserSchema));
    expect(bodyOf("patch", "/v1/beta/users/{userId}")).toEqual(json(UserChangeSchema));
    expect(bodyOf("post", "/v1/beta/users/{userId}/keys")).toEqual(json(NewKeySchema));
    expect(bodyOf("post", "/v1/connectors")).toEqual(json(NewConnector));
    expect(bodyOf("post", "/v1/brain/query")).toEqual(json(BrainQueryInput));
    expect(document.paths["/v1/policies/{version}"]!.get!.parameters![0]!.schema).toEqual({ type: "string", pattern: "^\\d+$" });
    // A body the handler may go without is optional; one it requires is required.
    expect(document.paths["/v1/policies/rollback"]!.post!.requestBody!.required).toBe(false);
    expect(document.paths["/v1/beta/users"]!.post!.requestBody!.required).toBe(true);
    expect(Object.keys(document.paths["/v1/beta/users"]!.post!.responses)).toContain("201");
  });

  it("rejects, per its schema, a body the route rejects", async () => {
    using server = unlimitedServer();
    const document = await documentOf(server);
    const schema = document.paths["/v1/beta/users"]!.post!.requestBody!.content["application/json"]!.schema as { required: string[] };
    const answer = await send(server.app, "/v1/beta/users", { method: "POST", headers: { "x-api-key": server.adminKey, "content-type": "application/json" }, body: "{}" });
    expect(answer.status).toBe(400);
    for (const property of schema.required) expect(answer.body.error.message).toContain(property);
  });

  it("documents the MCP endpoint as JSON-RPC 2.0 and points to the MCP specification", async () => {
    using server = unlimitedServer();
    const mcp = (await documentOf(server)).paths["/v1/mcp"]!.post!;
    expect(JSON.stringify(mcp.requestBody!.content["application/json"]!.schema)).toContain('"const":"2.0"');
    expect(JSON.stringify(mcp.responses["200"]!.content!["application/json"]!.schema)).toContain('"result"');
    expect(mcp.externalDocs?.url).toContain("modelcontextprotocol.io/specification");
  });

  it("names the public URL as its server, else a relative one", async () => {
    using relative = unlimitedServer();
    expect((await documentOf(relative)).servers).toEqual([{ url: "/" }]);
    using published = unlimitedServer({ publicUrl: "https://invoke.example.com/" });
    expect((await documentOf(published)).servers).toEqual([{ url: "https://invoke.example.com" }]);
  });

  it("follows the metrics key setting", async () => {
    using open = unlimitedServer();
    expect((await documentOf(open)).paths["/metrics"]!.get!.security).toEqual([]);
    using keyed = unlimitedServer({ metricsRequireKey: true });
    const metrics = (await documentOf(keyed)).paths["/metrics"]!.get!;
    expect(metrics["x-invoke-scope"]).toBe("traces:read");
    expect((await send(keyed.app, "/metrics")).status).toBe(401);
  });
});

describe("GET /docs", () => {
  it("is one self-contained HTML page: nothing loads from elsewhere", async () => {
    using server = unlimitedServer();
    const answer = await send(server.app, "/docs");
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toStartWith("text/html");
    expect(answer.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(answer.text).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    expect(answer.text).not.toMatch(/\bsrc\s*=/i);
    const external = [...answer.text.matchAll(/href\s*=\s*"([^"]*)"/gi)].map((match) => match[1]!).filter((href) => /^(https?:)?\/\//i.test(href));
    expect(external).toEqual([]);
  });

  it("shows every path of the document, with its method and auth", async () => {
    using server = unlimitedServer();
    const document = await documentOf(server);
    const page = (await send(server.app, "/docs")).text;
    for (const [method, path] of operations(document)) expect(page, `${method} ${path}`).toContain(`<span class="method ${method.toLowerCase()}">${method}</span><code>${path}</code>`);
    expect(page).toContain("an admin key");
    expect(page).toContain("a key with scope <code>policy:simulate</code>");
    // The body schema of a route, as pretty JSON.
    expect(page).toContain(JSON.stringify(JSON.parse(JSON.stringify(NewUserSchema)), null, 2).replace(/"/g, "&#34;"));
  });
});
