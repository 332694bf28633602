/**
 * The one tool model and the one catalog. Every tool an agent can name — Invoke's own (the registry)
 * and the production tools of its tenant's connectors — resolves through `resolve(tenant, name)` into
 * a `Tool` that carries everything the governed call path needs: the scope a key must hold, Invoke's
 * classification, whether policy governs it, its argument checker and how it runs.
 */
import type { UpstreamResult } from "../connectors/connector.ts";
import type { Authorizable } from "../governance/authorize.ts";
import type { Caller } from "../governance/caller.ts";
import type { ActionTarget, Analysis } from "../policy/analyzers/index.ts";
import type { HeaderParam } from "../protocol/param-headers.ts";
import type { ArgumentError, RegisteredTool, ToolRegistry } from "./registry.ts";
import type { ToolPorts } from "./tool.ts";

/** Invoke's classification of a tool: read-only only when it changes nothing anywhere. */
export type Classification = "read_only" | "mutating";

/**
 * A production tool behind Invoke, as its connector makes it, named `<connector>.<tool>`. Its
 * classification comes from the connector's configuration, never from the upstream's hints.
 */
export interface ProductionTool {
  name: string;
  connector: string;
  title?: string;
  description: string;
  /** The upstream's input schema, as it declared it (and as it was pinned). */
  inputSchema: Record<string, unknown>;
  /** Arguments the schema mirrors into `Mcp-Param-*` headers (modern-era HTTP checks them against the body). */
  headerParams?: readonly HeaderParam[];
  readOnly: boolean;
  /** The connector's kind (and SQL dialect): which analysers read the tool's arguments. */
  target: ActionTarget;
  /** The facts policy decides on, gathered by the connector itself (a database asks its engine); absent: the analysers' own. */
  analyze?(args: Record<string, unknown>): Promise<Analysis>;
  /** Checks arguments against the tool's input schema (compiled once, by whoever registers the tool). */
  checkArguments?(args: unknown): ArgumentError[];
  readonly healthy: boolean;
  /** Runs the tool on its production system (only after authorisation, policy and approvals). */
  call(args: Record<string, unknown>): Promise<UpstreamResult>;
}

/** Where the catalog finds a tenant's production tools: the connector service. */
export interface ProductionTools {
  list(tenantId: string): ProductionTool[];
  get(tenantId: string, name: string): ProductionTool | undefined;
  /** The targets of the tenant's configured tools, running or not (a connector down, a tool not enabled), by action. */
  targets(tenantId: string): Promise<(action: string) => ActionTarget | undefined>;
}

/** A tool as the governed call path sees it, whichever room it comes from. */
export interface Tool extends Authorizable {
  description: string;
  /** Whether policy decides its calls: production tools. Invoke's own tools answer to authorisation alone. */
  governed: boolean;
  /** What analysis and policy rules (`connector_kind`) know the tool as. */
  target: ActionTarget;
  /** The `tools/list` entry. */
  wire: Record<string, unknown>;
  headerParams: readonly HeaderParam[];
  /** Checks arguments against the input schema; absent when the schema is not known. */
  checkArguments?(args: unknown): ArgumentError[];
  /** The connector behind a production tool. */
  connector?: string;
  healthy: boolean;
  /** The facts policy decides on, when the tool gathers them itself (a database asks its engine). */
  analyze?(args: Record<string, unknown>): Promise<Analysis>;
  /**
   * Runs the tool for `caller` (none for an approved action, which only production tools have); a
   * failure the agent should read is thrown as a `ToolError` or `ConnectorError`.
   */
  run(args: Record<string, unknown>, caller: Caller | undefined): Promise<Record<string, unknown>>;
}

/** A production tool in the catalog: always behind a connector. */
export type ConnectorTool = Tool & { connector: string };

/** The one function that classifies: a known tool by its own classification, anything unknown as mutating. */
export function classify(tool: Pick<Tool, "readOnly"> | undefined): Classification {
  return tool?.readOnly ? "read_only" : "mutating";
}

