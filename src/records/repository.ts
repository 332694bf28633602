/**
 * The records room's store port: where execution records, their roll-ups and the roll-up progress marks
 * are kept. Asynchronous at the boundary and tenant-scoped (every read names its tenant), so a networked
 * store can implement it. The chain itself (canonical form, hashing, redaction, group commit, roll-up
 * arithmetic) stays in the room: a store only persists what it is given, atomically.
 */
import type { StoredRecord } from "./chain.ts";
import type { RecordFilters } from "./model.ts";
import type { Dimension, RollupBatch, RollupGroup } from "./rollups.ts";

/** A record before the chain places it: everything but its id, seq and the hashes. */
export type Draft = Omit<StoredRecord, "id" | "seq" | "prev_hash" | "hash">;

/** The last record of a tenant's chain. */
export interface Head {
  seq: number;
  hash: string;
}

/** A tenant's chain head. */
export type TenantHead = Head & { tenant_id: string };

/** Places a draft after `head` (the genesis head for a tenant's first record): the row to store. */
export type Place = (draft: Draft, head: Head | undefined) => StoredRecord;

/**
 * A record another room's repository stores inside its own transaction, placed after its tenant's head
 * as that transaction sees it: the change it records (an approval vote) and the record commit together.
 */
export interface PendingRecord {
  draft: Draft;
  place: Place;
}

/** Filters of a walk over a tenant's records (paging is the walk's own). */
export type WalkFilters = Omit<RecordFilters, "limit" | "cursor">;

/** A tenant's roll-up progress mark moving from `from` to `to` (the last seq added to the roll-ups). */
export interface MarkMove {
  tenantId: string;
  from: number;
  to: number;
}

/** A key's tool calls: how many, and when the last was made. */
export interface KeyUsage {
  keyId: string;
  calls: number;
  last: number;
}

/** The store's note of the last line it wrote to the checkpoint log (`checkpoints.ts`). */
export interface CheckpointMemo {
  line: number;
  /** The digest of that line. */
  digest: string;
  /** When it was written (ms). */
  at: number;
}

/**
 * One turn of the checkpoint writer, run inside the store's transaction: given the memo as that
 * transaction sees it, appends its lines to the log and returns the new memo (undefined: nothing written).
 * Synchronous, so the turn holds the store's write lock from reading the memo to saving the new one.
 */
export type CheckpointTurn = (memo: CheckpointMemo | undefined) => CheckpointMemo | undefined;

/** The execution records, their roll-ups and progress marks, and the checkpoint log's memo. */
export interface RecordRepository {
  /**
   * In one transaction, each draft placed at the end of its tenant's chain by `place`, given the head as
   * that transaction sees it (so appends from several processes never fork a chain). A draft the store
   * refuses (an unknown tenant) fails alone, as an Error in its place; any other failure fails them all.
   */
  append(drafts: readonly Draft[], place: Place): Promise<(StoredRecord | Error)[]>;
  /** The last record of the tenant's chain, if it has any. */
  head(tenantId: string): Promise<Head | undefined>;
  /** The head of every tenant's chain that has records, by tenant id. */
  heads(): Promise<TenantHead[]>;
  /** The tenant's record at `seq`, if it exists. */
  bySeq(tenantId: string, seq: number): Promise<StoredRecord | undefined>;
  /** The tenant's record with id `id` (records older than seq-named ids are found this way). */
  byId(tenantId: string, id: string): Promise<StoredRecord | undefined>;
  /** Up to `limit` of the tenant's matching records below seq `before` (0: from the head), newest first. */
  newestFirst(tenantId: string, filters: WalkFilters, before: number, limit: number): Promise<StoredRecord[]>;
  /** Up to `limit` of the tenant's matching records with `after` < seq ≤ `upTo`, oldest first. */
  oldestFirst(tenantId: string, filters: WalkFilters, after: number, upTo: number, limit: number): Promise<StoredRecord[]>;
  /** Every tenant's roll-up progress mark (0 before its first roll-up). */
  rollupMarks(): Promise<{ tenantId: string; seq: number }[]>;
  /**
   * Adds `counts` to the roll-ups and moves the marks, in one transaction; nothing, and false, if a mark
   * is no longer at its `from` (another process rolled up meanwhile).
   */
  addRollups(counts: RollupBatch, moves: readonly MarkMove[]): Promise<boolean>;
  /** How many tool calls each of `keyIds` made with a key of `profile`, and the last one's time (keys that made none are left out). */
  toolCallsByKey(tenantId: string, keyIds: readonly string[], profile: string): Promise<KeyUsage[]>;
  /** The counters of `dimension` summed per name over [from, to) (minute-aligned), sorted by name. */
  sumRollups(tenantId: string, dimension: Dimension, from: number, to: number): Promise<RollupGroup[]>;
  /** The store's note of the last checkpoint line it wrote, if it wrote any. */
  checkpointMemo(): Promise<CheckpointMemo | undefined>;
  /**
   * Runs `turn` inside one exclusive transaction of the store, so processes sharing it take turns at the
   * checkpoint log, and saves the memo it returns in that transaction. A turn that throws saves nothing.
   */
  takeCheckpointTurn(turn: CheckpointTurn): Promise<void>;
}
