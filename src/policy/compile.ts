/**
 * Loading a policy: YAML (a maintained parser) → schema validation → lint → a compiled evaluator.
 * Every problem names the file, the rule and the field (and the line where the YAML has one). A rule
 * that can never match, or that matches every action without saying so, is refused: a bad rule must
 * never silently deny or allow everything.
 */
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import type { Document, LineCounter } from "yaml";
import { InvokeError } from "../errors.ts";
import type { RE2JS } from "re2js";
import { globMatcher } from "../text.ts";
import { findProfile } from "../governance/profiles.ts";
import { ANALYZERS } from "./analyzers/index.ts";
import { evaluateCompiled, indexRules, type CompiledRule, type RuleIndex } from "./evaluate.ts";
import { OPERATORS, PolicySchema, type ActionContext, type Condition, type PolicyDocument, type PolicyDecision, type Rule } from "./model.ts";
import { SQL_KIND_NAMES } from "../connectors/kinds/index.ts";

/** One problem in a policy. */
export interface PolicyIssue {
  file: string;
  line?: number;
  rule?: string;
  field: string;
  message: string;
}

/** How many problems a refusal lists (the rest are counted), and how long each text in one may be. */
const MAX_LISTED_ISSUES = 20;
const MAX_ISSUE_TEXT = 200;

/**
 * A policy that cannot be used; `issues` lists the first problems (each text cut to a readable length)
 * and `total` counts them all, so a hostile source cannot make the answer larger than itself.
 */
export class PolicyInvalid extends InvokeError {
  readonly issues: PolicyIssue[];
  readonly total: number;

  constructor(issues: PolicyIssue[]) {
    const listed = issues.slice(0, MAX_LISTED_ISSUES).map(boundedIssue);
    const more = issues.length - listed.length;
    const summary = `${listed.map(formatIssue).join("; ")}${more > 0 ? `; and ${more} more` : ""}`;
    super(400, "invalid_policy", `${issues.length} problem${issues.length === 1 ? "" : "s"} in the policy: ${summary}`, more > 0 ? { issues: listed, more } : { issues: listed });
    this.issues = listed;
    this.total = issues.length;
  }
}

function boundedIssue(issue: PolicyIssue): PolicyIssue {
  const cut = (text: string) => (text.length <= MAX_ISSUE_TEXT ? text : `${text.slice(0, MAX_ISSUE_TEXT)}…`);
  return { ...issue, file: cut(issue.file), field: cut(issue.field), message: cut(issue.message), ...(issue.rule !== undefined && { rule: cut(issue.rule) }) };
}

/** `file:line: rule <id>: field: message`. */
export function formatIssue(issue: PolicyIssue): string {
  return `${issue.file}${issue.line ? `:${issue.line}` : ""}: ${issue.rule ? `rule ${issue.rule}: ` : ""}${issue.field}: ${issue.message}`;
}

/** A loaded policy, ready to evaluate. */
export interface CompiledPolicy {
  document: PolicyDocument;
  source: string;
  evaluate(context: ActionContext): PolicyDecision;
}

/** The policy schema's compiled checker, made at the first policy compiled rather than at start-up (the cold-start target). */
let policyChecker: TypeCheck<typeof PolicySchema> | undefined;

// The YAML parser and the regex engine are loaded (static paths, embedded in the binary) at the first
// policy compiled: a start that compiles none does not pay for them (the cold-start target).
const yaml = () => require("yaml") as typeof import("yaml");
const re2js = () => require("re2js") as typeof import("re2js");

/**
 * Bounds on a policy's YAML, checked before anything walks it: its size, the aliases it may resolve
 * (an alias of an alias… is the "billion laughs" expansion), how deep and how large the data may be
 * once aliases are expanded. Merge keys (`<<`) are refused: YAML 1.2 dropped them, and writing the
 * fields out keeps every rule readable on its own.
 */
export const POLICY_LIMITS = { maxBytes: 64 * 1024, maxAliasCount: 100, maxDepth: 32, maxValues: 100_000 } as const;

/**
 * Whether `source` opens more than `limit` flow collections (`[`, `{`) at once, counted outside quoted
 * scalars and comments. The YAML library parses deep flow nesting by recursion until the stack gives
 * out, at hundreds of MiB for a few KiB of brackets; a real policy nests a handful of levels.
 */
