/**
 * The one policy evaluator. Simulation, preflight and enforcement all call it, so what an agent is
 * told would happen is what happens. Precedence: deny > require_approval > allow; no matching rule →
 * the policy's default for the tool's classification. Rules are indexed by action so a large policy
 * evaluates only the rules that can concern the action.
 */
import type { ActionContext, Effect, MatchedRule, PolicyDecision } from "./model.ts";

/** A rule after compilation. */
export interface CompiledRule {
  id: string;
  /** Position in the document: matched rules are reported in document order. */
  order: number;
  effect: Effect;
  reason: string;
  approvalsRequired: number;
  /** Groups its approvers must belong to. */
  approverGroups: readonly string[];
  /** The action globs, for indexing (undefined: every action). */
  actionGlobs: string[] | undefined;
  matches(context: ActionContext): boolean;
}

/** Rules bucketed by the actions they can concern. */
export interface RuleIndex {
  /** Rules whose globs are all exact names, by name. */
  exact: Map<string, CompiledRule[]>;
  /** Rules whose globs all name one connector (`database.*`, `fs.read_*`), by connector. */
  byConnector: Map<string, CompiledRule[]>;
  /** Every other rule. */
  general: CompiledRule[];
}

const connectorOf = (action: string) => action.slice(0, action.indexOf(".") + 1);

/** Builds the index. */
export function indexRules(rules: CompiledRule[]): RuleIndex {
  const index: RuleIndex = { exact: new Map(), byConnector: new Map(), general: [] };
  const add = (map: Map<string, CompiledRule[]>, key: string, rule: CompiledRule) => {
    const bucket = map.get(key);
    if (bucket === undefined) map.set(key, [rule]);
    else if (bucket.at(-1) !== rule) bucket.push(rule);
  };
  for (const rule of rules) {
    const globs = rule.actionGlobs;
    if (globs && globs.every((glob) => !glob.includes("*"))) {
      for (const glob of globs) add(index.exact, glob, rule);
    } else if (globs && globs.every((glob) => glob.split("*")[0]!.includes("."))) {
      for (const glob of globs) add(index.byConnector, connectorOf(glob.split("*")[0]!), rule);
    } else {
      index.general.push(rule);
    }
  }
  return index;
}

const PRECEDENCE: Record<Effect, number> = { deny: 3, require_approval: 2, allow: 1 };

/** Evaluates `context` against the indexed rules and the defaults. */
export function evaluateCompiled(index: RuleIndex, defaults: Record<"read_only" | "mutating", Effect>, context: ActionContext): PolicyDecision {
  const candidates = [...(index.exact.get(context.action) ?? []), ...(index.byConnector.get(connectorOf(context.action)) ?? []), ...index.general];
  const matched = candidates.filter((rule) => rule.matches(context)).sort((a, b) => a.order - b.order);
  const unique = matched.filter((rule, position) => position === 0 || matched[position - 1] !== rule);

  if (unique.length === 0) {
    const decision = defaults[context.classification];
    return {
      decision,
      matched_rules: [],
      reasons: [`No rule matches ${context.action}; the policy's default for ${context.classification.replace("_", "-")} production tools is ${decision}.`],
      approvals_required: decision === "require_approval" ? 1 : 0,
      approver_groups: [],
      defaulted: true,
    };
  }
  const decision = unique.reduce<Effect>((strongest, rule) => (PRECEDENCE[rule.effect] > PRECEDENCE[strongest] ? rule.effect : strongest), "allow");
  const deciding = unique.filter((rule) => rule.effect === decision);
  const matchedRules: MatchedRule[] = unique.map((rule) => ({ id: rule.id, effect: rule.effect, reason: rule.reason }));
  return {
    decision,
    matched_rules: matchedRules,
    reasons: deciding.map((rule) => rule.reason),
    approvals_required: decision === "require_approval" ? Math.max(...deciding.map((rule) => rule.approvalsRequired)) : 0,
    approver_groups: decision === "require_approval" ? [...new Set(deciding.flatMap((rule) => rule.approverGroups))].sort() : [],
    defaulted: false,
  };
}
