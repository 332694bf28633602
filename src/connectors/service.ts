/**
 * The connector service: each tenant's connectors (from the config file, synced at start, or added
 * over REST/CLI), their running instances, and the tools they contribute to the production catalog.
 *
 * Tool pinning: an upstream MCP tool is callable only once an admin enabled it, which stores a hash of
 * its definition (name, title, description, schemas). When the upstream later declares something else
 * under that name, the tool is quarantined — not listed, not callable — until an admin approves the
 * new definition: a defence against tool-definition rug pulls. Database connectors declare Invoke's
 * own tools, so there is nothing to pin.
 */
import { and, eq } from "drizzle-orm";
import { Value } from "@sinclair/typebox/value";
import { randomBytes } from "node:crypto";
import { BadRequest, Conflict, InvokeError, NotFound } from "../errors.ts";
import { toolNameMatcher } from "../governance/authorize.ts";
import type { Store } from "../storage/sqlite/db.ts";
import { connectors, connectorTools, tenants } from "../storage/sqlite/schema.ts";
import type { TenantScope } from "../storage/sqlite/tenant-scope.ts";
import { headerParams, InvalidHeaderAnnotation } from "../protocol/param-headers.ts";
import type { ProductionTool } from "../tools/catalog.ts";
import type { ActionTarget } from "../policy/analyzers/index.ts";
import { canonicalJson, digestOf } from "../records/canonical.ts";
import { KnownSecrets } from "../records/known-secrets.ts";
import { redactText } from "../records/redact.ts";
import { ConnectorError, type Connector, type ConnectorHealth, type UpstreamTool } from "./connector.ts";
import { HostAccess, type ConnectorOrigin } from "./host-access.ts";
import { actionTarget, kindOf } from "./kinds/index.ts";
import { DEFAULT_TIMEOUT_MS } from "./kinds/kind.ts";
import { ConnectorSpec, type ConfigConnector, type NewConnector } from "./model.ts";
import { logInfo } from "../log.ts";
import { ConnectorSecrets, type SecretPlace, secretValues } from "./secrets.ts";

/** A tool of a connector as admins see it. */
export interface ConnectorToolView {
  name: string;
  description: string;
  read_only: boolean;
  /** enabled: listed and callable; quarantined: the upstream changed it; available: declared, not enabled yet. */
  status: "enabled" | "quarantined" | "available";
  hash?: string;
  pending_hash?: string;
  approved_by?: string;
  approved_at?: string;
}

/** A connector as admins see it (its secrets are not shown). */
export interface ConnectorView {
  name: string;
  type: ConnectorSpec["type"];
  origin: ConnectorOrigin;
  health: ConnectorHealth;
  tools: ConnectorToolView[];
}

interface Pin {
  status: "enabled" | "quarantined";
  hash: string;
  pendingHash: string | null;
  approvedBy: string;
  approvedAt: number;
}

/** A connector of a tenant, running. */
interface Running {
  tenantId: string;
  name: string;
  spec: ConnectorSpec;
  /** The stored configuration it runs, to notice a change made by another process. */
  config: string;
  /** That configuration in clear, canonical: a re-sealed (rotated) configuration with the same content is no change. */
  clear: string;
  /** A stored configuration it could not open, already logged (the reconciler asks again every few seconds). */
  unreadable?: string;
  origin: ConnectorOrigin;
  connector: Connector;
  /** What the upstream declared at the last refresh. */
  declared: UpstreamTool[];
  /** The callable tools, by their short name. */
  tools: Map<string, ProductionTool>;
  refreshing?: Promise<void>;
}

/** What a definition's pin covers. */
export function definitionHash(tool: UpstreamTool): string {
  return digestOf({ name: tool.name, title: tool.title ?? null, description: tool.description ?? null, inputSchema: tool.inputSchema, outputSchema: tool.outputSchema ?? null });
}

/** The stored text of a definition. */
const definitionText = (tool: UpstreamTool) => canonicalJson(tool) ?? "null";

/**
 * Stores a connector for the next start unless one of that name exists (the demo's, `invoke init --demo`);
 * true when stored. `config` is the stored text, its secrets sealed (the demo's SQLite connector has none).
 */
