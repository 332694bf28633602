/**
 * The SQLite store: every room's repository over one open database. The only code that imports
 * `bun:sqlite`, drizzle's tables or SQL text for Invoke's own store lives in this folder.
 */
import type { Repositories } from "../repositories.ts";
import { sqliteConnectors } from "./connectors.ts";
import { SqliteApprovalRepository } from "./approvals.ts";
import { SqliteBrainRepository } from "./brain.ts";
import type { Store } from "./db.ts";
import { SqliteStoreHealth } from "./health.ts";
import { sqliteDirectoryRepository } from "./directory.ts";
import { sqliteGroupRepository } from "./groups.ts";
import { sqlitePolicyRepository } from "./policy.ts";
import { SqliteRecords } from "./records.ts";

/** The repositories of every room, over `store`. */
export function sqliteRepositories(store: Store): Repositories {
  return {
    approvals: new SqliteApprovalRepository(store),
    brain: new SqliteBrainRepository(store),
    connectors: sqliteConnectors(store),
    storeHealth: new SqliteStoreHealth(store),
    directory: sqliteDirectoryRepository(store),
    groups: sqliteGroupRepository(store),
    policy: sqlitePolicyRepository(store),
    records: new SqliteRecords(store),
  };
}
