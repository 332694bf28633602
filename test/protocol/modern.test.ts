/**
 * MCP 2026-07-28 (the modern era) beside the legacy era on the same endpoint, in-process through
 * `app.handle`: era selection, server/discover, the envelope and header checks with their error codes
 * and HTTP statuses, resultType and caching hints, GET/DELETE, and real clients of both SDK
 * generations in one run. Every answer is validated against the schema of its era (the harness's rpc).
 */
import { afterEach, describe, expect, it } from "bun:test";
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as TransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { keyFor, request, rpc, send, startTestServer } from "../support/harness.ts";
import { MODERN, modern, modernRpc, TASKS } from "../support/modern.ts";
import { assertMatches } from "../support/spec.ts";


describe("era selection", () => {
  it("serves initialize (legacy) and _meta-carrying requests (modern) side by side on one endpoint", async () => {
    using server = startTestServer();
    const legacy = await rpc(server, request(1, "initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "old", version: "1" } }));
    expect(legacy.status).toBe(200);
    expect(legacy.body.result.protocolVersion).toBe("2025-11-25");
    expect(legacy.body.result.resultType).toBeUndefined();

    const listed = await modernRpc(server, modern(2, "tools/list"));
    expect(listed.status).toBe(200);
    expect(listed.body.result).toMatchObject({ resultType: "complete", ttlMs: 60_000, cacheScope: "private" });
    expect(listed.body.result._meta["io.modelcontextprotocol/serverInfo"]).toMatchObject({ name: "invoke" });

    const legacyList = await rpc(server, request(3, "tools/list"), { headers: { "mcp-protocol-version": "2025-11-25" } });
    expect(legacyList.body.result.resultType).toBeUndefined();
    expect(legacyList.body.result.tools.map((tool: { name: string }) => tool.name)).toEqual(listed.body.result.tools.map((tool: { name: string }) => tool.name));
  });

  it("answers server/discover with versions of both eras, the tasks extension, serverInfo and caching hints", async () => {
    using server = startTestServer();
    const answer = await modernRpc(server, modern("discover-1", "server/discover"));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      id: "discover-1",
      result: {
        resultType: "complete",
        supportedVersions: ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"],
        capabilities: { tools: { listChanged: false }, extensions: { [TASKS]: {} } },
        ttlMs: 3_600_000,
        cacheScope: "public",
        _meta: { "io.modelcontextprotocol/serverInfo": { name: "invoke", version: expect.any(String) } },
      },
    });
    expect(answer.body.result.instructions).toContain("invoke.whoami");
  });

  it("puts resultType complete on a tool result, and continues a tools/call the same way in both eras", async () => {
    using server = startTestServer();
    const answer = await modernRpc(server, modern(1, "tools/call", { name: "invoke.whoami", arguments: {} }));
    expect(answer.status).toBe(200);
    expect(answer.body.result.resultType).toBe("complete");
    expect(answer.body.result.structuredContent).toMatchObject({ tenant: { id: server.tenantId } });
    const legacy = await rpc(server, request(2, "tools/call", { name: "invoke.whoami", arguments: {} }));
    const { rate_limit: _, ...same } = answer.body.result.structuredContent;
    expect(legacy.body.result.structuredContent).toMatchObject(same);
    // Both calls are recorded alike; the modern one names the client from _meta.clientInfo.
    await server.services.records.flush();
    const records = (await server.services.records.list(server.tenantId, { kind: "tool_call" })).records;
    expect(records.map((record) => record.client_name)).toContain("modern-test");
  });
});

