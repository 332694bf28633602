/**
 * The services one running Invoke is made of, built once and shared by every surface (HTTP, stdio,
 * tools). Tests build them on a temporary database, with a controllable clock where they need one.
 */
import type { ServerConfig } from "./config.ts";
import { BrainService } from "./brain/service.ts";
import { AccessGate } from "./governance/access.ts";
import { RateLimiter } from "./governance/rate-limit.ts";
import { emptyRecords, type RecordSource } from "./policy/records.ts";
import { PolicyService } from "./policy/service.ts";
import type { Store } from "./storage/db.ts";
import { emptyCatalog, type ProductionCatalog } from "./tools/catalog.ts";
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
  catalog: ProductionCatalog;
  records: RecordSource;
  now: () => number;
}

/** What services are built from; everything but the store and config has a default. */
export interface ServiceOptions {
  store: Store;
  config: ServerConfig;
  registry?: ToolRegistry;
  limiter?: RateLimiter;
  now?: () => number;
}

/** Builds the services. */
export function createServices(options: ServiceOptions): Services {
  const now = options.now ?? Date.now;
  const limiter = options.limiter ?? new RateLimiter({ defaultLimit: options.config.rateLimit, now });
  const gate = new AccessGate({ store: options.store, limiter, profileRateLimits: options.config.profileRateLimits, now });
  return {
    store: options.store,
    config: options.config,
    registry: options.registry ?? new ToolRegistry(),
    limiter,
    gate,
    policy: new PolicyService(options.store, now),
    brain: new BrainService(options.store, now),
    catalog: emptyCatalog,
    records: emptyRecords,
    now,
  };
}
