/**
 * The records room's repository on SQLite: execution records (the `execution_records` table, one
 * unique (tenant_id, seq) index), their roll-ups, the roll-up progress marks and the checkpoint log's
 * memo (`checkpoint_log`, one row). Transactions are IMMEDIATE, so a chain's head (or the memo) is read
 * under the write lock and processes sharing the file never fork a chain or the checkpoint log.
 */
import { HASHED_FIELDS, type StoredRecord } from "../../records/chain.ts";
import type { CheckpointMemo, CheckpointTurn, Draft, Head, KeyUsage, MarkMove, PendingRecord, Place, RecordRepository, TenantHead, WalkFilters } from "../../records/repository.ts";
import { HISTOGRAM_BUCKETS, HOUR_MS, MINUTE_MS, SCALARS, type Dimension, type RollupBatch, type RollupGroup } from "../../records/rollups.ts";
import type { Store } from "./db.ts";

const COLUMNS = [...HASHED_FIELDS, "hash"] as const;
const SELECT = `SELECT ${COLUMNS.join(", ")} FROM execution_records`;
const HISTOGRAM_COLUMNS = Array.from({ length: HISTOGRAM_BUCKETS }, (_, bucket) => `h${bucket}`);
const COUNTER_COLUMNS = [...SCALARS, ...HISTOGRAM_COLUMNS];
const KEY_COLUMNS = ["tenant_id", "span", "bucket", "dimension", "name"];

/** Thrown inside a roll-up transaction to undo it when a mark moved meanwhile. */
class MarkMoved extends Error {}

/** The SQLite implementation of the records repository. */
export class SqliteRecords implements RecordRepository {
  private readonly insertRow;
  private readonly headOf;
  private readonly rowBySeq;
  private readonly rowById;
  private readonly tenantIds;
  private readonly marks;
  private readonly markOf;
  private readonly setMark;
  private readonly upsertRollup;
  private readonly appendAll;
  private readonly addAll;
  private readonly memo;
  private readonly checkpointTurn;
  /**
   * The chain heads this connection's last group commit left, and the data_version it read: valid while
   * no other connection has committed, which saves reading each head again on every commit.
   */
  private committedHeads = new Map<string, Head>();
  private headsVersion: number | undefined;

  constructor(private readonly store: Store) {
    const sqlite = store.sqlite;
    this.insertRow = sqlite.prepare<unknown, (string | number | null)[]>(`INSERT INTO execution_records (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map(() => "?").join(", ")})`);
    this.headOf = sqlite.prepare<Head, [string]>("SELECT seq, hash FROM execution_records WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1");
    this.rowBySeq = sqlite.prepare<StoredRecord, [string, number]>(`${SELECT} WHERE tenant_id = ? AND seq = ?`);
    this.rowById = sqlite.prepare<StoredRecord, [string, string]>(`${SELECT} WHERE tenant_id = ? AND id = ?`);
    this.tenantIds = sqlite.prepare<{ id: string }, []>("SELECT id FROM tenants ORDER BY id");
    this.marks = sqlite.prepare<{ tenantId: string; seq: number }, []>(
      "SELECT t.id AS tenantId, coalesce(p.seq, 0) AS seq FROM tenants t LEFT JOIN execution_rollup_progress p ON p.tenant_id = t.id ORDER BY t.id",
    );
    this.markOf = sqlite.prepare<{ seq: number }, [string]>("SELECT seq FROM execution_rollup_progress WHERE tenant_id = ?");
    this.setMark = sqlite.prepare<unknown, [string, number]>(
      "INSERT INTO execution_rollup_progress (tenant_id, seq) VALUES (?, ?) ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq",
    );
    const columns = [...KEY_COLUMNS, ...COUNTER_COLUMNS];
    this.upsertRollup = sqlite.prepare<unknown, (string | number)[]>(
      `INSERT INTO execution_rollups (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")}) ` +
        `ON CONFLICT (${KEY_COLUMNS.join(", ")}) DO UPDATE SET ${COUNTER_COLUMNS.map((name) => `${name} = ${name} + excluded.${name}`).join(", ")}`,
    );
    const dataVersion = sqlite.prepare<{ data_version: number }, []>("PRAGMA data_version");
    this.appendAll = sqlite.transaction((drafts: readonly Draft[], place: Place) => {
      // Under the write lock: the heads this connection committed last are still the heads unless another
      // connection committed since (its commit moves data_version; this connection's own do not).
      const version = dataVersion.get()!.data_version;
      const known = version === this.headsVersion ? this.committedHeads : new Map<string, Head>();
      const heads = new Map<string, Head>();
      const outcomes = drafts.map((draft) => {
        try {
          return this.insert(draft, place, heads, known);
        } catch (error) {
          // A record the schema refuses (e.g. an unknown tenant) fails alone; the statement rolled back, the
          // transaction did not. A taken (tenant, seq) is no such record: the head it was placed after was stale.
          if (refusedRecord(error)) return error as Error;
          throw error;
        }
      });
      return { outcomes, version, known, heads };
    });
    this.addAll = sqlite.transaction((counts: RollupBatch, moves: readonly MarkMove[]) => {
      for (const move of moves) if ((this.markOf.get(move.tenantId)?.seq ?? 0) !== move.from) throw new MarkMoved();
      for (const { key, counters } of counts.entries()) {
        this.upsertRollup.run(key.tenantId, key.span, key.bucket, key.dimension, key.name, ...SCALARS.map((name) => counters[name]), ...counters.histogram);
      }
      for (const move of moves) this.setMark.run(move.tenantId, move.to);
    });
    this.memo = sqlite.prepare<CheckpointMemo, []>("SELECT line, digest, at FROM checkpoint_log WHERE id = 1");
    const setMemo = sqlite.prepare<unknown, [number, string, number]>(
      "INSERT INTO checkpoint_log (id, line, digest, at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET line = excluded.line, digest = excluded.digest, at = excluded.at",
    );
    this.checkpointTurn = sqlite.transaction((turn: CheckpointTurn) => {
      const next = turn(this.memo.get() ?? undefined);
      if (next) setMemo.run(next.line, next.digest, next.at);
    });
  }

