/** The shapes of the company brain: what is imported (one TypeBox schema for REST, the importer and the types) and what a query answers. */
import { Type, type Static } from "@sinclair/typebox";

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
  /** Relevance: higher is better. */
  score: number;
  related?: RelatedEntity[];
}

/** What an upsert of entities did. */
export interface EntityCounts {
  inserted: number;
  updated: number;
  unchanged: number;
}
