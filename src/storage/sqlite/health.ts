/** The SQLite store's health: its `user_version` against the migrations this build has, and whether the write lock can be taken. */
import type { StoreHealth, StoreState } from "../../observability/store-health.ts";
import { SCHEMA_VERSION, type Store } from "./db.ts";

export class SqliteStoreHealth implements StoreHealth {
  constructor(private readonly store: Store) {}

  async state(): Promise<StoreState> {
    const sqlite = this.store.sqlite;
    let schemaVersion: number | null = null;
    try {
      schemaVersion = (sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version;
      // Taking the write lock (and giving it back) is what every recorded call needs.
      if (!sqlite.inTransaction) {
        sqlite.run("BEGIN IMMEDIATE");
        sqlite.run("ROLLBACK");
      }
      return { schemaVersion, expectedSchemaVersion: SCHEMA_VERSION, writable: true };
    } catch (error) {
      return { schemaVersion, expectedSchemaVersion: SCHEMA_VERSION, writable: false, detail: (error as Error).message };
    }
  }
}
