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

/** Where the demo's SQLite database lives: beside Invoke's own database. */
export function demoDatabasePath(storePath: string): string {
  return resolve(`${storePath}.demo-company.sqlite`);
}

/** Loads the demo company into the scope's tenant; loading it again changes nothing. */
export function installDemo(brain: BrainService, scope: TenantScope) {
  const loaded = loadDemoCompany(brain, scope);
  const path = demoDatabasePath(scope.store.path);
  createDemoDatabase(path);
  registerConnector(scope, { name: "database", type: "database", dialect: "sqlite", path });
  return { ...loaded, database: path };
}
