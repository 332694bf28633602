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
import { registerConnector } from "./connectors/service.ts";
import type { TenantScope } from "./storage/sqlite/tenant-scope.ts";
import type { PolicyService } from "./policy/service.ts";
import demoPolicySource from "./policy/demo-policy.yaml" with { type: "text" };
import { connectors } from "./storage/sqlite/schema.ts";
import { and, eq } from "drizzle-orm";

/** Where the demo's SQLite database lives: beside Invoke's own database. */
export function demoDatabasePath(storePath: string): string {
  return resolve(`${storePath}.demo-company.sqlite`);
}

/** The demo company's policy, published when the tenant has none of its own. */
export const DEMO_POLICY_SOURCE: string = demoPolicySource;

/** Loads the demo company into the scope's tenant (its data, its database connector, its policy); loading it again changes nothing. */
export async function installDemo(services: { brain: BrainService; policy: PolicyService }, scope: TenantScope) {
  const loaded = loadDemoCompany(services.brain, scope);
  const path = demoDatabasePath(scope.store.path);
  createDemoDatabase(path);
  const spec = { type: "database", dialect: "sqlite", path } as const;
  registerConnector(scope, { name: "database", ...spec }, "operator");
  // A demo connector stored by an older Invoke was marked as added over REST; the operator's `--demo` owns it.
  scope.store.db
    .update(connectors)
    .set({ origin: "operator" })
    .where(scope.where(connectors, and(eq(connectors.name, "database"), eq(connectors.config, JSON.stringify(spec)))))
    .run();
  // The tenant's own policy, once published, is never replaced.
  const policy =
    (await services.policy.active(scope.tenantId)).version === 0
      ? (await services.policy.publishSource(scope.tenantId, DEMO_POLICY_SOURCE, { comment: "the demo company's policy", file: "demo-policy.yaml" })).version
      : undefined;
  return { ...loaded, database: path, policyVersion: policy };
}
