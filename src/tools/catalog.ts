/**
 * The production tools behind Invoke, as the control-plane tools see them: each with Invoke's own
 * classification. Connectors (the execution-layer issue) fill it; until a tenant configures one, it
 * is empty and every action is unknown, which policy treats as mutating.
 */
import type { ArgumentError } from "./registry.ts";

/** A production tool, named `<connector>.<tool>`. */
export interface ProductionTool {
  name: string;
  connector: string;
  description: string;
  /** Invoke's classification from the connector's configuration, never the upstream's hints. */
  readOnly: boolean;
  /** Checks arguments against the tool's input schema (compiled once, by whoever registers the tool). */
  checkArguments?(args: unknown): ArgumentError[];
  healthy: boolean;
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
