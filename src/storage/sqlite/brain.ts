/**
 * The company brain on SQLite: entities and relations per tenant, searched with FTS5 (BM25, names
 * weighted over attributes) and joined to related entities in both directions. Every statement that
 * reads or writes entities is bound to the caller's tenant (the index's own bookkeeping is not).
 */
import { BadRequest } from "../../errors.ts";
import type { BrainHit, EntityCounts, RelatedEntity } from "../../brain/model.ts";
import type { BrainBatch, BrainRepository, BrainSearch, BrainWriteResult } from "../../brain/repository.ts";
import { toFtsQuery } from "./brain-fts.ts";
import type { Store } from "./db.ts";

/** An entity row as read for a hit. */
interface EntityRow {
  id: number;
  type: string;
  key: string;
  name: string;
  attributes: string;
  source: string | null;
  updated_at: number;
  score: number;
}

/** A related entity's row. */
interface RelatedRow {
  type: string;
  key: string;
  name: string;
  attributes: string;
  relation: string;
}

/** The flattened text of attribute values, for the full-text index. */
function attributeText(attributes: Record<string, unknown>): string {
  const out: string[] = [];
  const walk = (value: unknown) => {
    if (value === null || value === undefined) return;
    if (typeof value === "object") for (const item of Object.values(value as Record<string, unknown>)) walk(item);
    else out.push(String(value));
  };
  walk(attributes);
  return out.join(" ");
}

const PROGRESS_EVERY = 10_000;

/** The brain's statements, prepared once. */
export class SqliteBrainRepository implements BrainRepository {
  private readonly findId;
  private readonly upsertEntity;
  private readonly maxId;
  private readonly indexRange;
  private readonly insertRelation;
  private readonly deleteEntity;
  private readonly outgoing;
  private readonly rank;
  private readonly entitiesById;
  private readonly incoming;

  constructor(private readonly store: Store) {
    const db = store.sqlite;
    this.findId = db.prepare<{ id: number }, [string, string, string]>("SELECT id FROM brain_entities WHERE tenant_id = ? AND type = ? AND key = ?");
    // One statement per entity: insert, or update only when something changed (unchanged rows return nothing).
    this.upsertEntity = db.prepare<{ id: number }, [string, string, string, string, string, string, string | null, number]>(
      `INSERT INTO brain_entities (tenant_id, type, key, name, attributes, search_text, source, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, type, key) DO UPDATE SET name = excluded.name, attributes = excluded.attributes, search_text = excluded.search_text,
         source = excluded.source, updated_at = excluded.updated_at
       WHERE name IS NOT excluded.name OR attributes IS NOT excluded.attributes OR source IS NOT excluded.source
       RETURNING id`,
    );
    this.maxId = db.prepare<{ id: number | null }, []>("SELECT max(id) AS id FROM brain_entities");
    // New rows are indexed by write(); updates and deletes keep their triggers (migration 0004).
    this.indexRange = db.prepare("INSERT INTO brain_fts (rowid, name, search_text) SELECT id, name, search_text FROM brain_entities WHERE id > ? AND id <= ?");
    this.insertRelation = db.prepare("INSERT OR IGNORE INTO brain_relations (tenant_id, from_id, relation, to_id) VALUES (?, ?, ?, ?)");
    this.deleteEntity = db.prepare("DELETE FROM brain_entities WHERE tenant_id = ? AND type = ? AND key = ?");
    const related = (join: string, match: string) =>
      db.prepare<RelatedRow, [string, number, string, string | null, string | null, number]>(
        `SELECT e.type, e.key, e.name, e.attributes, r.relation FROM brain_relations r JOIN brain_entities e ON e.id = r.${join}
         WHERE r.tenant_id = ? AND r.${match} = ? AND e.type = ? AND (? IS NULL OR r.relation = ?) ORDER BY e.name, e.key LIMIT ?`,
      );
    this.outgoing = related("to_id", "from_id");
    // Lower BM25 is better in SQLite; rowid breaks ties so pages are stable.
    this.rank = db.prepare<{ id: number; score: number }, [string, number]>(
      "SELECT rowid AS id, bm25(brain_fts, 10.0, 1.0) AS score FROM brain_fts WHERE brain_fts MATCH ? ORDER BY score, rowid LIMIT ?",
    );
    this.entitiesById = db.prepare<EntityRow, [string, string, string | null, string | null]>(
      // CROSS JOIN keeps SQLite to rowid lookups of the candidates rather than a scan of the tenant.
      `SELECT e.id, e.type, e.key, e.name, e.attributes, e.source, e.updated_at, 0 AS score
       FROM json_each(?) AS candidate CROSS JOIN brain_entities e ON e.id = candidate.value
       WHERE e.tenant_id = ? AND (? IS NULL OR e.type = ?)`,
    );
    this.incoming = related("from_id", "to_id");
  }

