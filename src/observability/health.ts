/**
 * Readiness: the store answers and takes writes, every migration is applied, and each connector's
 * state. Connectors are reported, not required: one unreachable upstream degrades its tools, not Invoke.
 */
import type { Services } from "../services.ts";
import { SCHEMA_VERSION } from "../storage/db.ts";

export interface Readiness {
  status: "ready" | "not_ready";
  checks: {
    store: { ok: boolean; writable: boolean; detail?: string };
    migrations: { ok: boolean; schema_version: number | null; expected_schema_version: number };
    connectors: { ok: boolean; items: { tenant_id: string; name: string; healthy: boolean; detail?: string }[] };
  };
}

/** What /readyz answers (503 unless status is ready). */
export function readiness(services: Services): Readiness {
  const sqlite = services.store.sqlite;
  let version: number | null = null;
  let writable = false;
  let detail: string | undefined;
  try {
    version = (sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version;
    // Taking the write lock (and giving it back) is what every recorded call needs.
    if (!sqlite.inTransaction) {
      sqlite.run("BEGIN IMMEDIATE");
      sqlite.run("ROLLBACK");
    }
    writable = true;
  } catch (error) {
    detail = (error as Error).message;
  }
  const items = services.connectors.healthAll().map(({ tenantId, name, healthy, detail }) => ({ tenant_id: tenantId, name, healthy, ...(detail && { detail }) }));
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
