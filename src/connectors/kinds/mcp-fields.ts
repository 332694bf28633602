/** The configuration fields both MCP kinds share: how their upstream's tools are classified and enabled. */
import { Type } from "@sinclair/typebox";
import { toolNameMatcher } from "../../governance/authorize.ts";

export const mcpFields = {
  read_only_tools: Type.Optional(
    Type.Array(Type.String({ minLength: 1 }), { description: "Globs over the upstream's tool names that Invoke treats as read-only; every other tool is mutating." }),
  ),
  enable_tools: Type.Optional(
    Type.Array(Type.String({ minLength: 1 }), { description: "Globs over upstream tools to enable (and pin) when first seen; others wait for an admin." }),
  ),
};

/** The classification and pinning of an upstream MCP server's tools: read-only only when `read_only_tools` names it. */
export const mcpTools = {
  isReadOnly: (spec: { read_only_tools?: string[] }, tool: string) => toolNameMatcher(spec.read_only_tools ?? [])(tool),
  sqlWriteTools: [] as const,
  autoEnabledTools: (spec: { enable_tools?: string[] }) => spec.enable_tools ?? [],
};
