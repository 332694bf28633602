/**
 * Upstream MCP connectors against real servers: the official filesystem server and a fixture over
 * stdio (one long-lived child, restarted when it dies, reaped with its descendants on close), and a
 * fixture over Streamable HTTP (configured headers only, results unchanged, reconnection).
 */
import { afterEach, describe, expect, it } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectorError, type Connector } from "../../src/connectors/connector.ts";
import type { McpHttpSpec } from "../../src/connectors/kinds/mcp-http.ts";
import type { McpStdioSpec } from "../../src/connectors/kinds/mcp-stdio.ts";
import { McpHttpConnector, McpStdioConnector } from "../../src/connectors/mcp.ts";
import { startUpstreamHttp, type UpstreamHttp } from "../fixtures/upstream-http.ts";
import { eventually } from "../support/harness.ts";
import { isAlive, REPO_ROOT } from "../support/process.ts";

const STDIO_FIXTURE = join(import.meta.dir, "..", "fixtures", "upstream-stdio.ts");
const FILESYSTEM_PACKAGE = join(REPO_ROOT, "node_modules", "@modelcontextprotocol", "server-filesystem");
const FAST = { backoff: { initialMs: 20, maxMs: 200 }, shutdownGraceMs: 500 };
const CALL = { timeoutMs: 5_000 };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A connector that is closed after the test, with the lines it logged. */
function track<C extends Connector>(connector: C, logs: string[]): C & { logs: string[] } {
  cleanups.push(() => connector.close());
  return Object.assign(connector, { logs });
}

function stdioConnector(config: Partial<McpStdioSpec> = {}) {
  const logs: string[] = [];
  const connector = new McpStdioConnector("fixture", { type: "mcp_stdio", command: process.execPath, args: [STDIO_FIXTURE], ...config }, { ...FAST, log: (line) => logs.push(line) });
  return track(connector, logs);
}

function httpConnector(config: Partial<McpHttpSpec> & { url: string }) {
  const logs: string[] = [];
  return track(new McpHttpConnector("web", { type: "mcp_http", ...config }, { ...FAST, log: (line) => logs.push(line) }), logs);
}

async function httpUpstream(options: Parameters<typeof startUpstreamHttp>[0] = {}): Promise<UpstreamHttp> {
  const upstream = await startUpstreamHttp(options);
  cleanups.push(() => upstream.close());
  return upstream;
}

/** Resolves at the connector's next tools-changed notice. */
function nextToolsChange(connector: Connector): Promise<void> {
  return new Promise((resolve) => (connector.onToolsChanged = resolve));
}

async function upstreamPid(connector: Connector): Promise<number> {
  const result = await connector.callTool("pid", {}, CALL);
  return result.structuredContent!.pid as number;
}

/** Whether a process runs (a zombie awaiting its reaper does not). */
function isRunning(pid: number): boolean {
  if (!existsSync("/proc/self/stat")) return isAlive(pid);
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

describe("the official filesystem server over stdio", () => {
  it("lists its tools, writes a file for real and reads it back", async () => {
    const folder = mkdtempSync(join(tmpdir(), "invoke-fs-"));
    cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
    const bin = (JSON.parse(readFileSync(join(FILESYSTEM_PACKAGE, "package.json"), "utf8")) as { bin: Record<string, string> }).bin["mcp-server-filesystem"]!;
    const connector = track(new McpStdioConnector("fs", { type: "mcp_stdio", command: process.execPath, args: [join(FILESYSTEM_PACKAGE, bin), folder] }, { ...FAST, log: () => {} }), []);
    await connector.start();

    const names = (await connector.listTools()).map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(["read_file", "read_text_file", "write_file", "list_directory"]));

    const path = join(folder, "note.txt");
    const written = await connector.callTool("write_file", { path, content: "hello from invoke\n" }, CALL);
    expect(written.isError).toBeFalsy();
    expect(readFileSync(path, "utf8")).toBe("hello from invoke\n");

    writeFileSync(join(folder, "other.txt"), "written outside\n");
    const read = await connector.callTool("read_text_file", { path: join(folder, "other.txt") }, CALL);
    expect(read.content).toEqual([{ type: "text", text: "written outside\n" }]);
  });
});

