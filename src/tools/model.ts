/**
 * The one tool model: every tool an agent can name — one of Invoke's own or a production tool behind a
 * connector — is a `Tool` carrying everything the governed call path needs: the scope a key must
 * hold, Invoke's classification, whether policy governs it, its argument checker and how it runs.
 */
import type { UpstreamResult } from "../connectors/connector.ts";
import type { Authorizable } from "../governance/authorize.ts";
import type { Caller } from "../governance/caller.ts";
import type { ActionTarget, Analysis } from "../policy/analyzers/index.ts";
import type { HeaderParam } from "../protocol/param-headers.ts";
import { cutText } from "../text.ts";

/** One failing argument: where, and what is wrong. */
export interface ArgumentError {
  path: string;
  message: string;
}

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
  /** The target of one action (see `targets`), reading at most its own connector. */
  targetOf(tenantId: string, action: string): Promise<ActionTarget | undefined>;
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

/** Longer than any tool's name can be (a connector's name, a dot and an upstream's tool name). */
const MAX_SHOWN_NAME = 256;

/**
 * A tool name as records, logs, spans and refusals show it: an agent's name of any length is cut to a
 * bounded one, so a megabyte-long name is neither stored twice per call nor echoed back.
 */
export function shownToolName(name: string): string {
  return cutText(name, MAX_SHOWN_NAME);
}

/** What an unknown name would be if it named a production tool: mutating, behind tools:call and allowed_tools. */
export function unknownTool(name: string): Authorizable {
  return { name, scope: "tools:call", readOnly: false, touchesCompanyData: true };
}

