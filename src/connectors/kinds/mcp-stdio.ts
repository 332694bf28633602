/** The `mcp_stdio` kind: an upstream MCP server Invoke runs as a child process, speaking MCP over stdin/stdout. */
import { Type, type Static } from "@sinclair/typebox";
import { defineKind, mapRecord, Timeout } from "./kind.ts";
import { mcpFields, mcpTools } from "./mcp-fields.ts";

const McpStdioSpec = Type.Object({
  type: Type.Literal("mcp_stdio"),
  command: Type.String({ minLength: 1 }),
  args: Type.Optional(Type.Array(Type.String())),
  env: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "Added to a minimal inherited environment (PATH, HOME, USER…); Invoke's own variables are never passed." })),
  cwd: Type.Optional(Type.String({ minLength: 1 })),
  timeout_ms: Timeout,
  ...mcpFields,
});
/** How an `mcp_stdio` connector is configured. */
export type McpStdioSpec = Static<typeof McpStdioSpec>;

export const mcpStdio = defineKind({
  schema: McpStdioSpec,
  async create(name, spec, { log }) {
    const { McpStdioConnector } = await import("../mcp.ts");
    return new McpStdioConnector(name, spec, { log });
  },
  ...mcpTools,
  async checkHost(spec, checks) {
    if (checks.tenant) checks.command(spec.command, spec.args ?? [], Object.keys(spec.env ?? {}));
    return spec.cwd === undefined ? spec : { ...spec, cwd: checks.path(spec.cwd, "working folder") };
  },
  // Environment values: where upstreams take their tokens.
  mapSecrets: (spec, map) => (spec.env === undefined ? spec : { ...spec, env: mapRecord(spec.env, (value, key) => map(value, `env.${key}`)) }),
});
