/**
 * What the company brain needs from a store: all-or-nothing writes of entities and relations, deletion,
 * and ranked full-text search with related entities joined. Every operation is bound to one tenant.
 */
import type { BrainHit, EntityCounts, EntityInput, RelationInput } from "./model.ts";

/** Entities and the relations between them (which may name entities of the same batch). */
export interface BrainBatch {
  entities: EntityInput[];
  relations: RelationInput[];
}

/** What a write did. */
export interface BrainWriteResult {
  entities: EntityCounts;
  relations: { added: number };
}

/** A page of ranked hits. */
export interface BrainSearch {
  /**
   * What a user typed: words are ANDed, "double-quoted words" a phrase, a trailing `*` a prefix.
   * Any other syntax is plain text: no input is an error; input with nothing searchable finds nothing.
   */
  text: string;
  entityType?: string;
  /** Attach each hit's related entities of this type (both directions, at most `limit`). */
  join?: { entityType: string; relation?: string; limit: number };
  /** Hits to skip (best first: the order is stable for the same data). */
  offset: number;
  limit: number;
}

/** The company brain's storage. */
export interface BrainRepository {
  /**
   * Upserts entities by (type, key) (a later one in the batch supersedes an earlier one; an unchanged
   * one is counted as such), then adds relations, in one transaction: a relation naming an entity the
   * tenant does not have refuses the whole batch (BadRequest `unknown_entity`) and nothing is written.
   * `onProgress` hears how many of `total` steps are done.
   */
  write(tenantId: string, batch: BrainBatch, at: number, onProgress?: (done: number, total: number) => void): Promise<BrainWriteResult>;
  /** Deletes entities by type and key, with their relations; returns how many existed. */
  deleteEntities(tenantId: string, refs: { type: string; key: string }[]): Promise<number>;
  /** A page of the tenant's entities matching `search.text`, best match first; `more`: hits follow the page. */
  search(tenantId: string, search: BrainSearch): Promise<{ hits: BrainHit[]; more: boolean }>;
}