  /**
   * Entities, then relations, in one transaction. New entities join the full-text index at the end, a
   * range of rows per statement: batched, that is several times faster than indexing row by row.
   */
  async write(tenantId: string, batch: BrainBatch, at: number, onProgress?: (done: number, total: number) => void): Promise<BrainWriteResult> {
    const entities: EntityCounts = { inserted: 0, updated: 0, unchanged: 0 };
    const relations = { added: 0 };
    // Indexing counts as a second pass over the entities.
    const total = 2 * batch.entities.length + batch.relations.length;
    // Ids by type, then key: no string is built per lookup.
    const ids = new Map<string, Map<string, number>>();
    const remember = (type: string, key: string, id: number) => {
      let byKey = ids.get(type);
      if (byKey === undefined) ids.set(type, (byKey = new Map()));
      byKey.set(key, id);
    };
    const sqlite = this.store.sqlite;
    // Both ends of every relation are resolved to ids of this tenant inside the transaction (by the
    // upsert's RETURNING or a lookup under the tenant), so SQLite's own foreign-key checks would only
    // repeat that proof: switched off for the write they take a third of a bulk import's time. The
    // pragma only takes effect outside a transaction, and nothing else runs on this connection
    // meanwhile (bun:sqlite is synchronous); deletes, which need the cascades, never run in here.
    const checkKeys = !sqlite.inTransaction && sqlite.query<{ foreign_keys: number }, []>("PRAGMA foreign_keys").get()?.foreign_keys === 1;
    if (checkKeys) sqlite.run("PRAGMA foreign_keys = OFF");
    try {
      sqlite.transaction(() => {
        // Ids only grow (AUTOINCREMENT), so a returned id above the previous maximum is a new row.
        const before = this.maxId.get()?.id ?? 0;
        // A later entity with the same type and key supersedes an earlier one in the batch (new rows
        // are indexed only at the end, so the same row must not be written twice before that).
        const last = new Map<string, Map<string, number>>();
        batch.entities.forEach((entity, index) => {
          let byKey = last.get(entity.type);
          if (byKey === undefined) last.set(entity.type, (byKey = new Map()));
          byKey.set(entity.key, index);
        });
        batch.entities.forEach((entity, index) => {
          if ((index + 1) % PROGRESS_EVERY === 0) onProgress?.(index + 1, total);
          if (last.get(entity.type)!.get(entity.key) !== index) return;
          const attributes = entity.attributes ?? {};
          const row = this.upsertEntity.get(tenantId, entity.type, entity.key, entity.name, JSON.stringify(attributes), attributeText(attributes), entity.source ?? null, at);
          if (row === null) entities.unchanged++;
          else {
            remember(entity.type, entity.key, row.id);
            if (row.id > before) entities.inserted++;
            else entities.updated++;
          }
        });
        const idOf = (ref: { type: string; key: string }) => {
          let id = ids.get(ref.type)?.get(ref.key);
          if (id === undefined) {
            id = this.findId.get(tenantId, ref.type, ref.key)?.id;
            if (id !== undefined) remember(ref.type, ref.key, id);
          }
          return id;
        };
        batch.relations.forEach((relation, index) => {
          const from = idOf(relation.from);
          const to = idOf(relation.to);
          if (from === undefined || to === undefined) {
            const missing = from === undefined ? relation.from : relation.to;
            throw new BadRequest(`relation ${relation.relation}: no ${missing.type} with key ${missing.key}`, undefined, "unknown_entity");
          }
          relations.added += this.insertRelation.run(tenantId, from, relation.relation, to).changes;
          if ((index + 1) % PROGRESS_EVERY === 0) onProgress?.(batch.entities.length + index + 1, total);
        });
        const newest = this.maxId.get()?.id ?? 0;
        for (let low = before; low < newest; low += PROGRESS_EVERY) {
          this.indexRange.run(low, Math.min(low + PROGRESS_EVERY, newest));
          onProgress?.(batch.entities.length + batch.relations.length + Math.min(low + PROGRESS_EVERY, newest) - before, total);
        }
      }).immediate();
    } finally {
      if (checkKeys) sqlite.run("PRAGMA foreign_keys = ON");
    }
    onProgress?.(total, total);
    return { entities, relations };
  }

