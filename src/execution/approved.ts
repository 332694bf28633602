/**
 * Running approved actions, exactly once: the approval service hands an approved request to one
 * taker (a conditional UPDATE), which re-checks policy (a policy published since the request may now
 * deny it), runs the tool, records the execution and stores the outcome. A request approved from
 * another process (the CLI) is picked up by the server's sweeper, which also expires due requests.
 */
import { every } from "../every.ts";
import { analyzeIntended, classifyAction } from "../policy/ask.ts";
import type { Effect } from "../policy/model.ts";
import type { Services } from "../services.ts";
import { forward } from "./governed-call.ts";

/** Runs approval `id` if it is approved and nobody has taken it; otherwise does nothing. */
export async function runApproved(services: Services, tenantId: string, id: string): Promise<void> {
  const claimed = services.approvals.claim(tenantId, id);
  if (claimed === undefined) return;
  const { row, args } = claimed;
  const started = performance.now();
  const classification = classifyAction(services, tenantId, row.tool);
  let result: Record<string, unknown> | undefined;
  let error: string | null = null;
  let matchedRules: string[] = [];
  // The policy's decision at execution (require_approval is what the approval satisfied); null when the tool is gone and policy was not asked.
  let decision: Effect | null = null;
  const tool = services.connectors.get(tenantId, row.tool);
  if (tool === undefined) {
    error = `${row.tool} is no longer available (connector removed, tool quarantined or not enabled); the approved action did not run`;
  } else {
    const { target, analysis } = await analyzeIntended(services, tenantId, row.tool, args);
    const answer = await services.policy.evaluate(tenantId, {
      agentId: row.agentId,
      action: row.tool,
      params: args,
      profile: row.profile,
      role: row.role,
      classification,
      target,
      analysis,
    });
    matchedRules = answer.matched_rules.map((rule) => rule.id);
    decision = answer.decision;
    if (answer.decision === "deny") error = `policy version ${answer.policy_version} now denies ${row.tool}: ${answer.reasons.join(" ")}`;
    else ({ result, error } = await forward(tool, args));
  }
  const status = error === null ? "executed" : "failed";
  const record = await services.records.append({
    tenantId,
    kind: "approval_execution",
    userId: row.requestedBy,
    keyId: row.requestedKey,
    agentId: row.agentId,
    clientName: row.clientName,
    profile: row.profile,
    role: row.role,
    tool: row.tool,
    classification,
    arguments: args,
    decision,
    matchedRules,
    approvalId: id,
    status: error === null ? "ok" : "error",
    latencyMs: performance.now() - started,
    error,
    result,
  });
  services.approvals.finish(id, { status, result, error, recordId: record.id });
}

/** Every `intervalMs`: expires due requests and runs approved ones nobody has taken. Returns the stop function. */
export function startApprovalSweeper(services: Services, intervalMs = 1000, logError: (message: string, error: unknown) => void = () => {}): () => void {
  return every(
    intervalMs,
    async () => {
      services.approvals.expireDue();
      for (const { tenantId, id } of services.approvals.unclaimed()) await runApproved(services, tenantId, id);
    },
    (error) => logError("approval sweeper failed", error),
  );
}
