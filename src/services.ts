/**
 * The services one running Invoke is made of, built once and shared by every surface (HTTP, stdio,
 * tools). Tests build them on a temporary database, with a controllable clock where they need one.
 */
import type { ServerConfig } from "./config.ts";
import { BrainService } from "./brain/service.ts";
import { AccessGate } from "./governance/access.ts";
import { RateLimiter } from "./governance/rate-limit.ts";
import { PolicyService } from "./policy/service.ts";
import { ExecutionLedger } from "./records/ledger.ts";
import type { Store } from "./storage/db.ts";
import { ApprovalService } from "./approvals/service.ts";
import { ConnectorService, type ConnectorFactory } from "./connectors/service.ts";
import { createConnector } from "./connectors/factory.ts";
import { startApprovalSweeper } from "./execution/approved.ts";
import { tenantIdByName } from "./governance/directory.ts";
import { every } from "./every.ts";
import { logError, logInfo } from "./log.ts";
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
}

/** Builds the services. */
export function createServices(options: ServiceOptions): Services {
  const now = options.now ?? Date.now;
  const limiter = options.limiter ?? new RateLimiter({ defaultLimit: options.config.rateLimit, now });
  const gate = new AccessGate({ store: options.store, limiter, profileRateLimits: options.config.profileRateLimits, now });
  const connectors = new ConnectorService(options.store, options.connectorFactory ?? createConnector, now, logInfo);
  const records = new ExecutionLedger(options.store, now);
  return {
    store: options.store,
    config: options.config,
    registry: options.registry ?? new ToolRegistry(),
    limiter,
    gate,
    policy: new PolicyService(options.store, now),
    brain: new BrainService(options.store, now),
    connectors,
    approvals: new ApprovalService(options.store, records, now, { ttlMs: options.config.approvalTtlMs }),
    records,
    now,
  };
}

/** How often a serving process brings its connectors in line with the store (changes made by `invoke connectors`). */
const RECONCILE_INTERVAL_MS = 2000;

/**
 * Starts what runs beside requests in a serving process (HTTP or stdio): the config file's connectors
 * synced and every connector started (then kept in line with the store), and the approval sweeper.
 * Returns the stop function, which stops connectors (children reaped) and commits the last records.
 */
export async function startBackground(services: Services): Promise<() => Promise<void>> {
  services.connectors.syncConfig(services.config.connectors, (name) => tenantIdByName(services.store, name));
  await services.connectors.reconcile();
  const stopSweeper = startApprovalSweeper(services, 1000, logError);
  const stopReconciling = every(RECONCILE_INTERVAL_MS, () => services.connectors.reconcile(), (error) => logError("reconciling connectors failed", error));
  return async () => {
    stopReconciling();
    stopSweeper();
    await services.connectors.close();
    await services.records.flush();
  };
}
