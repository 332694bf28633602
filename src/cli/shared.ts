/** What several commands share: flags, configuration loading and running on the local store. */
import { userInfo } from "node:os";
import { DEFAULT_CONFIG, LOG_LEVELS, readConfigFile, resolveConfig, type LogLevel, type ServerConfig } from "../config.ts";
import { otlpTracesEndpointFromEnv } from "../observability/tracing.ts";
import { keyFilePath } from "../governance/key-file.ts";
import { recordAdminChange } from "../records/admin-change.ts";
import { InvokeError } from "../errors.ts";
import { isInitialised } from "../governance/bootstrap.ts";
import { tenantIdByName } from "../governance/directory.ts";
import type { TenantRef } from "../governance/caller.ts";
import type { DirectoryRepository } from "../governance/repository.ts";
import { createServices, type Services } from "../services.ts";
import { openStore, type Store } from "../storage/sqlite/db.ts";
import { sqliteRepositories } from "../storage/sqlite/index.ts";
import { CommandFailure, parsePort, UsageError, type FlagSpec } from "./command.ts";

/** `--db PATH`: the SQLite file. */
export const dbFlag: FlagSpec = { type: "string", env: "INVOKE_DB", value: "PATH", help: "SQLite database file (created if missing; default invoke.db)." };

/** `--json`: machine-readable output. */
export const jsonFlag: FlagSpec = { type: "boolean", help: "Print machine-readable JSON." };

/** `--config FILE`: YAML or JSON settings. */
export const configFlag: FlagSpec = { type: "string", env: "INVOKE_CONFIG", value: "FILE", help: "Configuration file (YAML or JSON)." };

/** `--tenant NAME`: which tenant of the local database an admin command acts on. */
export const tenantFlag: FlagSpec = { type: "string", env: "INVOKE_TENANT", value: "NAME", default: "default", help: "Tenant to act on." };

/** The configuration from `--config`, the environment-backed flags and the defaults. */
export async function loadConfig(values: Record<string, string | boolean | undefined>, env: Record<string, string | undefined> = process.env): Promise<ServerConfig> {
  const file = typeof values.config === "string" ? await readConfigFile(values.config) : {};
  const config = resolveConfig(file, {
    host: values.host as string | undefined,
    port: parsePort(values.port),
    db: values.db as string | undefined,
  });
  const level = env.INVOKE_LOG_LEVEL;
  if (level) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`INVOKE_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`);
    config.logLevel = level as LogLevel;
  }
  if (env.INVOKE_PUBLIC_URL) {
    if (!/^https?:\/\/[^/]/.test(env.INVOKE_PUBLIC_URL)) throw new UsageError("INVOKE_PUBLIC_URL must be an http(s) URL, e.g. https://invoke.example.com");
    config.publicUrl = env.INVOKE_PUBLIC_URL;
  }
  config.keyFile = keyFilePath({ keyFile: config.keyFile, configPath: values.config as string | undefined, db: config.db }, env);
  // INVOKE_OTLP_ENDPOINT, then the config file, then the standard OpenTelemetry variables.
  const endpoint = env.INVOKE_OTLP_ENDPOINT || config.tracing.endpoint || otlpTracesEndpointFromEnv(env);
  if (endpoint) config.tracing = { ...config.tracing, endpoint };
  return config;
}

/**
 * Runs `work` on the initialised local store named by `--db`, closing it once `work` (sync or async)
 * is done. Service errors become one-line failures (exit 1); `describe` may render some errors more fully first.
 */
export async function withStore<T>(
  values: Record<string, string | boolean | undefined>,
  work: (store: Store, path: string) => T | Promise<T>,
  describe?: (error: unknown) => unknown,
): Promise<T> {
  const path = (values.db as string | undefined) ?? DEFAULT_CONFIG.db;
  const store = openStore(path, { mustExist: true });
  try {
    if (!(await isInitialised(sqliteRepositories(store).directory))) throw new CommandFailure(`database ${path} is not initialised; run 'invoke init' first`);
    return await work(store, path);
  } catch (error) {
    const described = describe ? describe(error) : error;
    throw described instanceof InvokeError ? new CommandFailure(described.message) : described;
  } finally {
    store.close();
  }
}

