/** `invoke mcp`: MCP over stdio, for clients that launch the server as a subprocess. */
import { DEFAULT_CONFIG } from "../config.ts";
import { keyAuthenticator } from "../governance/keys.ts";
import { logError } from "../log.ts";
import { McpDispatcher } from "../protocol/dispatcher.ts";
import { openStore } from "../storage/db.ts";
import { ToolRegistry } from "../tools/registry.ts";
import { serveStdio } from "../transports/stdio.ts";
import { CommandFailure, type Command } from "./command.ts";
import { dbFlag } from "./shared-flags.ts";

export const mcpCommand: Command = {
  name: "mcp",
  summary: "Serve MCP over stdio (newline-delimited JSON-RPC) with the same tools and governance as HTTP.",
  flags: { db: dbFlag },
  details: "The caller is the API key in the INVOKE_API_KEY environment variable. Logs go to stderr; stdout carries only MCP messages.",
  async run(values) {
    const secret = process.env.INVOKE_API_KEY;
    if (!secret) throw new CommandFailure("INVOKE_API_KEY is not set: the stdio server acts as the key's user");
    const store = openStore((values.db as string | undefined) ?? DEFAULT_CONFIG.db);
    try {
      const caller = keyAuthenticator(store)(secret.trim());
      if (typeof caller === "string") throw new CommandFailure(`INVOKE_API_KEY is refused: the key is ${caller === "unknown" ? "unknown or revoked" : caller}`);
      const dispatcher = new McpDispatcher({ registry: new ToolRegistry(), store, logError });
      await serveStdio({ dispatcher, caller, input: Bun.stdin.stream(), write: (line) => process.stdout.write(`${line}\n`) });
      return 0;
    } finally {
      store.close();
    }
  },
};
