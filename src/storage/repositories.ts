/**
 * What a store provides: one repository per room, each interface declared by its room and
 * asynchronous at the boundary (so a networked store can implement it). `src/storage/sqlite/`
 * implements them on bun:sqlite; a second store is one new folder that passes the store contract
 * suite in `test/storage/`.
 */
import type { ApprovalRepository } from "../approvals/repository.ts";
import type { BrainRepository } from "../brain/repository.ts";
import type { ConnectorRepository } from "../connectors/repository.ts";
import type { DirectoryRepository, GroupRepository } from "../governance/repository.ts";
import type { StoreHealth } from "../observability/store-health.ts";
import type { PolicyRepository } from "../policy/repository.ts";
import type { RecordRepository } from "../records/repository.ts";

/** Every room's repository: what a store implementation provides (`storage/sqlite/` is one). */
export interface Repositories {
  approvals: ApprovalRepository;
  brain: BrainRepository;
  connectors: ConnectorRepository;
  /** Tenants, users and their API keys. */
  directory: DirectoryRepository;
  /** Approver groups per tenant. */
  groups: GroupRepository;
  /** Policy versions per tenant. */
  policy: PolicyRepository;
  /** Execution records, their roll-ups and roll-up progress. */
  records: RecordRepository;
  /** The store itself: whether it takes writes and is migrated. */
  storeHealth: StoreHealth;
}
