/** How every surface puts an action to the policy: the caller's tenant, profile and role, Invoke's classification of the tool. */
import type { Caller } from "../governance/caller.ts";
import type { Services } from "../services.ts";
import { TenantScope } from "../storage/sqlite/tenant-scope.ts";
import { backtest, type BacktestReport } from "./backtest.ts";
import { compilePolicy } from "./compile.ts";
import type { PolicyAnswer } from "./service.ts";
import { analyzeAction, type ActionTarget, type Analysis } from "./analyzers/index.ts";

/** An intended action. */
export interface IntendedAction {
  agentId: string;
  action: string;
  params: Record<string, unknown>;
}

/** What `action` names for the tenant: a production tool (its connector's kind), one of Invoke's own tools, or nothing configured. */
export function targetOf(services: Services, tenantId: string, action: string): ActionTarget {
  return services.connectors.targetOf(tenantId, action) ?? (services.registry.get(action) ? { kind: "invoke" } : { kind: "unconfigured" });
}

/** Invoke's classification of `action` for the tenant: unknown and unclassified tools are mutating. */
export function classifyAction(services: Services, tenantId: string, action: string): "read_only" | "mutating" {
  const production = services.connectors.get(tenantId, action);
  if (production) return production.readOnly ? "read_only" : "mutating";
  const builtin = services.registry.get(action);
  return builtin?.definition.readOnly ? "read_only" : "mutating";
}

/**
 * The facts policy decides on: the tool's own connector gathers them when it can (a database checks
 * SQL with the engine that will run it), else the analysers read the params by the tool's kind.
 */
export async function analyzeIntended(services: Services, tenantId: string, action: string, params: Record<string, unknown>): Promise<{ target: ActionTarget; analysis: Analysis }> {
  const production = services.connectors.get(tenantId, action);
  // A running tool carries its connector's target already: no second lookup.
  const target = production?.target ?? targetOf(services, tenantId, action);
  const analysis = (await production?.analyze?.(params)) ?? analyzeAction(action, params, target);
  return { target, analysis };
}

/** Evaluates `intended` for `caller` with the one evaluator (active policy, or `version`). Runs nothing. */
export async function askPolicy(services: Services, caller: Caller, intended: IntendedAction, version?: number): Promise<PolicyAnswer> {
  const { target, analysis } = await analyzeIntended(services, caller.tenantId, intended.action, intended.params);
  return services.policy.evaluate(
    new TenantScope(services.store, caller.tenantId),
    {
      agentId: intended.agentId,
      action: intended.action,
      params: intended.params,
      profile: caller.profile,
      role: caller.role,
      classification: classifyAction(services, caller.tenantId, intended.action),
      target,
      analysis,
    },
    version,
  );
}

/** What a backtest replays: a candidate source (validated here), or a stored version (default: the active one). */
export interface BacktestCandidate {
  source?: string;
  /** Names the source in validation errors. */
  file?: string;
  version?: number;
}

/** Replays the tenant's recorded actions of the last `days` days through the candidate. */
export function runBacktest(services: Services, scope: TenantScope, candidate: BacktestCandidate, days: number): Promise<BacktestReport> {
  const policy =
    candidate.source !== undefined
      ? compilePolicy(candidate.source, candidate.file)
      : services.policy.atVersion(scope, candidate.version ?? services.policy.active(scope).version).policy;
  return backtest(policy, services.records.recordedActions(scope.tenantId, services.now() - days * 86_400_000), days, (action) => targetOf(services, scope.tenantId, action));
}
