/**
 * The MCP endpoint over HTTP (legacy era), driven in-process through `app.handle`: the seed's error
 * table to the letter, the transport rules (origin, media types, size, version header, credentials),
 * the methods, pagination and batches. Every JSON-RPC answer is validated against the MCP schema.
 */
import { describe, expect, it } from "bun:test";
import { Type } from "@sinclair/typebox";
import { ToolRegistry, builtinTools } from "../../src/tools/registry.ts";
import { defineTool, ToolError } from "../../src/tools/tool.ts";
import { request, rpc, send, startTestServer, writeFromAnotherProcess } from "../support/harness.ts";

const initialize = (version: string, id = 1) =>
  request(id, "initialize", { protocolVersion: version, capabilities: {}, clientInfo: { name: "test", version: "1.0.0" } });

describe("error table (seed 003)", () => {
  it("answers a body that is not JSON with -32700 and HTTP 400, without id", async () => {
    using server = startTestServer();
    const answer = await rpc(server, '{"jsonrpc":"2.0","id":1,');
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe(-32700);
    expect("id" in answer.body).toBe(false);
  });

  it.each([
    ["a JSON string", '"hello"', undefined],
    ["a wrong jsonrpc version", { jsonrpc: "1.0", id: 7, method: "ping" }, 7],
    ["a missing method", { jsonrpc: "2.0", id: 8 }, 8],
    ["a non-string method", { jsonrpc: "2.0", id: 9, method: 42 }, 9],
    ["positional params", { jsonrpc: "2.0", id: 10, method: "ping", params: [1, 2] }, 10],
    ["a null id", { jsonrpc: "2.0", id: null, method: "ping" }, undefined],
  ])("answers %s with -32600 and HTTP 400, carrying the id when it can be read", async (_name, payload, id) => {
    using server = startTestServer();
    const answer = await rpc(server, payload);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe(-32600);
    expect(answer.body.id).toBe(id);
  });

  it("answers an unknown method with -32601 and HTTP 200", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(3, "resources/list"));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: 3, error: { code: -32601 } });
  });

  it("answers an unknown tool with -32602 and HTTP 200", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(4, "tools/call", { name: "nope.nothing", arguments: {} }));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: 4, error: { code: -32602, message: "Unknown tool: nope.nothing" } });
  });

  it("answers arguments that fail the tool's schema with -32602 and the schema errors in data", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(5, "tools/call", { name: "invoke.whoami", arguments: { tenant_id: "ten_other" } }));
    expect(answer.status).toBe(200);
    expect(answer.body.error.code).toBe(-32602);
    expect(answer.body.error.data.errors).toEqual([{ path: "/tenant_id", message: expect.any(String) }]);
  });

  it("answers a handler failure as an isError result with a readable text, not a JSON-RPC error", async () => {
    const failing = defineTool({
      name: "test.fail",
      title: "Fails",
      description: "Always fails.",
      scope: "tools:read",
      readOnly: true,
      touchesCompanyData: false,
      input: Type.Object({}),
      handler: () => {
        throw new ToolError("the upstream said no");
      },
    });
    using server = startTestServer({ registry: new ToolRegistry([...builtinTools, failing]) });
    const answer = await rpc(server, request(6, "tools/call", { name: "test.fail" }));
    expect(answer.status).toBe(200);
    expect(answer.body.result).toEqual({ content: [{ type: "text", text: "the upstream said no" }], isError: true });
  });

  it("masks an unexpected handler exception: readable text, no internals", async () => {
    const crashing = defineTool({
      name: "test.crash",
      title: "Crashes",
      description: "Throws a TypeError.",
      scope: "tools:read",
      readOnly: true,
      touchesCompanyData: false,
      input: Type.Object({}),
      handler: () => {
        throw new TypeError("secret internal detail at /srv/x.ts:1");
      },
    });
    using server = startTestServer({ registry: new ToolRegistry([...builtinTools, crashing]) });
    const originalError = console.error;
    console.error = () => {};
    try {
      const answer = await rpc(server, request(7, "tools/call", { name: "test.crash" }));
      expect(answer.body.result.isError).toBe(true);
      expect(answer.text).not.toContain("secret internal detail");
    } finally {
      console.error = originalError;
    }
  });
});