  async append(drafts: readonly Draft[], place: Place): Promise<(StoredRecord | Error)[]> {
    // Its own transaction: a savepoint inside another could still be rolled back after the heads are kept.
    if (this.store.sqlite.inTransaction) throw new Error("append runs in a transaction of its own, not inside another");
    let committed;
    try {
      committed = this.appendAll.immediate(drafts, place);
    } catch (error) {
      // Whatever failed, the heads are read from the store next time.
      this.headsVersion = undefined;
      throw error;
    }
    const { outcomes, version, known, heads } = committed;
    // Committed: the heads it moved join the ones still known (a failed transaction changes neither).
    for (const [tenantId, head] of heads) known.set(tenantId, head);
    this.committedHeads = known;
    this.headsVersion = version;
    return outcomes;
  }

  /**
   * Stores another room's pending record inside that room's open (immediate) transaction of this store,
   * so the two commit together: how an approval vote is recorded (`approvals.ts`).
   */
  appendWithin({ draft, place }: PendingRecord): StoredRecord {
    if (!this.store.sqlite.inTransaction) throw new Error("appendWithin runs inside a transaction of the store");
    // The transaction may still roll back: the head it moves is read from the store next time.
    this.headsVersion = undefined;
    return this.insert(draft, place, new Map());
  }

  async head(tenantId: string): Promise<Head | undefined> {
    return this.headOf.get(tenantId) ?? undefined;
  }

  async heads(): Promise<TenantHead[]> {
    // One index probe per tenant: a GROUP BY over the records would read the whole index.
    return this.tenantIds.all().flatMap(({ id }) => {
      const head = this.headOf.get(id);
      return head ? [{ tenant_id: id, seq: head.seq, hash: head.hash }] : [];
    });
  }

  async bySeq(tenantId: string, seq: number): Promise<StoredRecord | undefined> {
    return this.rowBySeq.get(tenantId, seq) ?? undefined;
  }

  async byId(tenantId: string, id: string): Promise<StoredRecord | undefined> {
    return this.rowById.get(tenantId, id) ?? undefined;
  }

  async newestFirst(tenantId: string, filters: WalkFilters, before: number, limit: number): Promise<StoredRecord[]> {
    const { conditions, params } = filterConditions(tenantId, filters);
    if (before > 0) {
      conditions.push("seq < ?");
      params.push(before);
    }
    return this.store.sqlite.query<StoredRecord, (string | number)[]>(`${SELECT} WHERE ${conditions.join(" AND ")} ORDER BY seq DESC LIMIT ?`).all(...params, limit);
  }

  async oldestFirst(tenantId: string, filters: WalkFilters, after: number, upTo: number, limit: number): Promise<StoredRecord[]> {
    const { conditions, params } = filterConditions(tenantId, filters);
    return this.store.sqlite
      .query<StoredRecord, (string | number)[]>(`${SELECT} WHERE ${conditions.join(" AND ")} AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`)
      .all(...params, after, upTo, limit);
  }

