/**
 * The services one running Invoke is made of, built once and shared by every surface (HTTP, stdio,
 * tools). Tests build them on a temporary database, with a controllable clock where they need one.
 */
import type { ServerConfig } from "./config.ts";
import { BrainService } from "./brain/service.ts";
import { AccessGate } from "./governance/access.ts";
import type { Caller } from "./governance/caller.ts";
import { RateLimiter } from "./governance/rate-limit.ts";
import { PolicyService } from "./policy/service.ts";
import { ExecutionLedger } from "./records/ledger.ts";
import { checkpointFilePath } from "./records/checkpoints.ts";
import { Metrics, type MetricSources } from "./observability/metrics.ts";
import { DISABLED_TRACING, type Tracing } from "./observability/tracing.ts";
import type { Store } from "./storage/sqlite/db.ts";
import { sqliteRepositories } from "./storage/sqlite/index.ts";
import { ApprovalService } from "./approvals/service.ts";
import { ConnectorService, type ConnectorFactory } from "./connectors/service.ts";
import { createConnector } from "./connectors/factory.ts";
import { HostAccess } from "./connectors/host-access.ts";
import { ConnectorSecrets } from "./connectors/secrets.ts";
import { KnownSecrets } from "./records/known-secrets.ts";
import { keyFilePath, loadInstanceKeys, type InstanceKeys } from "./governance/key-file.ts";
import { listTenants } from "./governance/directory.ts";
import { logInfo } from "./log.ts";
import { ToolRegistry } from "./tools/registry.ts";

/** Everything a request may need. */
export interface Services {
  store: Store;
  config: ServerConfig;
  registry: ToolRegistry;
  limiter: RateLimiter;
  gate: AccessGate;
  policy: PolicyService;
  brain: BrainService;
  /** Tenants' connectors, and the production tools they make: enabled, unquarantined. */
  connectors: ConnectorService;
  approvals: ApprovalService;
  records: ExecutionLedger;
  metrics: Metrics;
  /** OpenTelemetry spans; disabled (free) unless an OTLP endpoint is configured. */
  tracing: Tracing;
  /** The keys kept outside the database: connector secrets' keys, the checkpoint signing key. */
  keys: InstanceKeys;
  now: () => number;
}

/** What services are built from; everything but the store and config has a default. */
export interface ServiceOptions {
  store: Store;
  config: ServerConfig;
  registry?: ToolRegistry;
  limiter?: RateLimiter;
  now?: () => number;
  connectorFactory?: ConnectorFactory;
  /** Made once at start-up from the config (`createTracing` is async); disabled by default. */
  tracing?: Tracing;
}

/** Builds the services. */
export function createServices(options: ServiceOptions): Services {
  const now = options.now ?? Date.now;
  const limiter = options.limiter ?? new RateLimiter({ defaultLimit: options.config.rateLimit, now });
  const knownSecrets = new KnownSecrets();
  const repositories = sqliteRepositories(options.store);
  const records = new ExecutionLedger(repositories.records, now, knownSecrets);
  const keys = loadInstanceKeys(options.config.keyFile ?? keyFilePath({ db: options.store.path }, {}));
  // The key file and the checkpoint log are no connector's target either.
  const hostAccess = new HostAccess(options.store.path, options.config.tenantConnectors, [keys.path, checkpointFilePath(options.config.checkpoints, options.store.path)]);
  const connectorSecrets = new ConnectorSecrets(keys.secretKeys, keys.path);
  const connectors = new ConnectorService(options.store, options.connectorFactory ?? createConnector, now, logInfo, hostAccess, connectorSecrets, knownSecrets);
  const approvals = new ApprovalService(options.store, records, now, { ttlMs: options.config.approvalTtlMs });
  const metrics = new Metrics(metricSources(options.store, approvals, connectors), options.config.metricsEnabled);
  const onRateLimited = (caller: Caller | undefined) => {
    metrics.rateLimitRefusal(caller?.profile);
    // Counted per agent (the key's name: the body naming another agent is not read), for the summary.
    if (caller) records.countRateLimited(caller.tenantId, caller.keyName);
  };
  const gate = new AccessGate({ store: options.store, limiter, profileRateLimits: options.config.profileRateLimits, now, onRateLimited });
  return {
    store: options.store,
    config: options.config,
    registry: options.registry ?? new ToolRegistry(),
    limiter,
    gate,
    policy: new PolicyService(options.store, now),
    brain: new BrainService(options.store, now),
    connectors,
    approvals,
    records,
    metrics,
    tracing: options.tracing ?? DISABLED_TRACING,
    keys,
    now,
  };
}

/** What the metrics' gauges read at scrape time: pending approvals (as the approval service counts them), connectors' health. */
function metricSources(store: Store, approvals: ApprovalService, connectors: ConnectorService): MetricSources {
  const tenantNames = () => new Map(listTenants(store).map((tenant) => [tenant.id, tenant.name]));
  return {
    approvalsPending: () => {
      const names = tenantNames();
      return approvals
        .countByStatus("tenant_id")
        .filter((row) => row.status === "pending")
        .map((row) => ({ tenant: names.get(row.name) ?? row.name, count: row.count }));
    },
    connectors: () => {
      const names = tenantNames();
      return connectors.healthAll().map(({ tenantId, name, healthy }) => ({ tenant: names.get(tenantId) ?? tenantId, connector: name, healthy }));
    },
  };
}
