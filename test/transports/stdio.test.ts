/**
 * `invoke mcp`: MCP over stdio, spawned as a client would spawn it. Newline-delimited JSON-RPC on
 * stdin/stdout, the caller fixed by INVOKE_API_KEY; every line the server writes is checked against the
 * MCP schema. Ends with the official SDK client driving the same process.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Client as ClientV2 } from "@modelcontextprotocol/client";
import { StdioClientTransport as StdioTransportV2 } from "@modelcontextprotocol/client/stdio";
import { tempDir } from "../support/harness.ts";
import { modern } from "../support/modern.ts";
import { CLI, cleanEnv, initDatabase, isAlive, REPO_ROOT, runCli, spawnProcess, type InitOutput, type RunningProcess } from "../support/process.ts";
import { assertValidResponse } from "../support/spec.ts";

type Message = { jsonrpc: "2.0"; id?: string | number; result?: any; error?: { code: number; message: string; data?: unknown } };

/** One `invoke mcp` process: send lines, await answers by id, and at the end check everything it wrote. */
class StdioSession implements AsyncDisposable {
  private readonly methods = new Map<unknown, string>();
  /** Requests sent in the modern era (their answers are checked against the 2026-07-28 schema). */
  private readonly modern = new Set<unknown>();

  constructor(private readonly server: RunningProcess) {}

  /** Writes one line: a message object, or raw text as it is. */
  send(message: object | string): void {
    if (typeof message === "object" && "id" in message && "method" in message) {
      this.methods.set(message.id, String(message.method));
      if ((message as { params?: { _meta?: object } }).params?._meta) this.modern.add(message.id);
    }
    this.server.write(`${typeof message === "string" ? message : JSON.stringify(message)}\n`);
  }

  /** Sends a request and waits for the response that carries its id. */
  async request(id: number | string, method: string, params?: Record<string, unknown>): Promise<Message> {
    this.send(params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params });
    const line = await this.server.waitForLine((candidate) => parseOrUndefined(candidate)?.id === id, `the response to request ${id}`);
    return JSON.parse(line);
  }

  /**
   * Closes stdin and waits for the exit. Every stdout line must be a JSON-RPC response that is valid
   * against the MCP schema (with the result type of the method it answers).
   */
  async finish(): Promise<{ exitCode: number | null; messages: Message[]; stderr: string }> {
    this.server.endInput();
    const exitCode = await this.server.waitForExit();
    const messages = this.server.stdout.lines.map((line) => {
      const message = JSON.parse(line) as Message;
      assertValidResponse(message, this.methods.get(message.id), this.modern.has(message.id) ? "2026-07-28" : "2025-11-25");
      return message;
    });
    return { exitCode, messages, stderr: this.server.stderr.text };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.server[Symbol.asyncDispose]();
  }
}

