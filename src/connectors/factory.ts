/** Builds the connector for a configuration: one place that knows every kind. */
import type { Connector } from "./connector.ts";
import { DatabaseConnector } from "./database.ts";
import { McpHttpConnector, McpStdioConnector } from "./mcp.ts";
import type { ConnectorSpec } from "./model.ts";
import { logInfo } from "../log.ts";

/** A new, not yet started connector. */
export function createConnector(name: string, spec: ConnectorSpec): Connector {
  switch (spec.type) {
    case "database":
      return new DatabaseConnector(name, spec);
    case "mcp_stdio":
      return new McpStdioConnector(name, spec, { log: logInfo });
    case "mcp_http":
      return new McpHttpConnector(name, spec, { log: logInfo });
  }
}
