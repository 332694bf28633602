/** `invoke mcp`: MCP over stdio, for clients that launch the server as a subprocess. */
import { authorizeMcpAccess } from "../governance/authorize.ts";
import { startBackground } from "../background.ts";
import { createServices } from "../services.ts";
import { createRequestLogger } from "../observability/logger.ts";
import { createTracing } from "../observability/tracing.ts";
import { logError } from "../log.ts";
import { McpDispatcher } from "../protocol/dispatcher.ts";
import { openStore } from "../storage/sqlite/db.ts";
import { serveStdio } from "../transports/stdio.ts";
import { CommandFailure, type Command } from "./command.ts";
import { configFlag, dbFlag, loadConfig, startupDone } from "./shared.ts";

export const mcpCommand: Command = {
  name: "mcp",
  summary: "Serve MCP over stdio (newline-delimited JSON-RPC) with the same tools and governance as HTTP.",
  flags: { db: dbFlag, config: configFlag },
  details:
    "The caller is the API key in the INVOKE_API_KEY environment variable, checked again on every message: once it is revoked, expires or its user's role drops below editor, requests are answered with a JSON-RPC error. Logs go to stderr; stdout carries only MCP messages.",
  async run(values) {
    const secret = process.env.INVOKE_API_KEY;
    if (!secret) throw new CommandFailure("INVOKE_API_KEY is not set: the stdio server acts as the key's user");
    const config = await loadConfig(values);
    const store = openStore(config.db, { mustExist: true });
    try {
      const tracing = await createTracing({ endpoint: config.tracing.endpoint, serviceName: config.tracing.serviceName, headers: config.tracing.headers });
      const services = createServices({ store, config, tracing });
      const credential = { secret: secret.trim() };
      // Checked once here to fail fast with a reason; from then on every message is admitted afresh.
      const caller = await services.gate.callerFor(credential.secret);
      if (typeof caller === "string") throw new CommandFailure(`INVOKE_API_KEY is refused: the key is ${caller === "unknown" ? "unknown or revoked" : caller === "disabled" ? "held by a disabled user" : caller === "rotated" ? "a replaced secret past its grace period" : caller}`);
      const refusal = authorizeMcpAccess(caller);
      if (refusal) throw new CommandFailure(`INVOKE_API_KEY is refused: ${refusal.message}`);
      const dispatcher = new McpDispatcher({ services, logError });
      const stopBackground = await startBackground(services);
      try {
        const logger = createRequestLogger({ level: config.logLevel, format: config.logFormat, sink: process.stderr });
        startupDone();
        // Settles once the last answer written has left the process (write callbacks run in order).
        let written: Promise<void> = Promise.resolve();
        await serveStdio({
          dispatcher,
          credential,
          gate: services.gate,
          input: Bun.stdin.stream(),
          write: (line) => {
            written = new Promise((resolve) => process.stdout.write(`${line}\n`, () => resolve()));
          },
          logger,
          onKeyRefused: (message) => process.stderr.write(`invoke mcp: INVOKE_API_KEY is no longer admitted: ${message}\n`),
        });
        // Every answer must reach the client before the process exits: exiting drops what a full pipe still holds.
        await written;
      } finally {
        await stopBackground();
        await tracing.shutdown();
      }
      return 0;
    } finally {
      store.close();
    }
  },
};
