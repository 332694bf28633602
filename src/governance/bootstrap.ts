/** First start: a tenant with its admin user and one admin key, created in one step. */
import { Conflict } from "../errors.ts";
import { newId } from "../ids.ts";
import { newKeySecret } from "./keys.ts";
import type { DirectoryRepository, NewTenant } from "./repository.ts";

/** What bootstrap hands back; `admin_key` is shown once and never stored in clear. */
export interface BootstrapResult {
  tenant_id: string;
  user_id: string;
  admin_key: string;
}

/** Whether the store already holds a tenant. */
export async function isInitialised(directory: DirectoryRepository): Promise<boolean> {
  return (await directory.listTenants()).length > 0;
}

/** A tenant, its admin user and an admin key, as stored, with what bootstrap hands back. */
export function newTenant(name: string, adminEmail: string, now = Date.now()): { stored: NewTenant; result: BootstrapResult } {
  const tenantId = newId("ten");
  const userId = newId("usr");
  const { secret, secretHash, prefix } = newKeySecret();
  const key = { id: newId("key"), tenantId, userId, name: "bootstrap admin key", profile: "admin", secretHash, prefix, createdBy: null, createdAt: now, expiresAt: null };
  return {
    stored: { tenant: { id: tenantId, name, createdAt: now }, admin: { id: userId, email: adminEmail, role: "admin", createdAt: now }, key },
    result: { tenant_id: tenantId, user_id: userId, admin_key: secret },
  };
}

/** Creates a tenant, its admin user and an admin key. Fails with Conflict if the name is taken. */
export async function createTenant(directory: DirectoryRepository, name: string, adminEmail: string): Promise<BootstrapResult> {
  const { stored, result } = newTenant(name, adminEmail);
  if ((await directory.createTenant(stored)) === "exists") throw new Conflict(`tenant "${name}" already exists`, "tenant_exists");
  return result;
}

/** Bootstraps an empty store; returns undefined when it was already initialised. */
export async function bootstrapIfEmpty(directory: DirectoryRepository, tenantName = "default", adminEmail = "admin@localhost"): Promise<BootstrapResult | undefined> {
  const { stored, result } = newTenant(tenantName, adminEmail);
  return (await directory.createTenant(stored, { onlyIfFirst: true })) === "created" ? result : undefined;
}
