/**
 * Verification of the execution records against their signed checkpoints: every tenant's chain walked
 * (`chain.ts`), the checkpoint log checked (`checkpoints.ts`), and each chain held to its newest
 * checkpoint: it must hold the checkpointed seq with exactly that hash, and records after it chain on
 * from it. Also the signed export: a tenant's records followed by a head line signed with the instance
 * key, which anyone holding only the public key can verify offline.
 */
import type { KeyObject } from "node:crypto";
import type { InstanceKeys } from "../governance/key-file.ts";
import { listTenants } from "../governance/directory.ts";
import type { Store } from "../storage/sqlite/db.ts";
import { canonicalJson } from "./canonical.ts";
import { checkChain, type StoredRecord } from "./chain.ts";
import { checkLog, checkMemo, newestByTenant, readCheckpointLog, signatureFault, signStatement, verifyStatement, type SignedCheckpoint } from "./checkpoints.ts";
import type { ExecutionLedger } from "./ledger.ts";
import type { ExecutionRecord, VerifyReport } from "./model.ts";

/** The checkpoint a chain was held to, as reports show it. */
export interface CheckpointRef {
  line: number;
  at: string;
  seq: number;
  hash: string;
}

/** One tenant's verification. */
export interface TenantAudit extends VerifyReport {
  tenant_id: string;
  tenant: string;
  /** The newest checkpoint of the tenant; null when none was written yet. */
  checkpoint: CheckpointRef | null;
  /** One sentence per problem, each naming the tenant. */
  problems: string[];
}

/** Every tenant's verification and the checkpoint log's. */
export interface StoreAudit {
  ok: boolean;
  /** Records in all the verified chains. */
  records: number;
  /** The first break of the first broken chain (as `verify` of one tenant reports it). */
  first_broken?: VerifyReport["first_broken"];
  tenants: TenantAudit[];
  checkpoint_file: { path: string; checkpoints: number; problems: string[] };
  /** Every problem, one sentence each: the log's, then each tenant's. */
  problems: string[];
}

/** What `auditStore` reads. */
export interface AuditSources {
  store: Store;
  records: ExecutionLedger;
  checkpointPath: string;
  /** Verifies the checkpoints (callers make sure there is one when the log has lines). */
  publicKey?: KeyObject;
  /** Only these tenants (default: every tenant of the store and of the checkpoints). */
  tenantIds?: string[];
}

/** Verifies the tenants' chains and holds each to its newest trusted checkpoint. */
export async function auditStore(sources: AuditSources): Promise<StoreAudit> {
  const { store, records, checkpointPath: path, publicKey } = sources;
  const entries = readCheckpointLog(path);
  const fileProblems: string[] = [];
  let trusted: SignedCheckpoint[] = [];
  if (entries && publicKey) {
    const check = checkLog(path, entries, publicKey);
    trusted = check.trusted;
    fileProblems.push(...check.problems, ...checkMemo(path, entries, check, await records.checkpointMemo()));
  } else if (publicKey) {
    fileProblems.push(...checkMemo(path, entries, undefined, await records.checkpointMemo()));
  }
  const newest = newestByTenant(trusted);
  // Oldest tenant first, ties by id: the order the report lists them in.
  const ordered = listTenants(store).sort((x, y) => (x.created_at === y.created_at ? (x.id < y.id ? -1 : 1) : x.created_at < y.created_at ? -1 : 1));
  const names = new Map(ordered.map(({ id, name }) => [id, name]));
  for (const [tenantId, checkpoint] of newest) if (!names.has(tenantId)) names.set(tenantId, checkpoint.tenant);
  const wanted = sources.tenantIds ?? [...names.keys()];
  const tenants: TenantAudit[] = [];
  for (const tenantId of wanted) tenants.push(await auditTenant(records, tenantId, names.get(tenantId) ?? tenantId, newest.get(tenantId)));
  const problems = [...fileProblems, ...tenants.flatMap((tenant) => tenant.problems)];
  const firstBroken = tenants.find((tenant) => tenant.first_broken)?.first_broken;
  return {
    ok: problems.length === 0,
    records: tenants.reduce((sum, tenant) => sum + tenant.records, 0),
    ...(firstBroken && { first_broken: firstBroken }),
    tenants,
    checkpoint_file: { path, checkpoints: entries?.length ?? 0, problems: fileProblems },
    problems,
  };
}

