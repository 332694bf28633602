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
import type { ConnectorRepository } from "./connectors/repository.ts";
import type { TenantRef } from "./governance/caller.ts";
import type { PolicyService } from "./policy/service.ts";
import demoPolicySource from "./policy/demo-policy.yaml" with { type: "text" };

/** Where the demo's SQLite database lives: beside Invoke's own database. */
export function demoDatabasePath(storePath: string): string {
  return resolve(`${storePath}.demo-company.sqlite`);
}

/** The demo company's policy, published when the tenant has none of its own. */
export const DEMO_POLICY_SOURCE: string = demoPolicySource;

/** What loading the demo writes to, and where Invoke's own database is (the demo's sits beside it). */
export interface DemoTarget {
  brain: BrainService;
  policy: PolicyService;
  /** Where the demo's connector is stored, as the operator's. */
  connectorStore: ConnectorRepository;
  storePath: string;
}

/** Loads the demo company into the tenant (its data, its database connector, its policy); loading it again changes nothing. */
export async function installDemo(target: DemoTarget, tenant: TenantRef) {
  const { tenantId } = tenant;
  const loaded = await loadDemoCompany(target.brain, tenantId);
  const path = demoDatabasePath(target.storePath);
  createDemoDatabase(path);
  const spec = { type: "database", dialect: "sqlite", path } as const;
  const config = JSON.stringify(spec);
  // Kept when the tenant has a connector of that name (the demo's own, loaded again); the demo's SQLite connector has no secret to seal.
  await target.connectorStore.add({ tenantId, name: "database", config, origin: "operator" }, Date.now());
  // A demo connector stored by an older Invoke was marked as added over REST; the operator's `--demo` owns it.
  await target.connectorStore.adopt(tenantId, "database", config, "operator");
  // The tenant's own policy, once published, is never replaced.
  const policy =
    (await target.policy.active(tenantId)).version === 0
      ? (await target.policy.publishSource(tenantId, DEMO_POLICY_SOURCE, { comment: "the demo company's policy", file: "demo-policy.yaml" })).version
      : undefined;
  return { ...loaded, database: path, policyVersion: policy };
}