export function registerConnector(scope: TenantScope, input: NewConnector, origin: ConnectorOrigin, now = Date.now(), config?: string): boolean {
  const { name, ...spec } = input;
  return (
    scope.store.db
      .insert(connectors)
      .values({ tenantId: scope.tenantId, name, config: config ?? JSON.stringify(spec), origin, createdAt: now, updatedAt: now })
      .onConflictDoNothing()
      .returning({ name: connectors.name })
      .all().length === 1
  );
}

const runningKey = (tenantId: string, name: string) => `${tenantId}\u0000${name}`;

/** Tenants' connectors and the production catalog they make. */
export class ConnectorService {
  private readonly running = new Map<string, Running>();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
    private readonly logLine: (line: string) => void = () => {},
    private readonly hostAccess: HostAccess = new HostAccess(store.path),
    /** Seals stored secrets; by default with a key of this process only (services pass the key file's). */
    private readonly secrets: ConnectorSecrets = new ConnectorSecrets([{ id: "sk_ephemeral", key: randomBytes(32) }]),
    /** Every tenant's connector secrets, for the redaction of records, errors and logs. */
    readonly known: KnownSecrets = new KnownSecrets(),
  ) {}

  /** Logs a line with every known connector secret (and anything secret-shaped) redacted. */
  private log(line: string): void {
    this.logLine(redactText(line, this.known.all()));
  }

  // ---- the production tools (hot path: in-memory only) ----

  /** The tenant's callable production tools. */
  list(tenantId: string): ProductionTool[] {
    const out: ProductionTool[] = [];
    for (const running of this.running.values()) if (running.tenantId === tenantId) out.push(...running.tools.values());
    return out;
  }

  /** One callable production tool by its full name, `<connector>.<tool>`. */
  get(tenantId: string, name: string): ProductionTool | undefined {
    const dot = name.indexOf(".");
    if (dot <= 0) return undefined;
    return this.running.get(runningKey(tenantId, name.slice(0, dot)))?.tools.get(name.slice(dot + 1));
  }

  /**
   * What kind of tool `action` (`<connector>.<tool>`) names by its connector's configuration, running or
   * not (a connector that is down is still a database); undefined when the tenant has no such connector.
   */
  targetOf(tenantId: string, action: string): ActionTarget | undefined {
    const dot = action.indexOf(".");
    if (dot <= 0) return undefined;
    const name = action.slice(0, dot);
    const running = this.running.get(runningKey(tenantId, name));
    if (running !== undefined) return actionTarget(running.spec);
    const row = this.store.db.select({ config: connectors.config }).from(connectors).where(and(eq(connectors.tenantId, tenantId), eq(connectors.name, name))).get();
    if (row === undefined) return undefined;
    return actionTarget(JSON.parse(row.config) as ConnectorSpec);
  }

  /** The tenant's tools, running or not, that run SQL as the agent writes it, writes included (readiness probes them). */
  sqlWriteActions(tenantId: string): string[] {
    const rows = this.store.db.select({ name: connectors.name, config: connectors.config }).from(connectors).where(eq(connectors.tenantId, tenantId)).all();
    return rows.flatMap((row) => kindOf(JSON.parse(row.config) as ConnectorSpec).sqlWriteTools.map((tool) => `${row.name}.${tool}`));
  }

  /** Every running connector's health, all tenants (for metrics and readiness). */
  healthAll(): { tenantId: string; name: string; healthy: boolean; detail?: string; warnings?: string[] }[] {
    return [...this.running.values()].map((running) => {
      const { healthy, detail, warnings } = this.healthOf(running);
      return { tenantId: running.tenantId, name: running.name, healthy, detail, ...(warnings?.length && { warnings }) };
    });
  }

  // ---- lifecycle ----

  /**
   * Makes the config file's connectors the tenant's `config` connectors (added, changed, removed),
   * leaving those added over REST/CLI alone. Tenants are named; the default is `default`.
   */
  syncConfig(entries: ConfigConnector[], tenantIdByName: (name: string) => string): void {
    const now = this.now();
    const byTenant = new Map<string, ConfigConnector[]>();
    for (const entry of entries) {
      const tenantId = tenantIdByName(entry.tenant ?? "default");
      byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), entry]);
    }
    this.store.sqlite.transaction(() => {
      const existing = this.store.db.select().from(connectors).where(eq(connectors.origin, "config")).all();
      for (const row of existing) {
        if (!(byTenant.get(row.tenantId) ?? []).some((entry) => entry.name === row.name)) {
          this.store.db.delete(connectors).where(and(eq(connectors.tenantId, row.tenantId), eq(connectors.name, row.name))).run();
        }
      }
      for (const [tenantId, list] of byTenant) {
        for (const { name, tenant: _tenant, ...spec } of list) {
          const stored = this.store.db.select().from(connectors).where(and(eq(connectors.tenantId, tenantId), eq(connectors.name, name))).get();
          // Unchanged: left as stored, so a fresh nonce does not make every replica restart it.
          if (stored?.origin === "config" && this.clearConfigOrNone(stored.config, { tenantId, name }) === canonicalJson(spec)) continue;
          const config = this.secrets.seal(spec as ConnectorSpec, { tenantId, name });
          this.store.db
            .insert(connectors)
            .values({ tenantId, name, config, origin: "config", createdAt: now, updatedAt: now })
            .onConflictDoUpdate({ target: [connectors.tenantId, connectors.name], set: { config, origin: "config", updatedAt: now } })
            .run();
        }
      }
    })();
  }

  /**
   * Makes the running connectors what the store holds (all tenants', or one tenant's): starts new ones,
   * stops removed ones, restarts changed ones and re-applies everyone's pins. At start-up this starts
   * every connector; the server repeats it every few seconds, which is how changes made by the CLI in
   * another process take effect. Resolves when each started connector has made its first attempt.
   */
  async reconcile(tenantId?: string): Promise<void> {
    if (this.closed) return;
    const rows = this.store.db
      .select()
      .from(connectors)
      .where(tenantId === undefined ? undefined : eq(connectors.tenantId, tenantId))
      .all();
    const wanted = new Map(rows.map((row) => [runningKey(row.tenantId, row.name), row]));
    const stopping: Promise<void>[] = [];
    for (const [key, running] of this.running) {
      const row = wanted.get(key);
      if ((tenantId === undefined || running.tenantId === tenantId) && (row === undefined || !this.runs(running, row.config))) {
        this.running.delete(key);
        stopping.push(running.connector.close());
      }
    }
    await Promise.allSettled(stopping);
    await Promise.all(
      rows.map((row) => {
        const running = this.running.get(runningKey(row.tenantId, row.name));
        if (running === undefined) return this.launch(row.tenantId, row.name, row.config, row.origin);
        this.applyPins(running);
      }),
    );
  }

  /** Stops every connector (children reaped, connections closed). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.allSettled(all.map((running) => running.connector.close()));
  }

  /**
   * Whether `running` runs the stored `config`: the same text, or the same content sealed again (a
   * rotation), which it then adopts. A configuration it cannot open keeps the running one (logged).
   */
  private runs(running: Running, config: string): boolean {
    if (config === running.config) return true;
    let clear: string | undefined;
    try {
      clear = this.clearConfig(config, running);
    } catch (error) {
      if (running.unreadable !== config) this.log(`connector ${running.name}: keeps its running configuration: ${(error as Error).message}`);
      running.unreadable = config;
      return true;
    }
    if (clear !== running.clear) return false;
    running.config = config;
    return true;
  }

  /** Stored text as canonical clear JSON (throws UnreadableSecret when a secret cannot be opened). */
  private clearConfig(config: string, place: SecretPlace): string | undefined {
    return canonicalJson(this.secrets.open(config, place));
  }

  /** As clearConfig; undefined for a configuration that cannot be opened (the config file's version replaces it). */
  private clearConfigOrNone(config: string, place: SecretPlace): string | undefined {
    try {
      return this.clearConfig(config, place);
    } catch {
      return undefined;
    }
  }

  /** A tenant's name, which the operator's allow-lists may name as `{tenant}`. */
  private tenantName(tenantId: string): string {
    return this.store.db.select({ name: tenants.name }).from(tenants).where(eq(tenants.id, tenantId)).get()?.name ?? "";
  }

  private async launch(tenantId: string, name: string, config: string, origin: ConnectorOrigin): Promise<Running> {
    let stored = JSON.parse(config) as ConnectorSpec;
    let spec = stored;
    let refusal: string | undefined;
    try {
      stored = this.secrets.open(config, { tenantId, name });
      this.known.add(tenantId, secretValues(stored));
      // Checked at every start: a connector the operator no longer allows does not run.
      spec = await this.hostAccess.check(stored, origin, this.tenantName(tenantId));
    } catch (error) {
      refusal = redactText((error as Error).message, this.known.of(tenantId));
    }
    const connector = refusal === undefined ? await kindOf(spec).create(name, spec, { log: logInfo }) : refusedConnector(name, refusal);
    const clear = canonicalJson(stored) ?? "null";
    const running: Running = { tenantId, name, spec, config, clear, origin, connector, declared: [], tools: new Map() };
    this.running.set(runningKey(tenantId, name), running);
    if (refusal !== undefined) {
      this.log(`connector ${name} not started: ${refusal}`);
      return running;
    }
    connector.onToolsChanged = () => void this.refresh(running);
    try {
      await connector.start();
      await this.refresh(running);
    } catch (error) {
      this.log(`connector ${name}: ${(error as Error).message}`);
    }
    return running;
  }

  /** Re-reads the upstream's tools and applies the pins: new definitions of pinned tools are quarantined. */
  refresh(running: Running): Promise<void> {
    // One refresh at a time per connector; a change during one is picked up by the next.
    const previous = running.refreshing ?? Promise.resolve();
    const next = previous.then(async () => {
      if (this.closed) return;
      try {
        running.declared = (await running.connector.listTools()).filter((tool) => this.isWellFormed(running, tool));
      } catch (error) {
        this.log(`connector ${running.name}: listing tools failed: ${(error as Error).message}`);
        return;
      }
      this.applyPins(running);
    });
    running.refreshing = next;
    return next;
  }

  /**
   * Whether a declared tool's `x-mcp-header` annotations keep the rules. One that breaks them is left
   * out, as the spec tells HTTP clients to do: Invoke's own modern clients would have to drop it.
   */
  private isWellFormed(running: Running, tool: UpstreamTool): boolean {
    try {
      headerParams(tool.inputSchema);
      return true;
    } catch (error) {
      if (!(error instanceof InvalidHeaderAnnotation)) throw error;
      this.log(`connector ${running.name}: tool ${tool.name} left out: ${error.message}`);
      return false;
    }
  }

  private pins(tenantId: string, connector: string): Map<string, Pin & { tool: string }> {
    const rows = this.store.db
      .select()
      .from(connectorTools)
      .where(and(eq(connectorTools.tenantId, tenantId), eq(connectorTools.connector, connector)))
      .all();
    return new Map(rows.map((row) => [row.tool, { tool: row.tool, status: row.status, hash: row.hash, pendingHash: row.pendingHash, approvedBy: row.approvedBy, approvedAt: row.approvedAt }]));
  }

  private applyPins(running: Running): void {
    const tools = new Map<string, ProductionTool>();
    const autoEnabled = kindOf(running.spec).autoEnabledTools?.(running.spec);
    if (autoEnabled === undefined) {
      // The kind declares Invoke's own tools: nothing to pin.
      for (const tool of running.declared) tools.set(tool.name, this.productionTool(running, tool));
      running.tools = tools;
      return;
    }
    const pins = this.pins(running.tenantId, running.name);
    const autoEnable = toolNameMatcher(autoEnabled);
    const now = this.now();
    for (const tool of running.declared) {
      const hash = definitionHash(tool);
      const pin = pins.get(tool.name);
      const where = and(eq(connectorTools.tenantId, running.tenantId), eq(connectorTools.connector, running.name), eq(connectorTools.tool, tool.name));
      if (pin === undefined) {
        if (!autoEnable(tool.name)) continue;
        this.store.db
          .insert(connectorTools)
          .values({ tenantId: running.tenantId, connector: running.name, tool: tool.name, status: "enabled", definition: definitionText(tool), hash, approvedBy: "config", approvedAt: now })
          .onConflictDoNothing()
          .run();
      } else if (pin.hash !== hash) {
        if (pin.status !== "quarantined" || pin.pendingHash !== hash) {
          this.log(`connector ${running.name}: tool ${tool.name} changed its definition; quarantined until an admin approves it`);
          this.store.db.update(connectorTools).set({ status: "quarantined", pendingDefinition: definitionText(tool), pendingHash: hash }).where(where).run();
        }
        continue;
      } else if (pin.status === "quarantined") {
        // The upstream went back to the definition an admin approved.
        this.store.db.update(connectorTools).set({ status: "enabled", pendingDefinition: null, pendingHash: null }).where(where).run();
      }
      tools.set(tool.name, this.productionTool(running, tool));
    }
    running.tools = tools;
  }

  private productionTool(running: Running, tool: UpstreamTool): ProductionTool {
    const connector = running.connector;
    const timeoutMs = running.spec.timeout_ms ?? DEFAULT_TIMEOUT_MS;
    const kind = kindOf(running.spec);
    const readOnly = kind.isReadOnly(running.spec, tool.name);
    const analyzeCall = connector.analyzeCall?.bind(connector);
    return {
      name: `${running.name}.${tool.name}`,
      connector: running.name,
      title: tool.title,
      description: tool.description ?? "",
      inputSchema: tool.inputSchema,
      headerParams: headerParams(tool.inputSchema),
      readOnly,
      target: actionTarget(running.spec),
      ...(analyzeCall && { analyze: (args: Record<string, unknown>) => analyzeCall(tool.name, args) }),
      get healthy() {
        return connector.health().healthy;
      },
      call: async (args) => {
        try {
          return await connector.callTool(tool.name, args, { timeoutMs });
        } catch (error) {
          // The message reaches the agent and the record: it must not carry the connector's own credentials.
          if (error instanceof ConnectorError) throw new ConnectorError(redactText(error.message, this.known.of(running.tenantId)));
          throw error;
        }
      },
    };
  }

  /** A connector's health with its secrets redacted from the detail and warnings (a driver's message may quote its URL). */
  private healthOf(running: Running): ConnectorHealth {
    const health = running.connector.health();
    const known = this.known.of(running.tenantId);
    return {
      ...health,
      ...(health.detail !== undefined && { detail: redactText(health.detail, known) }),
      ...(health.warnings !== undefined && { warnings: health.warnings.map((warning) => redactText(warning, known)) }),
    };
  }

  // ---- administration ----

  private runningOf(scope: TenantScope, name: string): Running {
    const running = this.running.get(runningKey(scope.tenantId, name));
    if (running === undefined) throw new NotFound(`no connector named "${name}"`, "connector_not_found");
    return running;
  }

  /** The tenant's connectors with their health and tools. */
  listConnectors(scope: TenantScope): ConnectorView[] {
    const rows = this.store.db.select().from(connectors).where(scope.where(connectors)).all();
    return rows.map((row) => this.view(scope, row.name));
  }

  /** One connector. */
  view(scope: TenantScope, name: string): ConnectorView {
    const running = this.runningOf(scope, name);
    const pins = this.pins(scope.tenantId, name);
    const tools = running.declared.map((tool): ConnectorToolView => {
      const callable = running.tools.get(tool.name);
      const pin = pins.get(tool.name);
      const readOnly = kindOf(running.spec).isReadOnly(running.spec, tool.name);
      const status = callable ? "enabled" : pin?.status === "quarantined" || (pin && pin.hash !== definitionHash(tool)) ? "quarantined" : "available";
      return {
        name: tool.name,
        description: tool.description ?? "",
        read_only: readOnly,
        status,
        ...(pin && { hash: pin.hash, approved_by: pin.approvedBy, approved_at: new Date(pin.approvedAt).toISOString() }),
        ...(pin?.pendingHash && { pending_hash: pin.pendingHash }),
      };
    });
    return { name, type: running.spec.type, origin: running.origin, health: this.healthOf(running), tools };
  }

  /**
   * Adds a connector to the tenant and starts it; it is kept (and retried) even when the first start
   * fails. What it may reach on the host depends on who adds it: a tenant admin over REST (`api`), or
   * the operator with the CLI (`operator`).
   */
  async add(scope: TenantScope, input: NewConnector, origin: Exclude<ConnectorOrigin, "config">): Promise<ConnectorView> {
    const { name, ...spec } = input;
    if (!Value.Check(ConnectorSpec, spec)) throw new BadRequest("invalid connector configuration", undefined, "invalid_connector");
    // Known before anything else can fail: the record of this change, refused or not, must not show them.
    this.known.add(scope.tenantId, secretValues(spec));
    const invalid = kindOf(spec).invalid?.(spec);
    if (invalid !== undefined) throw new BadRequest(invalid, undefined, "invalid_connector");
    await this.hostAccess.check(spec, origin, this.tenantName(scope.tenantId));
    const config = this.secrets.seal(spec, { tenantId: scope.tenantId, name });
    if (!registerConnector(scope, input, origin, this.now(), config)) throw new Conflict(`a connector named "${name}" exists`, "connector_exists");
    await this.launch(scope.tenantId, name, config, origin);
    return this.view(scope, name);
  }

  /**
   * Seals every stored connector secret, all tenants, with the key file's current key, in one
   * transaction (the second step of a key rotation; clear values of older databases are sealed too).
   * Returns how many connectors were re-sealed. Throws, changing nothing, when a secret cannot be opened.
   */
  resealAll(): number {
    return this.store.sqlite.transaction(() => {
      const rows = this.store.db.select().from(connectors).all();
      for (const row of rows) {
        const place = { tenantId: row.tenantId, name: row.name };
        const config = this.secrets.seal(this.secrets.open(row.config, place), place);
        this.store.db.update(connectors).set({ config }).where(and(eq(connectors.tenantId, row.tenantId), eq(connectors.name, row.name))).run();
      }
      return rows.length;
    })();
  }

  /** Stops and removes a connector with its pins. Connectors from the config file are changed there. */
  async remove(scope: TenantScope, name: string): Promise<{ removed: string }> {
    const running = this.runningOf(scope, name);
    if (running.origin === "config") throw new InvokeError(409, "connector_from_config", `connector "${name}" comes from the config file; remove it there`);
    this.running.delete(runningKey(scope.tenantId, name));
    this.store.sqlite.transaction(() => {
      this.store.db.delete(connectorTools).where(and(scope.where(connectorTools), eq(connectorTools.connector, name))).run();
      this.store.db.delete(connectors).where(and(scope.where(connectors), eq(connectors.name, name))).run();
    })();
    await running.connector.close();
    return { removed: name };
  }

  /**
   * Enables (pins) the connector's tools matching `globs`, or approves the new definition of
   * quarantined ones: the pin becomes what the upstream declares now.
   */
  async enableTools(scope: TenantScope, name: string, globs: string[], approvedBy: string): Promise<ConnectorView> {
    const running = this.runningOf(scope, name);
    if (kindOf(running.spec).autoEnabledTools === undefined) return this.view(scope, name);
    await this.refresh(running);
    const matches = toolNameMatcher(globs);
    const chosen = running.declared.filter((tool) => matches(tool.name));
    if (chosen.length === 0) throw new NotFound(`connector "${name}" declares no tool matching ${globs.join(", ")}`, "tool_not_found");
    const now = this.now();
    this.store.sqlite.transaction(() => {
      for (const tool of chosen) {
        const values = { status: "enabled" as const, definition: definitionText(tool), hash: definitionHash(tool), pendingDefinition: null, pendingHash: null, approvedBy, approvedAt: now };
        this.store.db
          .insert(connectorTools)
          .values({ tenantId: scope.tenantId, connector: name, tool: tool.name, ...values })
          .onConflictDoUpdate({ target: [connectorTools.tenantId, connectorTools.connector, connectorTools.tool], set: values })
          .run();
      }
    })();
    this.applyPins(running);
    return this.view(scope, name);
  }
}

/** A connector the host access rules refused: never started, always unhealthy, no tools. */
function refusedConnector(name: string, reason: string): Connector {
  return {
    name,
    start: async () => {},
    listTools: async () => [],
    callTool: async () => ({ content: [{ type: "text", text: reason }], isError: true }),
    health: () => ({ healthy: false, detail: `refused: ${reason}`, restarts: 0 }),
    close: async () => {},
  };
}
