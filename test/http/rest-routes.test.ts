/**
 * REST routes as they are declared (`rest(scope, doc)`): which of them leave an admin-change record,
 * and how a query string that does not match a route's query schema is answered.
 */
import { describe, expect, it } from "bun:test";
import { isMutation } from "../../src/http/mutations.ts";
import { openApiPath, type RouteDetail } from "../../src/http/openapi.ts";
import { MAX_LISTED_ISSUES } from "../../src/http/request-body.ts";
import { rest, startTestServer, type TestServer } from "../support/harness.ts";

function unlimitedServer(): TestServer {
  const unlimited = { requests: 1_000_000, per_seconds: 1 };
  return startTestServer({ config: { rateLimit: unlimited, profileRateLimits: { admin: unlimited, operator: unlimited, mcp_readonly: unlimited } } });
}

/** The REST routes and what each declares. */
function declaredRoutes(server: TestServer): { method: string; path: string; detail: RouteDetail }[] {
  return server.app.routes
    .map((route) => ({ method: route.method, path: route.path, detail: route.hooks?.detail as RouteDetail | undefined }))
    .filter((route): route is { method: string; path: string; detail: RouteDetail } => route.detail?.scope !== undefined);
}

/** The routes named by the admin-change records of the server's tenant, one entry per record. */
async function recordedRoutes(server: TestServer): Promise<string[]> {
  const answer = await rest(server, "GET", "/v1/executions?kind=admin_mutation&limit=500");
  expect(answer.status).toBe(200);
  return (answer.body.records as { tool: string }[]).map((record) => record.tool).sort();
}

describe("admin-change records follow the route declarations", () => {
  it("declares the POST routes that change nothing, on the routes themselves", () => {
    using server = startTestServer();
    const unrecorded = declaredRoutes(server)
      .filter(({ method, detail }) => method !== "GET" && !isMutation(method, detail))
      .map(({ method, path }) => `${method} ${path}`)
      .sort();
    expect(unrecorded).toEqual([
      "POST /v1/approvals/:id/approve",
      "POST /v1/approvals/:id/reject",
      "POST /v1/brain/query",
      "POST /v1/policies/backtest",
      "POST /v1/policies/check",
      "POST /v1/policies/simulate",
    ]);
  });

  it("leaves one record for each call of a mutation route, refused or not, and none for any other route", async () => {
    using server = unlimitedServer();
    const routes = declaredRoutes(server);
    expect(routes.length).toBeGreaterThan(25);
    const before = await recordedRoutes(server);
    for (const { method, path } of routes) {
      const response = await server.app.handle(
        new Request(`http://localhost${path.replace(/:\w+/g, "x")}`, {
          method,
          headers: { "content-type": "application/json", "x-api-key": server.adminKey },
          body: method === "GET" ? undefined : "{}",
        }),
      );
      expect(response.status).toBeLessThan(500);
      await response.body?.cancel();
    }
    const added = await recordedRoutes(server);
    for (const route of before) added.splice(added.indexOf(route), 1);
    const expected = routes.filter(({ method, detail }) => isMutation(method, detail)).map(({ method, path }) => `${method} ${path}`).sort();
    expect(expected.length).toBeGreaterThan(15);
    expect(added).toEqual(expected);
  });
});

describe("query strings are validated against the route's schema", () => {
  const bad: [path: string, problem: RegExp][] = [
    ["/v1/executions?limit=abc", /\/limit: Expected integer/],
    ["/v1/executions?limit=501", /\/limit: Expected integer to be less or equal to 500/],
    ["/v1/executions?kind=nope", /\/kind/],
    ["/v1/executions/export?decision=maybe", /\/decision/],
    ["/v1/approvals?status=bogus", /\/status/],
    ["/v1/approvals?limit=1.5", /\/limit: Expected integer/],
    ["/v1/policies/diff?from=x", /\/from: Expected integer/],
    ["/v1/policies/diff?to=1", /\/from/],
  ];
  for (const [path, problem] of bad) {
    it(`answers ${path} with 400 invalid_request, naming the parameter`, async () => {
      using server = startTestServer();
      const answer = await rest(server, "GET", path);
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe("invalid_request");
      expect(answer.body.error.message).toStartWith("Invalid query string: ");
      expect(answer.body.error.message).toMatch(problem);
      expect(answer.body.error.details.length).toBeGreaterThan(0);
      expect(answer.body.error.details.length).toBeLessThanOrEqual(MAX_LISTED_ISSUES);
      expect(answer.text).not.toContain("    at ");
    });
  }

  it("reads numbers as numbers and treats an empty parameter as absent", async () => {
    using server = startTestServer();
    for (let index = 0; index < 3; index++) await rest(server, "POST", "/v1/beta/groups", { name: `team-${index}` });
    const page = await rest(server, "GET", "/v1/executions?limit=2&tool=&kind=admin_mutation");
    expect(page.status).toBe(200);
    expect(page.body.records).toHaveLength(2);
    expect(page.body.next_cursor).toBeString();
    const diff = await rest(server, "GET", "/v1/policies/diff?from=0&to=");
    expect(diff.status).toBe(200);
    expect(diff.body.from).toBe(0);
  });

  it("documents, in the reference, the very query schema each route validates with", async () => {
    using server = startTestServer();
    const document = (await rest(server, "GET", "/openapi.json")).body;
    const withQuery = server.app.routes.filter((route) => route.hooks?.query !== undefined);
    expect(withQuery.map((route) => route.path).sort()).toEqual(["/v1/approvals", "/v1/executions", "/v1/executions/export", "/v1/policies/diff"]);
    for (const route of withQuery) {
      const schema = route.hooks.query as { properties: Record<string, unknown>; required?: string[] };
      const parameters = document.paths[openApiPath(route.path)][route.method.toLowerCase()].parameters.filter((parameter: { in: string }) => parameter.in === "query");
      expect(parameters).toEqual(
        Object.entries(schema.properties).map(([name, property]) => ({ name, in: "query", required: schema.required?.includes(name) ?? false, schema: JSON.parse(JSON.stringify(property)) })),
      );
    }
  });

  it("checks the key before the query: no key, bad query is 401", async () => {
    using server = startTestServer();
    const answer = await rest(server, "GET", "/v1/executions?limit=abc", undefined, "");
    expect(answer.status).toBe(401);
  });
});
