/** Flags that several commands share, defined once. */
import { readConfigFile, resolveConfig, type ServerConfig } from "../config.ts";
import { parsePort, type FlagSpec } from "./command.ts";

/** `--db PATH`: the SQLite file. */
export const dbFlag: FlagSpec = { type: "string", env: "INVOKE_DB", value: "PATH", help: "SQLite database file (created if missing; default invoke.db)." };

/** `--json`: machine-readable output. */
export const jsonFlag: FlagSpec = { type: "boolean", help: "Print machine-readable JSON." };

/** `--config FILE`: YAML or JSON settings. */
export const configFlag: FlagSpec = { type: "string", env: "INVOKE_CONFIG", value: "FILE", help: "Configuration file (YAML or JSON)." };

/** `--tenant NAME`: which tenant of the local database an admin command acts on. */
export const tenantFlag: FlagSpec = { type: "string", env: "INVOKE_TENANT", value: "NAME", default: "default", help: "Tenant to act on." };

/** The configuration from `--config`, the environment-backed flags and the defaults. */
export async function loadConfig(values: Record<string, string | boolean | undefined>): Promise<ServerConfig> {
  const file = typeof values.config === "string" ? await readConfigFile(values.config) : {};
  return resolveConfig(file, {
    host: values.host as string | undefined,
    port: parsePort(values.port),
    db: values.db as string | undefined,
  });
}