function flowNestsDeeperThan(source: string, limit: number): boolean {
  let depth = 0;
  let quote: string | undefined;
  for (let index = 0; index < source.length; index++) {
    const char = source[index]!;
    if (quote !== undefined) {
      if (quote === '"' && char === "\\") index++;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === "#" && (index === 0 || /\s/.test(source[index - 1]!))) {
      const end = source.indexOf("\n", index);
      if (end < 0) break;
      index = end;
    } else if (char === "[" || char === "{") {
      if (++depth > limit) return true;
    } else if ((char === "]" || char === "}") && depth > 0) {
      depth--;
    }
  }
  return false;
}

const ROOT_FIELDS = new Set(["agent_id", "action", "profile", "role"]);

/** Parses, validates, lints and compiles `source`; throws PolicyInvalid listing every problem. `maxBytes` is for trusted sources only (the benchmark). */
export function compilePolicy(source: string, file = "policy.yaml", maxBytes: number = POLICY_LIMITS.maxBytes): CompiledPolicy {
  const bytes = Buffer.byteLength(source);
  if (bytes > maxBytes) throw new PolicyInvalid([{ file, field: "(document)", message: `the policy is ${bytes} bytes; the limit is ${maxBytes}` }]);
  if (flowNestsDeeperThan(source, POLICY_LIMITS.maxDepth)) throw new PolicyInvalid([{ file, field: "(yaml)", message: `brackets nest deeper than ${POLICY_LIMITS.maxDepth} levels` }]);
  const { LineCounter, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, uniqueKeys: true, merge: false });
  if (doc.errors.length > 0) {
    throw new PolicyInvalid(
      doc.errors.map((error) => ({ file, line: error.linePos?.[0]?.line, field: "(yaml)", message: error.message.split("\n")[0]! })),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: POLICY_LIMITS.maxAliasCount }) ?? {};
  } catch (error) {
    // The YAML library refuses unresolved aliases and excessive aliasing by throwing.
    throw new PolicyInvalid([{ file, field: "(yaml)", message: (error as Error).message }]);
  }
  const shapeProblem = dataShapeProblem(raw);
  if (shapeProblem !== undefined) throw new PolicyInvalid([{ file, field: "(document)", message: shapeProblem }]);
  const lineAt = (path: (string | number)[]) => lineOf(doc, lineCounter, path);
  const ruleName = (path: (string | number)[]) => {
    if (path[0] !== "rules" || typeof path[1] !== "number") return undefined;
    const id = (raw as { rules?: { id?: unknown }[] }).rules?.[path[1]]?.id;
    return typeof id === "string" ? id : `#${path[1] + 1}`;
  };

  const schemaIssues: PolicyIssue[] = [];
  const checker = (policyChecker ??= TypeCompiler.Compile(PolicySchema));
  for (const error of checker.Check(raw) ? [] : checker.Errors(raw)) {
    const path = error.path.split("/").slice(1).map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
    const fieldPath = path[0] === "rules" ? path.slice(2) : path;
    schemaIssues.push({ file, line: lineAt(path), rule: ruleName(path), field: fieldPath.join(".") || "(document)", message: error.message });
    if (schemaIssues.length >= 20) break;
  }
  if (schemaIssues.length > 0) throw new PolicyInvalid(schemaIssues);

  const document = raw as PolicyDocument;
  const issues: PolicyIssue[] = [];
  const seen = new Set<string>();
  const compiled: CompiledRule[] = document.rules.map((rule, index) => {
    const report = (field: string, message: string, path: (string | number)[] = []) =>
      issues.push({ file, line: lineAt(["rules", index, ...path]), rule: rule.id, field, message });
    if (seen.has(rule.id)) report("id", `duplicate rule id ${rule.id}`, ["id"]);
    seen.add(rule.id);
    return compileRule(rule, index, report);
  });
  if (issues.length > 0) throw new PolicyInvalid(issues);

  const index: RuleIndex = indexRules(compiled);
  const defaults = { read_only: document.defaults?.read_only ?? "deny", mutating: document.defaults?.mutating ?? "deny" } as const;
  return { document, source, evaluate: (context) => evaluateCompiled(index, defaults, context) };
}

/**
 * Why parsed YAML data is unfit to walk, or undefined: nested deeper than the limit, more values than
 * the limit (aliases counted at each use), or a merge key. Iterative, so depth cannot overflow it.
 */
function dataShapeProblem(data: unknown): string | undefined {
  const pending: [unknown, number][] = [[data, 0]];
  let values = 0;
  while (pending.length > 0) {
    const [value, depth] = pending.pop()!;
    if (++values > POLICY_LIMITS.maxValues) return `the policy expands to more than ${POLICY_LIMITS.maxValues} values (aliases count at each use)`;
    if (value === null || typeof value !== "object") continue;
    if (depth >= POLICY_LIMITS.maxDepth) return `the policy nests deeper than ${POLICY_LIMITS.maxDepth} levels`;
    if (Array.isArray(value)) {
      for (const item of value) pending.push([item, depth + 1]);
      continue;
    }
    for (const [key, item] of Object.entries(value)) {
      if (key === "<<") return "merge keys (<<) are not supported; write the fields out";
      pending.push([item, depth + 1]);
    }
  }
  return undefined;
}

