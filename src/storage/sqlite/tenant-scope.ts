/**
 * The one seam for tenant data: a scope is bound to one tenant (the caller's, never one named in a
 * request), and every query condition built through it is ANDed with that tenant's id.
 */
import { and, eq, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Store } from "./db.ts";

/** A table whose rows belong to tenants. */
export interface TenantTable {
  tenantId: SQLiteColumn;
}

/** Queries and writes of one tenant's rows. */
export class TenantScope {
  constructor(
    readonly store: Store,
    readonly tenantId: string,
  ) {}

  /** `tenant_id = <this tenant>` AND every given condition. */
  where(table: TenantTable, ...conditions: (SQL | undefined)[]): SQL {
    return and(eq(table.tenantId, this.tenantId), ...conditions)!;
  }
}
