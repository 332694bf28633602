/**
 * The shapes of the execution ledger: a record as every surface shows it (TypeBox, the single source for
 * the MCP output schema and the TypeScript type), what callers append, the filters of a listing and
 * the verification report. Filters given as text (REST query, CLI flags) are parsed here.
 */
import { Type, type Static } from "@sinclair/typebox";
import { BadRequest } from "../errors.ts";

/** What a record is of. */
export const RecordKindSchema = Type.Union([Type.Literal("tool_call"), Type.Literal("approval_vote"), Type.Literal("approval_execution"), Type.Literal("admin_mutation")]);
export type RecordKind = Static<typeof RecordKindSchema>;
const RECORD_KINDS: readonly string[] = RecordKindSchema.anyOf.map((literal) => literal.const);

const NullableString = Type.Union([Type.String(), Type.Null()]);

/** One execution record, as listed, fetched and exported. */
export const ExecutionRecordSchema = Type.Object({
  id: Type.String(),
  tenant_id: Type.String(),
  seq: Type.Integer({ minimum: 1, description: "1, 2, 3… per tenant: the chain's order." }),
  at: Type.String({ description: "ISO 8601" }),
  kind: RecordKindSchema,
  user_id: NullableString,
  key_id: NullableString,
  agent_id: NullableString,
  client_name: NullableString,
  profile: NullableString,
  role: NullableString,
  tool: Type.String({ description: "The tool, or for admin mutations the REST route (POST /v1/beta/users)." }),
  classification: NullableString,
  arguments: Type.Unknown({ description: "The call's arguments with secrets redacted." }),
  decision: NullableString,
  matched_rules: Type.Array(Type.String()),
  approval_id: NullableString,
  status: Type.String(),
  latency_ms: Type.Number(),
  error: NullableString,
  result_digest: Type.Union([Type.String({ description: "SHA-256 of the result's JSON text as the response carried it." }), Type.Null()]),
  request_id: Type.Union([Type.String({ description: "The X-Request-Id of the request it answered." }), Type.Null()]),
  prev_hash: Type.String(),
  hash: Type.String({ description: "SHA-256 over prev_hash and the record's other fields." }),
});
export type ExecutionRecord = Static<typeof ExecutionRecordSchema>;

/** What callers append; the ledger adds id, seq, the chain hashes, and redacts and digests. */
export interface RecordInput {
  tenantId: string;
  kind: RecordKind;
  userId?: string | null;
  keyId?: string | null;
  agentId?: string | null;
  clientName?: string | null;
  profile?: string | null;
  role?: string | null;
  /** The tool name, or the REST route for admin mutations, e.g. "POST /v1/beta/users". */
  tool: string;
  classification?: "read_only" | "mutating" | null;
  /** Redacted (see `redact`) before it is stored. */
  arguments: unknown;
  decision?: "allow" | "deny" | "require_approval" | null;
  matchedRules?: string[];
  approvalId?: string | null;
  /** e.g. "ok", "error", "denied", "pending_approval", "refused", "approve", "reject". */
  status: string;
  latencyMs: number;
  error?: string | null;
  /** Only its digest is stored (SHA-256 of its JSON text); undefined stores null. */
  result?: unknown;
  /** The request it answered. */
  requestId?: string | null;
  /** Epoch milliseconds; default now. */
  at?: number;
}

/** Which records to list or export. Times are epoch milliseconds: `since` inclusive, `until` exclusive. */
export interface RecordFilters {
  tool?: string;
  agent_id?: string;
  decision?: string;
  status?: string;
  kind?: RecordKind;
  since?: number;
  until?: number;
  /** Page size: default 50, at most 500. */
  limit?: number;
  /** `next_cursor` of the previous page. */
  cursor?: string;
}

/** The result of walking a tenant's chain. */
export interface VerifyReport {
  ok: boolean;
  /** How many records the tenant has. */
  records: number;
  first_broken?: { seq: number; id: string | null; reason: string };
}

/** The filters as MCP tool arguments (times as ISO 8601). */
export const RecordFiltersInput = {
  tool: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "Only calls of this tool (or admin route)." })),
  agent_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  decision: Type.Optional(Type.Union([Type.Literal("allow"), Type.Literal("deny"), Type.Literal("require_approval")])),
  status: Type.Optional(Type.String({ minLength: 1, maxLength: 50, description: "e.g. ok, error, denied, pending_approval." })),
  kind: Type.Optional(RecordKindSchema),
  since: Type.Optional(Type.String({ description: "ISO 8601; records at or after this time." })),
  until: Type.Optional(Type.String({ description: "ISO 8601; records before this time." })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: "Records per page (default 50)." })),
  cursor: Type.Optional(Type.String({ description: "next_cursor of the previous page." })),
};

/** Filters given as text (REST query parameters, CLI flags): validated, times as ISO 8601 or epoch milliseconds. */
export function parseRecordFilters(raw: Record<string, string | undefined>): RecordFilters {
  const filters: RecordFilters = {};
  for (const name of ["tool", "agent_id", "decision", "status", "cursor"] as const) {
    if (raw[name] !== undefined && raw[name] !== "") filters[name] = raw[name];
  }
  if (raw.kind !== undefined) {
    if (!RECORD_KINDS.includes(raw.kind)) throw new BadRequest(`kind must be one of ${RECORD_KINDS.join(", ")}`, undefined, "invalid_filter");
    filters.kind = raw.kind as RecordKind;
  }
  if (raw.since !== undefined) filters.since = parseTime(raw.since, "since");
  if (raw.until !== undefined) filters.until = parseTime(raw.until, "until");
  if (raw.limit !== undefined) {
    if (!/^\d+$/.test(raw.limit) || Number(raw.limit) < 1 || Number(raw.limit) > 500) throw new BadRequest("limit must be a whole number from 1 to 500", undefined, "invalid_filter");
    filters.limit = Number(raw.limit);
  }
  return filters;
}

/** An ISO 8601 time or epoch milliseconds as epoch milliseconds. */
export function parseTime(text: string, name: string): number {
  const time = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isSafeInteger(time)) throw new BadRequest(`${name} must be an ISO 8601 time or epoch milliseconds`, undefined, "invalid_filter");
  return time;
}
