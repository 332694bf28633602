/**
 * Where connectors are kept: each tenant's connectors (their configuration as stored text, secrets
 * sealed), who defined them, and the pins of their upstream tools (enabled or quarantined). Declared
 * here, implemented by each store (`src/storage/<store>/connectors.ts`), asynchronous at the boundary.
 */
import type { ConnectorOrigin } from "./host-access.ts";

/** A connector as stored. `config`: its configuration as JSON text, its secret fields sealed. */
export interface StoredConnector {
  tenantId: string;
  name: string;
  config: string;
  origin: ConnectorOrigin;
}

/** A definition of an upstream tool as pinned: its stored text and its hash. */
export interface ToolDefinition {
  tool: string;
  definition: string;
  hash: string;
}

/** A pin: the definition an admin (or `enable_tools`) approved, and a different one the upstream declares now, if any. */
export interface ToolPin {
  tool: string;
  /** enabled: callable; quarantined: the upstream declared another definition, which waits for an admin. */
  status: "enabled" | "quarantined";
  hash: string;
  pendingHash: string | null;
  approvedBy: string;
  approvedAt: number;
}

/** What the config file's connectors change in the store, applied at once. */
export interface ConfigFileChange {
  /** Connectors from the config file that it no longer lists (left alone if not from the config file). */
  removed: { tenantId: string; name: string }[];
  /** Connectors it lists with a configuration not stored yet; they become the config file's. */
  stored: Omit<StoredConnector, "origin">[];
}

/** Connectors and their tool pins, tenant by tenant. */
export interface ConnectorRepository {
  /** One tenant's connectors, or every tenant's (start-up, reconciling). */
  list(tenantId?: string): Promise<StoredConnector[]>;
  get(tenantId: string, name: string): Promise<StoredConnector | undefined>;
  /** Stores a new connector; false (nothing changed) when the tenant has one of that name. */
  add(connector: StoredConnector, now: number): Promise<boolean>;
  /** Makes `origin` the owner of the tenant's connector `name`, if it is stored with exactly `config`. */
  adopt(tenantId: string, name: string, config: string, origin: ConnectorOrigin): Promise<void>;
  /** Applies the config file's connectors in one transaction. */
  applyConfigFile(change: ConfigFileChange, now: number): Promise<void>;
  /** Removes a connector with its pins; false when there was none. */
  remove(tenantId: string, name: string): Promise<boolean>;
  /**
   * Replaces every connector's stored configuration, all tenants, with `reseal(connector)` in one
   * transaction; when `reseal` throws, nothing changes. Returns how many connectors there were.
   */
  resealAll(reseal: (connector: StoredConnector) => string): Promise<number>;

  /** The pins of a connector's tools, by tool name. */
  pins(tenantId: string, connector: string): Promise<ToolPin[]>;
  /** Pins and enables each tool, replacing its pin (an admin's approval), in one transaction. */
  enable(tenantId: string, connector: string, tools: ToolDefinition[], approvedBy: string, approvedAt: number): Promise<void>;
  /** Pins and enables a tool seen for the first time; a tool already pinned keeps its pin. */
  enableFirstSeen(tenantId: string, connector: string, tool: ToolDefinition, approvedBy: string, approvedAt: number): Promise<void>;
  /** Quarantines a pinned tool whose upstream now declares `pending`. */
  quarantine(tenantId: string, connector: string, pending: ToolDefinition): Promise<void>;
  /** Enables a quarantined tool again: its upstream went back to the pinned definition. */
  release(tenantId: string, connector: string, tool: string): Promise<void>;
  /** The tenant's quarantined tools. */
  quarantined(tenantId: string): Promise<{ connector: string; tool: string }[]>;

  /** The tenant's name, which the operator's host access allow-lists may name as `{tenant}` (empty when unknown). */
  tenantName(tenantId: string): Promise<string>;
}