describe("methods", () => {
  it.each(["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"])("initialize echoes the supported version %s", async (version) => {
    using server = startTestServer();
    const answer = await rpc(server, initialize(version));
    expect(answer.status).toBe(200);
    expect(answer.body.result.protocolVersion).toBe(version);
    expect(answer.body.result.capabilities).toEqual({ tools: { listChanged: false } });
    expect(answer.body.result.serverInfo.name).toBe("invoke");
  });

  it("initialize answers the newest legacy version when asked for an unknown one", async () => {
    using server = startTestServer();
    const answer = await rpc(server, initialize("2031-01-01"));
    expect(answer.body.result.protocolVersion).toBe("2025-11-25");
  });

  it("does not create sessions: no Mcp-Session-Id header", async () => {
    using server = startTestServer();
    const answer = await rpc(server, initialize("2025-11-25"));
    expect(answer.headers.get("mcp-session-id")).toBeNull();
  });

  it("ping answers an empty object", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request("p-1", "ping"));
    expect(answer.body).toEqual({ jsonrpc: "2.0", id: "p-1", result: {} });
  });

  it.each(["notifications/initialized", "notifications/cancelled", "notifications/whatever"])("answers the notification %s with 202 and an empty body", async (method) => {
    using server = startTestServer();
    const answer = await rpc(server, { jsonrpc: "2.0", method });
    expect(answer.status).toBe(202);
    expect(answer.text).toBe("");
  });

  it("answers a JSON-RPC response sent by the client with 202", async () => {
    using server = startTestServer();
    const answer = await rpc(server, { jsonrpc: "2.0", id: 1, result: {} });
    expect(answer.status).toBe(202);
    expect(answer.text).toBe("");
  });

  it("tools/list lists invoke.whoami with plain JSON Schema (no TypeBox artefacts)", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "tools/list", {}));
    const whoami = answer.body.result.tools.find((tool: { name: string }) => tool.name === "invoke.whoami");
    expect(whoami.inputSchema).toEqual({ type: "object", properties: {}, additionalProperties: false });
    expect(whoami.outputSchema.type).toBe("object");
    expect(answer.text).not.toMatch(/TypeBox|\[Kind\]|"anyOf":\[\{"type":"integer"\},\{"type":"string"/);
    expect(whoami.annotations).toEqual({ title: "Who am I", readOnlyHint: true, openWorldHint: false });
  });

  it("tools/call invoke.whoami returns structuredContent and the same JSON as text", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(2, "tools/call", { name: "invoke.whoami", arguments: {} }));
    const result = answer.body.result;
    expect(result.structuredContent).toMatchObject({
      tenant: { id: server.tenantId, name: "default" },
      user: { id: server.userId, email: "admin@localhost", role: "admin" },
      key: { profile: "admin", expires_at: null },
    });
    expect(JSON.parse(result.content[0].text)).toEqual(result.structuredContent);
    expect(result.isError).toBeUndefined();
  });

  it("tools/call without arguments treats them as empty", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(2, "tools/call", { name: "invoke.whoami" }));
    expect(answer.body.result.structuredContent.user.email).toBe("admin@localhost");
  });

  it.each([
    ["no name", { arguments: {} }],
    ["a numeric name", { name: 5 }],
    ["array arguments", { name: "invoke.whoami", arguments: [] }],
  ])("tools/call with %s is -32602", async (_name, params) => {
    using server = startTestServer();
    const answer = await rpc(server, request(3, "tools/call", params));
    expect(answer.body.error.code).toBe(-32602);
  });

  it("serves the same endpoint on /api/v1/mcp (seed 003)", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "ping"), { path: "/api/v1/mcp" });
    expect(answer.body.result).toEqual({});
  });
});

describe("tools/list pagination", () => {
  const extraTools = Array.from({ length: 5 }, (_, index) =>
    defineTool({
      name: `test.tool_${index}`,
      title: `Tool ${index}`,
      description: "A tool for paging.",
      scope: "tools:read",
      readOnly: true,
      touchesCompanyData: false,
      input: Type.Object({}),
      handler: () => ({ ok: true }),
    }),
  );

  it("pages through every tool exactly once, in name order", async () => {
    using server = startTestServer({ registry: new ToolRegistry([...builtinTools, ...extraTools]), pageSize: 2 });
    const names: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const answer = await rpc(server, request(pages, "tools/list", cursor === undefined ? {} : { cursor }));
      names.push(...answer.body.result.tools.map((tool: { name: string }) => tool.name));
      cursor = answer.body.result.nextCursor;
      pages++;
    } while (cursor !== undefined);
    const expected = [...builtinTools, ...extraTools].map((tool) => tool.name).sort();
    expect(pages).toBe(Math.ceil(expected.length / 2));
    expect(names).toEqual(expected);
  });

  it.each(["garbage!", "", "eyJvIjotMX0", 42])("rejects the invalid cursor %p with -32602", async (cursor) => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "tools/list", { cursor }));
    expect(answer.status).toBe(200);
    expect(answer.body.error).toMatchObject({ code: -32602, message: "Invalid cursor" });
  });
});

