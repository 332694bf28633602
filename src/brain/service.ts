/**
 * The company brain: entities and typed relations per tenant, searched with SQLite FTS5 (BM25, names
 * weighted over attributes) and joined to related entities in both directions. Every statement is
 * bound to the caller's tenant.
 */
import { Type, type Static } from "@sinclair/typebox";
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

function encodeCursor(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString("base64url");
}

function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  try {
    const offset = (JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as { o?: unknown }).o;
    if (Number.isSafeInteger(offset) && (offset as number) >= 0) return offset as number;
  } catch {
    // Falls through.
  }
  throw new BadRequest("invalid cursor", undefined, "invalid_cursor");
}

/** Entity and relation storage and search. */
export class BrainService {
  private readonly findId;
  private readonly insertEntity;
  private readonly updateEntity;
  private readonly insertRelation;
  private readonly outgoing;
  private readonly incoming;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {
    const db = store.sqlite;
    this.findId = db.prepare<{ id: number; name: string; attributes: string; source: string | null }, [string, string, string]>(
      "SELECT id, name, attributes, source FROM brain_entities WHERE tenant_id = ? AND type = ? AND key = ?",
    );
    this.insertEntity = db.prepare(
      "INSERT INTO brain_entities (tenant_id, type, key, name, attributes, search_text, source, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.updateEntity = db.prepare("UPDATE brain_entities SET name = ?, attributes = ?, search_text = ?, source = ?, updated_at = ? WHERE id = ? AND tenant_id = ?");
    this.insertRelation = db.prepare("INSERT OR IGNORE INTO brain_relations (tenant_id, from_id, relation, to_id) VALUES (?, ?, ?, ?)");
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
      for (const entity of entities) {
        const attributes = JSON.stringify(entity.attributes ?? {});
        const source = entity.source ?? null;
        const existing = this.findId.get(scope.tenantId, entity.type, entity.key);
        if (existing === null) {
          this.insertEntity.run(scope.tenantId, entity.type, entity.key, entity.name, attributes, attributeText(entity.attributes ?? {}), source, now);
          counts.inserted++;
        } else if (existing.name !== entity.name || existing.attributes !== attributes || existing.source !== source) {
          this.updateEntity.run(entity.name, attributes, attributeText(entity.attributes ?? {}), source, now, existing.id, scope.tenantId);
          counts.updated++;
        } else {
          counts.unchanged++;
        }
      }
    }).immediate();
    return counts;
  }

  /** Adds relations between existing entities of the tenant; all or nothing, naming the first missing entity. */
  upsertRelations(scope: TenantScope, relations: RelationInput[]): { added: number } {
    let added = 0;
    this.store.sqlite.transaction(() => {
      for (const relation of relations) {
        const from = this.findId.get(scope.tenantId, relation.from.type, relation.from.key);
        const to = this.findId.get(scope.tenantId, relation.to.type, relation.to.key);
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
    const remove = this.store.sqlite.prepare("DELETE FROM brain_entities WHERE tenant_id = ? AND type = ? AND key = ?");
    this.store.sqlite.transaction(() => {
      for (const ref of refs) deleted += remove.run(scope.tenantId, ref.type, ref.key).changes;
    }).immediate();
    return { deleted };
  }

  /** Ranked entities matching the query, with related entities joined. No match is an empty list. */
  query(scope: TenantScope, input: BrainQuery): { results: BrainHit[]; next_cursor?: string } {
    const limit = Math.min(Math.max(input.limit ?? 10, 1), 100);
    const offset = decodeCursor(input.cursor);
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
