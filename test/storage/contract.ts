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
import { GENESIS_HASH, recordHash } from "../../src/records/chain.ts";
import type { NewApproval } from "../../src/approvals/repository.ts";
import type { Draft, PendingRecord, Place } from "../../src/records/repository.ts";
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

/** The time of the first record `draft` makes. */
export const AT = Date.UTC(2026, 0, 1, 12, 0, 0);

/** A tool call of `tenantId`, the `index`th: tools and decisions vary with it. */
export function draft(tenantId: string, index: number): Draft {
  return {
    tenant_id: tenantId,
    at: AT + index * 1000,
    kind: "tool_call",
    user_id: "usr_contract",
    key_id: "key_contract",
    agent_id: `agent_${index % 2}`,
    client_name: "contract",
    profile: "operator",
    role: "editor",
    tool: index % 3 === 0 ? "crm.update" : "database.execute",
    classification: "mutating",
    arguments: JSON.stringify({ index }),
    decision: index % 4 === 0 ? "deny" : "allow",
    matched_rules: "[]",
    approval_id: null,
    status: index % 5 === 0 ? "error" : "ok",
    latency_ms: 1 + (index % 7),
    error: null,
    result_digest: null,
    request_id: null,
  };
}

/** Places a draft as the ledger does: the next seq, the head's hash as prev_hash, its own hash. */
export const place: Place = (next, head) => {
  const seq = (head?.seq ?? 0) + 1;
  const unhashed = { ...next, id: `exe_${seq.toString(36)}_${next.tenant_id.slice(-10).padStart(10, "x")}`, seq, prev_hash: head?.hash ?? GENESIS_HASH };
  return { ...unhashed, hash: recordHash(unhashed) };
};

/** The `index`th tool call of `tenantId` as another room stores it with its own change (an approval vote with the vote). */
export function pendingRecord(tenantId: string, index = 0): PendingRecord {
  return { draft: draft(tenantId, index), place };
}

/** A pending approval request `id` of `tenantId`, made at `createdAt` and open an hour, that one approval approves. */
export function approvalRequest(tenantId: string, id: string, createdAt = AT): NewApproval {
  return {
    id,
    tenantId,
    tool: "database.execute",
    arguments: {},
    agentId: "agent",
    clientName: null,
    requestedBy: "usr_requester",
    requestedKey: "key_requester",
    profile: "operator",
    role: "editor",
    policyVersion: 1,
    matchedRules: [],
    approvalsRequired: 1,
    approverGroups: [],
    createdAt,
    expiresAt: createdAt + 3_600_000,
    requestRecordId: null,
  };
}
