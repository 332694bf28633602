/**
 * The relational schema, the single source for the SQL migrations in `drizzle/` (`bun run db:generate`).
 * Every row that belongs to a tenant carries `tenant_id`; times are Unix epoch milliseconds.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** An organisation using Invoke; the unit of isolation. */
export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  createdAt: integer("created_at").notNull(),
});

/**
 * A person (or service account) with one role in one tenant. A disabled user's keys are refused until
 * they are enabled again; a removed user is kept (records and approvals name its id) but refuses
 * everything, is hidden from lists, and frees its email for a new user.
 */
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
    disabledAt: integer("disabled_at"),
    removedAt: integer("removed_at"),
  },
  (t) => [uniqueIndex("users_tenant_email").on(t.tenantId, t.email).where(sql`${t.removedAt} IS NULL`)],
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
    /** After a rotation, the replaced secret's digest: it still admits the key until `previous_secret_expires_at`. */
    previousSecretHash: text("previous_secret_hash").unique(),
    previousSecretExpiresAt: integer("previous_secret_expires_at"),
    rotatedAt: integer("rotated_at"),
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

/**
 * Execution records: one per tools/call, approval vote, approved execution and admin REST mutation.
 * Append-only and hash-chained per tenant: `hash` = SHA-256 over the record's fields and `prev_hash`,
 * so `invoke executions verify` finds any edit, deletion or reordering.
 */
export const executionRecords = sqliteTable(
  "execution_records",
  {
    /**
     * `exe_<seq in base36>_<random>`: found through (tenant_id, seq), so the table needs no index of its
     * own for ids (each index is another page written per commit). Records written before migration
     * 0006 keep their older random ids.
     */
    id: text("id").notNull(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    /** 1, 2, 3… per tenant: the chain's order. */
    seq: integer("seq").notNull(),
    at: integer("at").notNull(),
    kind: text("kind", { enum: ["tool_call", "approval_vote", "approval_execution", "admin_mutation"] }).notNull(),
    userId: text("user_id"),
    keyId: text("key_id"),
    agentId: text("agent_id"),
    clientName: text("client_name"),
    profile: text("profile"),
    role: text("role"),
    /** The tool called, or for admin mutations the route (`POST /v1/beta/users`). */
    tool: text("tool").notNull(),
    classification: text("classification"),
    /** JSON, with secrets redacted. */
    arguments: text("arguments").notNull(),
    decision: text("decision"),
    /** JSON array of rule ids. */
    matchedRules: text("matched_rules").notNull(),
    approvalId: text("approval_id"),
    status: text("status").notNull(),
    latencyMs: real("latency_ms").notNull(),
    error: text("error"),
    /** SHA-256 of the result's JSON text as Invoke sent it. */
    resultDigest: text("result_digest"),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
    /** The request it answered (the X-Request-Id Invoke returned); hashed when set (migration 0007 added it). */
    requestId: text("request_id"),
  },
  (t) => [uniqueIndex("execution_records_tenant_seq").on(t.tenantId, t.seq)],
);

/** Actions waiting for (or decided by) people: four eyes. The arguments are kept whole, to run the action once approved. */
export const approvals = sqliteTable(
  "approvals",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    tool: text("tool").notNull(),
    /** JSON, complete (the action runs with them); shown redacted to everyone but approvers. */
    arguments: text("arguments").notNull(),
    agentId: text("agent_id").notNull(),
    clientName: text("client_name"),
    requestedBy: text("requested_by").notNull(),
    requestedKey: text("requested_key").notNull(),
    profile: text("profile").notNull(),
    role: text("role").notNull(),
    policyVersion: integer("policy_version").notNull(),
    /** JSON: the matched rules with their reasons. */
    matchedRules: text("matched_rules").notNull(),
    approvalsRequired: integer("approvals_required").notNull(),
    /** JSON array: the approver groups a voter must belong to (members since before the request), or null for any approver. */
    approverGroups: text("approver_groups"),
    status: text("status", { enum: ["pending", "approved", "executing", "executed", "failed", "rejected", "expired", "withdrawn"] }).notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    decidedAt: integer("decided_at"),
    /** JSON: the tool's result once executed. */
    outcome: text("outcome"),
    error: text("error"),
    requestRecordId: text("request_record_id"),
    executionRecordId: text("execution_record_id"),
  },
  (t) => [index("approvals_tenant_status").on(t.tenantId, t.status, t.createdAt)],
);

