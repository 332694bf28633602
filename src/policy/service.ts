/**
 * Policy versions per tenant and the questions asked of them: the active policy (the built-in default
 * pack, version 0, until a tenant publishes its own), drafts, publish, roll back, diff, simulate.
 * Compiled policies are cached by version row, so enforcement pays for compilation once.
 */
import { createTwoFilesPatch } from "diff";
import { BadRequest, Conflict, NotFound } from "../errors.ts";
import { isoTime } from "../text.ts";
import { analyzeAction, type ActionTarget, type Analysis } from "./analyzers/index.ts";
import { compilePolicy, type CompiledPolicy } from "./compile.ts";
import defaultPolicySource from "./default-policy.yaml" with { type: "text" };
import type { ActionContext, PolicyDecision } from "./model.ts";
import type { PolicyRepository, StoredPolicyVersion } from "./repository.ts";

/** A version as the API shows it (without its source). */
export interface PolicyVersionView {
  version: number;
  status: "draft" | "active" | "superseded" | "builtin";
  comment: string | null;
  rules: number;
  created_by: string | null;
  created_at: string | null;
  published_by: string | null;
  published_at: string | null;
}

/** The question simulate, preflight and enforcement ask. */
export interface PolicyQuestion {
  agentId: string;
  action: string;
  params: Record<string, unknown>;
  profile: string;
  role: string;
  classification: ActionContext["classification"];
  /** What the action names: its kind decides which analysers read its params. */
  target: ActionTarget;
  /** Facts already gathered by the tool's own connector (e.g. SQL checked by the engine); analysed here when absent. */
  analysis?: Analysis;
}

/** Whose action policy judges: the tenant, the key's profile and its user's role. */
export type PolicyActor = Pick<PolicyQuestion, "profile" | "role"> & { tenantId: string };

/** An action put to policy: a tool's name (known or not) and its arguments, for an agent. */
export type IntendedAction = Pick<PolicyQuestion, "agentId" | "action" | "params">;

/**
 * Asks policy as enforcement does (the governed call path implements it): the active version or
 * `version`; `offline` uses the analysers alone, never the tool's own engine.
 */
export interface PolicyAsker {
  ask(actor: PolicyActor, intended: IntendedAction, options?: { version?: number; offline?: boolean }): Promise<PolicyAnswer>;
}

/** The evaluator's answer with what it was based on. */
export interface PolicyAnswer extends PolicyDecision {
  analysis: Record<string, Record<string, unknown>>;
  policy_version: number;
}

/** The built-in default pack's source. */
export const DEFAULT_POLICY_SOURCE: string = defaultPolicySource;

/** Compiled versions kept at most (those in force are used on every call; the rest are compiled again when shown). */
const MAX_COMPILED = 256;

/** Policy storage and evaluation for every tenant. */
export class PolicyService {
  private readonly compiled = new Map<string, CompiledPolicy>();
  private compiledDefault: CompiledPolicy | undefined;
  /** The built-in pack, compiled at first use: start-up does not pay for it (the cold-start target). */
  private get defaultPolicy(): CompiledPolicy {
    return (this.compiledDefault ??= compilePolicy(DEFAULT_POLICY_SOURCE, "default-policy.yaml"));
  }

  constructor(
    private readonly versions: PolicyRepository,
    private readonly now: () => number = Date.now,
  ) {}

  /** The policy in force for the tenant, with its version number. */
  async active(tenantId: string): Promise<{ version: number; policy: CompiledPolicy }> {
    const row = await this.versions.active(tenantId);
    return row ? { version: row.version, policy: this.compiledRow(row.id, row.source, row.version) } : { version: 0, policy: this.defaultPolicy };
  }

  /** A given version (0 = the default pack), active or not: how admins test drafts. */
  async atVersion(tenantId: string, version: number): Promise<{ version: number; policy: CompiledPolicy }> {
    if (version === 0) return { version: 0, policy: this.defaultPolicy };
    const row = await this.row(tenantId, version);
    return { version, policy: this.compiledRow(row.id, row.source, version) };
  }

  /** Evaluates a question against the active policy, or against `version` when given. Runs nothing. */
  async evaluate(tenantId: string, question: PolicyQuestion, version?: number): Promise<PolicyAnswer> {
    const { version: used, policy } = version === undefined ? await this.active(tenantId) : await this.atVersion(tenantId, version);
    const { target, analysis = analyzeAction(question.action, question.params, target), ...asked } = question;
    const decision = policy.evaluate({ ...asked, connectorKind: target.kind, analysis });
    return { ...decision, analysis, policy_version: used };
  }

  /** Validates a source without storing it; throws PolicyInvalid with every problem. */
  check(source: string, file?: string): { rules: number } {
    return { rules: compilePolicy(source, file).document.rules.length };
  }

