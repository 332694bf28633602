/** How an admin change is recorded, whether it came over REST or from the CLI: one record of kind admin_mutation. */
import type { ExecutionLedger, ExecutionRecord } from "./ledger.ts";

export interface AdminChange {
  tenantId: string;
  userId?: string | null;
  keyId: string | null;
  profile?: string | null;
  role?: string | null;
  clientName: string | null;
  /** The REST route it is (or that the CLI command does the work of), e.g. "POST /v1/connectors". */
  route: string;
  params?: unknown;
  body?: unknown;
  ok: boolean;
  error?: string | null;
  result?: unknown;
  latencyMs: number;
  requestId?: string | null;
}

export function recordAdminChange(records: ExecutionLedger, change: AdminChange): Promise<ExecutionRecord> {
  return records.append({
    tenantId: change.tenantId,
    kind: "admin_mutation",
    userId: change.userId,
    keyId: change.keyId,
    profile: change.profile,
    role: change.role,
    clientName: change.clientName,
    tool: change.route,
    arguments: { params: change.params ?? {}, body: change.body ?? null },
    status: change.ok ? "ok" : "error",
    error: change.error ?? null,
    latencyMs: change.latencyMs,
    result: change.result,
    requestId: change.requestId,
  });
}
