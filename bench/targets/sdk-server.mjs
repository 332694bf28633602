// Benchmark target: the official MCP TypeScript SDK (v1) stateless Streamable HTTP server,
// built like the SDK's `simpleStatelessStreamableHttp` example (Express app from
// `createMcpExpressApp`, a fresh McpServer + transport per request) with JSON responses
// and a single trivial tool. Runs unchanged on Node and on Bun.
// Usage: node bench/targets/sdk-server.mjs --port <P>   (listens on 127.0.0.1 only)
import { parseArgs } from "node:util";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createMcpExpressApp } from "@modelcontextprotocol/sdk/server/express.js";

const HOST = "127.0.0.1";
const { values } = parseArgs({ options: { port: { type: "string" } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: sdk-server.mjs --port <P>");
  process.exit(2);
}

/** Builds the per-request MCP server with its one trivial tool (same name as Invoke's). */
function buildServer() {
  const server = new McpServer({ name: "bench-sdk-stateless", version: "1.0.0" });
  server.registerTool("invoke.whoami", { description: "Returns a fixed identity." }, async () => ({
    content: [{ type: "text", text: '{"tenant_id":"bench","user_id":"bench"}' }],
  }));
  return server;
}

const app = createMcpExpressApp({ host: HOST });

app.post("/mcp", async (req, res) => {
  const server = buildServer();
  try {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on("close", () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  } catch (error) {
    console.error("Error handling MCP request:", error);
    if (!res.headersSent) {
      res.status(500).json({ jsonrpc: "2.0", error: { code: -32603, message: "Internal server error" }, id: null });
    }
  }
});

app.get("/healthz", (_req, res) => {
  res.status(200).send("ok");
});

app.listen(port, HOST, (error) => {
  if (error) {
    console.error("Failed to start server:", error);
    process.exit(1);
  }
});
