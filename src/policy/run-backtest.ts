/** Backtests: a candidate policy replayed over a tenant's recorded actions. */
import type { ActionTarget } from "./analyzers/index.ts";
import { backtest, type BacktestReport, type RecordedAction } from "./backtest.ts";
import { compilePolicy } from "./compile.ts";
import type { PolicyService } from "./service.ts";

/** What a backtest reads: stored versions, the tenant's recorded actions, what each action names. */
export interface BacktestPorts {
  policy: Pick<PolicyService, "active" | "atVersion">;
  records: { recordedActions(tenantId: string, since: number): AsyncIterable<RecordedAction> };
  /** The tool catalog: the target of each action for the tenant. */
  catalog: { targets(tenantId: string): Promise<(action: string) => ActionTarget> };
  now(): number;
}

/** What a backtest replays: a candidate source (validated here), or a stored version (default: the active one). */
export interface BacktestCandidate {
  source?: string;
  /** Names the source in validation errors. */
  file?: string;
  version?: number;
}

/** Replays the tenant's recorded actions of the last `days` days through the candidate. */
export async function runBacktest(ports: BacktestPorts, tenantId: string, candidate: BacktestCandidate, days: number): Promise<BacktestReport> {
  const policy =
    candidate.source !== undefined
      ? compilePolicy(candidate.source, candidate.file)
      : candidate.version !== undefined
        ? (await ports.policy.atVersion(tenantId, candidate.version)).policy
        : (await ports.policy.active(tenantId)).policy;
  return backtest(policy, ports.records.recordedActions(tenantId, ports.now() - days * 86_400_000), days, await ports.catalog.targets(tenantId));
}
