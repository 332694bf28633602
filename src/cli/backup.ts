/**
 * `invoke backup FILE` and `invoke restore FILE`: a consistent snapshot of the database taken while it
 * serves, and a checked, atomic swap of a snapshot back in while nothing serves. The replaced database is
 * always kept; nothing is ever deleted but the stale `-wal`/`-shm` of a database no process holds.
 */
import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DEFAULT_CONFIG } from "../config.ts";
import { keyFilePath } from "../governance/key-file.ts";
import { checkChain } from "../records/chain.ts";
import { checkpointFilePath } from "../records/checkpoints.ts";
import { BackupError, claimIdleDatabase, Snapshot, vacuumInto, type SnapshotSummary } from "../storage/sqlite/backup.ts";
import { SCHEMA_VERSION } from "../storage/sqlite/db.ts";
import { CommandFailure, UsageError, type Command } from "./command.ts";
import { dbFlag, jsonFlag } from "./shared.ts";

type Values = Record<string, string | boolean | undefined>;

/** The one positional argument, the snapshot file. */
function fileArgument(command: string, positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError(`${command} takes one FILE`);
  return positionals[0]!;
}

function databasePath(values: Values): string {
  return (values.db as string | undefined) ?? DEFAULT_CONFIG.db;
}

/** Runs `work`, turning storage failures into one-line command failures. */
function failingAsCommand<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof BackupError) throw new CommandFailure(error.message);
    throw error;
  }
}

