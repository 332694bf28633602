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
import type { TenantRef } from "../governance/caller.ts";
import { Value } from "@sinclair/typebox/value";
import { randomBytes } from "node:crypto";
import { BadRequest, Conflict, InvokeError, NotFound } from "../errors.ts";
import { toolNameMatcher } from "../governance/authorize.ts";
import { headerParams, InvalidHeaderAnnotation } from "../protocol/param-headers.ts";
import type { ProductionTool } from "../tools/model.ts";
import type { ActionTarget } from "../policy/analyzers/index.ts";
import { canonicalJson, digestOf } from "../records/canonical.ts";
import { KnownSecrets } from "../records/known-secrets.ts";
import { redactText } from "../records/redact.ts";
import { ConnectorError, type Connector, type ConnectorHealth, type UpstreamTool } from "./connector.ts";
import { HostAccess, type ConnectorOrigin } from "./host-access.ts";
import { actionTarget, kindOf } from "./model.ts";
import { DEFAULT_TIMEOUT_MS } from "./kinds/kind.ts";
import { ConnectorSpec, type ConfigConnector, type NewConnector } from "./model.ts";
import { logInfo } from "../log.ts";
import type { ConnectorRepository, ToolPin } from "./repository.ts";
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

/** The tenant an administrative call acts for (a tenant scope). */
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
  /** The last refresh or re-pin queued: they run one at a time (see serially). */
  refreshing?: Promise<void>;
}

/** What a definition's pin covers. */
export function definitionHash(tool: UpstreamTool): string {
  return digestOf({ name: tool.name, title: tool.title ?? null, description: tool.description ?? null, inputSchema: tool.inputSchema, outputSchema: tool.outputSchema ?? null });
}

/** A definition as pinned: its stored text and hash. */
const pinned = (tool: UpstreamTool) => ({ tool: tool.name, definition: canonicalJson(tool) ?? "null", hash: definitionHash(tool) });

const runningKey = (tenantId: string, name: string) => `${tenantId}\u0000${name}`;

/** Tenants' connectors and the production catalog they make. */
export class ConnectorService {
  private readonly running = new Map<string, Running>();
  private closed = false;

