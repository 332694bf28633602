/**
 * The store's connection (this folder is the only code that touches `bun:sqlite` for Invoke's own store). Opens the database file with the pragmas the
 * server relies on (WAL, busy timeout, foreign keys), applies the embedded migrations (after a backup
 * when an existing database is upgraded), and refuses a database written by a newer Invoke.
 */
import { Database } from "bun:sqlite";
import { existsSync, renameSync } from "node:fs";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { StartupError } from "../../errors.ts";
import { logInfo } from "../../log.ts";
import { vacuumInto } from "./backup.ts";
import { migrations } from "./migrations.ts";
import * as schema from "./schema.ts";

/** The typed query builder over our schema. */
export type Db = BunSQLiteDatabase<typeof schema>;

/** An open store: drizzle for queries, the raw handle for pragmas and transactions. */
export interface Store {
  readonly db: Db;
  readonly sqlite: Database;
  readonly path: string;
  close(): void;
}

/**
 * Opens (creating if needed, unless `mustExist`) the database at `path` and migrates it to the schema this build knows.
 * Migration state is `PRAGMA user_version` = number of migrations applied; each migration and its
 * version bump commit together, so a crash mid-way leaves the previous version intact.
 */
export function openStore(path: string, options: { mustExist?: boolean } = {}): Store {
  if (options.mustExist && !existsSync(path)) throw new StartupError(`database ${path} does not exist; run 'invoke init --db ${path}' first`);
  let sqlite: Database;
  try {
    sqlite = new Database(path, { create: true, strict: true });
  } catch (error) {
    throw new StartupError(`cannot open database ${path}: ${(error as Error).message}`);
  }
  try {
    sqlite.run("PRAGMA journal_mode = WAL");
    sqlite.run("PRAGMA busy_timeout = 5000");
    sqlite.run("PRAGMA foreign_keys = ON");
    // In WAL mode NORMAL survives a process crash (only an OS crash can lose the last commits).
    sqlite.run("PRAGMA synchronous = NORMAL");
    // 64 MiB of page cache (taken only as pages are read): a large brain's indexes stay in memory.
    sqlite.run("PRAGMA cache_size = -65536");
    backUpBeforeMigrating(sqlite, path);
    migrate(sqlite, path);
  } catch (error) {
    sqlite.close();
    if (error instanceof StartupError) throw error;
    throw new StartupError(`cannot use database ${path}: ${(error as Error).message}`);
  }
  return { db: drizzle({ client: sqlite, schema }), sqlite, path, close: () => sqlite.close() };
}

/** The schema version this build writes. */
export const SCHEMA_VERSION = migrations.length;

/**
 * Before an existing database is migrated, copies it to `<db>.pre-migration-v<old>.bak`: rolling back an
 * upgrade is stopping, restoring that file and starting the old binary. A new file (version 0) has nothing
 * to keep; an existing backup of the same version is never overwritten (the new one gets a time stamp).
 */
function backUpBeforeMigrating(sqlite: Database, path: string): void {
  const version = (sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (version === 0 || version >= SCHEMA_VERSION) return;
  let target = `${path}.pre-migration-v${version}.bak`;
  if (existsSync(target)) target = `${path}.pre-migration-v${version}-${new Date().toISOString().replace(/[:.]/g, "-")}.bak`;
  try {
    // A name of its own: two processes starting on the same file each write their own copy.
    const temporary = `${target}.tmp-${process.pid}`;
    vacuumInto(sqlite, temporary);
    renameSync(temporary, target);
  } catch (error) {
    throw new StartupError(`not migrating ${path} from schema version ${version}: the backup before migrating failed: ${(error as Error).message}`);
  }
  logInfo(`database ${path} has schema version ${version}; backed it up to ${target} before migrating it to ${SCHEMA_VERSION}`);
}

function migrate(sqlite: Database, path: string): void {
  const readVersion = () => (sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  // Each step re-reads the version inside its write transaction, so two processes starting on the
  // same new file cannot both apply a migration.
  const step = sqlite.transaction((): boolean => {
    const current = readVersion();
    if (current > SCHEMA_VERSION) {
      throw new StartupError(
        `database ${path} has schema version ${current}, newer than this Invoke knows (${SCHEMA_VERSION}); use a newer invoke binary`,
      );
    }
    if (current === SCHEMA_VERSION) return false;
    for (const statement of migrations[current]!.statements) sqlite.run(statement);
    sqlite.run(`PRAGMA user_version = ${current + 1}`);
    return true;
  });
  while (step.immediate()) {}
}
