/**
 * The company brain: entities and typed relations per tenant, searched with SQLite FTS5 (BM25, names
 * weighted over attributes) and joined to related entities in both directions. Every statement is
 * bound to the caller's tenant.
 */
import { Type, type Static } from "@sinclair/typebox";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { BadRequest } from "../errors.ts";
import type { Store } from "../storage/db.ts";
import type { TenantScope } from "../storage/tenant-scope.ts";
import { toFtsQuery } from "./fts.ts";

/** An entity as imported. */
export const EntityInput = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: 100, pattern: "^[a-z][a-z0-9_]*$" }),
    key: Type.String({ minLength: 1, maxLength: 500 }),
    name: Type.String({ minLength: 1, maxLength: 1000 }),
    attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    source: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
export type EntityInput = Static<typeof EntityInput>;

/** A relation as imported: `from` —relation→ `to`, entities named by type and key. */
export const RelationInput = Type.Object(
  {
    from: Type.Object({ type: Type.String({ minLength: 1 }), key: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    relation: Type.String({ minLength: 1, maxLength: 100, pattern: "^[a-z][a-z0-9_]*$" }),
    to: Type.Object({ type: Type.String({ minLength: 1 }), key: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export type RelationInput = Static<typeof RelationInput>;

/** A query: `{query, entity_type?, join_to?, limit?, cursor?}` (seed 000). */
export interface BrainQuery {
  query: string;
  entity_type?: string;
  join_to?: { entity_type: string; relation?: string; limit?: number };
  limit?: number;
  cursor?: string;
}

/** A related entity attached to a hit. */
export interface RelatedEntity {
  type: string;
  key: string;
  name: string;
  attributes: Record<string, unknown>;
  relation: string;
  direction: "outgoing" | "incoming";
}

/** A hit. */
export interface BrainHit {
  type: string;
  key: string;
  name: string;
  attributes: Record<string, unknown>;
  source: string | null;
  updated_at: string;
  score: number;
  related?: RelatedEntity[];
}

/** The flattened text of attribute values, for the full-text index. */
export function attributeText(attributes: Record<string, unknown>): string {
  const out: string[] = [];
  const walk = (value: unknown) => {
    if (value === null || value === undefined) return;
    if (typeof value === "object") for (const item of Object.values(value as Record<string, unknown>)) walk(item);
    else out.push(String(value));
  };
  walk(attributes);
  return out.join(" ");
}

/** Entity and relation storage and search. */
export class BrainService {
  private readonly findId;
  private readonly upsertEntity;
  private readonly maxId;
  private readonly insertRelation;
  private readonly deleteEntity;
  private readonly outgoing;
  private readonly incoming;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {
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
    this.insertRelation = db.prepare("INSERT OR IGNORE INTO brain_relations (tenant_id, from_id, relation, to_id) VALUES (?, ?, ?, ?)");
    this.deleteEntity = db.prepare("DELETE FROM brain_entities WHERE tenant_id = ? AND type = ? AND key = ?");
    const related = (join: string, match: string) =>
      db.prepare<{ type: string; key: string; name: string; attributes: string; relation: string }, [string, number, string, string | null, string | null, number]>(
        `SELECT e.type, e.key, e.name, e.attributes, r.relation FROM brain_relations r JOIN brain_entities e ON e.id = r.${join}
         WHERE r.tenant_id = ? AND r.${match} = ? AND e.type = ? AND (? IS NULL OR r.relation = ?) ORDER BY e.name, e.key LIMIT ?`,
      );
    this.outgoing = related("to_id", "from_id");
    this.incoming = related("from_id", "to_id");
  }

  /** Inserts or updates entities by (type, key); unchanged ones are counted as such. All or nothing. */
  upsertEntities(scope: TenantScope, entities: EntityInput[]): { inserted: number; updated: number; unchanged: number } {
    const counts = { inserted: 0, updated: 0, unchanged: 0 };
    const now = this.now();
    this.store.sqlite.transaction(() => {
      // Ids only grow (AUTOINCREMENT), so a returned id above the previous maximum is a new row.
      const before = this.maxId.get()?.id ?? 0;
      for (const entity of entities) {
        const attributes = entity.attributes ?? {};
        const row = this.upsertEntity.get(scope.tenantId, entity.type, entity.key, entity.name, JSON.stringify(attributes), attributeText(attributes), entity.source ?? null, now);
        if (row === null) counts.unchanged++;
        else if (row.id > before) counts.inserted++;
        else counts.updated++;
      }
    }).immediate();
    return counts;
  }

  /** Adds relations between existing entities of the tenant; all or nothing, naming the first missing entity. */
  upsertRelations(scope: TenantScope, relations: RelationInput[]): { added: number } {
    let added = 0;
    const ids = new Map<string, { id: number } | null>();
    const idOf = (ref: { type: string; key: string }) => {
      const cacheKey = `${ref.type}\u0000${ref.key}`;
      let found = ids.get(cacheKey);
      if (found === undefined) ids.set(cacheKey, (found = this.findId.get(scope.tenantId, ref.type, ref.key)));
      return found;
    };
    this.store.sqlite.transaction(() => {
      for (const relation of relations) {
        const from = idOf(relation.from);
        const to = idOf(relation.to);
        if (!from || !to) {
          const missing = from ? relation.to : relation.from;
          throw new BadRequest(`relation ${relation.relation}: no ${missing.type} with key ${missing.key}`, undefined, "unknown_entity");
        }
        added += this.insertRelation.run(scope.tenantId, from.id, relation.relation, to.id).changes;
      }
    }).immediate();
    return { added };
  }

  /** Deletes entities by type and key (their relations go with them); returns how many existed. */
  deleteEntities(scope: TenantScope, refs: { type: string; key: string }[]): { deleted: number } {
    let deleted = 0;
    this.store.sqlite.transaction(() => {
      for (const ref of refs) deleted += this.deleteEntity.run(scope.tenantId, ref.type, ref.key).changes;
    }).immediate();
    return { deleted };
  }

  /** Ranked entities matching the query, with related entities joined. No match is an empty list. */
  query(scope: TenantScope, input: BrainQuery): { results: BrainHit[]; next_cursor?: string } {
    const limit = Math.min(Math.max(input.limit ?? 10, 1), 100);
    const offset = decodeCursor(input.cursor);
    if (offset === undefined) throw new BadRequest("invalid cursor", undefined, "invalid_cursor");
    const match = toFtsQuery(input.query);
    if (match === undefined) return { results: [] };
    const rows = this.store.sqlite
      .query<{ id: number; type: string; key: string; name: string; attributes: string; source: string | null; updated_at: number; score: number }, (string | number | null)[]>(
        `SELECT e.id, e.type, e.key, e.name, e.attributes, e.source, e.updated_at, bm25(brain_fts, 10.0, 1.0) AS score
         FROM brain_fts JOIN brain_entities e ON e.id = brain_fts.rowid
         WHERE brain_fts MATCH ? AND e.tenant_id = ? AND (? IS NULL OR e.type = ?)
         ORDER BY score, e.id LIMIT ? OFFSET ?`,
      )
      .all(match, scope.tenantId, input.entity_type ?? null, input.entity_type ?? null, limit + 1, offset);
    const page = rows.slice(0, limit);
    const join = input.join_to;
    const results = page.map((row): BrainHit => {
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
      if (join) hit.related = this.related(scope, row.id, join);
      return hit;
    });
    return rows.length > limit ? { results, next_cursor: encodeCursor(offset + limit) } : { results };
  }

  private related(scope: TenantScope, id: number, join: NonNullable<BrainQuery["join_to"]>): RelatedEntity[] {
    const limit = Math.min(Math.max(join.limit ?? 20, 1), 100);
    const relation = join.relation ?? null;
    const toView = (direction: RelatedEntity["direction"]) => (row: { type: string; key: string; name: string; attributes: string; relation: string }): RelatedEntity => ({
      type: row.type,
      key: row.key,
      name: row.name,
      attributes: JSON.parse(row.attributes),
      relation: row.relation,
      direction,
    });
    const outgoing = this.outgoing.all(scope.tenantId, id, join.entity_type, relation, relation, limit).map(toView("outgoing"));
    const incoming = this.incoming.all(scope.tenantId, id, join.entity_type, relation, relation, limit).map(toView("incoming"));
    return [...outgoing, ...incoming].slice(0, limit);
  }
}
