/** Modern-era (MCP 2026-07-28) requests for tests: the `_meta` envelope and the headers that mirror it. */
import { request, rpc, type TestServer } from "./harness.ts";

export const MODERN = "2026-07-28";
export const TASKS = "io.modelcontextprotocol/tasks";

/** A modern request: the envelope in `_meta` (overridable), and the headers that mirror it. */
export function modern(id: number | string, method: string, params: Record<string, unknown> = {}, options: { meta?: Record<string, unknown>; tasks?: boolean } = {}) {
  const meta = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": { name: "modern-test", version: "1.0.0" },
    "io.modelcontextprotocol/clientCapabilities": options.tasks ? { extensions: { [TASKS]: {} } } : {},
    ...options.meta,
  };
  const body = request(id, method, { ...params, _meta: meta });
  const name = params.name ?? params.taskId;
  const headers: Record<string, string> = { "mcp-protocol-version": String(meta["io.modelcontextprotocol/protocolVersion"]), "mcp-method": method };
  if (typeof name === "string") headers["mcp-name"] = name;
  return { body, headers };
}

/** Sends a modern request (headers overridable; null removes one). */
export function modernRpc(server: Pick<TestServer, "app" | "adminKey">, message: ReturnType<typeof modern>, headers: Record<string, string | null> = {}, key?: string) {
  const merged: Record<string, string> = { ...message.headers };
  for (const [name, value] of Object.entries(headers)) {
    if (value === null) delete merged[name];
    else merged[name] = value;
  }
  return rpc(server, message.body, { headers: merged, key });
}