describe("the envelope and the headers (modern era)", () => {
  it.each([
    ["no clientCapabilities", { "io.modelcontextprotocol/clientCapabilities": undefined }],
    ["clientCapabilities that is not an object", { "io.modelcontextprotocol/clientCapabilities": "all" }],
  ])("answers %s with -32602 and HTTP 400", async (_name, meta) => {
    using server = startTestServer();
    const answer = await modernRpc(server, modern(7, "tools/list", {}, { meta }));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ id: 7, error: { code: -32602 } });
  });

  it("answers a modern header without any _meta with -32602 and HTTP 400", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(8, "tools/list"), { headers: { "mcp-protocol-version": MODERN, "mcp-method": "tools/list" } });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ id: 8, error: { code: -32602 } });
  });

  it("does not need clientInfo", async () => {
    using server = startTestServer();
    const answer = await modernRpc(server, modern(9, "tools/list", {}, { meta: { "io.modelcontextprotocol/clientInfo": undefined } }));
    expect(answer.status).toBe(200);
  });

  it("answers an unsupported version with -32022, HTTP 400, the versions it supports and the one requested", async () => {
    using server = startTestServer();
    const answer = await modernRpc(server, modern(10, "tools/list", {}, { meta: { "io.modelcontextprotocol/protocolVersion": "2099-01-01" } }));
    expect(answer.status).toBe(400);
    const supported: string[] = answer.body.error.data.supported;
    expect(answer.body.error).toMatchObject({ code: -32022, data: { requested: "2099-01-01" } });
    expect(supported).toContain("2026-07-28");
    expect(supported).toContain("2025-11-25");
    const discovered = await modernRpc(server, modern(11, "server/discover"));
    for (const version of supported) expect(discovered.body.result.supportedVersions).toContain(version);
  });

  it.each([
    ["MCP-Protocol-Version missing", { "mcp-protocol-version": null }],
    ["MCP-Protocol-Version differing from _meta", { "mcp-protocol-version": "2025-11-25" }],
    ["Mcp-Method missing", { "mcp-method": null }],
    ["Mcp-Method differing from the body", { "mcp-method": "tools/list" }],
    ["Mcp-Method in another case", { "mcp-method": "TOOLS/CALL" }],
    ["Mcp-Name missing on tools/call", { "mcp-name": null }],
    ["Mcp-Name naming another tool", { "mcp-name": "invoke.approvals.list" }],
    ["Mcp-Name with broken Base64", { "mcp-name": "=?base64?not*base64?=" }],
  ])("answers %s with -32020 and HTTP 400, echoing the id", async (_name, headers) => {
    using server = startTestServer();
    const answer = await modernRpc(server, modern(12, "tools/call", { name: "invoke.whoami", arguments: {} }), headers);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ id: 12, error: { code: -32020 } });
  });

  it("checks the headers before the version: a modern header over a body naming an unknown version is a mismatch", async () => {
    using server = startTestServer();
    const answer = await modernRpc(server, modern(13, "tools/list", {}, { meta: { "io.modelcontextprotocol/protocolVersion": "v999" } }), { "mcp-protocol-version": MODERN });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe(-32020);
  });

  it("decodes a Base64 Mcp-Name and trims header whitespace before comparing", async () => {
    using server = startTestServer();
    const encoded = `=?base64?${Buffer.from("invoke.whoami").toString("base64")}?=`;
    expect((await modernRpc(server, modern(14, "tools/call", { name: "invoke.whoami", arguments: {} }), { "mcp-name": encoded })).status).toBe(200);
    expect((await modernRpc(server, modern(15, "tools/call", { name: "invoke.whoami", arguments: {} }), { "mcp-name": "  invoke.whoami " })).status).toBe(200);
  });

  it("answers an unknown method, and initialize or ping in a modern envelope, with -32601 and HTTP 404", async () => {
    using server = startTestServer();
    for (const method of ["resources/list", "initialize", "ping"]) {
      const answer = await modernRpc(server, modern(16, method));
      expect(answer.status).toBe(404);
      expect(answer.body).toMatchObject({ id: 16, error: { code: -32601 } });
    }
  });

  it("refuses tasks/get from a client that did not declare the tasks extension with -32021 and HTTP 400", async () => {
    using server = startTestServer();
    const answer = await modernRpc(server, modern(17, "tasks/get", { taskId: "apr_whatever" }));
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { extensions: { [TASKS]: {} } } } });
  });

  it("ignores Mcp-Session-Id (never minted or echoed) and answers GET and DELETE from a modern client with 405", async () => {
    using server = startTestServer();
    const answer = await modernRpc(server, modern(18, "tools/list"), { "mcp-session-id": "made-up" });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("mcp-session-id")).toBeNull();
    const get = await send(server.app, "/v1/mcp", { headers: { "mcp-protocol-version": MODERN, accept: "application/json, text/event-stream" } });
    expect(get.status).toBe(405);
    const del = await send(server.app, "/v1/mcp", { method: "DELETE", headers: { "mcp-protocol-version": MODERN, "x-api-key": server.adminKey } });
    expect(del.status).toBe(405);
    // The seed's plain GET still gets the discovery document.
    expect((await send(server.app, "/v1/mcp")).status).toBe(200);
  });

  it("keeps authentication and authorisation the same as the legacy era: no key → 401, a read-only key cannot call a write tool", async () => {
    using server = startTestServer();
    const anonymous = await modernRpc(server, modern(19, "tools/list"), {}, null as never);
    expect(anonymous.status).toBe(401);
    const readonly = await keyFor(server, "editor", "mcp_readonly", "ro@example.com");
    const listed = await modernRpc(server, modern(20, "tools/list"), {}, readonly);
    const names = listed.body.result.tools.map((tool: { name: string }) => tool.name);
    expect(names).not.toContain("invoke.policy.publish");
    const refused = await modernRpc(server, modern(21, "tools/call", { name: "invoke.policy.publish", arguments: { source: "version: 1" } }), {}, readonly);
    expect(refused.body.error.code).toBe(-32602);
  });
});

