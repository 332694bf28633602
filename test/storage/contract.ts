/**
 * The store contract: one set of behavioural tests every store implementation must pass. Each
 * room's `*.contract.test.ts` runs its tests against every store listed here; a new store (say
 * PostgreSQL) is one more entry.
 */
import { describe } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newTenant } from "../../src/governance/bootstrap.ts";
import type { Repositories } from "../../src/storage/repositories.ts";
import { openStore } from "../../src/storage/sqlite/db.ts";
import { sqliteRepositories } from "../../src/storage/sqlite/index.ts";

/** One open store under test. */
export interface StoreUnderTest {
  repositories: Repositories;
  /** Adds a tenant (with its admin, as bootstrap does) through the directory; returns its id. */
  addTenant(name: string): Promise<string>;
  /** The same store's repositories over a connection of their own, as another process has them (closed with the store). */
  another(): Repositories;
  close(): void;
}

/** An open store's repositories and how to close it. */
type OpenStore = Pick<StoreUnderTest, "repositories" | "another" | "close">;

/** Every store implementation, by name. */
const STORES: { name: string; open(): OpenStore }[] = [
  {
    name: "sqlite",
    open() {
      const dir = mkdtempSync(join(tmpdir(), "invoke-contract-"));
      const store = openStore(join(dir, "invoke.db"));
      const others: ReturnType<typeof openStore>[] = [];
      return {
        repositories: sqliteRepositories(store),
        another() {
          const other = openStore(store.path);
          others.push(other);
          return sqliteRepositories(other);
        },
        close() {
          for (const other of others) other.close();
          store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

/** Declares `room`'s contract tests once per store: `body` gets a function opening a fresh, empty store. */
export function describeStores(room: string, body: (open: () => StoreUnderTest) => void): void {
  for (const store of STORES) describe(`${store.name} store: ${room}`, () => body(() => underTest(store.open())));
}

function underTest(opened: OpenStore): StoreUnderTest {
  return {
    ...opened,
    async addTenant(name) {
      const { stored, result } = newTenant(name, `admin@${name}.example`);
      if ((await opened.repositories.directory.createTenant(stored)) !== "created") throw new Error(`tenant ${name} exists`);
      return result.tenant_id;
    },
  };
}
