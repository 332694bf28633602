/** The store: embedded migrations, idempotent start-up, refusal of newer databases, and its pragmas. */
import { describe, expect, it } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { openStore, SCHEMA_VERSION } from "../../src/storage/sqlite/db.ts";
import { journalTags, migrations } from "../../src/storage/sqlite/migrations.ts";
import { tempDir } from "../support/harness.ts";

describe("migrations", () => {
  it("embeds every migration of drizzle/ in journal order", () => {
    const files = readdirSync(join(import.meta.dir, "../../drizzle")).filter((name) => name.endsWith(".sql")).map((name) => name.replace(/\.sql$/, ""));
    expect(journalTags).toEqual(files.sort());
    expect(migrations.map((migration) => migration.tag)).toEqual(journalTags);
    expect(migrations.every((migration) => migration.statements.length > 0)).toBe(true);
  });

  it("creates the schema on a new file and records its version", () => {
    using dir = tempDir();
    const store = openStore(join(dir.path, "new.db"));
    const tables = store.sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
    expect(tables.map((table) => table.name)).toEqual(expect.arrayContaining(["api_keys", "tenants", "users"]));
    expect(store.sqlite.query("PRAGMA user_version").get()).toEqual({ user_version: SCHEMA_VERSION });
    store.close();
  });

  it("reopens a migrated database without changing it", () => {
    using dir = tempDir();
    const path = join(dir.path, "again.db");
    const first = openStore(path);
    first.sqlite.run("INSERT INTO tenants (id, name, created_at) VALUES ('ten_1', 'kept', 1)");
    first.close();
    const second = openStore(path);
    expect(second.sqlite.query("SELECT name FROM tenants").all()).toEqual([{ name: "kept" }]);
    second.close();
  });

  it("refuses a database written by a newer Invoke, naming both versions", () => {
    using dir = tempDir();
    const path = join(dir.path, "future.db");
    const store = openStore(path);
    store.sqlite.run(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    store.close();
    expect(() => openStore(path)).toThrow(`schema version ${SCHEMA_VERSION + 1}, newer than this Invoke knows (${SCHEMA_VERSION})`);
  });

  it("survives two stores migrating the same new file", () => {
    using dir = tempDir();
    const path = join(dir.path, "race.db");
    const a = openStore(path);
    const b = openStore(path);
    expect(b.sqlite.query("PRAGMA user_version").get()).toEqual({ user_version: SCHEMA_VERSION });
    a.close();
    b.close();
  });
});

describe("pragmas", () => {
  it("runs in WAL mode with foreign keys and a busy timeout", () => {
    using dir = tempDir();
    const store = openStore(join(dir.path, "p.db"));
    expect(store.sqlite.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "wal" });
    expect(store.sqlite.query("PRAGMA foreign_keys").get()).toEqual({ foreign_keys: 1 });
    expect(store.sqlite.query("PRAGMA busy_timeout").get()).toEqual({ timeout: 5000 });
    expect(() => store.sqlite.run("INSERT INTO users (id, tenant_id, email, role, created_at) VALUES ('u', 'no-such-tenant', 'a@b', 'admin', 1)")).toThrow(
      /FOREIGN KEY/,
    );
    store.close();
  });

  it("fails with a clear message when the file cannot be a database", async () => {
    using dir = tempDir();
    const path = join(dir.path, "not-a.db");
    await Bun.write(path, "this is plain text, not SQLite ".repeat(100));
    expect(() => openStore(path)).toThrow(/cannot use database .*not-a\.db/);
  });
});
