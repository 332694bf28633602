/**
 * `x-mcp-header` and `Mcp-Param-*` (MCP 2026-07-28, streamable-http: custom headers from tool
 * parameters), through a real upstream over stdio: tools whose annotations break the rules are left
 * out; a modern tools/call's headers must say what its arguments say (plain or Base64, integers
 * compared as numbers, nested properties), or it is refused with -32020 and HTTP 400 before the
 * upstream is reached; legacy calls, and modern calls over stdio, need no such headers; the SDK v2
 * client mirrors the arguments itself and is served.
 */
import { afterAll, beforeAll, describe, expect, it, spyOn } from "bun:test";
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { keyFor, request, rest, rpc, startTestServer, tempDir, type TestServer } from "../support/harness.ts";
import { modern, modernRpc } from "../support/modern.ts";
import { CLI, cleanEnv, initDatabase, runCli, runProcess } from "../support/process.ts";

const FIXTURE = join(import.meta.dir, "..", "fixtures", "upstream-stdio.ts");

let server: TestServer;
let agent: string;
/** Invoke's log lines (stderr) while the connector starts. */
const logged: string[] = [];

beforeAll(async () => {
  const stderr = spyOn(console, "error").mockImplementation((line: unknown) => void logged.push(String(line)));
  server = startTestServer({ config: { rateLimit: { requests: 10_000, per_seconds: 60 } } });
  const added = await rest(server, "POST", "/v1/connectors", {
    name: "up",
    type: "mcp_stdio",
    command: process.execPath,
    args: [FIXTURE],
    env: { BAD_HEADER_TOOLS: "1" },
    read_only_tools: ["route"],
    enable_tools: ["route", "echo"],
  });
  stderr.mockRestore();
  expect(added.status).toBe(201);
  agent = await keyFor(server, "editor", "operator", "agent@example.com");
});

afterAll(() => server?.[Symbol.asyncDispose]());

/** A modern tools/call of up.route with these arguments and these extra headers (null removes one). */
const route = (args: Record<string, unknown>, headers: Record<string, string | null> = {}) =>
  modernRpc(server, modern(1, "tools/call", { name: "up.route", arguments: args }), headers, agent);

const base64 = (text: string) => `=?base64?${Buffer.from(text).toString("base64")}?=`;

/** The execution records of up.route, newest first. */
async function routeRecords(): Promise<{ status: string; error: string | null }[]> {
  const listed = await rest(server, "GET", "/v1/executions?tool=up.route&limit=100");
  expect(listed.status).toBe(200);
  return listed.body.records;
}

describe("tool definitions", () => {
  it("leaves out the upstream's tools whose x-mcp-header annotations break the rules, and keeps the rest", async () => {
    const view = await rest(server, "GET", "/v1/connectors/up");
    const names: string[] = view.body.tools.map((tool: { name: string }) => tool.name);
    expect(names).toContain("route");
    expect(names).toContain("echo");
    expect(names.filter((name) => name.startsWith("bad_header"))).toEqual([]);
    // The upstream did declare them: each is named in the log with the reason.
    for (const reason of ["empty", "object", "array", "null", "number", "duplicate", "space", "colon", "non_ascii", "control", "under_items", "under_union"]) {
      expect(logged.some((line) => line.includes(`tool bad_header_${reason} left out: x-mcp-header`))).toBe(true);
    }

    const listed = await modernRpc(server, modern(1, "tools/list"), {}, agent);
    const routeTool = listed.body.result.tools.find((tool: { name: string }) => tool.name === "up.route");
    expect(routeTool.inputSchema.properties.region["x-mcp-header"]).toBe("Region");
    expect(routeTool.inputSchema.properties.target.properties.zone["x-mcp-header"]).toBe("Target-Zone");
  });
});

