/**
 * The one static registry of tools. Adding a tool is adding its file and one line in `builtinTools`.
 * For each tool it precomputes the wire descriptor (plain JSON Schema, no TypeBox symbols) and
 * compiles its argument checker once, at the first call, so `tools/list` and `tools/call` do no schema
 * work per request and start-up none at all.
 */
import type { TObject } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import type { ArgumentError } from "./model.ts";
import type { ToolDefinition } from "./tool.ts";
import { headerParams, type HeaderParam } from "../protocol/param-headers.ts";
import { approvalsGetTool } from "./approvals-get.ts";
import { approvalsListTool } from "./approvals-list.ts";
import { companyBrainQueryTool } from "./company-brain-query.ts";
import { executionsGetTool } from "./executions-get.ts";
import { executionsListTool } from "./executions-list.ts";
import { observabilitySummaryTool } from "./observability-summary.ts";
import { governanceReadinessTool } from "./governance-readiness.ts";
import { policySimulateTool } from "./policy-simulate.ts";
import { preflightRunTool } from "./preflight-run.ts";
import { toolsSearchTool } from "./tools-search.ts";
import { whoamiTool } from "./whoami.ts";

/** Every built-in tool. */
export const builtinTools: ToolDefinition[] = [whoamiTool, toolsSearchTool, companyBrainQueryTool, policySimulateTool, preflightRunTool, approvalsListTool, approvalsGetTool, executionsListTool, executionsGetTool, observabilitySummaryTool, governanceReadinessTool];

/** A tool as MCP `tools/list` describes it. */
export interface WireTool {
  name: string;
  title: string;
  description: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations: { title: string; readOnlyHint: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint: boolean };
}

/** A registered tool: its definition, its wire form and its argument checker. */
export interface RegisteredTool {
  definition: ToolDefinition;
  wire: WireTool;
  /** Checks arguments; returns the failures (empty when valid). */
  checkArguments(args: unknown): ArgumentError[];
  /** Arguments the input schema mirrors into `Mcp-Param-*` headers (none so far). */
  headerParams: readonly HeaderParam[];
}

/** TypeBox schemas are JSON Schema plus symbol-keyed metadata; a JSON round trip keeps only the schema. */
export function toJsonSchema(schema: TObject): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema));
}

function register(definition: ToolDefinition): RegisteredTool {
  // Compiled at the tool's first call, not at start-up (the cold-start target).
  let checker: TypeCheck<TObject> | undefined;
  const wire: WireTool = {
    name: definition.name,
    title: definition.title,
    description: definition.description,
    inputSchema: toJsonSchema(definition.input),
    annotations: {
      title: definition.title,
      readOnlyHint: definition.readOnly,
      ...(definition.readOnly ? {} : { destructiveHint: true }),
      openWorldHint: definition.touchesCompanyData,
    },
  };
  if (definition.output) wire.outputSchema = toJsonSchema(definition.output);
  return {
    definition,
    wire,
    headerParams: headerParams(wire.inputSchema),
    checkArguments: (args) => {
      checker ??= TypeCompiler.Compile(definition.input);
      return checker.Check(args) ? [] : [...checker.Errors(args)].map((error) => ({ path: error.path || "/", message: error.message }));
    },
  };
}

/** The tools in a deterministic order (by name), looked up by name. */
export class ToolRegistry {
  readonly tools: readonly RegisteredTool[];
  private readonly byName: Map<string, RegisteredTool>;

  constructor(definitions: ToolDefinition[] = builtinTools) {
    this.tools = definitions.map(register).sort((a, b) => (a.wire.name < b.wire.name ? -1 : 1));
    this.byName = new Map(this.tools.map((tool) => [tool.wire.name, tool]));
    if (this.byName.size !== this.tools.length) throw new Error("two tools share a name");
  }

  /** The tool called `name`, if any. */
  get(name: string): RegisteredTool | undefined {
    return this.byName.get(name);
  }
}
