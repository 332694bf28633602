/** `invoke.tools.search`: the production tools behind Invoke with their governance posture under the active policy. */
import { Type } from "@sinclair/typebox";
import { authorizeTool } from "../governance/authorize.ts";
import { askPolicy } from "../policy/ask.ts";
import { defineTool } from "./tool.ts";

const ToolsSearchOutput = Type.Object({
  tools: Type.Array(
    Type.Object({
      name: Type.String(),
      connector: Type.String(),
      description: Type.String(),
      read_only: Type.Boolean({ description: "Invoke's own classification." }),
      healthy: Type.Boolean(),
      callable_by_you: Type.Boolean({ description: "Whether your key may call it (scope, allowed_tools, read-only)." }),
      default_decision: Type.Union([Type.Literal("allow"), Type.Literal("deny"), Type.Literal("require_approval")], {
        description: "What the active policy decides for a call with no arguments; arguments (e.g. the SQL) can change it — simulate to be sure.",
      }),
      approval_needed: Type.Boolean(),
    }),
  ),
  policy_version: Type.Integer({ minimum: 0 }),
});

export const toolsSearchTool = defineTool({
  name: "invoke.tools.search",
  title: "Search production tools",
  description:
    "List the production tools behind Invoke (optionally filtered by a text query or by read-only), each with its governance posture under the active policy: default decision, whether approval is needed, and whether your key may call it.",
  scope: "tools:read",
  readOnly: true,
  touchesCompanyData: false,
  input: Type.Object(
    {
      query: Type.Optional(Type.String({ maxLength: 200, description: "Matches tool names and descriptions, case-insensitively." })),
      read_only: Type.Optional(Type.Boolean({ description: "Only read-only (true) or only mutating (false) tools." })),
    },
    { additionalProperties: false },
  ),
  output: ToolsSearchOutput,
  handler: async ({ query, read_only }, { caller, services }) => {
    const needle = query?.toLowerCase();
    // One version for the whole answer, even if a publish lands while it is being built.
    const policyVersion = (await services.policy.active(caller.tenantId)).version;
    const matching = services.connectors
      .list(caller.tenantId)
      .filter((tool) => (needle === undefined || `${tool.name} ${tool.description}`.toLowerCase().includes(needle)) && (read_only === undefined || tool.readOnly === read_only));
    const tools = await Promise.all(
      matching.map(async (tool) => {
        const answer = await askPolicy(services, caller, { agentId: "*", action: tool.name, params: {} }, policyVersion);
        return {
          name: tool.name,
          connector: tool.connector,
          description: tool.description,
          read_only: tool.readOnly,
          healthy: tool.healthy,
          callable_by_you: authorizeTool(caller, { name: tool.name, scope: "tools:call", readOnly: tool.readOnly, touchesCompanyData: true }) === undefined,
          default_decision: answer.decision,
          approval_needed: answer.decision === "require_approval",
        };
      }),
    );
    return { tools, policy_version: policyVersion };
  },
});