describe("Mcp-Param-* headers against the arguments", () => {
  it("serves a call whose headers say what the body says: plain, Base64, integers as numbers, booleans, nested", async () => {
    const answer = await route(
      { region: "Hello, 世界", priority: 7, dry_run: false, target: { zone: "b" }, query: "q" },
      { "mcp-param-region": base64("Hello, 世界"), "mcp-param-priority": "7.0", "mcp-param-dryrun": "false", "mcp-param-target-zone": "  b  " },
    );
    expect(answer.status).toBe(200);
    expect(answer.body.result.structuredContent).toEqual({ region: "Hello, 世界", priority: 7, dry_run: false, target: { zone: "b" }, query: "q" });

    // Null or absent arguments need no header; a literal without the full sentinel is taken as it is.
    const literal = await route({ region: "=?base64?SGVsbG8=", priority: null }, { "mcp-param-region": "=?base64?SGVsbG8=" });
    expect(literal.status).toBe(200);
    expect(literal.body.error).toBeUndefined();
  });

  const refusals: [string, Record<string, unknown>, Record<string, string | null>, RegExp][] = [
    ["a header that disagrees with the body", { region: "eu-west1" }, { "mcp-param-region": "us-east1" }, /Mcp-Param-Region header value 'us-east1' does not match body value 'eu-west1'/],
    ["a missing header while the body has the value", { region: "eu-west1" }, {}, /the Mcp-Param-Region header is required/],
    ["a header while the body has no value", { region: "eu", target: {} }, { "mcp-param-region": "eu", "mcp-param-target-zone": "a" }, /Mcp-Param-Target-Zone header is set, but arguments.target.zone is not/],
    ["Base64 with bad padding", { region: "Hello" }, { "mcp-param-region": "=?base64?SGVsbG8?=" }, /malformed Base64/],
    ["Base64 with characters outside the alphabet", { region: "Hello" }, { "mcp-param-region": "=?base64?SGVs!!!bG8=?=" }, /malformed Base64/],
    ["an integer that is another number", { region: "eu", priority: 7 }, { "mcp-param-region": "eu", "mcp-param-priority": "7.5" }, /Mcp-Param-Priority header value '7.5' does not match body value '7'/],
    ["an integer header that is no number", { region: "eu", priority: 0 }, { "mcp-param-region": "eu", "mcp-param-priority": "" }, /does not match/],
    ["a boolean in another spelling", { region: "eu", dry_run: true }, { "mcp-param-region": "eu", "mcp-param-dryrun": "True" }, /does not match/],
  ];
  for (const [what, args, headers, message] of refusals) {
    it(`refuses ${what} with -32020 and HTTP 400, recorded, before the upstream runs`, async () => {
      const before = (await routeRecords()).length;
      const answer = await route(args, headers);
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe(-32020);
      expect(answer.body.error.message).toMatch(message);
      const [latest, ...rest] = await routeRecords();
      expect(rest.length).toBe(before);
      expect(latest).toMatchObject({ status: "refused" });
      expect(latest!.error).toMatch(message);
    });
  }

  it("refuses a header with characters a field value may not hold", async () => {
    const headers = new Headers({ "content-type": "application/json", "x-api-key": agent, "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call", "mcp-name": "up.route" });
    headers.set("mcp-param-region", "caf\u00e9");
    const message = modern(1, "tools/call", { name: "up.route", arguments: { region: "café" } });
    const response = await server.app.handle(new Request("http://localhost/v1/mcp", { method: "POST", headers, body: JSON.stringify(message.body) }));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: number } }).error.code).toBe(-32020);
  });

  it("asks nothing of legacy calls, which carry no such headers", async () => {
    const answer = await rpc(server, request(1, "tools/call", { name: "up.route", arguments: { region: "eu-west1" } }), { key: agent });
    expect(answer.status).toBe(200);
    expect(answer.body.result.structuredContent).toEqual({ region: "eu-west1" });
  });

  it("asks nothing of a modern call over stdio, which has no headers", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    const admin = await initDatabase(CLI, ["--db", db]);
    const file = join(dir.path, "up.yaml");
    writeFileSync(file, `name: up\ntype: mcp_stdio\ncommand: ${process.execPath}\nargs: ["${FIXTURE}"]\nread_only_tools: ["route"]\nenable_tools: ["route"]\n`);
    expect((await runCli(["connectors", "add", "--file", file, "--db", db])).exitCode).toBe(0);
    const call = modern(1, "tools/call", { name: "up.route", arguments: { region: "eu-west1" } });
    const session = await runProcess([...CLI, "mcp", "--db", db], { env: cleanEnv({ INVOKE_API_KEY: admin.admin_key }), stdin: `${JSON.stringify(call.body)}\n` });
    expect(session.exitCode).toBe(0);
    const answer = JSON.parse(session.stdout.trim());
    expect(answer.result).toMatchObject({ resultType: "complete", structuredContent: { region: "eu-west1" } });
  });

  it("serves the SDK v2 client, which mirrors the annotated arguments itself", async () => {
    const seen: Headers[] = [];
    const client = new ClientV2({ name: "sdk-v2", version: "2.4.0" }, { versionNegotiation: { mode: "auto" } });
    await client.connect(
      new TransportV2(new URL("http://localhost/v1/mcp"), {
        requestInit: { headers: { "X-API-Key": agent } },
        fetch: (input, init) => {
          const outgoing = new Request(String(input), init);
          seen.push(outgoing.headers);
          return server.app.handle(outgoing);
        },
      }),
    );
    try {
      expect(client.getProtocolEra()).toBe("modern");
      await client.listTools();
      const result = await client.callTool({ name: "up.route", arguments: { region: " padded ", priority: 3, target: { zone: "z" } } });
      expect(result.structuredContent).toEqual({ region: " padded ", priority: 3, target: { zone: "z" } });
      const call = seen.at(-1)!;
      expect(call.get("mcp-param-region")).toBe(base64(" padded "));
      expect(call.get("mcp-param-priority")).toBe("3");
      expect(call.get("mcp-param-target-zone")).toBe("z");
    } finally {
      await client.close();
    }
  });
});