function parseOrUndefined(line: string): Message | undefined {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

const initializeParams = (protocolVersion: string) => ({
  protocolVersion,
  capabilities: {},
  clientInfo: { name: "invoke-stdio-test", version: "1.0.0" },
});

let dir: ReturnType<typeof tempDir>;
let db: string;
let admin: InitOutput;

beforeAll(async () => {
  dir = tempDir();
  db = join(dir.path, "invoke.db");
  admin = await initDatabase(CLI, ["--db", db]);
});

afterAll(() => dir[Symbol.dispose]());

/** `invoke mcp --db <db>` acting as the bootstrap admin. */
function startMcp(): StdioSession {
  return new StdioSession(spawnProcess([...CLI, "mcp", "--db", db], { env: cleanEnv({ INVOKE_API_KEY: admin.admin_key }) }));
}

describe("invoke mcp (newline-delimited JSON-RPC)", () => {
  test("initialize echoes a protocol version it supports", async () => {
    await using session = startMcp();
    const response = await session.request(1, "initialize", initializeParams("2025-06-18"));
    expect(response.result.protocolVersion).toBe("2025-06-18");
    expect(response.result.serverInfo.name).toBe("invoke");
    expect(response.result.capabilities.tools).toBeDefined();
    expect((await session.finish()).exitCode).toBe(0);
  });

  test("initialize answers 2025-11-25 for a version it does not know", async () => {
    await using session = startMcp();
    const response = await session.request(1, "initialize", initializeParams("1999-01-01"));
    expect(response.result.protocolVersion).toBe("2025-11-25");
    expect((await session.finish()).exitCode).toBe(0);
  });

  test("notifications/initialized gets no answer", async () => {
    await using session = startMcp();
    await session.request(1, "initialize", initializeParams("2025-11-25"));
    session.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    await session.request(2, "ping");
    const { messages } = await session.finish();
    expect(messages.map((message) => message.id)).toEqual([1, 2]);
  });

  test("ping answers an empty result", async () => {
    await using session = startMcp();
    const response = await session.request("p-1", "ping");
    expect(response).toEqual({ jsonrpc: "2.0", id: "p-1", result: {} });
    expect((await session.finish()).exitCode).toBe(0);
  });

  test("tools/list shows invoke.whoami with its schemas", async () => {
    await using session = startMcp();
    const response = await session.request(1, "tools/list");
    const whoami = response.result.tools.find((tool: { name: string }) => tool.name === "invoke.whoami");
    expect(whoami).toBeDefined();
    expect(whoami.inputSchema.type).toBe("object");
    expect(whoami.outputSchema.properties).toHaveProperty("user");
    expect((await session.finish()).exitCode).toBe(0);
  });

  test("tools/call invoke.whoami answers the tenant, user and key of INVOKE_API_KEY", async () => {
    await using session = startMcp();
    const response = await session.request(1, "tools/call", { name: "invoke.whoami", arguments: {} });
    expect(response.result.isError).toBeFalsy();
    expect(response.result.structuredContent).toMatchObject({
      tenant: { id: admin.tenant_id, name: "default" },
      user: { id: admin.user_id, email: "admin@localhost", role: "admin" },
      key: { id: expect.stringMatching(/^key_/), profile: "admin", expires_at: null },
    });
    expect(JSON.parse(response.result.content[0].text)).toEqual(response.result.structuredContent);
    expect((await session.finish()).exitCode).toBe(0);
  });

  test("a line that is not JSON gets a -32700 error without id, and the session goes on", async () => {
    await using session = startMcp();
    session.send('{"jsonrpc": "2.0", "id": 1, "method": "ping"');
    await session.request(2, "ping");
    const { messages } = await session.finish();
    const parseError = messages.find((message) => message.error !== undefined);
    expect(parseError?.error?.code).toBe(-32700);
    expect(parseError).not.toHaveProperty("id");
    expect(messages).toHaveLength(2);
  });

  test("an unknown method gets -32601 with the request's id", async () => {
    await using session = startMcp();
    const response = await session.request(7, "resources/teleport");
    expect(response.id).toBe(7);
    expect(response.error?.code).toBe(-32601);
    expect((await session.finish()).exitCode).toBe(0);
  });

  test("stdout carries only JSON-RPC responses, each valid against the MCP schema", async () => {
    await using session = startMcp();
    await session.request(1, "initialize", initializeParams("2025-11-25"));
    session.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    // A response from the client (to a server request it never made) is not answered either.
    session.send({ jsonrpc: "2.0", id: "client-side", result: {} });
    session.send("not json");
    await session.request(2, "ping");
    await session.request(3, "tools/list");
    await session.request(4, "tools/call", { name: "invoke.whoami", arguments: {} });
    await session.request(5, "no/such/method");
    // finish() parses every line and validates it against the schema.
    const { exitCode, messages } = await session.finish();
    expect(exitCode).toBe(0);
    expect(messages.map((message) => message.id ?? null).sort()).toEqual([1, 2, 3, 4, 5, null]);
  });

  test("exits 0 when stdin closes, having written nothing", async () => {
    await using session = startMcp();
    const { exitCode, messages } = await session.finish();
    expect(exitCode).toBe(0);
    expect(messages).toEqual([]);
  });

  test("answers every request sent just before stdin closes", async () => {
    await using session = startMcp();
    for (let id = 1; id <= 20; id++) session.send({ jsonrpc: "2.0", id, method: id % 2 ? "ping" : "tools/list" });
    const { exitCode, messages } = await session.finish();
    expect(exitCode).toBe(0);
    expect(messages.map((message) => message.id).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });
});

describe("invoke mcp refuses to start without a valid key", () => {
  test("a missing INVOKE_API_KEY exits 1 with a one-line reason", async () => {
    const result = await runCli(["mcp", "--db", db], { env: cleanEnv() });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr.trimEnd().split("\n")).toEqual([expect.stringContaining("INVOKE_API_KEY is not set")]);
  });

  test.each([
    ["an unknown key", `inv_live_${"0".repeat(40)}`, "unknown or revoked"],
    ["a malformed key", "not-a-key", "malformed"],
  ])("%s exits 1 with a one-line reason", async (_, key, reason) => {
    const result = await runCli(["mcp", "--db", db], { env: cleanEnv({ INVOKE_API_KEY: key }) });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr.trimEnd().split("\n")).toEqual([expect.stringContaining(reason)]);
  });
});