/** Flushes a file's bytes and then its folder's entry to disk, so a rename into place survives a power cut. */
function syncToDisk(path: string): void {
  for (const target of [path, dirname(path)]) {
    const fd = openSync(target, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function describeTenants(summary: SnapshotSummary): string[] {
  return summary.tenants.map((tenant) => `  tenant ${tenant.name}: ${tenant.records} execution records`);
}

/** A file name stamp: the ISO time without characters some file systems refuse. */
function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-");
}

function backup(values: Values, positionals: string[]): number {
  const file = resolve(fileArgument("backup", positionals));
  const db = resolve(databasePath(values));
  if (!existsSync(db)) throw new CommandFailure(`database ${db} does not exist`);
  if (file === db) throw new UsageError("FILE is the database itself");
  if (existsSync(file) && !values.force) throw new CommandFailure(`${file} exists; --force replaces it`);
  const temporary = `${file}.partial-${process.pid}`;
  if (!values.json) console.error(`Backing up ${db} (${mebibytes(statSync(db).size)}) to ${file}…`);
  const summary = failingAsCommand(() => {
    vacuumInto(db, temporary);
    try {
      using snapshot = Snapshot.open(temporary);
      const taken = snapshot.summary();
      syncToDisk(temporary);
      renameSync(temporary, file);
      return taken;
    } catch (error) {
      rmSync(temporary, { force: true });
      throw error;
    }
  });
  if (values.json) {
    console.log(JSON.stringify({ file, bytes: summary.bytes, schema_version: summary.schemaVersion, tenants: summary.tenants }));
    return 0;
  }
  console.log(
    [
      `Saved ${file}: ${mebibytes(summary.bytes)}, schema version ${summary.schemaVersion}.`,
      ...describeTenants(summary),
      `Not in it: the key file (${keyFilePath({ db })}) and the checkpoint log (${checkpointFilePath({}, db)}); copy them too.`,
    ].join("\n"),
  );
  return 0;
}

/** Every reason the snapshot at `path` must not replace a database, one sentence each (none: it may). */
function snapshotProblems(snapshot: Snapshot): string[] {
  const integrity = snapshot.integrityProblems();
  if (integrity.length > 0) return [`${snapshot.path} is damaged: ${integrity.slice(0, 3).join("; ")}`];
  const version = snapshot.schemaVersion;
  if (version > SCHEMA_VERSION) return [`${snapshot.path} has schema version ${version}, newer than this Invoke knows (${SCHEMA_VERSION}); restore it with a newer invoke binary`];
  if (version === 0) return [`${snapshot.path} is not an Invoke database (schema version 0)`];
  const difference = snapshot.schemaDifference();
  if (difference) return [`${snapshot.path} does not have the schema of an Invoke database at version ${version}: ${difference}`];
  return snapshot.tenants().flatMap((tenant) => {
    const chain = checkChain(snapshot.recordsInOrder(tenant.id));
    return chain.first_broken ? [`${snapshot.path}: tenant ${tenant.name}: ${chain.first_broken.reason}`] : [];
  });
}

/** Checks the copy at `path` of the snapshot `file`; failures name `file`. */
function checkedSnapshot(path: string, file: string): SnapshotSummary {
  try {
    using snapshot = Snapshot.open(path);
    const problems = snapshotProblems(snapshot);
    if (problems.length > 0) throw new BackupError(problems[0]!);
    return snapshot.summary();
  } catch (error) {
    if (error instanceof BackupError) throw new BackupError(error.message.replaceAll(path, file));
    throw error;
  }
}

function restore(values: Values, positionals: string[]): number {
  const file = resolve(fileArgument("restore", positionals));
  const db = resolve(databasePath(values));
  if (file === db) throw new UsageError("FILE is the database itself");
  if (!existsSync(file)) throw new CommandFailure(`${file} does not exist`);
  const replacing = existsSync(db);
  if (replacing && !values.force) throw new CommandFailure(`database ${db} exists; --force replaces it (it is kept as ${db}.before-restore-<time>)`);
  // What is checked is the copy that is swapped in, beside the database so the rename stays on one file system.
  const temporary = `${db}.restore-${process.pid}.tmp`;
  const kept = `${db}.before-restore-${stamp()}`;
  const summary = failingAsCommand(() => {
    try {
      try {
        copyFileSync(file, temporary);
      } catch (error) {
        throw new BackupError(`cannot copy ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      const checked = checkedSnapshot(temporary, file);
      syncToDisk(temporary);
      if (replacing) {
        claimIdleDatabase(db);
        renameSync(db, kept);
      }
      for (const suffix of ["-wal", "-shm", "-journal"]) rmSync(`${db}${suffix}`, { force: true });
      renameSync(temporary, db);
      syncToDisk(db);
      return checked;
    } finally {
      // Checking a copy in WAL mode (a plain copy of a stopped server's file) leaves an empty -wal and -shm.
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${temporary}${suffix}`, { force: true });
    }
  });
  if (values.json) {
    console.log(JSON.stringify({ db, from: file, kept: replacing ? kept : null, schema_version: summary.schemaVersion, tenants: summary.tenants }));
    return 0;
  }
  const lines = [`Restored ${db} from ${file}: schema version ${summary.schemaVersion}, hash chains intact.`, ...describeTenants(summary)];
  if (replacing) lines.push(`The replaced database is kept as ${kept}.`);
  if (summary.schemaVersion < SCHEMA_VERSION) {
    lines.push(`Its schema is older than this Invoke's (${SCHEMA_VERSION}): starting this Invoke on it migrates it (after a backup); to roll back an upgrade, start the old binary instead.`);
  }
  lines.push("Checkpoints signed after this snapshot was taken will report a rollback (missing records) in 'invoke executions verify': expected after a deliberate restore.");
  console.log(lines.join("\n"));
  return 0;
}

/** `invoke backup FILE`. */
export const backupCommand: Command = {
  name: "backup",
  summary: "Write a consistent snapshot of the database to FILE, also while a server is serving.",
  args: "FILE",
  flags: {
    db: { ...dbFlag, help: "SQLite database file to back up (default invoke.db)." },
    force: { type: "boolean", help: "Replace FILE if it exists." },
    json: jsonFlag,
  },
  details: "The snapshot is written to a temporary name and renamed into place. The key file and the checkpoint log are separate files: copy them too.",
  run: backup,
};

/** `invoke restore FILE`. */
export const restoreCommand: Command = {
  name: "restore",
  summary: "Replace the database with a snapshot, after checking it; refused while a process has the database open.",
  args: "FILE",
  flags: {
    db: { ...dbFlag, help: "SQLite database file to replace (default invoke.db)." },
    force: { type: "boolean", help: "Replace an existing database (it is kept as <db>.before-restore-<time>)." },
    json: jsonFlag,
  },
  details: [
    "FILE must be a sound SQLite file (integrity_check) whose schema is one this Invoke's migrations make, at a",
    "version no newer than this build's, and whose hash chains verify. Stop the server first: restore checks",
    "that no process has the database open and swaps the snapshot in with a rename.",
  ].join("\n"),
  run: restore,
};
