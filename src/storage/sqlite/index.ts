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

/** One set per connection: the records repository remembers the chain heads its commits left, which only it may move. */
const opened = new WeakMap<Store, Repositories>();

/** The repositories of every room, over `store` (the same objects every time for one store). */
export function sqliteRepositories(store: Store): Repositories {
  let repositories = opened.get(store);
  if (repositories === undefined) {
    // Approvals store their votes' records through the records repository, inside their own transactions.
    const records = new SqliteRecords(store);
    repositories = {
      approvals: new SqliteApprovalRepository(store, records),
      brain: new SqliteBrainRepository(store),
      connectors: sqliteConnectors(store),
      storeHealth: new SqliteStoreHealth(store),
      directory: sqliteDirectoryRepository(store),
      groups: sqliteGroupRepository(store),
      policy: sqlitePolicyRepository(store),
      records,
    };
    opened.set(store, repositories);
  }
  return repositories;
}