  async rollupMarks(): Promise<{ tenantId: string; seq: number }[]> {
    return this.marks.all();
  }

  async addRollups(counts: RollupBatch, moves: readonly MarkMove[]): Promise<boolean> {
    try {
      this.addAll.immediate(counts, moves);
      return true;
    } catch (error) {
      if (error instanceof MarkMoved) return false;
      throw error;
    }
  }

  async toolCallsByKey(tenantId: string, keyIds: readonly string[], profile: string): Promise<KeyUsage[]> {
    if (keyIds.length === 0) return [];
    const keys = keyIds.map(() => "?").join(", ");
    return this.store.sqlite
      .query<KeyUsage, string[]>(`SELECT key_id AS keyId, count(*) AS calls, max(at) AS last FROM execution_records WHERE tenant_id = ? AND kind = 'tool_call' AND profile = ? AND key_id IN (${keys}) GROUP BY key_id`)
      .all(tenantId, profile, ...keyIds);
  }

  async sumRollups(tenantId: string, dimension: Dimension, from: number, to: number): Promise<RollupGroup[]> {
    // Whole hours from the hourly rows, the minutes at either end from the minute rows.
    const firstHour = Math.ceil(from / HOUR_MS) * HOUR_MS;
    const lastHour = Math.floor(to / HOUR_MS) * HOUR_MS;
    const ranges: [number, number, number][] =
      firstHour < lastHour
        ? [
            [HOUR_MS, firstHour, lastHour],
            [MINUTE_MS, from, firstHour],
            [MINUTE_MS, lastHour, to],
          ]
        : [[MINUTE_MS, from, to]];
    // One index range per part (an OR of them would scan the tenant's rows); summed per name over all parts.
    const parts = ranges.map(() => `SELECT * FROM execution_rollups WHERE tenant_id = ? AND span = ? AND dimension = ? AND bucket >= ? AND bucket < ?`).join(" UNION ALL ");
    const rows = this.store.sqlite
      .query<Record<string, number | string>, (string | number)[]>(
        `SELECT name, ${COUNTER_COLUMNS.map((name) => `total(${name}) AS ${name}`).join(", ")} FROM (${parts}) GROUP BY name ORDER BY name`,
      )
      .all(...ranges.flatMap(([span, start, end]) => [tenantId, span, dimension, start, end]));
    return rows.map((row) => ({
      name: String(row.name),
      calls: Number(row.calls),
      errors: Number(row.errors),
      denials: Number(row.denials),
      approvals_required: Number(row.approvals_required),
      refused: Number(row.refused),
      rate_limited: Number(row.rate_limited),
      latency_sum: Number(row.latency_sum),
      histogram: HISTOGRAM_COLUMNS.map((name) => Number(row[name])),
    }));
  }

  async checkpointMemo(): Promise<CheckpointMemo | undefined> {
    return this.memo.get() ?? undefined;
  }

  async takeCheckpointTurn(turn: CheckpointTurn): Promise<void> {
    this.checkpointTurn.immediate(turn);
  }

  /** Places a draft after its tenant's head (moved in this transaction, else still `known`, else read) and inserts it. */
  private insert(draft: Draft, place: Place, heads: Map<string, Head>, known?: Map<string, Head>): StoredRecord {
    const row = place(draft, heads.get(draft.tenant_id) ?? known?.get(draft.tenant_id) ?? this.headOf.get(draft.tenant_id) ?? undefined);
    this.insertRow.run(...COLUMNS.map((name) => row[name]));
    heads.set(row.tenant_id, { seq: row.seq, hash: row.hash });
    return row;
  }
}

/** The WHERE conditions (with their parameters) of a tenant's records matching `filters`. */
function filterConditions(tenantId: string, filters: WalkFilters): { conditions: string[]; params: (string | number)[] } {
  const conditions = ["tenant_id = ?"];
  const params: (string | number)[] = [tenantId];
  const add = (condition: string, value: string | number | undefined) => {
    if (value === undefined) return;
    conditions.push(condition);
    params.push(value);
  };
  add("tool = ?", filters.tool);
  add("agent_id = ?", filters.agent_id);
  add("decision = ?", filters.decision);
  add("status = ?", filters.status);
  add("kind = ?", filters.kind);
  add("at >= ?", filters.since);
  add("at < ?", filters.until);
  return { conditions, params };
}

/** A record the schema refuses (foreign key, not null): SQLite undid that statement only. A taken seq is not among them. */
function refusedRecord(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" && code.startsWith("SQLITE_CONSTRAINT") && code !== "SQLITE_CONSTRAINT_UNIQUE";
}
