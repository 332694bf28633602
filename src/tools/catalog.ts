/**
 * The one catalog: every tool an agent can name — Invoke's own (the registry) and the production tools
 * of its tenant's connectors — resolves through `resolve(tenant, name)` into one `Tool` model.
 */
import type { ActionTarget } from "../policy/analyzers/index.ts";
import type { ConnectorTool, ProductionTool, ProductionTools, Tool } from "./model.ts";
import type { ToolPorts } from "./ports.ts";
import type { RegisteredTool, ToolRegistry } from "./registry.ts";

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

  /** The tenant's running production tools, but for one an Invoke tool's name hides (a connector named `invoke`): `resolve` never reaches it. */
  productionTools(tenantId: string): ConnectorTool[] {
    return this.production.list(tenantId).flatMap((tool) => (this.builtins.has(tool.name) ? [] : [this.wrap(tool)]));
  }

  /** What each action names for the tenant: a production tool (its connector's kind), one of Invoke's own tools, or nothing configured. */
  async targets(tenantId: string): Promise<(action: string) => ActionTarget> {
    const configured = await this.production.targets(tenantId);
    return (action) => this.resolve(tenantId, action)?.target ?? configured(action) ?? { kind: "unconfigured" };
  }

  /** What `action` names for the tenant (see `targets`). */
  async targetOf(tenantId: string, action: string): Promise<ActionTarget> {
    return this.resolve(tenantId, action)?.target ?? (await this.production.targetOf(tenantId, action)) ?? { kind: "unconfigured" };
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
  let used: Partial<ToolPorts> | undefined;
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
      // The ports the tool declared, picked once.
      used ??= Object.fromEntries((definition.uses ?? []).map((port) => [port, ports()[port]])) as Partial<ToolPorts>;
      const output = await definition.handler(args, { ...(used as ToolPorts), caller });
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