/**
 * One tenant's verification, for that tenant's own admins: damage to the checkpoint log makes it fail
 * with one sentence that names no other tenant (the operator's `invoke executions verify` has the detail).
 */
export async function auditTenantOnly(sources: Omit<AuditSources, "tenantIds">, tenantId: string): Promise<TenantAudit> {
  const audit = await auditStore({ ...sources, tenantIds: [tenantId] });
  const tenant = audit.tenants[0]!;
  if (audit.checkpoint_file.problems.length === 0) return tenant;
  const problem = "the checkpoint log was replaced, cut short or edited: the newest records cannot be vouched for (the operator's invoke executions verify names the damage)";
  return { ...tenant, ok: false, problems: [problem, ...tenant.problems] };
}

/** One tenant's chain, walked and held to its checkpoint. */
async function auditTenant(records: ExecutionLedger, tenantId: string, name: string, checkpoint: SignedCheckpoint | undefined): Promise<TenantAudit> {
  const chain = await records.verify(tenantId);
  const who = `tenant ${name}`;
  const problems: string[] = [];
  if (chain.first_broken) problems.push(`${who}: ${chain.first_broken.reason}`);
  if (checkpoint) {
    const covers = `the checkpoint of ${checkpoint.at} covers seq ${checkpoint.seq} (hash ${checkpoint.hash})`;
    const head = await records.head(tenantId);
    if (!head) problems.push(`${who}: all records deleted: ${covers}`);
    else if (head.seq < checkpoint.seq) problems.push(`${who}: ${missing(head.seq + 1, checkpoint.seq)}: the chain ends at seq ${head.seq} but ${covers}`);
    else {
      const hash = await records.hashAt(tenantId, checkpoint.seq);
      if (hash === undefined) problems.push(`${who}: record ${checkpoint.seq} missing: ${covers}`);
      else if (hash !== checkpoint.hash) problems.push(`${who}: seq ${checkpoint.seq} has hash ${hash}, but ${covers}: records were rewritten`);
    }
  }
  return {
    ...chain,
    ok: problems.length === 0,
    tenant_id: tenantId,
    tenant: name,
    checkpoint: checkpoint ? { line: checkpoint.line, at: checkpoint.at, seq: checkpoint.seq, hash: checkpoint.hash } : null,
    problems,
  };
}

function missing(from: number, to: number): string {
  return from === to ? `record ${from} missing` : `records ${from}–${to} missing`;
}

/** The last line of a signed export: the exported chain's head, and the tenant's newest checkpoint, signed. */
export interface ExportHead {
  type: "invoke.export_head";
  v: 1;
  at: string;
  tenant_id: string;
  tenant: string;
  /** The last exported record's seq and hash; 0 and null for an empty chain. */
  seq: number;
  hash: string | null;
  records: number;
  checkpoint: SignedCheckpoint | null;
  key: string;
  sig: string;
}

/** The tenant's newest trusted checkpoint in the log, if any. */
export function newestCheckpoint(path: string, publicKey: KeyObject, tenantId: string): SignedCheckpoint | undefined {
  const entries = readCheckpointLog(path);
  return entries ? newestByTenant(checkLog(path, entries, publicKey).trusted).get(tenantId) : undefined;
}

/** Every record of the tenant as JSON Lines, oldest first, then the signed head line. */
export async function* signedExportLines(
  records: ExecutionLedger,
  tenant: { id: string; name: string },
  keys: Pick<InstanceKeys, "signingKey">,
  checkpoint: SignedCheckpoint | undefined,
  now: () => number,
): AsyncIterable<string> {
  let count = 0;
  let last: ExecutionRecord | undefined;
  for await (const record of records.exportRecords(tenant.id)) {
    count++;
    last = record;
    yield JSON.stringify(record);
  }
  const head = signStatement(
    {
      type: "invoke.export_head" as const,
      v: 1 as const,
      at: new Date(now()).toISOString(),
      tenant_id: tenant.id,
      tenant: tenant.name,
      seq: last?.seq ?? 0,
      hash: last?.hash ?? null,
      records: count,
      checkpoint: checkpoint ?? null,
    },
    keys.signingKey,
  );
  yield canonicalJson(head)!;
}

