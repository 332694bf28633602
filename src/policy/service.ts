/**
 * Policy versions per tenant and the questions asked of them: the active policy (the built-in default
 * pack, version 0, until a tenant publishes its own), drafts, publish, roll back, diff, simulate.
 * Compiled policies are cached by version row, so enforcement pays for compilation once.
 */
import { createTwoFilesPatch } from "diff";
import { and, desc, eq, max, sql } from "drizzle-orm";
import { BadRequest, NotFound } from "../errors.ts";
import { newId } from "../ids.ts";
import { isoTime } from "../text.ts";
import type { Store } from "../storage/sqlite/db.ts";
import { policyVersions } from "../storage/sqlite/schema.ts";
import type { TenantScope } from "../storage/sqlite/tenant-scope.ts";
import { analyzeAction, type ActionTarget, type Analysis } from "./analyzers/index.ts";
import { compilePolicy, type CompiledPolicy } from "./compile.ts";
import defaultPolicySource from "./default-policy.yaml" with { type: "text" };
import type { ActionContext, PolicyDecision } from "./model.ts";

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

/** The evaluator's answer with what it was based on. */
export interface PolicyAnswer extends PolicyDecision {
  analysis: Record<string, Record<string, unknown>>;
  policy_version: number;
}

/** The built-in default pack's source. */
export const DEFAULT_POLICY_SOURCE: string = defaultPolicySource;

/** Policy storage and evaluation for every tenant. */
export class PolicyService {
  private readonly compiled = new Map<string, CompiledPolicy>();
  private readonly defaultPolicy = compilePolicy(DEFAULT_POLICY_SOURCE, "default-policy.yaml");
  private readonly activeRow;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {
    this.activeRow = store.db
      .select({ id: policyVersions.id, version: policyVersions.version, source: policyVersions.source })
      .from(policyVersions)
      .where(and(eq(policyVersions.tenantId, sql.placeholder("tenant")), eq(policyVersions.status, "active")))
      .prepare();
  }

  /** The policy in force for the scope's tenant, with its version number. */
  active(scope: TenantScope): { version: number; policy: CompiledPolicy } {
    const row = this.activeRow.get({ tenant: scope.tenantId });
    return row ? { version: row.version, policy: this.compiledRow(row.id, row.source, row.version) } : { version: 0, policy: this.defaultPolicy };
  }

  /** A given version (0 = the default pack), active or not: how admins test drafts. */
  atVersion(scope: TenantScope, version: number): { version: number; policy: CompiledPolicy } {
    if (version === 0) return { version: 0, policy: this.defaultPolicy };
    const row = this.row(scope, version);
    return { version, policy: this.compiledRow(row.id, row.source, version) };
  }

  /** Evaluates a question against the active policy, or against `version` when given. Runs nothing. */
  evaluate(scope: TenantScope, question: PolicyQuestion, version?: number): PolicyAnswer {
    const { version: used, policy } = version === undefined ? this.active(scope) : this.atVersion(scope, version);
    const { target, analysis = analyzeAction(question.action, question.params, target), ...asked } = question;
    const decision = policy.evaluate({ ...asked, connectorKind: target.kind, analysis });
    return { ...decision, analysis, policy_version: used };
  }

  /** Validates a source without storing it; throws PolicyInvalid with every problem. */
  check(source: string, file?: string): { rules: number } {
    return { rules: compilePolicy(source, file).document.rules.length };
  }

  /** Stores a validated draft. */
  createDraft(scope: TenantScope, source: string, options: { comment?: string; by?: string | null; file?: string } = {}): PolicyVersionView {
    const rules = this.check(source, options.file).rules;
    return this.store.sqlite.transaction(() => {
      const version = this.nextVersion(scope);
      this.store.db
        .insert(policyVersions)
        .values({ id: newId("pol"), tenantId: scope.tenantId, version, status: "draft", source, comment: options.comment ?? null, createdBy: options.by ?? null, createdAt: this.now() })
        .run();
      return { ...this.view(scope, version), rules };
    }).immediate();
  }

