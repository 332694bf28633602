/**
 * The relational schema, the single source for the SQL migrations in `drizzle/` (`bun run db:generate`).
 * Every row that belongs to a tenant carries `tenant_id`; times are Unix epoch milliseconds.
 */
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** An organisation using Invoke; the unit of isolation. */
export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  createdAt: integer("created_at").notNull(),
});

/** A person (or service account) with one role in one tenant. */
export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    email: text("email").notNull(),
    role: text("role", { enum: ["viewer", "editor", "admin"] }).notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("users_tenant_email").on(t.tenantId, t.email)],
);

/** An API key: only the SHA-256 of the secret is stored; `prefix` lets people recognise a key. */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    name: text("name").notNull(),
    profile: text("profile").notNull(),
    secretHash: text("secret_hash").notNull().unique(),
    prefix: text("prefix").notNull(),
    createdBy: text("created_by"),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("api_keys_tenant_user").on(t.tenantId, t.userId)],
);

/** Policy versions per tenant: drafts, the one active version, and superseded ones (history is kept). */
export const policyVersions = sqliteTable(
  "policy_versions",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    /** 1, 2, 3… per tenant; version 0 is the built-in default pack and is never stored. */
    version: integer("version").notNull(),
    status: text("status", { enum: ["draft", "active", "superseded"] }).notNull(),
    source: text("source").notNull(),
    comment: text("comment"),
    createdBy: text("created_by"),
    createdAt: integer("created_at").notNull(),
    publishedBy: text("published_by"),
    publishedAt: integer("published_at"),
  },
  (t) => [uniqueIndex("policy_versions_tenant_version").on(t.tenantId, t.version), index("policy_versions_tenant_status").on(t.tenantId, t.status)],
);

/** Company-brain entities: upserted by (tenant, type, key), so re-importing an export is idempotent. */
export const brainEntities = sqliteTable(
  "brain_entities",
  {
    /** Integer row id: the FTS5 index refers to it. */
    id: integer("id").primaryKey({ autoIncrement: true }),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    type: text("type").notNull(),
    key: text("key").notNull(),
    name: text("name").notNull(),
    /** JSON object. */
    attributes: text("attributes").notNull(),
    /** The attributes' values as one text, for full-text search. */
    searchText: text("search_text").notNull(),
    source: text("source"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("brain_entities_tenant_type_key").on(t.tenantId, t.type, t.key)],
);

/** Typed relations between entities of one tenant, e.g. customer —billed_by→ invoice. */
export const brainRelations = sqliteTable(
  "brain_relations",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    fromId: integer("from_id")
      .notNull()
      .references(() => brainEntities.id, { onDelete: "cascade" }),
    relation: text("relation").notNull(),
    toId: integer("to_id")
      .notNull()
      .references(() => brainEntities.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.fromId, t.relation, t.toId] }), index("brain_relations_to").on(t.toId, t.relation)],
);
