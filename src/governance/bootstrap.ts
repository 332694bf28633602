/** First start: a tenant with its admin user and one admin key, created in one transaction. */
import { count, eq } from "drizzle-orm";
import { Conflict } from "../errors.ts";
import { newId } from "../ids.ts";
import type { Store } from "../storage/sqlite/db.ts";
import { tenants, users } from "../storage/sqlite/schema.ts";
import { createApiKey } from "./keys.ts";

/** What bootstrap hands back; `admin_key` is shown once and never stored in clear. */
export interface BootstrapResult {
  tenant_id: string;
  user_id: string;
  admin_key: string;
}

/** Whether the store already holds a tenant. */
export function isInitialised(store: Store): boolean {
  return store.db.select({ n: count() }).from(tenants).get()!.n > 0;
}

/** Creates a tenant, its admin user and an admin key. Fails with Conflict if the name is taken. */
export function createTenant(store: Store, name: string, adminEmail: string): BootstrapResult {
  return store.sqlite.transaction(() => {
    const existing = store.db.select({ n: count() }).from(tenants).where(eq(tenants.name, name)).get()!.n;
    if (existing > 0) throw new Conflict(`tenant "${name}" already exists`, "tenant_exists");
    const tenantId = newId("ten");
    const userId = newId("usr");
    const now = Date.now();
    store.db.insert(tenants).values({ id: tenantId, name, createdAt: now }).run();
    store.db.insert(users).values({ id: userId, tenantId, email: adminEmail, role: "admin", createdAt: now }).run();
    const key = createApiKey(store, { tenantId, userId, name: "bootstrap admin key", profile: "admin", createdBy: null });
    return { tenant_id: tenantId, user_id: userId, admin_key: key.secret };
  }).immediate();
}

/** Bootstraps an empty store; returns undefined when it was already initialised. */
export function bootstrapIfEmpty(store: Store, tenantName = "default", adminEmail = "admin@localhost"): BootstrapResult | undefined {
  return store.sqlite.transaction(() => (isInitialised(store) ? undefined : createTenant(store, tenantName, adminEmail))).immediate();
}

