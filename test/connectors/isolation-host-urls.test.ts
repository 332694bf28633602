/**
 * Spellings of a connector URL a hostile tenant admin might try against the operator's URL allow-list:
 * userinfo that looks like the allowed host, a backslash, a look-alike unicode host, an encoded `..`.
 * Every one is refused before any connection is made.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { rest, startTestServer, type TestServer } from "../support/harness.ts";

const servers: TestServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server[Symbol.asyncDispose]();
});

describe("a tenant's connector URL", () => {
  it("is refused however it dresses up another host or path as the allowed one", async () => {
    const server = startTestServer({ config: { tenantConnectors: { urls: ["http://*.example.com/mcp/**", "http://localhost:9/mcp/**"] } } });
    servers.push(server);
    const http = (name: string, url: string) => rest(server, "POST", "/v1/connectors", { name, type: "mcp_http", url });
    const urls = [
      "http://localhost:9@evil.net:9/mcp/x",
      "http://api.example.com@evil.net/mcp/x",
      "http://evil.net\\@api.example.com/mcp/x",
      "http://api.exаmple.com/mcp/x", // a Cyrillic "а"
      "http://localhost:9/mcp/%2e%2e/admin",
      "http://localhost:9/mcp/..%2f..%2fadmin/../../x",
      "http://[::1]:9/mcp/x",
    ];
    const answers = [];
    for (const [index, url] of urls.entries()) answers.push({ url, status: (await http(`c${index}`, url)).status });
    expect(answers).toEqual(urls.map((url) => ({ url, status: 403 })));
    expect(((await rest(server, "GET", "/v1/connectors")).body as { connectors: unknown[] }).connectors).toEqual([]);
  });

  it("may not carry headers that choose another host or frame the request, however they are spelled", async () => {
    const server = startTestServer({ config: { tenantConnectors: { urls: ["http://localhost:9/mcp/**"] } } });
    servers.push(server);
    const http = (name: string, headers: Record<string, string>) => rest(server, "POST", "/v1/connectors", { name, type: "mcp_http", url: "http://localhost:9/mcp/x", headers });
    const refused: Record<string, string>[] = [
      { Host: "internal-admin.svc" },
      { HOST: "internal-admin.svc" },
      { "X-Forwarded-Host": "internal-admin.svc" },
      { "x-forwarded-for": "127.0.0.1" },
      { Forwarded: "for=127.0.0.1;host=internal-admin.svc" },
      { "X-Real-IP": "127.0.0.1" },
      { "X-Original-URL": "/admin" },
      { "Transfer-Encoding": "chunked" },
      { "Content-Length": "0" },
      { Connection: "upgrade", Upgrade: "websocket" },
      { Authorization: "Bearer upstream-token", Host: "internal-admin.svc" },
    ];
    const answers = [];
    for (const [index, headers] of refused.entries()) {
      const answer = await http(`h${index}`, headers);
      answers.push({ headers, status: answer.status, code: answer.body.error?.code });
    }
    expect(answers).toEqual(refused.map((headers) => ({ headers, status: 403, code: "host_access_denied" })));
    // The upstream's own credentials are what headers are for.
    expect((await http("ok", { Authorization: "Bearer upstream-token", "X-Api-Key": "k" })).status).toBe(201);
  });
});
