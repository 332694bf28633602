/**
 * The stdio server however it is started: `npm run mcp` (as MCP clients are told to start it) and
 * `bun run mcp` write nothing but JSON-RPC to stdout — no npm banner, no log line — so a client never
 * reads a stray line as a broken message.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../support/harness.ts";
import { CLI, cleanEnv, initDatabase, spawnProcess } from "../support/process.ts";

describe("the stdio server started through package scripts", () => {
  for (const runner of [["npm", "run", "mcp"], [process.execPath, "run", "mcp"]]) {
    test(`${runner[0] === "npm" ? "npm" : "bun"} run mcp: every stdout line is a JSON-RPC message`, async () => {
      using dir = tempDir();
      const db = join(dir.path, "invoke.db");
      const { admin_key } = await initDatabase(CLI, ["--db", db]);
      await using server = spawnProcess(runner, { env: cleanEnv({ INVOKE_DB: db, INVOKE_API_KEY: admin_key }) });
      server.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } })}\n`);
      server.write(`${JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" })}\n`);
      await server.waitForLine((line) => line.includes('"id":2'), "the ping's answer", 30_000);
      server.endInput();
      expect(await server.waitForExit(30_000)).toBe(0);
      const lines = server.stdout.lines.filter((line) => line.length > 0);
      expect(lines.length).toBe(2);
      for (const line of lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: "2.0" });
    }, 60_000);
  }
});
