/**
 * A production tool behind Invoke, as the control plane sees it: with Invoke's own classification.
 * The connector service (`src/connectors/service.ts`) makes them from each tenant's enabled,
 * unquarantined connector tools; an action that names none is unknown, which policy treats as mutating.
 */
import type { UpstreamResult } from "../connectors/connector.ts";
import type { HeaderParam } from "../protocol/param-headers.ts";
import type { ArgumentError } from "./registry.ts";
import type { ActionTarget, Analysis } from "../policy/analyzers/index.ts";

/** A production tool, named `<connector>.<tool>`. */
export interface ProductionTool {
  name: string;
  connector: string;
  title?: string;
  description: string;
  /** The upstream's input schema, as it declared it (and as it was pinned). */
  inputSchema: Record<string, unknown>;
  /** Arguments the schema mirrors into `Mcp-Param-*` headers (modern-era HTTP checks them against the body). */
  headerParams?: readonly HeaderParam[];
  /** Invoke's classification from the connector's configuration, never the upstream's hints. */
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