describe("the official MCP SDK client over stdio", () => {
  /** An SDK client connected to `bun src/cli.ts mcp`; disposing closes it. */
  async function connectSdkClient() {
    const transport = new StdioClientTransport({
      command: "bun",
      args: ["src/cli.ts", "mcp", "--db", db],
      cwd: REPO_ROOT,
      env: { INVOKE_API_KEY: admin.admin_key, PATH: process.env.PATH ?? "" },
      stderr: "pipe",
    });
    const client = new Client({ name: "invoke-stdio-test", version: "1.0.0" });
    await client.connect(transport);
    return { client, pid: transport.pid!, [Symbol.asyncDispose]: () => client.close() };
  }

  test("connects and learns the server's name and version", async () => {
    await using connection = await connectSdkClient();
    expect(connection.client.getServerVersion()).toMatchObject({ name: "invoke" });
    expect(connection.client.getServerCapabilities()?.tools).toBeDefined();
  });

  test("lists invoke.whoami", async () => {
    await using connection = await connectSdkClient();
    const { tools } = await connection.client.listTools();
    expect(tools.map((tool) => tool.name)).toContain("invoke.whoami");
  });

  test("calls invoke.whoami and gets structured content that matches the output schema", async () => {
    await using connection = await connectSdkClient();
    // The SDK validates structuredContent against the outputSchema from tools/list.
    await connection.client.listTools();
    const result = await connection.client.callTool({ name: "invoke.whoami", arguments: {} });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ tenant: { id: admin.tenant_id }, user: { id: admin.user_id, email: "admin@localhost" } });
  });

  test("close() ends the server process", async () => {
    const connection = await connectSdkClient();
    await connection.client.close();
    expect(isAlive(connection.pid)).toBe(false);
  });
});

describe("both protocol eras over stdio", () => {
  test("one process answers server/discover and modern calls beside an initialize-led legacy exchange", async () => {
    await using session = startMcp();
    const discovered = await session.request("probe", "server/discover", modern("probe", "server/discover").body.params);
    expect(discovered.result).toMatchObject({ resultType: "complete", supportedVersions: expect.arrayContaining(["2026-07-28", "2025-11-25"]), cacheScope: "public" });
    const initialized = await session.request(1, "initialize", initializeParams("2025-11-25"));
    expect(initialized.result.protocolVersion).toBe("2025-11-25");
    const legacyCall = await session.request(2, "tools/call", { name: "invoke.whoami", arguments: {} });
    expect(legacyCall.result.resultType).toBeUndefined();
    const modernCall = await session.request(3, "tools/call", modern(3, "tools/call", { name: "invoke.whoami", arguments: {} }).body.params);
    expect(modernCall.result.resultType).toBe("complete");
    expect(modernCall.result._meta["io.modelcontextprotocol/serverInfo"].name).toBe("invoke");
    const unknown = await session.request(4, "ping", modern(4, "ping").body.params);
    expect(unknown.error?.code).toBe(-32601);
    const unsupported = await session.request(5, "tools/list", modern(5, "tools/list", {}, { meta: { "io.modelcontextprotocol/protocolVersion": "2099-01-01" } }).body.params);
    expect(unsupported.error).toMatchObject({ code: -32022, data: { requested: "2099-01-01" } });
    expect((await session.finish()).exitCode).toBe(0);
  });

  test("the SDK v2 client in auto mode probes, finds the modern era, lists and calls tools", async () => {
    const client = new ClientV2({ name: "sdk-v2-stdio", version: "2.4.0" }, { versionNegotiation: { mode: "auto" } });
    await client.connect(new StdioTransportV2({ command: CLI[0]!, args: [...CLI.slice(1), "mcp", "--db", db], env: cleanEnv({ INVOKE_API_KEY: admin.admin_key }), stderr: "ignore" }));
    try {
      expect(client.getProtocolEra()).toBe("modern");
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toContain("invoke.whoami");
      const result = await client.callTool({ name: "invoke.whoami", arguments: {} });
      expect(result.structuredContent).toMatchObject({ tenant: { id: admin.tenant_id } });
    } finally {
      await client.close();
    }
  });
});
