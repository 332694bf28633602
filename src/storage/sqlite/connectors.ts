/** The connector repository on SQLite: the `connectors` and `connector_tools` tables. */
import { and, eq, type SQL } from "drizzle-orm";
import type { ConnectorRepository, StoredConnector } from "../../connectors/repository.ts";
import type { Store } from "./db.ts";
import { connectors, connectorTools, tenants } from "./schema.ts";

const connectorKey = (tenantId: string, name: string) => and(eq(connectors.tenantId, tenantId), eq(connectors.name, name));
const toolsOf = (tenantId: string, connector: string, ...more: SQL[]) => and(eq(connectorTools.tenantId, tenantId), eq(connectorTools.connector, connector), ...more);
const stored = { tenantId: connectors.tenantId, name: connectors.name, config: connectors.config, origin: connectors.origin };

/** Connectors and their pins in `store`. */
export function sqliteConnectors(store: Store): ConnectorRepository {
  const { db } = store;
  return {
    async list(tenantId) {
      return db
        .select(stored)
        .from(connectors)
        .where(tenantId === undefined ? undefined : eq(connectors.tenantId, tenantId))
        .all();
    },
    async get(tenantId, name) {
      return db.select(stored).from(connectors).where(connectorKey(tenantId, name)).get();
    },
    async add(connector, now) {
      return db.insert(connectors).values({ ...connector, createdAt: now, updatedAt: now }).onConflictDoNothing().returning({ name: connectors.name }).all().length === 1;
    },
    async adopt(tenantId, name, config, origin) {
      db.update(connectors).set({ origin }).where(and(connectorKey(tenantId, name), eq(connectors.config, config))).run();
    },
    async applyConfigFile({ removed, stored: listed }, now) {
      store.sqlite.transaction(() => {
        for (const { tenantId, name } of removed) db.delete(connectors).where(and(connectorKey(tenantId, name), eq(connectors.origin, "config"))).run();
        for (const { tenantId, name, config } of listed) {
          db.insert(connectors)
            .values({ tenantId, name, config, origin: "config", createdAt: now, updatedAt: now })
            .onConflictDoUpdate({ target: [connectors.tenantId, connectors.name], set: { config, origin: "config", updatedAt: now } })
            .run();
        }
      })();
    },
    async remove(tenantId, name) {
      return store.sqlite.transaction(() => {
        db.delete(connectorTools).where(toolsOf(tenantId, name)).run();
        return db.delete(connectors).where(connectorKey(tenantId, name)).returning({ name: connectors.name }).all().length === 1;
      })();
    },
    async resealAll(reseal) {
      // Immediate: it reads, then writes, which a deferred transaction could not do once a serving
      // process had committed in between (SQLite refuses that upgrade at once, whatever the busy timeout).
      return store.sqlite
        .transaction(() => {
          const rows: StoredConnector[] = db.select(stored).from(connectors).all();
          for (const row of rows) db.update(connectors).set({ config: reseal(row) }).where(connectorKey(row.tenantId, row.name)).run();
          return rows.length;
        })
        .immediate();
    },

    async pins(tenantId, connector) {
      return db
        .select({ tool: connectorTools.tool, status: connectorTools.status, hash: connectorTools.hash, pendingHash: connectorTools.pendingHash, approvedBy: connectorTools.approvedBy, approvedAt: connectorTools.approvedAt })
        .from(connectorTools)
        .where(toolsOf(tenantId, connector))
        .orderBy(connectorTools.tool)
        .all();
    },
    async enable(tenantId, connector, tools, approvedBy, approvedAt) {
      store.sqlite.transaction(() => {
        for (const { tool, definition, hash } of tools) {
          const values = { status: "enabled" as const, definition, hash, pendingDefinition: null, pendingHash: null, approvedBy, approvedAt };
          db.insert(connectorTools)
            .values({ tenantId, connector, tool, ...values })
            .onConflictDoUpdate({ target: [connectorTools.tenantId, connectorTools.connector, connectorTools.tool], set: values })
            .run();
        }
      })();
    },
    async enableFirstSeen(tenantId, connector, { tool, definition, hash }, approvedBy, approvedAt) {
      db.insert(connectorTools).values({ tenantId, connector, tool, status: "enabled", definition, hash, approvedBy, approvedAt }).onConflictDoNothing().run();
    },
    async quarantine(tenantId, connector, { tool, definition, hash }) {
      db.update(connectorTools).set({ status: "quarantined", pendingDefinition: definition, pendingHash: hash }).where(toolsOf(tenantId, connector, eq(connectorTools.tool, tool))).run();
    },
    async release(tenantId, connector, tool) {
      db.update(connectorTools).set({ status: "enabled", pendingDefinition: null, pendingHash: null }).where(toolsOf(tenantId, connector, eq(connectorTools.tool, tool))).run();
    },
    async quarantined(tenantId) {
      return db
        .select({ connector: connectorTools.connector, tool: connectorTools.tool })
        .from(connectorTools)
        .where(and(eq(connectorTools.tenantId, tenantId), eq(connectorTools.status, "quarantined")))
        .all();
    },

    async tenantName(tenantId) {
      return db.select({ name: tenants.name }).from(tenants).where(eq(tenants.id, tenantId)).get()?.name ?? "";
    },
  };
}