/** `--demo`: load the demo company. */
export const demoFlag: FlagSpec = { type: "boolean", env: "INVOKE_DEMO", help: "Also load the demo company (customers incl. Acme, contacts, invoices) into the first tenant." };

/** Runs `work` (as `withStore`) on the local directory and the id of the tenant named by `--tenant`. */
export function withDirectory<T>(
  values: Record<string, string | boolean | undefined>,
  work: (directory: DirectoryRepository, tenantId: string) => T | Promise<T>,
): Promise<T> {
  return withStore(values, async (store) => {
    const { directory } = sqliteRepositories(store);
    return work(directory, await tenantIdByName(directory, values.tenant as string));
  });
}

/**
 * Runs `work` with the services of the local store (as `withStore`) and the tenant named by `--tenant`;
 * afterwards stops any connector it started and commits its records.
 */
export function withServices<T>(
  values: Record<string, string | boolean | undefined>,
  work: (services: Services, tenant: TenantRef) => T | Promise<T>,
  describe?: (error: unknown) => unknown,
): Promise<T> {
  return withLocalServices(values, async (services) => work(services, { tenantId: await tenantIdByName(services.directory, values.tenant as string) }), describe);
}

/** As `withServices`, for commands that act on no tenant named by `--tenant` (e.g. creating one). */
export function withLocalServices<T>(
  values: Record<string, string | boolean | undefined>,
  work: (services: Services) => T | Promise<T>,
  describe?: (error: unknown) => unknown,
): Promise<T> {
  return withStore(
    values,
    async (store, path) => {
      // The same key file the server uses: the config file's key_file, INVOKE_KEY_FILE, beside the config, or beside the database.
      const file = typeof values.config === "string" ? await readConfigFile(values.config) : {};
      const keyFile = keyFilePath({ keyFile: file.key_file, db: path, configPath: values.config as string | undefined }, process.env);
      const services = createServices({ store, config: { ...DEFAULT_CONFIG, db: path, keyFile } });
      try {
        return await work(services);
      } finally {
        await services.connectors.close();
        await services.records.flush();
      }
    },
    describe,
  );
}

/** The operating-system user running the CLI: the actor of its changes, as there is no key. */
export function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (some containers): the environment is the next best witness.
    return process.env.USER ?? process.env.USERNAME ?? "unknown";
  }
}

/**
 * Runs an admin change made on the CLI and records it as REST records the same change (`route`,
 * params, body, outcome), with the CLI and the operating-system user as the client
 * (`invoke users (cli) as alice`): refused changes are recorded too.
 */
export async function recordedChange<T>(
  services: Services,
  tenant: TenantRef,
  change: { client: string; route: string; params: Record<string, unknown>; body: unknown },
  work: () => T | Promise<T>,
): Promise<T> {
  const started = performance.now();
  const record = (error: string | null) =>
    recordAdminChange(services.records, { tenantId: tenant.tenantId, keyId: "cli", clientName: `${change.client} as ${osUser()}`, route: change.route, params: change.params, body: change.body, ok: error === null, error, latencyMs: performance.now() - started });
  try {
    const result = await work();
    await record(null);
    return result;
  } catch (error) {
    await record((error as Error).message);
    throw error;
  }
}

/** Prints `data` as JSON with `--json`, otherwise the human text; returns exit code 0. */
export function output(values: Record<string, string | boolean | undefined>, data: unknown, human: string | (() => string)): number {
  console.log(values.json ? JSON.stringify(data) : typeof human === "string" ? human : human());
  return 0;
}

/**
 * A serving command is ready: back to the normal JIT policy. The compiled binary starts with JIT tier-up
 * thresholds scaled up (`--compile-jit-policy`, BUILD_ARGS in scripts/release.ts) so that run-once start-up
 * code is not compiled by the JIT (the cold-start target); requests must be, at the normal thresholds.
 */
export function startupDone(): void {
  Bun.unsafe.setJITPolicy(1);
}