/** What an unknown name would be if it named a production tool: mutating, behind tools:call and allowed_tools. */
export function unknownTool(name: string): Authorizable {
  return { name, scope: "tools:call", readOnly: false, touchesCompanyData: true };
}

/** Every tool of every tenant, by name. */
export class ToolCatalog {
  private readonly builtins = new Map<string, Tool>();
  /** Production tools wrap once per connector tool object (a restarted connector makes new ones). */
  private readonly wrapped = new WeakMap<ProductionTool, ConnectorTool>();

  constructor(
    registry: ToolRegistry,
    private readonly production: ProductionTools,
    ports: () => ToolPorts,
  ) {
    for (const registered of registry.tools) this.builtins.set(registered.wire.name, builtinTool(registered, ports));
  }

  /** The tool `name` names for `tenantId`: one of Invoke's own, or a running production tool. */
  resolve(tenantId: string, name: string): Tool | undefined {
    const builtin = this.builtins.get(name);
    if (builtin !== undefined) return builtin;
    const tool = this.production.get(tenantId, name);
    return tool === undefined ? undefined : this.wrap(tool);
  }

  /** Invoke's own tools (by name), then the tenant's production tools. */
  list(tenantId: string): Tool[] {
    return [...this.builtins.values(), ...this.productionTools(tenantId)];
  }

  /** The tenant's running production tools. */
  productionTools(tenantId: string): ConnectorTool[] {
    return this.production.list(tenantId).map((tool) => this.wrap(tool));
  }

  /** What each action names for the tenant: a production tool (its connector's kind), one of Invoke's own tools, or nothing configured. */
  async targets(tenantId: string): Promise<(action: string) => ActionTarget> {
    const configured = await this.production.targets(tenantId);
    return (action) => this.resolve(tenantId, action)?.target ?? configured(action) ?? { kind: "unconfigured" };
  }

  /** What `action` names for the tenant (see `targets`). */
  async targetOf(tenantId: string, action: string): Promise<ActionTarget> {
    return (await this.targets(tenantId))(action);
  }

  private wrap(tool: ProductionTool): ConnectorTool {
    let wrapped = this.wrapped.get(tool);
    if (wrapped === undefined) {
      wrapped = productionTool(tool);
      this.wrapped.set(tool, wrapped);
    }
    return wrapped;
  }
}

function builtinTool({ definition, wire, headerParams, checkArguments }: RegisteredTool, ports: () => ToolPorts): Tool {
  return {
    name: definition.name,
    description: definition.description,
    scope: definition.scope,
    readOnly: definition.readOnly,
    touchesCompanyData: definition.touchesCompanyData,
    governed: false,
    target: { kind: "invoke" },
    wire: wire as unknown as Record<string, unknown>,
    headerParams,
    checkArguments,
    healthy: true,
    async run(args, caller) {
      if (caller === undefined) throw new Error(`${definition.name} runs for a caller`);
      const output = await definition.handler(args, { ...ports(), caller });
      const text = typeof output === "string" ? output : JSON.stringify(output);
      return definition.output !== undefined ? { content: [{ type: "text", text }], structuredContent: output } : { content: [{ type: "text", text }] };
    },
  };
}

function productionTool(tool: ProductionTool): ConnectorTool {
  return {
    name: tool.name,
    description: tool.description,
    scope: "tools:call",
    readOnly: tool.readOnly,
    touchesCompanyData: true,
    governed: true,
    target: tool.target,
    // The upstream's output schema is not re-advertised: a governed call may answer with a pending
    // approval instead of the upstream's output, which would not match it.
    wire: {
      name: tool.name,
      ...(tool.title !== undefined && { title: tool.title }),
      description: tool.description,
      inputSchema: tool.inputSchema,
      annotations: { readOnlyHint: tool.readOnly, destructiveHint: !tool.readOnly },
    },
    headerParams: tool.headerParams ?? [],
    checkArguments: tool.checkArguments,
    connector: tool.connector,
    get healthy() {
      return tool.healthy;
    },
    analyze: tool.analyze && ((args) => tool.analyze!(args)),
    run: (args) => tool.call(args) as Promise<Record<string, unknown>>,
  };
}
