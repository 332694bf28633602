/**
 * The hash chain over a tenant's records: how a record's hash is computed from its stored fields, and
 * the walk that recomputes a chain and names the first record that breaks it.
 *
 * What the chain cannot show on its own: removing the newest records (the rest is still a valid chain),
 * and a rewrite of every record from some point on with freshly computed hashes. Both need the head
 * (the last seq and hash) kept somewhere the database's writer cannot reach: the signed checkpoints
 * (`checkpoints.ts`, checked by `audit.ts`).
 */
import { sha256Hex } from "./canonical.ts";
import type { VerifyReport } from "./model.ts";

/** A record as its row stores it: times in epoch ms, arguments and matched rules as JSON text. */
export interface StoredRecord {
  id: string;
  tenant_id: string;
  seq: number;
  at: number;
  kind: string;
  user_id: string | null;
  key_id: string | null;
  agent_id: string | null;
  client_name: string | null;
  profile: string | null;
  role: string | null;
  tool: string;
  classification: string | null;
  arguments: string;
  decision: string | null;
  matched_rules: string;
  approval_id: string | null;
  status: string;
  latency_ms: number;
  error: string | null;
  result_digest: string | null;
  /** Added by migration 0007: hashed only when set, so older records keep their hashes. */
  request_id: string | null;
  prev_hash: string;
  hash: string;
}

/** Every stored field but `hash`: what the hash covers. */
export const HASHED_FIELDS = [
  "id",
  "tenant_id",
  "seq",
  "at",
  "kind",
  "user_id",
  "key_id",
  "agent_id",
  "client_name",
  "profile",
  "role",
  "tool",
  "classification",
  "arguments",
  "decision",
  "matched_rules",
  "approval_id",
  "status",
  "latency_ms",
  "error",
  "result_digest",
  "request_id",
  "prev_hash",
] as const satisfies readonly (keyof StoredRecord)[];

/** The `prev_hash` of a tenant's first record. */
export const GENESIS_HASH = "0".repeat(64);

/** The hashed fields in canonical (sorted) order. */
const SORTED_FIELDS = [...HASHED_FIELDS].sort();

/**
 * SHA-256 of `prev_hash` followed by the canonical JSON of every stored field except `hash` (and
 * `request_id` when it is null, as in records written before it existed). The fields
 * are scalars (text, numbers, null) and no name looks like an index, so an object filled in sorted key
 * order is written by JSON.stringify exactly as canonicalJson would write it.
 */
export function recordHash(row: Omit<StoredRecord, "hash">): string {
  const fields: Record<string, unknown> = {};
  for (const name of SORTED_FIELDS) if (name !== "request_id" || row.request_id !== null) fields[name] = row[name];
  return sha256Hex(row.prev_hash + JSON.stringify(fields));
}

/** Walks `rows` (one tenant's, in seq order), recomputing every hash; reports the first break and the number of rows. */
export function checkChain(rows: Iterable<StoredRecord>): VerifyReport {
  const check = new ChainCheck();
  for (const row of rows) check.add(row);
  return check.report();
}

/** The walk of `checkChain`, fed one row at a time (by a reader that pages through the rows). */
export class ChainCheck {
  private records = 0;
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  private broken: VerifyReport["first_broken"];

  /** Checks the next row of the tenant, in seq order. */
  add(row: StoredRecord): void {
    this.records++;
    if (this.broken) return;
    this.broken = findBreak(row, this.expectedSeq, this.prevHash);
    this.expectedSeq = row.seq + 1;
    this.prevHash = row.hash;
  }

  /** The first break found, and the number of rows. */
  report(): VerifyReport {
    return this.broken ? { ok: false, records: this.records, first_broken: this.broken } : { ok: true, records: this.records };
  }
}

function findBreak(row: StoredRecord, expectedSeq: number, prevHash: string): VerifyReport["first_broken"] {
  const name = `record ${row.id} (seq ${row.seq})`;
  if (row.seq > expectedSeq) {
    const reason = row.seq === expectedSeq + 1 ? `seq ${expectedSeq} is missing: a record was deleted` : `seq ${expectedSeq} to ${row.seq - 1} are missing: records were deleted`;
    return { seq: expectedSeq, id: null, reason };
  }
  if (row.seq < expectedSeq) return { seq: row.seq, id: row.id, reason: `${name} is out of order: seq ${row.seq} was already taken` };
  if (recordHash(row) !== row.hash) return { seq: row.seq, id: row.id, reason: `${name} was changed: its hash does not match its contents` };
  if (row.prev_hash !== prevHash) {
    return { seq: row.seq, id: row.id, reason: `${name} does not follow seq ${row.seq - 1}: its prev_hash does not match that record's hash (a record was replaced or reordered)` };
  }
  return undefined;
}
