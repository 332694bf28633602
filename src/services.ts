/**
 * The composition root: every room built once, over the store's repositories, each handed the few ports
 * it uses; the adapters (HTTP, stdio, the command line) get the result. Tests build it on a temporary
 * database, with a controllable clock where they need one.
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
import type { StoreHealth } from "./observability/store-health.ts";
import { ObservabilitySummary } from "./observability/summary.ts";
import { DISABLED_TRACING, type Tracing } from "./observability/tracing.ts";
import type { Store } from "./storage/sqlite/db.ts";
import { sqliteRepositories } from "./storage/sqlite/index.ts";
import type { ApprovalRepository } from "./approvals/repository.ts";
import { ApprovalService } from "./approvals/service.ts";
import { ConnectorService } from "./connectors/service.ts";
import { HostAccess } from "./connectors/host-access.ts";
import { ConnectorSecrets } from "./connectors/secrets.ts";
import { KnownSecrets } from "./records/known-secrets.ts";
import { keyFilePath, loadInstanceKeys, type InstanceKeys } from "./governance/key-file.ts";
import { logError, logInfo } from "./log.ts";
import { GovernedCalls } from "./execution/calls.ts";
import { ToolCatalog } from "./tools/catalog.ts";
import type { ToolPorts } from "./tools/ports.ts";
import { assessReadiness, type ReadinessPorts } from "./governance/readiness.ts";
import type { DirectoryRepository, GroupRepository } from "./governance/repository.ts";
import { ToolRegistry } from "./tools/registry.ts";

/** Everything a request may need. */
export interface Services {
  store: Store;
  config: ServerConfig;
  /** Every tool an agent can name: the registry's and the tenants' production tools. */
  catalog: ToolCatalog;
  /** The governed call path every entry (MCP, approved runs, simulate, preflight) goes through. */
  calls: GovernedCalls;
  limiter: RateLimiter;
  gate: AccessGate;
  /** Tenants, users and their keys. */
  directory: DirectoryRepository;
  /** Approver groups. */
  groups: GroupRepository;
  policy: PolicyService;
  brain: BrainService;
  /** Tenants' connectors, and the production tools they make: enabled, unquarantined. */
  connectors: ConnectorService;
  approvals: ApprovalService;
  records: ExecutionLedger;
  summary: ObservabilitySummary;
  /** Whether the store takes writes and is migrated (readiness). */
  storeHealth: StoreHealth;
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
  /** Made once at start-up from the config (`createTracing` is async); disabled by default. */
  tracing?: Tracing;
}

/** Builds the services. */
export function createServices(options: ServiceOptions): Services {
  const now = options.now ?? Date.now;
  const repositories = sqliteRepositories(options.store);
  const limiter = options.limiter ?? new RateLimiter({ defaultLimit: options.config.rateLimit, now });
  const knownSecrets = new KnownSecrets();
  const records = new ExecutionLedger(repositories.records, now, knownSecrets);
  const keys = loadInstanceKeys(options.config.keyFile ?? keyFilePath({ db: options.store.path }, {}));
  // The key file and the checkpoint log are no connector's target either.
  const hostAccess = new HostAccess(options.store.path, options.config.tenantConnectors, [keys.path, checkpointFilePath(options.config.checkpoints, options.store.path)]);
  const connectorSecrets = new ConnectorSecrets(keys.secretKeys, keys.path);
  const connectors = new ConnectorService(repositories.connectors, hostAccess, now, logInfo, connectorSecrets, knownSecrets);
  const approvals = new ApprovalService(repositories.approvals, records, now, { ttlMs: options.config.approvalTtlMs });
  const metrics = new Metrics(metricSources(repositories.directory, repositories.approvals, connectors, now), options.config.metricsEnabled);
  const onRateLimited = (caller: Caller | undefined) => {
    metrics.rateLimitRefusal(caller?.profile);
    // Counted per agent (the key's name: the body naming another agent is not read), for the summary.
    if (caller) records.countRateLimited(caller.tenantId, caller.keyName);
  };
  const registry = options.registry ?? new ToolRegistry();
  const policy = new PolicyService(repositories.policy, now);
  const tracing = options.tracing ?? DISABLED_TRACING;
  const brain = new BrainService(repositories.brain, now);
  const summary = new ObservabilitySummary(records, repositories.approvals, now);
  // Invoke's own tools are handed the ports they declare (made below, after the call path they include).
  const catalog = new ToolCatalog(registry, connectors, () => toolPorts);
  const calls = new GovernedCalls({
    catalog,
    policy,
    approvals,
    records,
    metrics,
    tracing,
    logError,
  });
  const gate = new AccessGate({ directory: repositories.directory, limiter, profileRateLimits: options.config.profileRateLimits, now, onRateLimited });
  // Readiness reads across the rooms, each through its own answers.
  const readinessPorts: ReadinessPorts = { config: options.config, now, directory: repositories.directory, policy, calls, connectors, connectorStore: repositories.connectors, approvals, records, gate, limiter };
  const toolPorts: ToolPorts = { approvals, brain, records, summary, readiness: (tenantId) => assessReadiness(readinessPorts, tenantId), calls, catalog, policy, gate };
  return {
    store: options.store,
    config: options.config,
    catalog,
    calls,
    limiter,
    gate,
    directory: repositories.directory,
    groups: repositories.groups,
    policy,
    brain,
    connectors,
    approvals,
    records,
    summary,
    storeHealth: repositories.storeHealth,
    metrics,
    tracing,
    keys,
    now,
  };
}

/** What the metrics' gauges read at scrape time: pending approvals (as every read shows them: not expired), connectors' health. */
function metricSources(directory: DirectoryRepository, approvals: ApprovalRepository, connectors: ConnectorService, now: () => number): MetricSources {
  const tenantNames = async () => new Map((await directory.listTenants()).map((tenant) => [tenant.id, tenant.name]));
  return {
    approvalsPending: async () => {
      const counts = await approvals.countByStatus("tenant", { now: now() });
      const names = await tenantNames();
      return counts
        .filter((row) => row.status === "pending")
        .map((row) => ({ tenant: names.get(row.name) ?? row.name, count: row.count }));
    },
    connectors: async () => {
      const names = await tenantNames();
      return connectors.healthAll().map(({ tenantId, name, healthy }) => ({ tenant: names.get(tenantId) ?? tenantId, connector: name, healthy }));
    },
  };
}