  async deleteEntities(tenantId: string, refs: { type: string; key: string }[]): Promise<number> {
    let deleted = 0;
    this.store.sqlite.transaction(() => {
      for (const ref of refs) deleted += this.deleteEntity.run(tenantId, ref.type, ref.key).changes;
    }).immediate();
    return deleted;
  }

  async search(tenantId: string, search: BrainSearch): Promise<{ hits: BrainHit[]; more: boolean }> {
    const match = toFtsQuery(search.text);
    if (match === undefined) return { hits: [], more: false };
    // One row more than the page says whether there is a next one.
    const rows = this.rankedPage(tenantId, match, search.entityType ?? null, search.offset + search.limit + 1).slice(search.offset);
    const hits = rows.slice(0, search.limit).map((row): BrainHit => {
      const hit: BrainHit = {
        type: row.type,
        key: row.key,
        name: row.name,
        attributes: JSON.parse(row.attributes),
        source: row.source,
        updated_at: new Date(row.updated_at).toISOString(),
        // BM25 is lower-is-better in SQLite; agents get higher-is-better.
        score: Math.round(-row.score * 1000) / 1000,
      };
      if (search.join) hit.related = this.related(tenantId, row.id, search.join);
      return hit;
    });
    return { hits, more: rows.length > search.limit };
  }

  /**
   * The best `wanted` matches of the tenant (and type), best first. FTS5 ranks the matches of all
   * tenants on its own and a window of the best is filtered: joining every match to its entity before
   * ranking was most of a query's time on a large brain. When too few survive the filter, the second
   * pass takes every match (ranking costs the same either way; only the lookups grow).
   */
  private rankedPage(tenantId: string, match: string, type: string | null, wanted: number): EntityRow[] {
    let rows: EntityRow[] = [];
    for (const window of [wanted * 4, -1]) {
      const candidates = this.rank.all(match, window);
      const byId = new Map<number, EntityRow>();
      for (const row of this.entitiesById.all(JSON.stringify(candidates.map((candidate) => candidate.id)), tenantId, type, type)) byId.set(row.id, row);
      rows = [];
      for (const candidate of candidates) {
        const row = byId.get(candidate.id);
        if (row === undefined) continue;
        row.score = candidate.score;
        rows.push(row);
        if (rows.length === wanted) return rows;
      }
      if (candidates.length < window) break;
    }
    return rows;
  }

  private related(tenantId: string, id: number, join: NonNullable<BrainSearch["join"]>): RelatedEntity[] {
    const relation = join.relation ?? null;
    const toView = (direction: RelatedEntity["direction"]) => (row: RelatedRow): RelatedEntity => ({
      type: row.type,
      key: row.key,
      name: row.name,
      attributes: JSON.parse(row.attributes),
      relation: row.relation,
      direction,
    });
    const outgoing = this.outgoing.all(tenantId, id, join.entityType, relation, relation, join.limit).map(toView("outgoing"));
    const incoming = this.incoming.all(tenantId, id, join.entityType, relation, relation, join.limit).map(toView("incoming"));
    return [...outgoing, ...incoming].slice(0, join.limit);
  }
}
