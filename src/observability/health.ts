/**
 * Readiness: the store answers and takes writes, every migration is applied, and each connector's
 * state. Connectors are reported, not required: one unreachable upstream degrades its tools, not Invoke.
 * Anyone may learn whether Invoke is ready; the detail (connectors, their targets and warnings) is for
 * an admin of the tenant they belong to.
 */
import type { Services } from "../services.ts";
import { SCHEMA_VERSION } from "../storage/sqlite/db.ts";

export interface Readiness {
  status: "ready" | "not_ready";
  checks: {
    store: { ok: boolean; writable: boolean; detail?: string };
    migrations: { ok: boolean; schema_version: number | null; expected_schema_version: number };
    connectors: { ok: boolean; items: { name: string; healthy: boolean; detail?: string; warnings?: string[] }[] };
  };
}

/** The store's state: its schema version, and whether it takes writes (with why not). */
function storeState(services: Services): { version: number | null; writable: boolean; detail?: string } {
  const sqlite = services.store.sqlite;
  let version: number | null = null;
  try {
    version = (sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    // Taking the write lock (and giving it back) is what every recorded call needs.
    if (!sqlite.inTransaction) {
      sqlite.run("BEGIN IMMEDIATE");
      sqlite.run("ROLLBACK");
    }
    return { version, writable: true };
  } catch (error) {
    return { version, writable: false, detail: (error as Error).message };
  }
}

/** Whether Invoke is ready: the store takes writes and is migrated. */
export function storeReady(services: Services): boolean {
  const { version, writable } = storeState(services);
  return writable && version === SCHEMA_VERSION;
}

/** What /readyz answers to an admin of `tenantId` (503 unless status is ready): only that tenant's connectors. */
export function readiness(services: Services, tenantId: string): Readiness {
  const { version, writable, detail } = storeState(services);
  const items = services.connectors
    .healthAll()
    .filter((item) => item.tenantId === tenantId)
    .map(({ name, healthy, detail, warnings }) => ({ name, healthy, ...(detail && { detail }), ...(warnings && { warnings }) }));
  const migrated = version === SCHEMA_VERSION;
  return {
    status: writable && migrated ? "ready" : "not_ready",
    checks: {
      store: { ok: writable, writable, ...(detail && { detail }) },
      migrations: { ok: migrated, schema_version: version, expected_schema_version: SCHEMA_VERSION },
      connectors: { ok: items.every((item) => item.healthy), items },
    },
  };
}
