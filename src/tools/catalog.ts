/**
 * The production tools behind Invoke, as the control plane sees them: each with Invoke's own
 * classification. The connector service (`src/connectors/service.ts`) fills it with the enabled,
 * unquarantined tools of each tenant's connectors; a tenant without connectors has none, and every
 * action it asks about is unknown, which policy treats as mutating.
 */
import type { UpstreamResult } from "../connectors/connector.ts";
import type { ArgumentError } from "./registry.ts";

/** A production tool, named `<connector>.<tool>`. */
export interface ProductionTool {
  name: string;
  connector: string;
  title?: string;
  description: string;
  /** The upstream's input schema, as it declared it (and as it was pinned). */
  inputSchema: Record<string, unknown>;
  /** Invoke's classification from the connector's configuration, never the upstream's hints. */
  readOnly: boolean;
  /** Checks arguments against the tool's input schema (compiled once, by whoever registers the tool). */
  checkArguments?(args: unknown): ArgumentError[];
  readonly healthy: boolean;
  /** Runs the tool on its production system (only after authorisation, policy and approvals). */
  call(args: Record<string, unknown>): Promise<UpstreamResult>;
}

/** Where production tools are looked up. */
export interface ProductionCatalog {
  list(tenantId: string): ProductionTool[];
  get(tenantId: string, name: string): ProductionTool | undefined;
}

/** The catalog of a server without connectors. */
export const emptyCatalog: ProductionCatalog = {
  list: () => [],
  get: () => undefined,
};
