/**
 * What a store provides: one repository per room, each interface declared by its room and
 * asynchronous at the boundary (so a networked store can implement it). `src/storage/sqlite/`
 * implements them on bun:sqlite; a second store is one new folder that passes the store contract
 * suite in `test/storage/`.
 */
import type { RecordRepository } from "../records/repository.ts";

// Each room adds its repository here as it moves its queries into the store.
export interface Repositories {
  /** Execution records, their roll-ups and roll-up progress. */
  records: RecordRepository;
}
