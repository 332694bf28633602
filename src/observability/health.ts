/**
 * Readiness: the store answers and takes writes, every migration is applied, and each connector's
 * state. Connectors are reported, not required: one unreachable upstream degrades its tools, not Invoke.
 * Anyone may learn whether Invoke is ready; the detail (connectors, their targets and warnings) is for
 * an admin of the tenant they belong to.
 */
import type { ConnectorService } from "../connectors/service.ts";
import type { StoreHealth } from "./store-health.ts";

export interface Readiness {
  status: "ready" | "not_ready";
  checks: {
    store: { ok: boolean; writable: boolean; detail?: string };
    migrations: { ok: boolean; schema_version: number | null; expected_schema_version: number };
    connectors: { ok: boolean; items: { name: string; healthy: boolean; detail?: string; warnings?: string[] }[] };
  };
}

/** Whether Invoke is ready: the store takes writes and is migrated. */
export async function storeReady(store: StoreHealth): Promise<boolean> {
  const state = await store.state();
  return state.writable && state.schemaVersion === state.expectedSchemaVersion;
}

/** What /readyz answers to an admin of `tenantId` (503 unless status is ready): only that tenant's connectors. */
export async function readiness(store: StoreHealth, connectors: Pick<ConnectorService, "healthAll">, tenantId: string): Promise<Readiness> {
  const { schemaVersion, expectedSchemaVersion, writable, detail } = await store.state();
  const items = connectors
    .healthAll()
    .filter((item) => item.tenantId === tenantId)
    .map(({ name, healthy, detail, warnings }) => ({ name, healthy, ...(detail && { detail }), ...(warnings && { warnings }) }));
  const migrated = schemaVersion === expectedSchemaVersion;
  return {
    status: writable && migrated ? "ready" : "not_ready",
    checks: {
      store: { ok: writable, writable, ...(detail && { detail }) },
      migrations: { ok: migrated, schema_version: schemaVersion, expected_schema_version: expectedSchemaVersion },
      connectors: { ok: items.every((item) => item.healthy), items },
    },
  };
}
