/**
 * Server configuration: defaults, overridden by a config file (YAML or JSON, validated), overridden by
 * environment variables, overridden by command-line flags.
 */
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { StartupError } from "./errors.ts";
import { ConfigConnector } from "./connectors/model.ts";
import { TenantConnectorsSchema, type TenantConnectors } from "./connectors/host-access.ts";
import type { RateLimit } from "./governance/profiles.ts";
import { rangeProblem } from "./address-ranges.ts";

export const LOG_LEVELS = ["info", "warn", "error", "off"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RateLimitSchema = Type.Object(
  {
    requests: Type.Integer({ minimum: 1, description: "Requests admitted per window (the bucket size)." }),
    per_seconds: Type.Integer({ minimum: 1, description: "The window in seconds over which the bucket refills." }),
  },
  { additionalProperties: false },
);

/** The config file's shape. Every field is optional. */
export const ConfigFileSchema = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    db: Type.Optional(Type.String({ minLength: 1 })),
    allowed_origins: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'Origins allowed to call the MCP endpoint; "*" globs allowed, e.g. "https://*.example.com". Loopback origins are allowed by default.',
      }),
    ),
    max_body_bytes: Type.Optional(Type.Integer({ minimum: 1024 })),
    rate_limit: Type.Optional(RateLimitSchema),
    profile_rate_limits: Type.Optional(Type.Record(Type.String(), RateLimitSchema, { description: "Per key profile, overrides rate_limit." })),
    connectors: Type.Optional(Type.Array(ConfigConnector, { description: "Connectors per tenant (by name, default `default`); synced into the database at start." })),
    tenant_connectors: Type.Optional(TenantConnectorsSchema),
    public_url: Type.Optional(
      Type.String({ pattern: "^https?://[^\\s/?#@]+(/[^\\s?#]*)?$", description: "The URL clients reach this server at, e.g. https://invoke.example.com; names the endpoint in the discovery document (default: relative paths)." }),
    ),
    trusted_proxies: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: "Reverse proxies in front of Invoke (addresses or CIDRs, e.g. 10.0.0.0/8): only from these TCP peers are X-Forwarded-For / Forwarded read for the client address (default: none, the headers are ignored).",
      }),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          cert: Type.String({ minLength: 1, description: "PEM certificate (chain, leaf first) file." }),
          key: Type.String({ minLength: 1, description: "PEM private key file (unencrypted)." }),
        },
        { additionalProperties: false, description: "Serve HTTPS; both files are read again on SIGHUP." },
      ),
    ),
    key_file: Type.Optional(Type.String({ minLength: 1, description: "The key file (connector secrets' keys, the checkpoint signing key); default: invoke.keys beside this file." })),
    checkpoints: Type.Optional(
      Type.Object(
        {
          file: Type.Optional(Type.String({ minLength: 1, description: "The signed checkpoint log (JSON Lines, append-only); default: <db>.checkpoints.jsonl." })),
          interval_seconds: Type.Optional(Type.Integer({ minimum: 1, description: "How often a serving process checkpoints the heads that moved (default 60)." })),
          burst_records: Type.Optional(Type.Integer({ minimum: 1, description: "Also checkpoint as soon as this many records were appended since the last checkpoint (default 1000)." })),
          witness_url: Type.Optional(Type.String({ pattern: "^https?://", description: "POST every signed checkpoint (JSON) to this URL; failures are logged and retried." })),
          syslog: Type.Optional(Type.String({ pattern: "^(udp|tcp)://", description: "Send every signed checkpoint as an RFC 5424 message to udp://HOST:PORT or tcp://HOST:PORT." })),
        },
        { additionalProperties: false },
      ),
    ),
    approvals: Type.Optional(
      Type.Object(
        { ttl_minutes: Type.Optional(Type.Integer({ minimum: 1, description: "How long an approval request waits before it expires (default 1440, a day)." })) },
        { additionalProperties: false },
      ),
    ),
    log: Type.Optional(
      Type.Object(
        {
          level: Type.Optional(Type.Union(LOG_LEVELS.map((level) => Type.Literal(level)), { description: "info (a line per request, the default), warn, error or off." })),
          format: Type.Optional(Type.Union([Type.Literal("auto"), Type.Literal("json"), Type.Literal("pretty")], { description: "auto (default): pretty on a terminal, JSON lines otherwise." })),
        },
        { additionalProperties: false },
      ),
    ),
    metrics: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean({ description: "Keep and serve metrics (default true); false turns GET /metrics into a 404 and counts nothing." })),
          require_key: Type.Optional(Type.Boolean({ description: "GET /metrics needs an API key with scope traces:read (default false: open, like /healthz)." })),
        },
        { additionalProperties: false },
      ),
    ),
    tracing: Type.Optional(
      Type.Object(
        {
          otlp_endpoint: Type.Optional(Type.String({ minLength: 1, description: "OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces; no endpoint, no tracing." })),
          service_name: Type.Optional(Type.String({ minLength: 1 })),
          headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "Sent with every export, e.g. an authorization header." })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ConfigFile = Static<typeof ConfigFileSchema>;

/** The resolved configuration the server runs with. */
export interface ServerConfig {
  host: string;
  port: number;
  db: string;
  allowedOrigins: string[];
  maxBodyBytes: number;
  /** Requests per window for every caller, unless its profile says otherwise. */
  rateLimit: RateLimit;
  profileRateLimits: Record<string, RateLimit>;
  connectors: ConfigConnector[];
  /** What connectors added by tenant admins may reach on the host (nothing by default). */
  tenantConnectors: TenantConnectors;
  /** The URL clients reach this server at (http or https, no query): the discovery document names the endpoint from it. */
  publicUrl?: string;
  /** Addresses and CIDRs of the reverse proxies whose forwarding headers name the client. */
  trustedProxies: string[];
  /** Certificate and key files for HTTPS (paths as given, relative to the working folder). */
  tls?: { cert: string; key: string };
  /** The key file's path; default beside the database (`<db>.keys`). */
  keyFile?: string;
  /** The signed checkpoints of every tenant's chain head (src/records/checkpoints.ts). */
  checkpoints: CheckpointConfig;
  /** How long approval requests wait, in ms. */
  approvalTtlMs: number;
  logLevel: LogLevel;
  logFormat: "auto" | "json" | "pretty";
  /** Whether metrics are kept and served at GET /metrics. */
  metricsEnabled: boolean;
  /** Whether GET /metrics needs a key (scope traces:read). */
  metricsRequireKey: boolean;
  tracing: { endpoint?: string; serviceName: string; headers: Record<string, string> };
}

/** Where and how often the chain heads are checkpointed, and the witnesses that receive them. */
export interface CheckpointConfig {
  /** Default: `<db>.checkpoints.jsonl`. */
  file?: string;
  intervalMs: number;
  burstRecords: number;
  witnessUrl?: string;
  /** `udp://HOST:PORT` or `tcp://HOST:PORT`. */
  syslog?: string;
}

/** Loopback origins on any port: what a local browser-based client sends. */
export const DEFAULT_ALLOWED_ORIGINS = ["http://localhost", "http://localhost:*", "http://127.0.0.1", "http://127.0.0.1:*", "http://[::1]", "http://[::1]:*"];

/** Defaults for everything. */
export const DEFAULT_CONFIG: ServerConfig = {
  host: "127.0.0.1",
  port: 8787,
  db: "invoke.db",
  allowedOrigins: DEFAULT_ALLOWED_ORIGINS,
  maxBodyBytes: 1024 * 1024,
  rateLimit: { requests: 60, per_seconds: 60 },
  profileRateLimits: {},
  connectors: [],
  tenantConnectors: {},
  trustedProxies: [],
  checkpoints: { intervalMs: 60_000, burstRecords: 1000 },
  approvalTtlMs: 24 * 3_600_000,
  logLevel: "info",
  logFormat: "auto",
  metricsEnabled: true,
  metricsRequireKey: false,
  tracing: { serviceName: "invoke", headers: {} },
};

/** Reads and validates a config file; errors name the file and the field. */
export async function readConfigFile(path: string): Promise<ConfigFile> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new StartupError(`config file ${path} does not exist`);
  // The YAML parser is loaded only when a config file is read: start-up without one does not pay for it.
  const { parse: parseYaml } = await import("yaml");
  let raw: unknown;
  try {
    raw = parseYaml(await file.text());
  } catch (error) {
    throw new StartupError(`config file ${path} is not valid YAML/JSON: ${(error as Error).message.split("\n")[0]}`);
  }
  raw ??= {};
  const firstError = Value.Errors(ConfigFileSchema, raw).First();
  if (firstError) throw new StartupError(`config file ${path}: ${firstError.path || "/"}: ${firstError.message}`);
  for (const [index, entry] of ((raw as ConfigFile).trusted_proxies ?? []).entries()) {
    const problem = rangeProblem(entry);
    if (problem) throw new StartupError(`config file ${path}: /trusted_proxies/${index}: ${problem}`);
  }
  return raw as ConfigFile;
}

