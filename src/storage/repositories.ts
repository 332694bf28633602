/**
 * What a store provides: one repository per room, each interface declared by its room and
 * asynchronous at the boundary (so a networked store can implement it). `src/storage/sqlite/`
 * implements them on bun:sqlite; a second store is one new folder that passes the store contract
 * suite in `test/storage/`.
 */
import type { DirectoryRepository, GroupRepository } from "../governance/repository.ts";
import type { PolicyRepository } from "../policy/repository.ts";

// Each room adds its repository here as it moves its queries into the store.
export interface Repositories {
  /** Tenants, users and their API keys. */
  directory: DirectoryRepository;
  /** Approver groups per tenant. */
  groups: GroupRepository;
  /** Policy versions per tenant. */
  policy: PolicyRepository;
}