describe("batches", () => {
  it("answers a batch from a 2025-03-26 client with an array of responses, notifications unanswered", async () => {
    using server = startTestServer();
    const answer = await rpc(server, [request(1, "ping"), { jsonrpc: "2.0", method: "notifications/initialized" }, request(2, "nope")], {
      headers: { "mcp-protocol-version": "2025-03-26" },
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual([
      { jsonrpc: "2.0", id: 1, result: {} },
      { jsonrpc: "2.0", id: 2, error: { code: -32601, message: "Method not found: nope" } },
    ]);
  });

  it("treats a request without MCP-Protocol-Version as 2025-03-26, so batches work (transports spec)", async () => {
    using server = startTestServer();
    const answer = await rpc(server, [request(1, "ping")]);
    expect(answer.body).toEqual([{ jsonrpc: "2.0", id: 1, result: {} }]);
  });

  it("answers a batch of notifications only with 202", async () => {
    using server = startTestServer();
    const answer = await rpc(server, [{ jsonrpc: "2.0", method: "notifications/initialized" }], { headers: { "mcp-protocol-version": "2024-11-05" } });
    expect(answer.status).toBe(202);
    expect(answer.text).toBe("");
  });

  it.each(["2025-06-18", "2025-11-25"])("refuses batches from a %s client with -32600 and HTTP 400", async (version) => {
    using server = startTestServer();
    const answer = await rpc(server, [request(1, "ping")], { headers: { "mcp-protocol-version": version } });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe(-32600);
  });

  it("refuses an empty batch with -32600 and HTTP 400", async () => {
    using server = startTestServer();
    const answer = await rpc(server, []);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe(-32600);
  });

  it("refuses initialize inside a batch but answers the rest", async () => {
    using server = startTestServer();
    const answer = await rpc(server, [initialize("2025-03-26", 1), request(2, "ping")]);
    expect(answer.body[0]).toMatchObject({ id: 1, error: { code: -32600 } });
    expect(answer.body[1]).toEqual({ jsonrpc: "2.0", id: 2, result: {} });
  });
});

describe("transport rules", () => {
  it("refuses an unsupported MCP-Protocol-Version header with 400 and lists the supported ones", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "ping"), { headers: { "mcp-protocol-version": "1999-01-01" } });
    expect(answer.status).toBe(400);
    expect(answer.body.error.data.supported).toContain("2025-11-25");
  });

  it.each(["http://localhost:6274", "http://127.0.0.1:3000", "http://[::1]:8080", "http://localhost"])("accepts the loopback origin %s by default", async (origin) => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "ping"), { headers: { origin } });
    expect(answer.status).toBe(200);
  });

  it.each(["https://evil.example", "http://localhost.evil.example", "null", "http://127.0.0.1.nip.io"])("refuses the origin %s with 403", async (origin) => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "ping"), { headers: { origin } });
    expect(answer.status).toBe(403);
    expect(answer.text).not.toContain("Unauthorized");
  });

  it("honours a configured origin allow-list with globs", async () => {
    using server = startTestServer({ config: { allowedOrigins: ["https://*.example.com"] } });
    expect((await rpc(server, request(1, "ping"), { headers: { origin: "https://app.example.com" } })).status).toBe(200);
    expect((await rpc(server, request(1, "ping"), { headers: { origin: "http://localhost:3000" } })).status).toBe(403);
  });

  it("refuses a body over 1 MiB with 413", async () => {
    using server = startTestServer();
    const big = JSON.stringify({ ...request(1, "ping"), padding: "x".repeat(1024 * 1024) });
    const answer = await rpc(server, big);
    expect(answer.status).toBe(413);
  });

  it("refuses a chunked body over 1 MiB with 413 (no Content-Length to trust)", async () => {
    using server = startTestServer();
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const answer = await send(server.app, "/v1/mcp", {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": server.adminKey },
      body: stream,
    });
    expect(answer.status).toBe(413);
  });

  it.each(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])("refuses Content-Type %s with 415", async (type) => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "ping"), { headers: { "content-type": type } });
    expect(answer.status).toBe(415);
  });

  it.each([undefined, "*/*", "application/json", "application/json, text/event-stream"])("accepts Accept %p", async (accept) => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "ping"), accept === undefined ? {} : { headers: { accept } });
    expect(answer.status).toBe(200);
  });

  it("refuses an Accept that excludes JSON with 406", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "ping"), { headers: { accept: "text/html" } });
    expect(answer.status).toBe(406);
  });

  it("answers with Content-Type application/json", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "ping"));
    expect(answer.headers.get("content-type")).toStartWith("application/json");
  });
});

