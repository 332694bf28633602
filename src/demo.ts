/**
 * The demo company (`--demo`): the brain's customers, contacts and invoices, and a `database`
 * connector on a SQLite file holding the same invoices, so seed 000's examples — the brain query and
 * `database.execute` — answer on a fresh `invoke serve --demo`. Everything ships inside the binary.
 */
import { resolve } from "node:path";
import { loadDemoCompany } from "./brain/demo.ts";
import type { BrainService } from "./brain/service.ts";
import { createDemoDatabase } from "./connectors/demo-database.ts";
import { registerConnector } from "./connectors/service.ts";
import type { TenantScope } from "./storage/tenant-scope.ts";
import { connectors } from "./storage/schema.ts";
import { and, eq } from "drizzle-orm";

/** Where the demo's SQLite database lives: beside Invoke's own database. */
export function demoDatabasePath(storePath: string): string {
  return resolve(`${storePath}.demo-company.sqlite`);
}

/** Loads the demo company into the scope's tenant; loading it again changes nothing. */
export function installDemo(brain: BrainService, scope: TenantScope) {
  const loaded = loadDemoCompany(brain, scope);
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
  return { ...loaded, database: path };
}
