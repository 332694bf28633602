/**
 * Backtest: replay recorded actions through a candidate policy and report which decisions would
 * change — what a new policy would have blocked or let through. The records come from the execution
 * log; a tenant without records gets an empty, honest report.
 */
import type { CompiledPolicy } from "./compile.ts";
import { analyzeAction, type ActionTarget } from "./analyzers/index.ts";
import type { Effect } from "./model.ts";
import type { PolicyQuestion } from "./service.ts";

/** A recorded action, as the execution log keeps it: the question that was asked, and the answer. */
export interface RecordedAction extends Omit<PolicyQuestion, "target" | "analysis"> {
  id: string;
  at: number;
  decision: Effect;
}

/** What would change. */
export interface BacktestReport {
  window_days: number;
  actions: number;
  changed: number;
  by_change: Record<string, number>;
  changes: { record_id: string; at: string; agent_id: string; action: string; was: Effect; would_be: Effect; rules: string[] }[];
}

/** Replays `records` through `candidate`, each analysed as what its action names today; lists at most `limit` changes (all are counted). */
export async function backtest(
  candidate: CompiledPolicy,
  records: Iterable<RecordedAction> | AsyncIterable<RecordedAction>,
  windowDays: number,
  targetOf: (action: string) => ActionTarget,
  limit = 100,
): Promise<BacktestReport> {
  const report: BacktestReport = { window_days: windowDays, actions: 0, changed: 0, by_change: {}, changes: [] };
  for await (const record of records) {
    report.actions++;
    const target = targetOf(record.action);
    const decision = candidate.evaluate({ ...record, connectorKind: target.kind, analysis: analyzeAction(record.action, record.params, target) });
    if (decision.decision === record.decision) continue;
    report.changed++;
    const key = `${record.decision}->${decision.decision}`;
    report.by_change[key] = (report.by_change[key] ?? 0) + 1;
    if (report.changes.length < limit) {
      report.changes.push({
        record_id: record.id,
        at: new Date(record.at).toISOString(),
        agent_id: record.agentId,
        action: record.action,
        was: record.decision,
        would_be: decision.decision,
        rules: decision.matched_rules.map((rule) => rule.id),
      });
    }
  }
  return report;
}
