// Benchmark target: a bare `Bun.serve` JSON-RPC echo server, the practical ceiling for any
// Bun HTTP server. It parses the JSON body and answers a JSON-RPC result shaped like a
// trivial tools/call result, with no validation, auth or storage.
// Usage: bun bench/targets/echo.ts --port <P>   (listens on 127.0.0.1 only)
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { port: { type: "string" } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: echo.ts --port <P>");
  process.exit(2);
}

const RESULT = { content: [{ type: "text", text: '{"tenant_id":"bench","user_id":"bench"}' }] };

Bun.serve({
  hostname: "127.0.0.1",
  port,
  routes: {
    "/healthz": new Response("ok"),
    "/mcp": {
      POST: async (req) => {
        const rpc = (await req.json()) as { id?: unknown };
        return Response.json({ jsonrpc: "2.0", id: rpc.id ?? null, result: RESULT });
      },
    },
  },
});