function lineOf(doc: Document, lineCounter: LineCounter, path: (string | number)[]): number | undefined {
  for (let length = path.length; length > 0; length--) {
    const node = doc.getIn(path.slice(0, length), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

const asList = (value: string | string[] | undefined) => (value === undefined ? undefined : Array.isArray(value) ? value : [value]);

function compileRule(rule: Rule, index: number, report: (field: string, message: string, path?: (string | number)[]) => void): CompiledRule {
  const actions = asList(rule.match?.action);
  const agents = asList(rule.match?.agent);
  const match = rule.match ?? {};

  if (rule.approvals_required !== undefined && rule.effect !== "require_approval") {
    report("approvals_required", "only require_approval rules take approvals_required", ["approvals_required"]);
  }
  if (rule.approvers !== undefined && rule.effect !== "require_approval") report("approvers", "only require_approval rules take approvers", ["approvers"]);
  for (const profile of match.profile ?? []) {
    if (!findProfile(profile)) report("match.profile", `unknown key profile ${profile}: the rule could never match it`, ["match", "profile"]);
  }
  const conditions = (rule.when ?? []).map((condition, position) => compileCondition(condition, (message) => report(`when[${position}].${condition.field}`, message, ["when", position])));
  checkSatisfiable(rule.when ?? [], (message) => report("when", message, ["when"]));
  // sql.* facts exist only for database tools and for SQL sent to tools that are not configured.
  const sqlKinds: string[] = [...SQL_KIND_NAMES, "unconfigured"];
  if (match.connector_kind && !match.connector_kind.some((kind) => sqlKinds.includes(kind)) && (rule.when ?? []).some((condition) => condition.field.startsWith("sql."))) {
    report("match.connector_kind", `sql.* facts are only known for ${sqlKinds.join(" and ")} tools, which match.connector_kind excludes: the rule can never match`, ["match", "connector_kind"]);
  }

  const broad = (actions === undefined || actions.includes("*")) && !agents && !match.profile && !match.role && !match.classification && !match.connector_kind && conditions.length === 0;
  if (broad && !rule.catch_all) {
    const verb = rule.effect === "deny" ? "deny" : rule.effect === "allow" ? "allow" : "require approval for";
    report("match", `matches every action with no condition, so it would ${verb} everything; narrow it, or add catch_all: true if that is intended`);
  }

  const actionPatterns = actions?.map(globMatcher);
  const agentPatterns = agents?.map(globMatcher);
  const profiles = match.profile && new Set(match.profile);
  const roles = match.role && new Set<string>(match.role);
  const kinds = match.connector_kind && new Set<string>(match.connector_kind);
  return {
    id: rule.id,
    order: index,
    effect: rule.effect,
    reason: rule.reason,
    approvalsRequired: rule.approvals_required ?? 1,
    approverGroups: rule.approvers ?? [],
    actionGlobs: actions,
    matches: (context) =>
      (!actionPatterns || actionPatterns.some((matches) => matches(context.action))) &&
      (!agentPatterns || agentPatterns.some((matches) => matches(context.agentId))) &&
      (!profiles || profiles.has(context.profile)) &&
      (!roles || roles.has(context.role)) &&
      (!match.classification || match.classification === context.classification) &&
      (!kinds || kinds.has(context.connectorKind)) &&
      conditions.every((condition) => condition(context)),
  };
}

/** A numeric view of a value: numbers, and strings that are numbers (so "5000" cannot slip past `gt: 1000`). */
function numeric(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

function fieldReader(field: string, problem: (message: string) => void): (context: ActionContext) => unknown {
  const [root, ...rest] = field.split(".");
  if (ROOT_FIELDS.has(field)) {
    const key = field === "agent_id" ? "agentId" : (field as "action" | "profile" | "role");
    return (context) => context[key];
  }
  if (root === "params" && rest.length > 0) {
    return (context) => rest.reduce<unknown>((value, key) => (value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined), context.params);
  }
  const analyzer = ANALYZERS.find((candidate) => candidate.name === root);
  if (analyzer && rest.length === 1) {
    if (!analyzer.facts.includes(rest[0]!)) problem(`unknown fact ${field}; ${analyzer.name} facts are ${analyzer.facts.join(", ")}`);
    return (context) => context.analysis[analyzer.name]?.[rest[0]!];
  }
  problem(`unknown field ${field}; fields are params.<path>, ${ANALYZERS.map((candidate) => `${candidate.name}.<fact>`).join(", ")}, agent_id, action, profile, role`);
  return () => undefined;
}

function compileCondition(condition: Condition, problem: (message: string) => void): (context: ActionContext) => boolean {
  const read = fieldReader(condition.field, problem);
  const tests: ((value: unknown) => boolean)[] = [];
  const given = OPERATORS.filter((operator) => condition[operator] !== undefined);
  if (given.length === 0) problem(`no operator; use one of ${OPERATORS.join(", ")}`);
  for (const operator of given) {
    const expected = condition[operator];
    switch (operator) {
      case "equals":
        tests.push((value) => value === expected);
        break;
      case "not_equals":
        tests.push((value) => value !== expected);
        break;
      case "in": {
        const set = new Set(expected as unknown[]);
        tests.push((value) => set.has(value));
        break;
      }
      case "not_in": {
        const set = new Set(expected as unknown[]);
        tests.push((value) => !set.has(value));
        break;
      }
      case "gt":
      case "gte":
      case "lt":
      case "lte": {
        const bound = expected as number;
        const compare = { gt: (n: number) => n > bound, gte: (n: number) => n >= bound, lt: (n: number) => n < bound, lte: (n: number) => n <= bound }[operator];
        tests.push((value) => {
          const number = numeric(value);
          return number !== undefined && compare(number);
        });
        break;
      }
      case "matches": {
        // RE2 semantics: matching takes time linear in the text, so no pattern can stall evaluation.
        let pattern: RE2JS;
        try {
          pattern = re2js().RE2JS.compile(expected as string);
        } catch (error) {
          problem(`matches: invalid regular expression (RE2 syntax: no backreferences or lookaround): ${(error as Error).message}`);
          break;
        }
        tests.push((value) => typeof value === "string" && pattern.test(value));
        break;
      }
      case "present":
        tests.push((value) => (value !== undefined) === expected);
        break;
      case "contains":
        tests.push((value) => (Array.isArray(value) ? value.includes(expected) : typeof value === "string" && typeof expected === "string" && value.includes(expected)));
        break;
      case "contains_any": {
        const wanted = expected as unknown[];
        tests.push((value) => Array.isArray(value) && wanted.some((item) => value.includes(item)));
        break;
      }
    }
  }
  return (context) => {
    const value = read(context);
    return tests.every((test) => test(value));
  };
}

/** Reports conditions that can never hold together (the rule would never match). */
function checkSatisfiable(conditions: Condition[], problem: (message: string) => void): void {
  const byField = new Map<string, Condition[]>();
  for (const condition of conditions) byField.set(condition.field, [...(byField.get(condition.field) ?? []), condition]);
  for (const [field, group] of byField) {
    const merged = Object.assign({}, ...group) as Condition;
    const equals = group.filter((condition) => condition.equals !== undefined).map((condition) => condition.equals);
    const never = (why: string) => problem(`${field}: ${why}, so the rule can never match`);
    if (new Set(equals).size > 1) never(`must equal both ${equals.map((value) => JSON.stringify(value)).join(" and ")}`);
    if (group.some((condition) => condition.in?.length === 0)) never("`in` lists nothing");
    const value = merged.equals;
    if (value !== undefined) {
      if (group.some((condition) => condition.not_equals === value)) never(`must equal and not equal ${JSON.stringify(value)}`);
      if (group.some((condition) => condition.in && !condition.in.includes(value))) never(`must equal ${JSON.stringify(value)}, which \`in\` excludes`);
      if (group.some((condition) => condition.not_in?.includes(value))) never(`must equal ${JSON.stringify(value)}, which \`not_in\` excludes`);
    }
    if (group.some((condition) => condition.present === false) && group.some((condition) => OPERATORS.some((operator) => operator !== "present" && operator !== "not_equals" && operator !== "not_in" && condition[operator] !== undefined))) {
      never("must be absent and also have a value");
    }
    const lower = Math.max(...group.flatMap((condition) => [condition.gt, condition.gte].filter((bound): bound is number => bound !== undefined)), -Infinity);
    const upper = Math.min(...group.flatMap((condition) => [condition.lt, condition.lte].filter((bound): bound is number => bound !== undefined)), Infinity);
    const strict = group.some((condition) => condition.gt === lower || condition.lt === upper);
    if (lower > upper || (lower === upper && strict)) never(`no number is above ${lower} and below ${upper}`);
  }
}