describe("an upstream over stdio", () => {
  it("serves every call from one long-lived process", async () => {
    const connector = stdioConnector();
    await connector.start();
    const pids = await Promise.all(Array.from({ length: 5 }, () => upstreamPid(connector)));
    expect(new Set(pids).size).toBe(1);
    expect(connector.health()).toEqual({ healthy: true, detail: `pid ${pids[0]}`, restarts: 0 });
    const echoed = await connector.callTool("echo", { text: "hi" }, CALL);
    expect(echoed).toEqual({ content: [{ type: "text", text: "hi" }], structuredContent: { text: "hi" } });
  });

  it("logs the upstream's stderr lines under the connector's name", async () => {
    const connector = stdioConnector();
    await connector.start();
    const pid = await upstreamPid(connector);
    await eventually(() => connector.logs.includes(`[fixture] upstream-stdio ready (pid ${pid})`), "the ready line in the log", { timeoutMs: 2_000 });
  });

  it("turns a crash mid-call into a ConnectorError, restarts the upstream and says its tools may have changed", async () => {
    const connector = stdioConnector();
    await connector.start();
    const before = await upstreamPid(connector);
    const changed = nextToolsChange(connector);

    const error = await rejection(connector.callTool("crash", {}, CALL));
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error.message).toBe('upstream fixture exited with code 1 during tools/call "crash"');
    expect(connector.health()).toMatchObject({ healthy: false, detail: "exited with code 1" });
    expect(isAlive(before)).toBe(false);

    await changed;
    const after = await upstreamPid(connector);
    expect(after).not.toBe(before);
    expect(connector.health()).toEqual({ healthy: true, detail: `pid ${after}`, restarts: 1 });
    expect(connector.logs).toContain("[fixture] crashing on purpose");
  });

  it("leaves no process behind on close, not even the upstream's own children", async () => {
    const connector = stdioConnector();
    await connector.start();
    const pid = await upstreamPid(connector);
    const grandchild = (await connector.callTool("spawn_grandchild", {}, CALL)).structuredContent!.pid as number;
    expect(isRunning(grandchild)).toBe(true);

    await connector.close();
    // The child is reaped by the time close() resolves; the orphaned grandchild is killed (its reaping is init's).
    expect(isAlive(pid)).toBe(false);
    await eventually(() => !isRunning(grandchild), "the grandchild is gone", { timeoutMs: 2_000 });
    expect(connector.health().healthy).toBe(false);
    expect(await rejection(connector.callTool("pid", {}, CALL))).toBeInstanceOf(ConnectorError);
  });

  it("passes the configured environment and none of Invoke's own", async () => {
    process.env.INVOKE_API_KEY = "inv_secret";
    cleanups.push(() => delete process.env.INVOKE_API_KEY);
    const connector = stdioConnector({ env: { UPSTREAM_TOKEN: "upstream-secret" } });
    await connector.start();
    const variable = async (name: string) => (await connector.callTool("env", { name }, CALL)).structuredContent!.value;
    expect(await variable("INVOKE_API_KEY")).toBeNull();
    expect(await variable("UPSTREAM_TOKEN")).toBe("upstream-secret");
    expect(await variable("PATH")).toBe(process.env.PATH!);
  });

  it("times a slow call out with a ConnectorError and keeps serving", async () => {
    const connector = stdioConnector();
    await connector.start();
    const pid = await upstreamPid(connector);
    const error = await rejection(connector.callTool("slow", { ms: 2_000 }, { timeoutMs: 100 }));
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error.message).toBe('upstream fixture: tools/call "slow" timed out after 100 ms');
    expect(await upstreamPid(connector)).toBe(pid);
  });

  it("passes on the upstream's list_changed, and the new description is listed", async () => {
    const connector = stdioConnector();
    await connector.start();
    const changed = nextToolsChange(connector);
    await connector.callTool("rename_description", { tool: "echo", description: "Echoes, now differently." }, CALL);
    await changed;
    const echo = (await connector.listTools()).find((tool) => tool.name === "echo");
    expect(echo).toMatchObject({ description: "Echoes, now differently.", inputSchema: { type: "object", properties: { text: { type: "string" } } } });
  });

  it("rejects start() when the command cannot run, and keeps retrying", async () => {
    const connector = stdioConnector({ command: join(REPO_ROOT, "no-such-command") });
    const error = await rejection(connector.start());
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error.message).toStartWith("upstream fixture could not be started: ");
    expect(connector.health().healthy).toBe(false);
    await eventually(() => connector.health().restarts >= 2, "two retries", { timeoutMs: 2_000 });
    expect(await rejection(connector.listTools())).toBeInstanceOf(ConnectorError);
  });

  it("rejects start() when the upstream exits at once", async () => {
    const connector = stdioConnector({ args: ["-e", "console.error('no config'); process.exit(3)"] });
    const error = await rejection(connector.start());
    expect(error.message).toBe("upstream fixture could not be started: exited with code 3");
    expect(connector.health()).toMatchObject({ healthy: false, detail: "exited with code 3" });
    expect(connector.logs).toContain("[fixture] no config");
  });
});