/** Layers a config file and explicit overrides (env and flags, already merged) over the defaults. */
export function resolveConfig(file: ConfigFile, overrides: Partial<ServerConfig>): ServerConfig {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  return {
    ...DEFAULT_CONFIG,
    ...(file.host !== undefined && { host: file.host }),
    ...(file.port !== undefined && { port: file.port }),
    ...(file.db !== undefined && { db: file.db }),
    ...(file.allowed_origins !== undefined && { allowedOrigins: file.allowed_origins }),
    ...(file.max_body_bytes !== undefined && { maxBodyBytes: file.max_body_bytes }),
    ...(file.rate_limit !== undefined && { rateLimit: file.rate_limit }),
    ...(file.profile_rate_limits !== undefined && { profileRateLimits: file.profile_rate_limits }),
    ...(file.connectors !== undefined && { connectors: file.connectors }),
    ...(file.tenant_connectors !== undefined && { tenantConnectors: file.tenant_connectors }),
    ...(file.public_url !== undefined && { publicUrl: file.public_url }),
    ...(file.key_file !== undefined && { keyFile: file.key_file }),
    ...(file.trusted_proxies !== undefined && { trustedProxies: file.trusted_proxies }),
    ...(file.tls !== undefined && { tls: file.tls }),
    ...(file.checkpoints !== undefined && {
      checkpoints: {
        file: file.checkpoints.file,
        intervalMs: (file.checkpoints.interval_seconds ?? 60) * 1000,
        burstRecords: file.checkpoints.burst_records ?? 1000,
        witnessUrl: file.checkpoints.witness_url,
        syslog: file.checkpoints.syslog,
      },
    }),
    ...(file.approvals?.ttl_minutes !== undefined && { approvalTtlMs: file.approvals.ttl_minutes * 60_000 }),
    ...(file.log?.level !== undefined && { logLevel: file.log.level }),
    ...(file.log?.format !== undefined && { logFormat: file.log.format }),
    ...(file.metrics?.enabled !== undefined && { metricsEnabled: file.metrics.enabled }),
    ...(file.metrics?.require_key !== undefined && { metricsRequireKey: file.metrics.require_key }),
    ...(file.tracing !== undefined && {
      tracing: { endpoint: file.tracing.otlp_endpoint, serviceName: file.tracing.service_name ?? "invoke", headers: file.tracing.headers ?? {} },
    }),
    ...defined,
  };
}