describe("credentials before dispatch", () => {
  it("refuses a request without a key with 401, before looking at the body", async () => {
    using server = startTestServer();
    const answer = await rpc(server, "not even json", { key: null });
    expect(answer.status).toBe(401);
    expect(answer.headers.get("www-authenticate")).toBeTruthy();
  });

  it.each([
    ["a malformed key", "hunter2"],
    ["an unknown key of the right shape", `inv_live_${"A".repeat(40)}`],
    ["an oversized key", `inv_live_${"A".repeat(10_000)}`],
  ])("refuses %s with 401", async (_name, key) => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "ping"), { key });
    expect(answer.status).toBe(401);
  });

  it("accepts the key as Authorization: Bearer", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "ping"), { key: null, headers: { authorization: `Bearer ${server.adminKey}` } });
    expect(answer.status).toBe(200);
  });

  it("refuses a session cookie without a key with 403, never saying Unauthorized", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "ping"), { key: null, headers: { cookie: "session=abc" } });
    expect(answer.status).toBe(403);
    expect(answer.text.toLowerCase()).not.toContain("unauthorized");
  });

  it("never authenticates anyone from an x-user-id header", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "ping"), { key: null, headers: { "x-user-id": "system" } });
    expect(answer.status).toBe(401);
  });

  it("refuses an expired key with 401, also once it was cached", async () => {
    using server = startTestServer();
    await rpc(server, request(1, "ping"));
    await writeFromAnotherProcess(server, "UPDATE api_keys SET expires_at = ?", [Date.now() - 1000]);
    const answer = await rpc(server, request(1, "ping"));
    expect(answer.status).toBe(401);
    expect(answer.body.error.message).toContain("expired");
  });

  it("refuses a key revoked by another process (the CLI) within 20 ms, despite the credential cache", async () => {
    using server = startTestServer();
    await rpc(server, request(1, "ping"));
    await writeFromAnotherProcess(server, "UPDATE api_keys SET revoked_at = ?", [Date.now()]);
    const answer = await rpc(server, request(1, "ping"));
    expect(answer.status).toBe(401);
  });

  it("stores no key secret in the database file", async () => {
    using server = startTestServer();
    server.store.sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
    const bytes = Buffer.from(await Bun.file(server.dbPath).arrayBuffer());
    expect(bytes.includes(Buffer.from(server.adminKey))).toBe(false);
    expect(bytes.includes(Buffer.from(server.adminKey.slice(9)))).toBe(false);
  });
});

describe("GET /v1/mcp", () => {
  it("answers the discovery document without a key", async () => {
    using server = startTestServer();
    const answer = await send(server.app, "/v1/mcp");
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      name: "invoke",
      protocol_versions: ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"],
      endpoint: "/v1/mcp",
      auth: { header: "X-API-Key" },
      key_profiles_url: "/v1/mcp/key-profiles",
    });
  });

  it("answers 405 with Allow: POST when the client asks only for an SSE stream", async () => {
    using server = startTestServer();
    const answer = await send(server.app, "/v1/mcp", { headers: { accept: "text/event-stream" } });
    expect(answer.status).toBe(405);
    expect(answer.headers.get("allow")).toBe("POST");
    expect(answer.body.error.code).toBe("method_not_allowed");
  });

  it.each(["PUT", "DELETE", "PATCH"])("answers %s with 405 in JSON", async (method) => {
    using server = startTestServer();
    const answer = await send(server.app, "/v1/mcp", { method });
    expect(answer.status).toBe(405);
    expect(answer.body.error.code).toBe("method_not_allowed");
  });
});

describe("other routes", () => {
  it("answers unknown routes with a JSON 404", async () => {
    using server = startTestServer();
    const answer = await send(server.app, "/nope");
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe("not_found");
  });

  it("reports liveness and readiness", async () => {
    using server = startTestServer();
    expect((await send(server.app, "/healthz")).body.status).toBe("ok");
    const ready = await send(server.app, "/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe("ready");
  });
});

describe("seed 000 curl examples", () => {
  it("List tools: the curl call with X-API-Key and no Accept header lists the tools", async () => {
    using server = startTestServer();
    const answer = await send(server.app, "/v1/mcp", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": server.adminKey },
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}',
    });
    expect(answer.status).toBe(200);
    expect(answer.body.id).toBe(1);
    expect(answer.body.result.tools.map((tool: { name: string }) => tool.name)).toContain("invoke.whoami");
  });
});
