/** Backtests: a candidate policy replayed over a tenant's recorded actions. */
import type { Services } from "../services.ts";
import { backtest, type BacktestReport } from "./backtest.ts";
import { compilePolicy } from "./compile.ts";

/** What a backtest replays: a candidate source (validated here), or a stored version (default: the active one). */
export interface BacktestCandidate {
  source?: string;
  /** Names the source in validation errors. */
  file?: string;
  version?: number;
}

/** Replays the tenant's recorded actions of the last `days` days through the candidate. */
export async function runBacktest(services: Services, tenantId: string, candidate: BacktestCandidate, days: number): Promise<BacktestReport> {
  const policy =
    candidate.source !== undefined
      ? compilePolicy(candidate.source, candidate.file)
      : candidate.version !== undefined
        ? (await services.policy.atVersion(tenantId, candidate.version)).policy
        : (await services.policy.active(tenantId)).policy;
  return backtest(policy, services.records.recordedActions(tenantId, services.now() - days * 86_400_000), days, await services.catalog.targets(tenantId));
}
