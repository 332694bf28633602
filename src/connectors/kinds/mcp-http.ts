/** The `mcp_http` kind: an upstream MCP server Invoke reaches over Streamable HTTP. */
import { Type, type Static } from "@sinclair/typebox";
import { defineKind, mapRecord, Timeout } from "./kind.ts";
import { mcpFields, mcpTools } from "./mcp-fields.ts";

const McpHttpSpec = Type.Object({
  type: Type.Literal("mcp_http"),
  url: Type.String({ pattern: "^https?://" }),
  headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "The upstream's own credentials; the agent's Invoke key is never forwarded." })),
  timeout_ms: Timeout,
  ...mcpFields,
});
/** How an `mcp_http` connector is configured. */
export type McpHttpSpec = Static<typeof McpHttpSpec>;

export const mcpHttp = defineKind({
  schema: McpHttpSpec,
  async create(name, spec, { log }) {
    const { McpHttpConnector } = await import("../mcp.ts");
    return new McpHttpConnector(name, spec, { log });
  },
  ...mcpTools,
  async checkHost(spec, checks) {
    if (checks.tenant) {
      await checks.url(spec.url);
      checks.headers(Object.keys(spec.headers ?? {}));
    }
    return spec;
  },
  // The URL whole (a token may sit in its userinfo or query) and every header value.
  mapSecrets: (spec, map) => ({ ...spec, url: map(spec.url, "url"), ...(spec.headers && { headers: mapRecord(spec.headers, (value, key) => map(value, `headers.${key}`)) }) }),
});