  /** Stores a validated draft. */
  async createDraft(tenantId: string, source: string, options: { comment?: string; by?: string | null; file?: string } = {}): Promise<PolicyVersionView> {
    this.check(source, options.file);
    return this.toView(await this.versions.add(tenantId, this.newVersion(source, options)));
  }

  /** Makes `version` the active policy; the previous one becomes superseded. */
  async publish(tenantId: string, version: number, by: string | null = null): Promise<PolicyVersionView> {
    const row = await this.versions.publish(tenantId, version, by, this.now());
    if (row === undefined) throw notFound(version);
    return this.toView(row);
  }

  /** Stores and publishes a source in one step. */
  async publishSource(tenantId: string, source: string, options: { comment?: string; by?: string | null; file?: string } = {}): Promise<PolicyVersionView> {
    this.check(source, options.file);
    return this.toView(await this.versions.add(tenantId, this.newVersion(source, options), { by: options.by ?? null, at: this.now() }));
  }

  /**
   * Rolls back: publishes a new version carrying the source of `to` (default: the version that was
   * active before the current one; 0 = the default pack). History stays linear and complete. The new
   * version replaces the one the rollback was worked out from, or nothing: a publish or rollback that
   * landed meanwhile is not silently undone (409 `policy_changed`).
   */
  async rollback(tenantId: string, options: { to?: number; by?: string | null } = {}): Promise<PolicyVersionView> {
    const current = (await this.active(tenantId)).version;
    const target = options.to ?? (await this.versions.previousPublished(tenantId, current)) ?? 0;
    if (target === current) throw new BadRequest(`version ${target} is already active`, undefined, "already_active");
    const source = target === 0 ? DEFAULT_POLICY_SOURCE : (await this.row(tenantId, target)).source;
    const by = options.by ?? null;
    const row = await this.versions.replaceActive(tenantId, this.newVersion(source, { comment: `rollback to version ${target}`, by }), { by, at: this.now() }, current);
    if (row === undefined) {
      const now = (await this.active(tenantId)).version;
      throw new Conflict(`the active policy changed while rolling back (version ${current} then, version ${now} now); nothing was published: look at the versions and roll back again`, "policy_changed");
    }
    return this.toView(row);
  }

  /** Every version, newest first, with the built-in default pack last. */
  async list(tenantId: string): Promise<PolicyVersionView[]> {
    const rows = await this.versions.list(tenantId);
    return [...rows.map((row) => this.toView(row)), this.defaultView(rows.some((row) => row.status === "active"))];
  }

  /** One version with its source. */
  async get(tenantId: string, version: number): Promise<PolicyVersionView & { source: string }> {
    if (version === 0) return { ...this.defaultView((await this.versions.active(tenantId)) !== undefined), source: DEFAULT_POLICY_SOURCE };
    const row = await this.row(tenantId, version);
    return { ...this.toView(row), source: row.source };
  }

  /** A unified diff between two versions (0 = the default pack). */
  async diff(tenantId: string, from: number, to: number): Promise<string> {
    const [before, after] = await Promise.all([this.get(tenantId, from), this.get(tenantId, to)]);
    return createTwoFilesPatch(`version ${from}`, `version ${to}`, before.source, after.source);
  }

  private newVersion(source: string, options: { comment?: string; by?: string | null }) {
    return { source, comment: options.comment ?? null, createdBy: options.by ?? null, createdAt: this.now() };
  }

  private compiledRow(id: string, source: string, version: number): CompiledPolicy {
    let policy = this.compiled.get(id);
    if (policy === undefined) {
      policy = compilePolicy(source, `policy version ${version}`);
      // Versions are compiled to be shown too, and a tenant admin can make any number: the cache starts over.
      if (this.compiled.size >= MAX_COMPILED) this.compiled.clear();
      this.compiled.set(id, policy);
    }
    return policy;
  }

  private async row(tenantId: string, version: number): Promise<StoredPolicyVersion> {
    const row = await this.versions.find(tenantId, version);
    if (!row) throw notFound(version);
    return row;
  }

  /** The built-in default pack as a version: active until the tenant publishes one of its own. */
  private defaultView(superseded: boolean): PolicyVersionView {
    const rules = this.defaultPolicy.document.rules.length;
    return { version: 0, status: superseded ? "builtin" : "active", comment: "built-in default pack", rules, created_by: null, created_at: null, published_by: null, published_at: null };
  }

  private toView(row: StoredPolicyVersion): PolicyVersionView {
    return {
      version: row.version,
      status: row.status,
      comment: row.comment,
      rules: this.compiledRow(row.id, row.source, row.version).document.rules.length,
      created_by: row.createdBy,
      created_at: isoTime(row.createdAt),
      published_by: row.publishedBy,
      published_at: isoTime(row.publishedAt),
    };
  }
}

function notFound(version: number): NotFound {
  return new NotFound(`no policy version ${version} in this tenant`, "policy_version_not_found");
}