describe("real clients of both SDK generations, in one run", () => {
  const clients: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
  });

  it("the SDK v2 client in auto mode discovers the modern era, lists and calls tools with X-API-Key; the SDK v1 client still works", async () => {
    using server = startTestServer();
    const seen: { method?: string; version: string | null }[] = [];
    const fetcher = async (input: string | URL | Request, init?: RequestInit) => {
      const request = new Request(String(input), init);
      const body = request.method === "POST" ? ((await request.clone().json()) as { method?: string }) : undefined;
      seen.push({ method: body?.method, version: request.headers.get("mcp-protocol-version") });
      const response = await server.app.handle(request);
      // Every answer either SDK gets is valid for its era.
      if (response.headers.get("content-type")?.startsWith("application/json")) {
        const message = (await response.clone().json()) as { result?: { resultType?: string } };
        const modernAnswer = message.result !== undefined ? message.result.resultType !== undefined : request.headers.get("mcp-protocol-version") === MODERN;
        assertMatches(modernAnswer ? "2026-07-28" : "2025-11-25", message.result !== undefined ? "JSONRPCResultResponse" : "JSONRPCErrorResponse", message);
      }
      return response;
    };

    const v2 = new ClientV2({ name: "sdk-v2", version: "2.4.0" }, { versionNegotiation: { mode: "auto" } });
    await v2.connect(new TransportV2(new URL("http://localhost/v1/mcp"), { requestInit: { headers: { "X-API-Key": server.adminKey } }, fetch: fetcher }));
    clients.push(v2);
    expect(v2.getProtocolEra()).toBe("modern");
    expect(v2.getNegotiatedProtocolVersion()).toBe(MODERN);
    const v2Tools = await v2.listTools();
    expect(v2Tools.tools.map((tool) => tool.name)).toContain("invoke.whoami");
    const v2Call = await v2.callTool({ name: "invoke.whoami", arguments: {} });
    expect((v2Call.structuredContent as { tenant: { id: string } }).tenant.id).toBe(server.tenantId);
    expect(seen[0]).toEqual({ method: "server/discover", version: MODERN });
    expect(seen.some((entry) => entry.method === "initialize")).toBe(false);

    const v1 = new ClientV1({ name: "sdk-v1", version: "1.32.2" });
    await v1.connect(new TransportV1(new URL("http://localhost/v1/mcp"), { requestInit: { headers: { "X-API-Key": server.adminKey } }, fetch: fetcher }));
    clients.push(v1);
    expect(v1.getServerVersion()?.name).toBe("invoke");
    const v1Call = await v1.callTool({ name: "invoke.whoami", arguments: {} });
    expect((v1Call.structuredContent as { key: unknown }).key).toEqual((v2Call.structuredContent as { key: unknown }).key);
    expect(seen.some((entry) => entry.method === "initialize")).toBe(true);
  });
});
