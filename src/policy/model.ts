/**
 * The policy language: what administrators write (YAML), as TypeBox schemas, the one source for
 * validation and for the types the compiler and evaluator use.
 */
import { Type, type Static } from "@sinclair/typebox";
import { ROLES } from "../governance/caller.ts";
import { TOOL_KINDS, type ToolKind } from "./analyzers/index.ts";

/** A group's name, as rules and the group routes spell it. */
export const GROUP_NAME_PATTERN = "^[a-z0-9][a-z0-9_.-]{0,62}$";

/** A decision. Precedence: deny > require_approval > allow. */
export const EFFECTS = ["deny", "require_approval", "allow"] as const;
export type Effect = (typeof EFFECTS)[number];
const EffectSchema = Type.Union(EFFECTS.map((effect) => Type.Literal(effect)));

const Globs = Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })]);
const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

/** One condition on a field of the action: every operator given must hold. */
export const ConditionSchema = Type.Object(
  {
    field: Type.String({ minLength: 1, description: "params.<path>, sql.<fact>, agent_id, action, profile or role" }),
    equals: Type.Optional(Scalar),
    not_equals: Type.Optional(Scalar),
    in: Type.Optional(Type.Array(Scalar)),
    not_in: Type.Optional(Type.Array(Scalar)),
    gt: Type.Optional(Type.Number()),
    gte: Type.Optional(Type.Number()),
    lt: Type.Optional(Type.Number()),
    lte: Type.Optional(Type.Number()),
    matches: Type.Optional(Type.String({ description: "A regular expression in RE2 syntax (no backreferences or lookaround), matched anywhere in the value, in linear time." })),
    present: Type.Optional(Type.Boolean()),
    contains: Type.Optional(Scalar),
    contains_any: Type.Optional(Type.Array(Scalar, { minItems: 1 })),
  },
  { additionalProperties: false },
);
export type Condition = Static<typeof ConditionSchema>;

/** The operators of a condition, for the compiler. */
export const OPERATORS = ["equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "matches", "present", "contains", "contains_any"] as const;
export type Operator = (typeof OPERATORS)[number];

/** Which actions a rule is about. Every criterion given must match; an absent one matches anything. */
export const MatchSchema = Type.Object(
  {
    action: Type.Optional(Globs),
    agent: Type.Optional(Globs),
    profile: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    role: Type.Optional(Type.Array(Type.Union(ROLES.map((role) => Type.Literal(role))), { minItems: 1 })),
    classification: Type.Optional(Type.Union([Type.Literal("read_only"), Type.Literal("mutating")])),
    connector_kind: Type.Optional(
      Type.Array(Type.Union(TOOL_KINDS.map((kind) => Type.Literal(kind))), {
        minItems: 1,
        description: "The kind of tool the action names: database, mcp_stdio, mcp_http (a connector's kind, whatever it is called), invoke (Invoke's own tools), or unconfigured (names no configured tool).",
      }),
    ),
  },
  { additionalProperties: false },
);

/** A rule. */
export const RuleSchema = Type.Object(
  {
    id: Type.String({ pattern: "^[a-z0-9][a-z0-9_.-]*$", maxLength: 100, description: "Unique, lower-case, e.g. deny-destructive-sql." }),
    description: Type.Optional(Type.String()),
    effect: EffectSchema,
    reason: Type.String({ minLength: 1, description: "Shown to agents and approvers." }),
    approvals_required: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: "Distinct approvers (require_approval only; default 1)." })),
    approvers: Type.Optional(
      Type.Array(Type.String({ pattern: GROUP_NAME_PATTERN }), {
        minItems: 1,
        description: "Groups every approver must belong to (require_approval only), members since before the request; admins manage groups.",
      }),
    ),
    match: Type.Optional(MatchSchema),
    when: Type.Optional(Type.Array(ConditionSchema)),
    catch_all: Type.Optional(Type.Boolean({ description: "Confirms a rule that matches every action on purpose." })),
  },
  { additionalProperties: false },
);
export type Rule = Static<typeof RuleSchema>;

/** A policy document. */
export const PolicySchema = Type.Object(
  {
    version: Type.Literal(1),
    description: Type.Optional(Type.String()),
    defaults: Type.Optional(
      Type.Object(
        {
          read_only: Type.Optional(EffectSchema),
          mutating: Type.Optional(EffectSchema),
        },
        { additionalProperties: false, description: "The decision for production tools no rule matches, by Invoke's classification. Both default to deny." },
      ),
    ),
    rules: Type.Array(RuleSchema),
  },
  { additionalProperties: false },
);
export type PolicyDocument = Static<typeof PolicySchema>;

/** What an action looks like to the evaluator. */
export interface ActionContext {
  action: string;
  agentId: string;
  profile: string;
  role: string;
  /** Invoke's classification of the tool; unclassified tools are mutating. */
  classification: "read_only" | "mutating";
  /** The kind of tool the action names. */
  connectorKind: ToolKind;
  params: Record<string, unknown>;
  /** Facts from the analysers, e.g. `{ sql: {...} }`. */
  analysis: Record<string, Record<string, unknown>>;
}

/** A rule that matched, as simulate and enforcement report it. */
export interface MatchedRule {
  id: string;
  effect: Effect;
  reason: string;
}

/** The evaluator's answer. */
export interface PolicyDecision {
  decision: Effect;
  matched_rules: MatchedRule[];
  reasons: string[];
  /** Distinct approvers needed (0 unless the decision is require_approval). */
  approvals_required: number;
  /** Groups each approver must belong to (empty: any approver). */
  approver_groups: string[];
  /** True when no rule matched and the policy's default decided. */
  defaulted: boolean;
}