/** Named groups of a tenant's users, which policy rules may require approvers to belong to. */
export const groups = sqliteTable(
  "groups",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    name: text("name").notNull(),
    createdBy: text("created_by"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
);

/** Who belongs to a group, and since when (a member added after a request was made cannot vote on it). */
export const groupMembers = sqliteTable(
  "group_members",
  {
    tenantId: text("tenant_id").notNull(),
    groupName: text("group_name").notNull(),
    userId: text("user_id").notNull(),
    addedBy: text("added_by"),
    addedAt: integer("added_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.groupName, t.userId] })],
);

/** One vote per person per request: the primary key makes "each person counts once" a database rule. */
export const approvalVotes = sqliteTable(
  "approval_votes",
  {
    approvalId: text("approval_id")
      .notNull()
      .references(() => approvals.id),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    userId: text("user_id").notNull(),
    decision: text("decision", { enum: ["approve", "reject"] }).notNull(),
    comment: text("comment"),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.approvalId, t.userId] })],
);

/** Connectors of a tenant: from the config file (synced at start) or added over REST/CLI. */
export const connectors = sqliteTable(
  "connectors",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    name: text("name").notNull(),
    /** JSON: the connector's configuration (type, command or url or database, classification globs). */
    config: text("config").notNull(),
    origin: text("origin", { enum: ["config", "operator", "api"] }).notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
);

/**
 * Pinned upstream tools: the definition's hash when an admin enabled it. A changed definition
 * quarantines the tool (not listed, not callable) until an admin approves the new one.
 */
export const connectorTools = sqliteTable(
  "connector_tools",
  {
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    connector: text("connector").notNull(),
    tool: text("tool").notNull(),
    status: text("status", { enum: ["enabled", "quarantined"] }).notNull(),
    /** JSON of the pinned definition (name, description, schemas) and its SHA-256. */
    definition: text("definition").notNull(),
    hash: text("hash").notNull(),
    /** What the upstream declares now, when it differs from the pinned definition. */
    pendingDefinition: text("pending_definition"),
    pendingHash: text("pending_hash"),
    approvedBy: text("approved_by").notNull(),
    approvedAt: integer("approved_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.connector, t.tool] })],
);

/**
 * Rollups of the tool-call records per tenant, minute or hour (`span`, ms), and tool or agent
 * (`dimension`, `name`): counts and a latency histogram (`h0`…`h70`, see src/records/rollups.ts).
 * What `invoke.observability.summary` reads.
 */
export const executionRollups = sqliteTable(
  "execution_rollups",
  {
    tenantId: text("tenant_id").notNull(),
    span: integer("span").notNull(),
    bucket: integer("bucket").notNull(),
    dimension: text("dimension", { enum: ["tool", "agent"] }).notNull(),
    name: text("name").notNull(),
    calls: integer("calls").notNull().default(0),
    errors: integer("errors").notNull().default(0),
    denials: integer("denials").notNull().default(0),
    approvalsRequired: integer("approvals_required").notNull().default(0),
    refused: integer("refused").notNull().default(0),
    rateLimited: integer("rate_limited").notNull().default(0),
    latencySum: real("latency_sum").notNull().default(0),
    ...Object.fromEntries(Array.from({ length: 71 }, (_, bucket) => [`h${bucket}`, integer(`h${bucket}`).notNull().default(0)])),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.span, t.dimension, t.bucket, t.name] })],
);

/** How far each tenant's records are in the rollups: the last seq added. */
export const executionRollupProgress = sqliteTable("execution_rollup_progress", {
  tenantId: text("tenant_id").primaryKey(),
  seq: integer("seq").notNull(),
});

/**
 * Where the checkpoint log (src/records/checkpoints.ts) ended when this store last wrote to it: its
 * last line's number and digest. A checkpoint file replaced by an older copy, or cut short, no longer
 * reaches this line. One row (`id` 1); also what serialises writers of the log.
 */
export const checkpointLog = sqliteTable("checkpoint_log", {
  id: integer("id").primaryKey(),
  line: integer("line").notNull(),
  digest: text("digest").notNull(),
  at: integer("at").notNull(),
});
