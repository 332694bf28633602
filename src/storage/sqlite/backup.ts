/**
 * Backups and restores of the store's SQLite file: the platform half of `invoke backup` and `invoke restore`
 * (the store module family is the only one that touches `bun:sqlite`).
 *
 * A backup is `VACUUM INTO` on a connection of its own: it reads inside one read transaction, which in WAL
 * mode is a consistent snapshot that never blocks the serving process's writers. A restore first proves
 * that no process holds the target (see `claimIdleDatabase`), then swaps the checked copy in by rename.
 */
import { Database } from "bun:sqlite";
import { existsSync, rmSync, statSync } from "node:fs";
import type { StoredRecord } from "../../records/chain.ts";
import { migrations } from "./migrations.ts";

/** The schema version this build writes (as `SCHEMA_VERSION` in `db.ts`; kept here to avoid an import cycle). */
const CURRENT_VERSION = migrations.length;

/** A database file cannot be used as a snapshot or a restore target; the message is one line. */
export class BackupError extends Error {
  override name = "BackupError";
}

/** The target is held open by a running process (a server, `invoke mcp`, another command). */
export class DatabaseInUse extends BackupError {
  override name = "DatabaseInUse";
}

/** A tenant's share of a snapshot. */
export interface TenantCount {
  id: string;
  name: string;
  records: number;
}

/** What a snapshot holds, as `backup` prints it and `restore` checks it. */
export interface SnapshotSummary {
  bytes: number;
  schemaVersion: number;
  tenants: TenantCount[];
}

/**
 * Writes a consistent copy of the database at `source` to `temporary` with `VACUUM INTO`, on a connection
 * of its own so a serving process keeps writing meanwhile. The caller renames `temporary` into place.
 */
export function vacuumInto(source: Database | string, temporary: string): void {
  rmSync(temporary, { force: true });
  const sqlite = typeof source === "string" ? openExisting(source) : source;
  try {
    sqlite.run("VACUUM INTO ?", [temporary]);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new BackupError(`cannot copy ${typeof source === "string" ? source : "the database"}: ${(error as Error).message}`);
  } finally {
    if (typeof source === "string") sqlite.close();
  }
}

/** A plain connection to an existing database, waiting as the store does when another writer holds it. */
function openExisting(path: string): Database {
  if (!existsSync(path)) throw new BackupError(`database ${path} does not exist`);
  try {
    const sqlite = new Database(path, { readwrite: true, create: false });
    sqlite.run("PRAGMA busy_timeout = 5000");
    return sqlite;
  } catch (error) {
    throw new BackupError(`cannot open database ${path}: ${(error as Error).message}`);
  }
}

/** An opened snapshot: read-only, checked piece by piece by `restore`. */
export class Snapshot {
  private constructor(
    private readonly sqlite: Database,
    readonly path: string,
  ) {}

  /** Opens `path` read-only; fails (one line) unless it is a SQLite database. */
  static open(path: string): Snapshot {
    if (!existsSync(path)) throw new BackupError(`${path} does not exist`);
    let sqlite: Database | undefined;
    try {
      sqlite = new Database(path, { readonly: true, strict: true });
      // Reading the header and the schema is what tells a SQLite file from any other.
      sqlite.query("SELECT count(*) FROM sqlite_master").get();
      return new Snapshot(sqlite, path);
    } catch (error) {
      sqlite?.close();
      throw new BackupError(`${path} is not a usable SQLite database: ${(error as Error).message}`);
    }
  }