describe("an upstream over Streamable HTTP", () => {
  const credentials = { authorization: "Bearer upstream-token", "x-upstream-tenant": "acme" };

  it("returns results as the upstream sent them, and sends only the configured headers", async () => {
    const upstream = await httpUpstream();
    const connector = httpConnector({ url: upstream.url, headers: credentials });
    await connector.start();
    expect(connector.health()).toEqual({ healthy: true, detail: upstream.url, restarts: 0 });

    expect(await connector.callTool("echo", { text: "hi" }, CALL)).toEqual({ content: [{ type: "text", text: "hi" }], structuredContent: { text: "hi" } });
    expect(await connector.callTool("add", { a: 2, b: 3 }, CALL)).toEqual({ content: [{ type: "text", text: "5" }], structuredContent: { sum: 5 } });
    expect(await connector.callTool("fail", {}, CALL)).toEqual({ content: [{ type: "text", text: "it failed on purpose" }], isError: true });

    expect(upstream.receivedHeaders.length).toBeGreaterThan(0);
    for (const headers of upstream.receivedHeaders) {
      expect(headers).toMatchObject(credentials);
      expect(headers["x-api-key"]).toBeUndefined();
    }
  });

  it("lists every page of tools", async () => {
    const upstream = await httpUpstream({ pageSize: 2 });
    const connector = httpConnector({ url: upstream.url });
    await connector.start();
    const names = (await connector.listTools()).map((tool) => tool.name);
    expect(names).toEqual(["echo", "add", "fail", "slow", "rename_description"]);
  });

  it("times a slow call out with a ConnectorError", async () => {
    const upstream = await httpUpstream();
    const connector = httpConnector({ url: upstream.url });
    await connector.start();
    const error = await rejection(connector.callTool("slow", { ms: 2_000 }, { timeoutMs: 100 }));
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error.message).toBe('upstream web: tools/call "slow" timed out after 100 ms');
  });

  it("passes on the upstream's list_changed", async () => {
    const upstream = await httpUpstream();
    const connector = httpConnector({ url: upstream.url });
    await connector.start();
    await upstream.notificationStreamOpened();
    const changed = nextToolsChange(connector);
    upstream.setDescription("add", "Adds, differently.");
    await changed;
    expect((await connector.listTools()).find((tool) => tool.name === "add")?.description).toBe("Adds, differently.");
  });

  it("rejects start() for an unreachable URL and reports it unhealthy", async () => {
    const connector = httpConnector({ url: "http://127.0.0.1:1/mcp" });
    const error = await rejection(connector.start());
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error.message).toStartWith("upstream web could not be started: ");
    expect(connector.health().healthy).toBe(false);
    expect(await rejection(connector.callTool("echo", { text: "hi" }, CALL))).toBeInstanceOf(ConnectorError);
  });

  it("starts a new session when the upstream forgot its session (404), without failing the call", async () => {
    const upstream = await httpUpstream();
    const connector = httpConnector({ url: upstream.url, headers: credentials });
    await connector.start();
    const changed = nextToolsChange(connector);
    upstream.forgetSessions();
    expect(await connector.callTool("echo", { text: "again" }, CALL)).toMatchObject({ structuredContent: { text: "again" } });
    await changed;
    expect(connector.health()).toMatchObject({ healthy: true, restarts: 1 });
    const sessions = new Set(upstream.receivedHeaders.map((headers) => headers["mcp-session-id"]).filter(Boolean));
    expect(sessions.size).toBe(2);
  });

  it("reconnects when the upstream comes back, with a new session", async () => {
    const first = await startUpstreamHttp();
    const connector = httpConnector({ url: first.url });
    await connector.start();
    await first.close();

    expect(await rejection(connector.callTool("echo", { text: "hi" }, CALL))).toBeInstanceOf(ConnectorError);
    await eventually(() => !connector.health().healthy, "the connector notices", { timeoutMs: 2_000 });

    const changed = nextToolsChange(connector);
    await httpUpstream({ port: first.port });
    await changed;
    expect(await connector.callTool("echo", { text: "back" }, CALL)).toMatchObject({ structuredContent: { text: "back" } });
    expect(connector.health()).toMatchObject({ healthy: true });
    expect(connector.health().restarts).toBeGreaterThanOrEqual(1);
  });
});