  constructor(
    private readonly stored: ConnectorRepository,
    /** What connectors may touch on the host (it knows where the store is). */
    private readonly hostAccess: HostAccess,
    private readonly now: () => number = Date.now,
    private readonly logLine: (line: string) => void = () => {},
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
   * What kind of tool each action (`<connector>.<tool>`) names by its connector's configuration, running
   * or not (a connector that is down is still a database): undefined when the tenant has no such connector.
   */
  async targets(tenantId: string): Promise<(action: string) => ActionTarget | undefined> {
    const stored = new Map((await this.stored.list(tenantId)).map((row) => [row.name, row.config]));
    return (action) => {
      const name = connectorOf(action);
      return this.targetFrom(tenantId, name, stored.get(name));
    };
  }

  /** The target of one action (see `targets`): the running connector's, else its stored config's. */
  async targetOf(tenantId: string, action: string): Promise<ActionTarget | undefined> {
    const name = connectorOf(action);
    const config = this.running.has(runningKey(tenantId, name)) ? undefined : (await this.stored.get(tenantId, name))?.config;
    return this.targetFrom(tenantId, name, config);
  }

  /** A running connector's target, else the stored `config`'s. */
  private targetFrom(tenantId: string, name: string, config: string | undefined): ActionTarget | undefined {
    const running = this.running.get(runningKey(tenantId, name));
    if (running !== undefined) return actionTarget(running.spec);
    return config === undefined ? undefined : actionTarget(JSON.parse(config) as ConnectorSpec);
  }

  /** The tenant's tools, running or not, that run SQL as the agent writes it, writes included (readiness probes them). */
  async sqlWriteActions(tenantId: string): Promise<string[]> {
    const rows = await this.stored.list(tenantId);
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
  async syncConfig(entries: ConfigConnector[], tenantIdByName: (name: string) => string): Promise<void> {
    const listed = entries.map(({ name, tenant, ...spec }) => ({ tenantId: tenantIdByName(tenant ?? "default"), name, spec: spec as ConnectorSpec }));
    const existing = new Map((await this.stored.list()).map((row) => [runningKey(row.tenantId, row.name), row]));
    const keys = new Set(listed.map((entry) => runningKey(entry.tenantId, entry.name)));
    const removed = [...existing].filter(([key, row]) => row.origin === "config" && !keys.has(key)).map(([, row]) => row);
    // Unchanged: left as stored, so a fresh nonce does not make every replica restart it.
    const unchanged = ({ tenantId, name, spec }: (typeof listed)[number]) => {
      const row = existing.get(runningKey(tenantId, name));
      return row?.origin === "config" && this.clearConfigOrNone(row.config, { tenantId, name }) === canonicalJson(spec);
    };
    const stored = listed.filter((entry) => !unchanged(entry)).map(({ tenantId, name, spec }) => ({ tenantId, name, config: this.secrets.seal(spec, { tenantId, name }) }));
    await this.stored.applyConfigFile({ removed, stored }, this.now());
  }

  /**
   * Makes the running connectors what the store holds (all tenants', or one tenant's): starts new ones,
   * stops removed ones, restarts changed ones and re-applies everyone's pins. At start-up this starts
   * every connector; the server repeats it every few seconds, which is how changes made by the CLI in
   * another process take effect. Resolves when each started connector has made its first attempt.
   */
  async reconcile(tenantId?: string): Promise<void> {
    if (this.closed) return;
    const rows = await this.stored.list(tenantId);
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
        return running === undefined ? this.launch(row.tenantId, row.name, row.config, row.origin) : this.serially(running, () => this.applyPins(running));
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

  private async launch(tenantId: string, name: string, config: string, origin: ConnectorOrigin): Promise<Running> {
    let stored = JSON.parse(config) as ConnectorSpec;
    let spec = stored;
    let refusal: string | undefined;
    try {
      stored = this.secrets.open(config, { tenantId, name });
      this.known.add(tenantId, secretValues(stored));
      // Checked at every start: a connector the operator no longer allows does not run.
      spec = await this.hostAccess.check(stored, origin, await this.stored.tenantName(tenantId));
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
    return this.serially(running, async () => {
      try {
        running.declared = (await running.connector.listTools()).filter((tool) => this.isWellFormed(running, tool));
      } catch (error) {
        this.log(`connector ${running.name}: listing tools failed: ${(error as Error).message}`);
        return;
      }
      await this.applyPins(running);
    });
  }

  /** Runs `work` on a connector's tools after what runs on them already: one refresh or re-pin at a time, each seeing the pins the last one stored. */
  private serially(running: Running, work: () => Promise<void>): Promise<void> {
    // After the previous one settles, failed or not: its caller has its error.
    const run = () => (this.closed ? undefined : work());
    const next = (running.refreshing ?? Promise.resolve()).then(run, run);
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

  private async pins(tenantId: string, connector: string): Promise<Map<string, ToolPin>> {
    return new Map((await this.stored.pins(tenantId, connector)).map((pin) => [pin.tool, pin]));
  }

  private async applyPins(running: Running): Promise<void> {
    const tools = new Map<string, ProductionTool>();
    const autoEnabled = kindOf(running.spec).autoEnabledTools?.(running.spec);
    if (autoEnabled === undefined) {
      // The kind declares Invoke's own tools: nothing to pin.
      for (const tool of running.declared) tools.set(tool.name, this.productionTool(running, tool));
      running.tools = tools;
      return;
    }
    const { tenantId, name } = running;
    const pins = await this.pins(tenantId, name);
    const autoEnable = toolNameMatcher(autoEnabled);
    const now = this.now();
    for (const tool of running.declared) {
      const hash = definitionHash(tool);
      const pin = pins.get(tool.name);
      if (pin === undefined) {
        if (!autoEnable(tool.name)) continue;
        await this.stored.enableFirstSeen(tenantId, name, pinned(tool), "config", now);
      } else if (pin.hash !== hash) {
        if (pin.status !== "quarantined" || pin.pendingHash !== hash) {
          this.log(`connector ${name}: tool ${tool.name} changed its definition; quarantined until an admin approves it`);
          await this.stored.quarantine(tenantId, name, pinned(tool));
        }
        continue;
      } else if (pin.status === "quarantined") {
        // The upstream went back to the definition an admin approved.
        await this.stored.release(tenantId, name, tool.name);
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

  private runningOf(scope: TenantRef, name: string): Running {
    const running = this.running.get(runningKey(scope.tenantId, name));
    if (running === undefined) throw new NotFound(`no connector named "${name}"`, "connector_not_found");
    return running;
  }

  /** The tenant's connectors with their health and tools. */
  async listConnectors(scope: TenantRef): Promise<ConnectorView[]> {
    const rows = await this.stored.list(scope.tenantId);
    return Promise.all(rows.map((row) => this.view(scope, row.name)));
  }

  /** One connector. */
  async view(scope: TenantRef, name: string): Promise<ConnectorView> {
    const running = this.runningOf(scope, name);
    const pins = await this.pins(scope.tenantId, name);
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
  async add(scope: TenantRef, input: NewConnector, origin: Exclude<ConnectorOrigin, "config">): Promise<ConnectorView> {
    const { name, ...spec } = input;
    if (!Value.Check(ConnectorSpec, spec)) throw new BadRequest("invalid connector configuration", undefined, "invalid_connector");
    // Known before anything else can fail: the record of this change, refused or not, must not show them.
    this.known.add(scope.tenantId, secretValues(spec));
    const invalid = kindOf(spec).invalid?.(spec);
    if (invalid !== undefined) throw new BadRequest(invalid, undefined, "invalid_connector");
    await this.hostAccess.check(spec, origin, await this.stored.tenantName(scope.tenantId));
    const config = this.secrets.seal(spec, { tenantId: scope.tenantId, name });
    if (!(await this.stored.add({ tenantId: scope.tenantId, name, config, origin }, this.now()))) throw new Conflict(`a connector named "${name}" exists`, "connector_exists");
    await this.launch(scope.tenantId, name, config, origin);
    return this.view(scope, name);
  }

  /**
   * Seals every stored connector secret, all tenants, with the key file's current key, in one
   * transaction (the second step of a key rotation; clear values of older databases are sealed too).
   * Returns how many connectors were re-sealed. Throws, changing nothing, when a secret cannot be opened.
   */
  resealAll(): Promise<number> {
    return this.stored.resealAll((row) => this.secrets.seal(this.secrets.open(row.config, row), row));
  }

  /** Stops and removes a connector with its pins. Connectors from the config file are changed there. */
  async remove(scope: TenantRef, name: string): Promise<{ removed: string }> {
    const running = this.runningOf(scope, name);
    if (running.origin === "config") throw new InvokeError(409, "connector_from_config", `connector "${name}" comes from the config file; remove it there`);
    this.running.delete(runningKey(scope.tenantId, name));
    await this.stored.remove(scope.tenantId, name);
    await running.connector.close();
    return { removed: name };
  }

  /**
   * Enables (pins) the connector's tools matching `globs`, or approves the new definition of
   * quarantined ones: the pin becomes what the upstream declares now.
   */
  async enableTools(scope: TenantRef, name: string, globs: string[], approvedBy: string): Promise<ConnectorView> {
    const running = this.runningOf(scope, name);
    if (kindOf(running.spec).autoEnabledTools === undefined) return this.view(scope, name);
    await this.refresh(running);
    const matches = toolNameMatcher(globs);
    const chosen = running.declared.filter((tool) => matches(tool.name));
    if (chosen.length === 0) throw new NotFound(`connector "${name}" declares no tool matching ${globs.join(", ")}`, "tool_not_found");
    await this.stored.enable(scope.tenantId, name, chosen.map(pinned), approvedBy, this.now());
    await this.serially(running, () => this.applyPins(running));
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

/** The connector an action names (`database` in `database.execute`; empty for a name without a dot). */
function connectorOf(action: string): string {
  return action.slice(0, Math.max(action.indexOf("."), 0));
}
