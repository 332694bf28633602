/** The policy room's repository on SQLite: `policy_versions`, every query bound to one tenant. */
import { and, desc, eq, max, ne, sql } from "drizzle-orm";
import { newId } from "../../ids.ts";
import type { NewPolicyVersion, PolicyRepository, StoredPolicyVersion } from "../../policy/repository.ts";
import type { Store } from "./db.ts";
import { policyVersions } from "./schema.ts";

/** Policy versions on `store`. */
export function sqlitePolicyRepository(store: Store): PolicyRepository {
  const { db } = store;
  const ofTenant = (tenantId: string, ...conditions: ReturnType<typeof eq>[]) => and(eq(policyVersions.tenantId, tenantId), ...conditions);
  // Prepared once: enforcement asks for the active version on every governed call.
  const activeRow = db
    .select({ id: policyVersions.id, version: policyVersions.version, source: policyVersions.source })
    .from(policyVersions)
    .where(and(eq(policyVersions.tenantId, sql.placeholder("tenant")), eq(policyVersions.status, "active")))
    .prepare();
  const find = (tenantId: string, version: number): StoredPolicyVersion | undefined =>
    db.select().from(policyVersions).where(ofTenant(tenantId, eq(policyVersions.version, version))).get();
  const publish = (tenantId: string, version: number, by: string | null, at: number): StoredPolicyVersion | undefined => {
    const row = find(tenantId, version);
    if (row === undefined || row.status === "active") return row;
    db.update(policyVersions).set({ status: "superseded" }).where(ofTenant(tenantId, eq(policyVersions.status, "active"))).run();
    db.update(policyVersions).set({ status: "active", publishedBy: by, publishedAt: at }).where(eq(policyVersions.id, row.id)).run();
    return { ...row, status: "active", publishedBy: by, publishedAt: at };
  };
  const add = (tenantId: string, draft: NewPolicyVersion, publishing?: { by: string | null; at: number }): StoredPolicyVersion => {
    const last = db.select({ last: max(policyVersions.version) }).from(policyVersions).where(ofTenant(tenantId)).get()?.last ?? 0;
    const stored: StoredPolicyVersion = { id: newId("pol"), version: last + 1, status: "draft", publishedBy: null, publishedAt: null, ...draft };
    db.insert(policyVersions).values({ ...stored, tenantId }).run();
    return publishing === undefined ? stored : publish(tenantId, stored.version, publishing.by, publishing.at)!;
  };

  return {
    active: async (tenantId) => activeRow.get({ tenant: tenantId }),
    find: async (tenantId, version) => find(tenantId, version),
    list: async (tenantId) => db.select().from(policyVersions).where(ofTenant(tenantId)).orderBy(desc(policyVersions.version)).all(),
    // Immediate transactions: the server and the CLI cannot both take the next number or both publish.
    add: async (tenantId, draft, publishing) => store.sqlite.transaction(() => add(tenantId, draft, publishing)).immediate(),
    replaceActive: async (tenantId, draft, publishing, replacing) =>
      store.sqlite.transaction(() => ((activeRow.get({ tenant: tenantId })?.version ?? 0) === replacing ? add(tenantId, draft, publishing) : undefined)).immediate(),
    publish: async (tenantId, version, by, at) => store.sqlite.transaction(() => publish(tenantId, version, by, at)).immediate(),
    previousPublished: async (tenantId, except) =>
      db
        .select({ version: policyVersions.version })
        .from(policyVersions)
        .where(ofTenant(tenantId, eq(policyVersions.status, "superseded"), ne(policyVersions.version, except)))
        .orderBy(desc(policyVersions.publishedAt), desc(policyVersions.version))
        .limit(1)
        .get()?.version,
  };
}