  /** `PRAGMA user_version`: the number of our migrations it had applied. */
  get schemaVersion(): number {
    return (this.sqlite.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  }

  /** The problems `PRAGMA integrity_check` reports (none when the file is sound). */
  integrityProblems(): string[] {
    try {
      const rows = this.sqlite.query("PRAGMA integrity_check").all() as { integrity_check: string }[];
      return rows.map((row) => row.integrity_check).filter((line) => line !== "ok");
    } catch (error) {
      return [(error as Error).message];
    }
  }

  /**
   * Whether its schema is exactly what our first `schemaVersion` migrations create: a file from an older
   * Invoke of this line has a prefix of our migrations; one from a fork or a hand-edited schema does not.
   * Returns the first difference, or undefined.
   */
  schemaDifference(): string | undefined {
    const version = this.schemaVersion;
    if (version > CURRENT_VERSION) return `schema version ${version} is newer than this Invoke knows (${CURRENT_VERSION})`;
    const expected = new Database(":memory:");
    try {
      for (const migration of migrations.slice(0, version)) for (const statement of migration.statements) expected.run(statement);
      const ours = schemaOf(expected);
      const theirs = schemaOf(this.sqlite);
      for (const [name, sql] of ours) {
        if (!theirs.has(name)) return `${name} is missing`;
        if (theirs.get(name) !== sql) return `${name} differs from what migration ${version} leaves`;
      }
      for (const name of theirs.keys()) if (!ours.has(name)) return `${name} is not made by our migrations`;
      return undefined;
    } finally {
      expected.close();
    }
  }

  /** Tenants and their record counts. */
  tenants(): TenantCount[] {
    if (!this.hasTable("tenants")) return [];
    const tenants = this.sqlite.query<{ id: string; name: string }, []>("SELECT id, name FROM tenants ORDER BY created_at, id").all();
    const hasRecords = this.hasTable("execution_records");
    const count = hasRecords ? this.sqlite.query<{ n: number }, [string]>("SELECT count(*) AS n FROM execution_records WHERE tenant_id = ?") : undefined;
    return tenants.map(({ id, name }) => ({ id, name, records: count?.get(id)?.n ?? 0 }));
  }

  /** A tenant's records in chain order, as stored (`request_id` is null before the migration that added it). */
  *recordsInOrder(tenantId: string): Iterable<StoredRecord> {
    if (!this.hasTable("execution_records")) return;
    const columns = new Set((this.sqlite.query("SELECT name FROM pragma_table_info('execution_records')").all() as { name: string }[]).map((row) => row.name));
    const select = columns.has("request_id") ? "*" : "*, NULL AS request_id";
    const rows = this.sqlite.query<StoredRecord, [string]>(`SELECT ${select} FROM execution_records WHERE tenant_id = ? ORDER BY seq, rowid`);
    yield* rows.iterate(tenantId);
  }

  /** Size, schema version and per-tenant counts. */
  summary(): SnapshotSummary {
    return { bytes: statSync(this.path).size, schemaVersion: this.schemaVersion, tenants: this.tenants() };
  }

  close(): void {
    this.sqlite.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private hasTable(name: string): boolean {
    return this.sqlite.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== null;
  }
}

/** Every schema object but SQLite's own (`sqlite_*`, e.g. statistics), by type and name, with its SQL. */
function schemaOf(sqlite: Database): Map<string, string | null> {
  const rows = sqlite.query<{ type: string; name: string; sql: string | null }, []>("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all();
  return new Map(rows.map((row) => [`${row.type} ${row.name}`, row.sql]));
}

/**
 * Proves no other process has the database at `path` open, and leaves it as one self-contained file (WAL
 * checkpointed into it, no `-wal`/`-shm`), ready to be renamed away.
 *
 * A serving process keeps its WAL connection open but usually idle, so `BEGIN EXCLUSIVE` alone would
 * succeed beside it (in WAL mode it only excludes writers). With `locking_mode = EXCLUSIVE`, a WAL
 * connection's first read must take the file's exclusive lock, which fails while any other connection
 * holds its shared lock: that is, while any process has the database open. Locks die with their process,
 * so a crashed server's leftover `-wal`/`-shm` do not count as in use (and its WAL is folded in here).
 */
export function claimIdleDatabase(path: string): void {
  let sqlite: Database;
  try {
    sqlite = new Database(path, { readwrite: true, create: false });
  } catch (error) {
    throw new BackupError(`cannot open ${path}: ${(error as Error).message}`);
  }
  try {
    sqlite.run("PRAGMA busy_timeout = 0");
    sqlite.run("PRAGMA locking_mode = EXCLUSIVE");
    try {
      sqlite.run("BEGIN EXCLUSIVE");
      sqlite.query("SELECT count(*) FROM sqlite_master").get();
      sqlite.run("COMMIT");
    } catch (error) {
      if (/locked|busy/i.test((error as Error).message)) throw new DatabaseInUse(`database ${path} is in use by a running process (an invoke server?): stop it, then restore`);
      throw error;
    }
    // Still holding the lock: fold the WAL in and leave rollback mode, which removes the -wal file.
    sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite.run("PRAGMA journal_mode = DELETE");
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new BackupError(`cannot take over ${path}: ${(error as Error).message}`);
  } finally {
    sqlite.close();
  }
  for (const suffix of ["-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
}
