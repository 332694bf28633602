/**
 * `invoke connectors` from another process, on the database a server is using: add (from a YAML file
 * or an inline definition), list with live health, enable pins, remove — and the serving process
 * (its background reconciler, as `invoke serve` runs it) picks each change up on its own.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, it } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBackground } from "../../src/background.ts";
import { eventually, request, rpc, startTestServer, type TestServer } from "../support/harness.ts";
import { REPO_ROOT, runCli } from "../support/process.ts";

/** Polled through the server every 100 ms, well within the admin key's rate limit. */
const POLL = { timeoutMs: 8000, intervalMs: 100 };
const UPSTREAM = join(REPO_ROOT, "test", "fixtures", "upstream-stdio.ts");

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server with its background work running (connector reconciler, approval sweeper). */
async function serving(): Promise<TestServer> {
  const server = startTestServer();
  const stop = await startBackground(server.services);
  cleanups.push(async () => {
    await stop();
    server[Symbol.dispose]();
  });
  return server;
}

/** The tool names an admin's tools/list shows. */
async function listed(server: TestServer): Promise<string[]> {
  const answer = await rpc(server, request(1, "tools/list"));
  return answer.body.result.tools.map((tool: { name: string }) => tool.name);
}

describe("invoke connectors", () => {
  it("adds from YAML, lists live health, enables pins, removes — and the server follows each change", async () => {
    const server = await serving();
    const db = ["--db", server.dbPath];
    const file = join(server.dbPath, "..", "upstream.yaml");
    writeFileSync(file, `name: up\ntype: mcp_stdio\ncommand: ${process.execPath}\nargs: ["${UPSTREAM}"]\nread_only_tools: ["echo", "pid"]\n`);

    const added = await runCli(["connectors", "add", "--file", file, "--json", ...db]);
    expect(added.exitCode).toBe(0);
    const view = JSON.parse(added.stdout);
    expect(view).toMatchObject({ name: "up", type: "mcp_stdio", origin: "operator", health: { healthy: true } });
    expect(view.tools.find((tool: { name: string }) => tool.name === "echo")).toMatchObject({ status: "available", read_only: true });

    // Nothing is callable before an admin pins it, in the CLI's view and in the server's.
    await eventually(async () => (await rpc(server, request(2, "tools/call", { name: "up.echo", arguments: { text: "x" } }))).body.error !== undefined, "the server to know the connector", POLL);
    expect((await listed(server)).some((name) => name.startsWith("up."))).toBe(false);

    const enabled = await runCli(["connectors", "enable", "up", "echo", "p*", "--as", "ops@example.com", ...db]);
    expect(enabled.exitCode).toBe(0);
    expect(enabled.stdout).toMatch(/enabled\s+up\.echo\s+\(read-only\)/);
    expect(enabled.stdout).toMatch(/available\s+up\.crash/);
    let tools: string[] = [];
    await eventually(async () => (tools = await listed(server)).includes("up.echo"), "the server to apply the pins", POLL);
    expect(tools).toContain("up.pid");
    expect(tools).not.toContain("up.crash");
    const called = await rpc(server, request(3, "tools/call", { name: "up.echo", arguments: { text: "pinned on the CLI" } }));
    expect(called.body.result.structuredContent).toEqual({ text: "pinned on the CLI" });

    const list = await runCli(["connectors", "list", ...db]);
    expect(list.stdout).toMatch(/^up\s+mcp_stdio\s+from operator\s+healthy/m);
    const shown = JSON.parse((await runCli(["connectors", "show", "up", "--json", ...db])).stdout);
    expect(shown.tools.find((tool: { name: string }) => tool.name === "echo")).toMatchObject({ status: "enabled", approved_by: "ops@example.com" });

    const removed = await runCli(["connectors", "remove", "up", ...db]);
    expect(removed.exitCode).toBe(0);
    await eventually(async () => !(await listed(server)).includes("up.echo"), "the server to stop the connector", POLL);
    expect((await runCli(["connectors", "list", ...db])).stdout.trim()).toBe("No connectors.");

    // Every change is in the ledger as an admin mutation made on the CLI.
    const mutations = (await server.services.records.list(server.tenantId, { kind: "admin_mutation" })).records.map((record) => `${record.tool} ${record.status}`);
    expect(mutations).toEqual(["DELETE /v1/connectors/:name ok", "POST /v1/connectors/:name/tools/enable ok", "POST /v1/connectors ok"]);
  }, 30_000);

  it("takes an inline definition and refuses bad input with clear messages", async () => {
    const server = startTestServer();
    cleanups.push(async () => server[Symbol.dispose]());
    const db = ["--db", server.dbPath];
    const sqlite = join(server.dbPath, "..", "company.sqlite");
    new Database(sqlite, { create: true }).close();
    const inline = await runCli(["connectors", "add", JSON.stringify({ name: "books", type: "database", dialect: "sqlite", path: sqlite }), ...db]);
    expect(inline.exitCode).toBe(0);
    expect(inline.stdout).toMatch(/enabled\s+books\.query\s+\(read-only\)/);

    const cases: [string[], number, RegExp][] = [
      [["connectors"], 2, /expected one of/],
      [["connectors", "add"], 2, /argument .* or --file/],
      [["connectors", "add", "name: [unclosed"], 2, /not valid JSON or YAML/],
      [["connectors", "add", '{"name":"x","type":"ftp"}'], 1, /invalid connector configuration/],
      [["connectors", "add", JSON.stringify({ name: "books", type: "database", dialect: "sqlite", path: sqlite })], 1, /exists/],
      [["connectors", "add", "--file", join(server.dbPath, "..", "missing.yaml")], 1, /cannot read/],
      // The operator may use files beside the store (books above), never the store itself.
      [["connectors", "add", JSON.stringify({ name: "store", type: "database", dialect: "sqlite", path: join(server.dbPath, "..", ".", "invoke.db") })], 1, /Invoke's own store/],
      [["connectors", "show", "nope"], 1, /no connector named "nope"/],
      [["connectors", "enable", "books"], 2, /needs the tools/],
    ];
    for (const [args, code, message] of cases) {
      const answer = await runCli([...args, ...db]);
      expect({ args, code: answer.exitCode }).toEqual({ args, code });
      expect(answer.stderr).toMatch(message);
      expect(answer.stderr).not.toContain("    at ");
    }
  }, 30_000);
});
