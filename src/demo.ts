/**
 * The demo company (`--demo`): the brain's customers, contacts and invoices, a `database` connector
 * on a SQLite file holding the same invoices, and the company's own policy, so seed 000's examples —
 * the brain query and `database.execute` — answer on a fresh `invoke serve --demo`, and its
 * `drop table invoices` is denied by a published policy. Everything ships inside the binary.
 */
import { resolve } from "node:path";
import { loadDemoCompany } from "./brain/demo.ts";
import type { BrainService } from "./brain/service.ts";
import { createDemoDatabase } from "./connectors/demo-database.ts";
import { sqliteConnectors } from "./storage/sqlite/connectors.ts";
import type { TenantScope } from "./storage/sqlite/tenant-scope.ts";
import type { PolicyService } from "./policy/service.ts";
import demoPolicySource from "./policy/demo-policy.yaml" with { type: "text" };

/** Where the demo's SQLite database lives: beside Invoke's own database. */
export function demoDatabasePath(storePath: string): string {
  return resolve(`${storePath}.demo-company.sqlite`);
}

/** The demo company's policy, published when the tenant has none of its own. */
export const DEMO_POLICY_SOURCE: string = demoPolicySource;

/** Loads the demo company into the scope's tenant (its data, its database connector, its policy); loading it again changes nothing. */
export async function installDemo(services: { brain: BrainService; policy: PolicyService }, scope: TenantScope) {
  const loaded = await loadDemoCompany(services.brain, scope.tenantId);
  const path = demoDatabasePath(scope.store.path);
  createDemoDatabase(path);
  const spec = { type: "database", dialect: "sqlite", path } as const;
  const stored = sqliteConnectors(scope.store);
  const config = JSON.stringify(spec);
  // Kept when the tenant has a connector of that name (the demo's own, loaded again); the demo's SQLite connector has no secret to seal.
  await stored.add({ tenantId: scope.tenantId, name: "database", config, origin: "operator" }, Date.now());
  // A demo connector stored by an older Invoke was marked as added over REST; the operator's `--demo` owns it.
  await stored.adopt(scope.tenantId, "database", config, "operator");
  // The tenant's own policy, once published, is never replaced.
  const policy =
    (await services.policy.active(scope.tenantId)).version === 0
      ? (await services.policy.publishSource(scope.tenantId, DEMO_POLICY_SOURCE, { comment: "the demo company's policy", file: "demo-policy.yaml" })).version
      : undefined;
  return { ...loaded, database: path, policyVersion: policy };
}
