/**
 * The SQLite store: every room's repository over one open database. The only code that imports
 * `bun:sqlite`, drizzle's tables or SQL text for Invoke's own store lives in this folder.
 */
import type { Repositories } from "../repositories.ts";
import type { Store } from "./db.ts";
import { SqliteRecords } from "./records.ts";

/** The repositories of every room, over `store`. */
export function sqliteRepositories(store: Store): Repositories {
  return { records: new SqliteRecords(store) };
}