/** What verifying an export found. */
export interface ExportAudit {
  ok: boolean;
  records: number;
  tenant_id: string | null;
  tenant: string | null;
  problems: string[];
}

/** Verifies a signed export with nothing but the public key: the head's signature, the chain up to it, and the checkpoint it carries. */
export function auditExport(lines: Iterable<string>, publicKey: KeyObject): ExportAudit {
  const rows: StoredRecord[] = [];
  const problems: string[] = [];
  let head: ExportHead | undefined;
  let lineNumber = 0;
  for (const text of lines) {
    lineNumber++;
    if (text.trim() === "") continue;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(text) as Record<string, unknown>;
    } catch {
      problems.push(`line ${lineNumber} is not JSON: the export was edited`);
      continue;
    }
    if (head) problems.push(`line ${lineNumber} follows the signed head: lines were added after it`);
    if (value.type === "invoke.export_head") head = value as unknown as ExportHead;
    else if (!head) rows.push(storedForm(value as unknown as ExecutionRecord));
  }
  if (!head) return { ok: false, records: rows.length, tenant_id: null, tenant: null, problems: [...problems, "the export has no signed head line: it was cut short, or made with filters"] };
  const who = `tenant ${head.tenant}`;
  if (!verifyStatement(head, publicKey)) problems.push(`the export's signed head is invalid: ${signatureFault(head, publicKey)}`);
  const foreign = rows.find((row) => row.tenant_id !== head.tenant_id);
  if (foreign) problems.push(`record ${foreign.id} belongs to tenant ${foreign.tenant_id}, not to ${head.tenant_id}`);
  const chain = checkChain(rows);
  if (chain.first_broken) problems.push(`${who}: ${chain.first_broken.reason}`);
  const last = rows.at(-1);
  const lastSeq = last?.seq ?? 0;
  const headCovers = `its signed head covers seq ${head.seq} (hash ${head.hash})`;
  if (lastSeq < head.seq) problems.push(`${who}: ${missing(lastSeq + 1, head.seq)}: the export ends at seq ${lastSeq} but ${headCovers}`);
  else if (lastSeq > head.seq) problems.push(`${who}: records ${head.seq + 1}–${lastSeq} are not covered by the signed head: ${headCovers}`);
  else if ((last?.hash ?? null) !== head.hash) problems.push(`${who}: seq ${lastSeq} has hash ${last?.hash}, but ${headCovers}`);
  else if (rows.length !== head.records) problems.push(`${who}: the export holds ${rows.length} records, its signed head ${head.records}`);
  const checkpoint = head.checkpoint;
  if (checkpoint) {
    const covers = `the checkpoint of ${checkpoint.at} covers seq ${checkpoint.seq} (hash ${checkpoint.hash})`;
    if (!verifyStatement(checkpoint, publicKey)) problems.push(`the checkpoint in the export's head is invalid: ${signatureFault(checkpoint, publicKey)}`);
    else if (checkpoint.tenant_id !== head.tenant_id) problems.push(`the checkpoint in the export's head is of tenant ${checkpoint.tenant_id}, not ${head.tenant_id}`);
    else if (lastSeq < checkpoint.seq) problems.push(`${who}: ${missing(lastSeq + 1, checkpoint.seq)}: the chain ends at seq ${lastSeq} but ${covers}`);
    else {
      const row = rows.find((candidate) => candidate.seq === checkpoint.seq);
      if (row && row.hash !== checkpoint.hash) problems.push(`${who}: seq ${checkpoint.seq} has hash ${row.hash}, but ${covers}: records were rewritten`);
    }
  }
  return { ok: problems.length === 0, records: rows.length, tenant_id: head.tenant_id, tenant: head.tenant, problems };
}

/** A record as exported, back in its stored form (what the hash covers). */
function storedForm(record: ExecutionRecord): StoredRecord {
  return {
    ...record,
    at: Date.parse(record.at),
    arguments: canonicalJson(record.arguments) ?? "null",
    matched_rules: canonicalJson(record.matched_rules) ?? "[]",
    request_id: record.request_id ?? null,
  };
}