  /** Makes `version` the active policy; the previous one becomes superseded. */
  publish(scope: TenantScope, version: number, by: string | null = null): PolicyVersionView {
    return this.store.sqlite.transaction(() => {
      const row = this.row(scope, version);
      if (row.status === "active") return this.view(scope, version);
      this.store.db.update(policyVersions).set({ status: "superseded" }).where(scope.where(policyVersions, eq(policyVersions.status, "active"))).run();
      this.store.db.update(policyVersions).set({ status: "active", publishedBy: by, publishedAt: this.now() }).where(scope.where(policyVersions, eq(policyVersions.id, row.id))).run();
      return this.view(scope, version);
    }).immediate();
  }

  /** Stores and publishes a source in one step. */
  publishSource(scope: TenantScope, source: string, options: { comment?: string; by?: string | null; file?: string } = {}): PolicyVersionView {
    return this.store.sqlite.transaction(() => this.publish(scope, this.createDraft(scope, source, options).version, options.by ?? null)).immediate();
  }

  /**
   * Rolls back: publishes a new version carrying the source of `to` (default: the version that was
   * active before the current one; 0 = the default pack). History stays linear and complete.
   */
  rollback(scope: TenantScope, options: { to?: number; by?: string | null } = {}): PolicyVersionView {
    return this.store.sqlite.transaction(() => {
      const current = this.active(scope).version;
      const target = options.to ?? this.previousPublished(scope, current);
      if (target === current) throw new BadRequest(`version ${target} is already active`, undefined, "already_active");
      const source = target === 0 ? DEFAULT_POLICY_SOURCE : this.row(scope, target).source;
      return this.publishSource(scope, source, { comment: `rollback to version ${target}`, by: options.by ?? null });
    }).immediate();
  }

  /** Every version, newest first, with the built-in default pack last. */
  list(scope: TenantScope): PolicyVersionView[] {
    const rows = this.store.db.select().from(policyVersions).where(scope.where(policyVersions)).orderBy(desc(policyVersions.version)).all();
    const anyActive = rows.some((row) => row.status === "active");
    return [
      ...rows.map((row) => this.toView(row)),
      { version: 0, status: anyActive ? "builtin" : "active", comment: "built-in default pack", rules: this.defaultPolicy.document.rules.length, created_by: null, created_at: null, published_by: null, published_at: null },
    ];
  }

  /** One version with its source. */
  get(scope: TenantScope, version: number): PolicyVersionView & { source: string } {
    if (version === 0) return { ...this.list(scope).at(-1)!, source: DEFAULT_POLICY_SOURCE };
    const row = this.row(scope, version);
    return { ...this.toView(row), source: row.source };
  }

  /** A unified diff between two versions (0 = the default pack). */
  diff(scope: TenantScope, from: number, to: number): string {
    return createTwoFilesPatch(`version ${from}`, `version ${to}`, this.get(scope, from).source, this.get(scope, to).source);
  }

  private compiledRow(id: string, source: string, version: number): CompiledPolicy {
    let policy = this.compiled.get(id);
    if (policy === undefined) {
      policy = compilePolicy(source, `policy version ${version}`);
      this.compiled.set(id, policy);
    }
    return policy;
  }

  private row(scope: TenantScope, version: number) {
    const row = this.store.db.select().from(policyVersions).where(scope.where(policyVersions, eq(policyVersions.version, version))).get();
    if (!row) throw new NotFound(`no policy version ${version} in this tenant`, "policy_version_not_found");
    return row;
  }

  private nextVersion(scope: TenantScope): number {
    return (this.store.db.select({ last: max(policyVersions.version) }).from(policyVersions).where(scope.where(policyVersions)).get()?.last ?? 0) + 1;
  }

  private previousPublished(scope: TenantScope, current: number): number {
    const previous = this.store.db
      .select({ version: policyVersions.version })
      .from(policyVersions)
      .where(scope.where(policyVersions, eq(policyVersions.status, "superseded")))
      .orderBy(desc(policyVersions.publishedAt), desc(policyVersions.version))
      .all()
      .find((row) => row.version !== current);
    return previous?.version ?? 0;
  }

  private view(scope: TenantScope, version: number): PolicyVersionView {
    return this.toView(this.row(scope, version));
  }

  private toView(row: typeof policyVersions.$inferSelect): PolicyVersionView {
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

