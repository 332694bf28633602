/**
 * The store contract: one set of behavioural tests every store implementation must pass. Each
 * room's `*.contract.test.ts` runs its tests against every store listed here; a new store (say
 * PostgreSQL) is one more entry.
 */
import { describe } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Repositories } from "../../src/storage/repositories.ts";
import { openStore } from "../../src/storage/sqlite/db.ts";
import { sqliteRepositories } from "../../src/storage/sqlite/index.ts";
import { tenants } from "../../src/storage/sqlite/schema.ts";

/** One open store under test. */
export interface StoreUnderTest {
  repositories: Repositories;
  /** Adds a tenant the way the store keeps them (rooms' rows refer to one); returns its id. */
  addTenant(name: string): Promise<string>;
  close(): void;
}

/** Every store implementation, by name. */
const STORES: { name: string; open(): StoreUnderTest }[] = [
  {
    name: "sqlite",
    open() {
      const dir = mkdtempSync(join(tmpdir(), "invoke-contract-"));
      const store = openStore(join(dir, "invoke.db"));
      return {
        repositories: sqliteRepositories(store),
        async addTenant(name) {
          const id = `tenant_${name}`;
          store.db.insert(tenants).values({ id, name, createdAt: Date.now() }).run();
          return id;
        },
        close() {
          store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

/** Declares `room`'s contract tests once per store: `body` gets a function opening a fresh, empty store. */
export function describeStores(room: string, body: (open: () => StoreUnderTest) => void): void {
  for (const store of STORES) describe(`${store.name} store: ${room}`, () => body(store.open));
}
