/**
 * What Invoke needs of a connector: the production system behind a group of tools named
 * `<connector>.<tool>`. Upstream MCP servers (stdio, Streamable HTTP) and SQL databases implement it;
 * the connector service (`service.ts`) owns their lifecycle, pinning and classification.
 */

/** A tool as the connector declares it (name without the connector prefix). */
export interface UpstreamTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  /** Kept for display only: Invoke never classifies a tool by its upstream's hints. */
  annotations?: Record<string, unknown>;
}

/** A `tools/call` result as the upstream returned it; passed to the agent as it came. */
export interface UpstreamResult {
  content: unknown[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  [extra: string]: unknown;
}

/** How a connector is doing, for preflight and tools.search. */
export interface ConnectorHealth {
  healthy: boolean;
  /** Why not, or what it is connected to. */
  detail?: string;
  /** How often the upstream was restarted or reconnected since the server started. */
  restarts: number;
  /** Governance gaps the connector found in its own set-up (e.g. a database role that is a superuser). */
  warnings?: string[];
}

/** A connector's failure to deliver a call (upstream died, timed out, unreachable): the agent gets an isError result. */
export class ConnectorError extends Error {
  override name = "ConnectorError";
}

/** One running connector. */
export interface Connector {
  readonly name: string;
  /** Connects or spawns; rejects if the first attempt fails (the connector keeps retrying with backoff). */
  start(): Promise<void>;
  /** The tools the upstream declares now. */
  listTools(): Promise<UpstreamTool[]>;
  /** Calls one tool; rejects with ConnectorError when the call could not be delivered or answered in time. */
  callTool(name: string, args: Record<string, unknown>, options: { timeoutMs: number }): Promise<UpstreamResult>;
  health(): ConnectorHealth;
  /** Stops the upstream for good (children reaped, connections closed). */
  close(): Promise<void>;
  /**
   * The facts policy decides a call on, when the connector can gather them better than the analysers
   * (a database asks its own engine): `{ sql: {...} }`. Runs nothing.
   */
  analyzeCall?(tool: string, args: Record<string, unknown>): Promise<Record<string, Record<string, unknown>>>;
  /** Set by the service: called when the upstream's tool list may have changed (list_changed, restart). */
  onToolsChanged?: () => void;
}
