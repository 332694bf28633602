/**
 * The company brain: entities and typed relations per tenant, searched by relevance and joined to
 * related entities in both directions. Pages, limits and cursors are decided here; storage and
 * ranking are the repository's.
 */
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { BadRequest } from "../errors.ts";
import type { BrainHit, BrainQuery, EntityCounts, EntityInput, RelationInput } from "./model.ts";
import type { BrainBatch, BrainRepository, BrainWriteResult } from "./repository.ts";

/** How deep a query pages: its best 1,000 matches (a narrower query finds the rest). */
const MAX_RANKED = 1000;

/** Entity and relation storage and search. */
export class BrainService {
  constructor(
    private readonly repository: BrainRepository,
    private readonly now: () => number = Date.now,
  ) {}

  /** Inserts or updates entities by (type, key); unchanged ones are counted as such. All or nothing. */
  async upsertEntities(tenantId: string, entities: EntityInput[]): Promise<EntityCounts> {
    return (await this.write(tenantId, { entities, relations: [] })).entities;
  }

  /** Adds relations between existing entities of the tenant; all or nothing, naming the first missing entity. */
  async upsertRelations(tenantId: string, relations: RelationInput[]): Promise<{ added: number }> {
    return (await this.write(tenantId, { entities: [], relations })).relations;
  }

  /** Writes entities, then relations (which may name them), in one transaction: all or nothing. `onProgress` hears how many records are done. */
  write(tenantId: string, batch: BrainBatch, onProgress?: (done: number, total: number) => void): Promise<BrainWriteResult> {
    return this.repository.write(tenantId, batch, this.now(), onProgress);
  }

  /** Deletes entities by type and key (their relations go with them); returns how many existed. */
  async deleteEntities(tenantId: string, refs: { type: string; key: string }[]): Promise<{ deleted: number }> {
    return { deleted: await this.repository.deleteEntities(tenantId, refs) };
  }

  /** Ranked entities matching the query, with related entities joined. No match is an empty list. */
  async query(tenantId: string, input: BrainQuery): Promise<{ results: BrainHit[]; next_cursor?: string }> {
    const limit = Math.min(Math.max(input.limit ?? 10, 1), 100);
    const offset = decodeCursor(input.cursor);
    // Cursors are not signed: one forged deep into the ranking would make the store rank every match.
    if (offset === undefined || offset >= MAX_RANKED) throw new BadRequest("invalid cursor", undefined, "invalid_cursor");
    const join = input.join_to && { entityType: input.join_to.entity_type, relation: input.join_to.relation, limit: Math.min(Math.max(input.join_to.limit ?? 20, 1), 100) };
    const { hits, more } = await this.repository.search(tenantId, { text: input.query, entityType: input.entity_type, join, offset, limit });
    return more && offset + limit < MAX_RANKED ? { results: hits, next_cursor: encodeCursor(offset + limit) } : { results: hits };
  }
}
