/**
 * The relational schema, the single source for the SQL migrations in `drizzle/` (`bun run db:generate`).
 * Every row that belongs to a tenant carries `tenant_id`; times are Unix epoch milliseconds.
 */
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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
