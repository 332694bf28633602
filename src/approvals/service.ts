/**
 * Four eyes: actions that policy sends to approval wait here, with their full arguments, until enough
 * distinct people approve them (or one rejects, or they expire). The rules live in the database where
 * they can: one vote per person is the primary key of `approval_votes`, and the step from pending to
 * approved (and from approved to executing) is a conditional UPDATE, so concurrent votes — from this
 * process or from the CLI in another — execute an action at most once.
 */
import { and, asc, desc, eq, gt, lt, lte, or, sql } from "drizzle-orm";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { Forbidden, InvokeError, NotFound } from "../errors.ts";
import { roleAtLeast, type Caller, type Role } from "../governance/caller.ts";
import { newId } from "../ids.ts";
import type { PolicyAnswer } from "../policy/service.ts";
import { redact, redactText } from "../records/redact.ts";
import type { ExecutionLedger } from "../records/ledger.ts";
import type { Store } from "../storage/sqlite/db.ts";
import type { ApprovalStatus, ApprovalView } from "./model.ts";
import { approvals, approvalVotes, groupMembers, users } from "../storage/sqlite/schema.ts";
import type { TenantScope } from "../storage/sqlite/tenant-scope.ts";

/** What the requester is told, in the tool result: nothing ran, here is how to follow it. */
export interface PendingNotice {
  status: "pending_approval";
  approval_id: string;
  approvals_required: number;
  expires_at: string;
  reasons: string[];
  poll: { tool: "invoke.approvals.get"; arguments: { id: string } };
}

/** A new request. */
export interface ApprovalRequest {
  caller: Caller;
  tool: string;
  args: Record<string, unknown>;
  agentId: string;
  clientName: string | null;
  answer: PolicyAnswer;
  requestRecordId?: string | null;
}

/** Settings. */
export interface ApprovalOptions {
  /** How long a request waits before it expires (default 24 h). */
  ttlMs?: number;
  /** The weakest role that may decide (default admin). */
  approverRole?: Role;
}

export type ApprovalRow = typeof approvals.$inferSelect;
type Row = ApprovalRow;

/** Approval requests and votes. */
export class ApprovalService {
  readonly ttlMs: number;
  readonly approverRole: Role;

  constructor(
    private readonly store: Store,
    /** Every vote is recorded in the transaction that casts it. */
    private readonly records: ExecutionLedger,
    private readonly now: () => number = Date.now,
    options: ApprovalOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 24 * 3_600_000;
    this.approverRole = options.approverRole ?? "admin";
  }

  /** Queues an action; nothing runs. */
  request(input: ApprovalRequest): PendingNotice {
    const id = newId("apr");
    const now = this.now();
    const expiresAt = now + this.ttlMs;
    const approvalsRequired = Math.max(1, input.answer.approvals_required);
    this.store.db
      .insert(approvals)
      .values({
        id,
        tenantId: input.caller.tenantId,
        tool: input.tool,
        arguments: JSON.stringify(input.args),
        agentId: input.agentId,
        clientName: input.clientName,
        requestedBy: input.caller.userId,
        requestedKey: input.caller.keyId,
        profile: input.caller.profile,
        role: input.caller.role,
        policyVersion: input.answer.policy_version,
        matchedRules: JSON.stringify(input.answer.matched_rules),
        approvalsRequired,
        approverGroups: input.answer.approver_groups.length > 0 ? JSON.stringify(input.answer.approver_groups) : null,
        status: "pending",
        createdAt: now,
        expiresAt,
        requestRecordId: input.requestRecordId ?? null,
      })
      .run();
    return {
      status: "pending_approval",
      approval_id: id,
      approvals_required: approvalsRequired,
      expires_at: new Date(expiresAt).toISOString(),
      reasons: input.answer.reasons,
      poll: { tool: "invoke.approvals.get", arguments: { id } },
    };
  }

  /**
   * A voter must have been a user of the tenant before the request was made (a person created
   * afterwards, e.g. by the requester, cannot vote on it), and a member of each of its approver groups
   * since before then.
   */
  private checkEligible(scope: TenantScope, voter: Caller, row: { id: string; createdAt: number; approverGroups: string | null }): void {
    const user = this.store.db.select({ createdAt: users.createdAt }).from(users).where(scope.where(users, eq(users.id, voter.userId))).get();
    if (user === undefined || user.createdAt > row.createdAt) {
      throw new Forbidden(`${voter.email} became a user after approval ${row.id} was requested, so cannot vote on it`, "voter_too_new");
    }
    const required = row.approverGroups === null ? [] : (JSON.parse(row.approverGroups) as string[]);
    for (const group of required) {
      const member = this.store.db
        .select({ addedAt: groupMembers.addedAt })
        .from(groupMembers)
        .where(scope.where(groupMembers, and(eq(groupMembers.groupName, group), eq(groupMembers.userId, voter.userId))))
        .get();
      if (member === undefined || member.addedAt > row.createdAt) {
        throw new Forbidden(`approval ${row.id} needs approvers from group ${group}, and ${voter.email} was not a member when it was requested`, "not_in_approver_group");
      }
    }
  }

  /** Whether `viewer` may decide (and so see the arguments whole). */
  isApprover(viewer: Pick<Caller, "role" | "scopes">): boolean {
    return roleAtLeast(viewer.role, this.approverRole) && viewer.scopes.has("approvals:decide");
  }

  /**
   * The tenant's requests, newest first; `status` filters. A pending request past its expiry is shown
   * (and filtered) as expired whether or not the sweeper has written that yet: reads never write.
   */
  list(scope: TenantScope, viewer: Pick<Caller, "role" | "scopes">, filter: { status?: ApprovalStatus; limit?: number; cursor?: string } = {}): { approvals: ApprovalView[]; next_cursor?: string } {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
    const offset = decodeCursor(filter.cursor);
    if (offset === undefined) throw new InvokeError(400, "invalid_cursor", "invalid cursor");
    const rows = this.store.db
      .select()
      .from(approvals)
      .where(scope.where(approvals, filter.status ? this.statusIs(filter.status) : undefined))
      .orderBy(desc(approvals.createdAt), desc(approvals.id))
      .limit(limit + 1)
      .offset(offset)
      .all();
    const page = rows.slice(0, limit).map((row) => this.toView(row, viewer));
    return rows.length > limit ? { approvals: page, next_cursor: encodeCursor(offset + limit) } : { approvals: page };
  }

  /** One request of the tenant; another tenant's id is not found. */
  get(scope: TenantScope, id: string, viewer: Pick<Caller, "role" | "scopes">): ApprovalView {
    return this.toView(this.row(scope, id), viewer);
  }

  private row(scope: TenantScope, id: string): Row {
    const row = this.store.db.select().from(approvals).where(scope.where(approvals, eq(approvals.id, id))).get();
    if (row === undefined) throw new NotFound(`no approval ${id}`, "approval_not_found");
    return row;
  }

  /**
   * Records `voter`'s decision. Refused: a voter below the approver role or without approvals:decide,
   * the requester, a second vote by the same person, a request no longer pending (decided or expired).
   * The vote and its execution record commit together. Returns the request afterwards and whether
   * this vote made it approved (the caller then runs it).
   */
  decide(
    scope: TenantScope,
    voter: Caller,
    id: string,
    decision: "approve" | "reject",
    comment: string | null,
    clientName: string | null = null,
  ): { approval: ApprovalView; approvedNow: boolean } {
    const started = performance.now();
    if (!this.isApprover(voter)) {
      throw new Forbidden(`deciding approvals needs role ${this.approverRole} and scope approvals:decide; ${voter.email} has role ${voter.role}`, "approver_required");
    }
    let approvedNow = false;
    this.store.sqlite
      .transaction(() => {
        const row = this.row(scope, id);
        const now = this.now();
        if (row.status === "pending" && row.expiresAt <= now) {
          throw new InvokeError(409, "approval_expired", `approval ${id} expired at ${new Date(row.expiresAt).toISOString()}; it will never run`);
        }
        if (row.status !== "pending") throw new InvokeError(409, "approval_decided", `approval ${id} is ${row.status}; votes are closed`);
        if (row.requestedBy === voter.userId) throw new Forbidden("the requester of an action can never approve it (four eyes)", "self_approval");
        this.checkEligible(scope, voter, row);
        const vote = this.store.db
          .insert(approvalVotes)
          .values({ approvalId: id, tenantId: scope.tenantId, userId: voter.userId, decision, comment, at: now })
          .onConflictDoNothing()
          .returning({ userId: approvalVotes.userId })
          .all();
        if (vote.length === 0) throw new InvokeError(409, "already_voted", `${voter.email} has already voted on ${id}; each person counts once`);
        this.records.appendNow({
          tenantId: scope.tenantId,
          kind: "approval_vote",
          userId: voter.userId,
          keyId: voter.keyId,
          clientName,
          profile: voter.profile,
          role: voter.role,
          tool: `approvals.${decision}`,
          arguments: { approval_id: id, comment },
          approvalId: id,
          status: decision,
          latencyMs: performance.now() - started,
        });
        if (decision === "reject") {
          this.store.db.update(approvals).set({ status: "rejected", decidedAt: now }).where(and(eq(approvals.id, id), eq(approvals.status, "pending"))).run();
          return;
        }
        const approved = this.store.db
          .select({ count: sql<number>`count(*)` })
          .from(approvalVotes)
          .where(and(eq(approvalVotes.approvalId, id), eq(approvalVotes.decision, "approve")))
          .get()!.count;
        if (approved >= row.approvalsRequired) {
          approvedNow =
            this.store.db
              .update(approvals)
              .set({ status: "approved", decidedAt: now })
              .where(and(eq(approvals.id, id), eq(approvals.status, "pending")))
              .returning({ id: approvals.id })
              .all().length === 1;
        }
      })
      .immediate();
    return { approval: this.get(scope, id, voter), approvedNow };
  }

  /** A request as its requester sees it: only the key that made it finds it (another key's or tenant's id is not found). */
  ofRequester(requester: Pick<Caller, "tenantId" | "keyId">, id: string): Row | undefined {
    return this.store.db
      .select()
      .from(approvals)
      .where(and(eq(approvals.tenantId, requester.tenantId), eq(approvals.id, id), eq(approvals.requestedKey, requester.keyId)))
      .get();
  }

  /**
   * Withdraws a pending request on behalf of the key that made it: it will never run, and the
   * withdrawal is recorded like a vote. Returns false when the request is no longer pending (decided,
   * expired, running or run): withdrawing is then too late and changes nothing.
   */
  withdraw(requester: Caller, id: string, clientName: string | null = null): boolean {
    const started = performance.now();
    return this.store.sqlite
      .transaction(() => {
        const now = this.now();
        const withdrawn = this.store.db
          .update(approvals)
          .set({ status: "withdrawn", decidedAt: now })
          .where(and(eq(approvals.tenantId, requester.tenantId), eq(approvals.id, id), eq(approvals.requestedKey, requester.keyId), eq(approvals.status, "pending"), gt(approvals.expiresAt, now)))
          .returning({ id: approvals.id })
          .all();
        if (withdrawn.length === 0) return false;
        this.records.appendNow({
          tenantId: requester.tenantId,
          kind: "approval_vote",
          userId: requester.userId,
          keyId: requester.keyId,
          clientName,
          profile: requester.profile,
          role: requester.role,
          tool: "approvals.withdraw",
          arguments: { approval_id: id },
          approvalId: id,
          status: "withdraw",
          latencyMs: performance.now() - started,
        });
        return true;
      })
      .immediate();
  }

  /** Takes an approved request for execution; true for exactly one taker. */
  claim(tenantId: string, id: string): { tool: string; args: Record<string, unknown>; row: Row } | undefined {
    const taken = this.store.db
      .update(approvals)
      .set({ status: "executing" })
      .where(and(eq(approvals.tenantId, tenantId), eq(approvals.id, id), eq(approvals.status, "approved")))
      .returning()
      .get();
    return taken ? { tool: taken.tool, args: JSON.parse(taken.arguments), row: taken } : undefined;
  }

  /** Stores the outcome of an executed request. */
  finish(id: string, outcome: { status: "executed" | "failed"; result?: unknown; error?: string | null; recordId?: string | null }): void {
    this.store.db
      .update(approvals)
      .set({ status: outcome.status, outcome: outcome.result === undefined ? null : JSON.stringify(outcome.result), error: outcome.error ?? null, executionRecordId: outcome.recordId ?? null })
      .where(and(eq(approvals.id, id), eq(approvals.status, "executing")))
      .run();
  }

  /** Approved requests nobody has taken yet (approved from another process, e.g. the CLI). */
  unclaimed(): { tenantId: string; id: string }[] {
    return this.store.db.select({ tenantId: approvals.tenantId, id: approvals.id }).from(approvals).where(eq(approvals.status, "approved")).orderBy(asc(approvals.decidedAt)).all();
  }

  /** Marks requests past their expiry as expired (they never run); returns how many. */
  expireDue(tenantId?: string): number {
    const now = this.now();
    return this.store.db
      .update(approvals)
      .set({ status: "expired", decidedAt: sql`${approvals.expiresAt}` })
      .where(and(eq(approvals.status, "pending"), lt(approvals.expiresAt, now + 1), tenantId === undefined ? undefined : eq(approvals.tenantId, tenantId)))
      .returning({ id: approvals.id })
      .all().length;
  }

  /**
   * Requests counted by status as every read shows it (pending past expiry is expired), grouped by
   * tenant, tool or agent; `created` keeps those created in [from, to). For the summary and the metrics.
   */
  countByStatus(by: "tenant_id" | "tool" | "agent_id", filter: { tenantId?: string; from?: number; to?: number } = {}): { name: string; status: ApprovalStatus; count: number }[] {
    // ?1 is now; the conditions' values follow it.
    const conditions = ["1"];
    const params: (string | number)[] = [this.now()];
    for (const [condition, value] of [["tenant_id = ?", filter.tenantId], ["created_at >= ?", filter.from], ["created_at < ?", filter.to]] as const) {
      if (value === undefined) continue;
      conditions.push(condition);
      params.push(value);
    }
    return this.store.sqlite
      .query<{ name: string; status: ApprovalStatus; count: number }, (string | number)[]>(
        `SELECT ${by} AS name, CASE WHEN status = 'pending' AND expires_at <= ?1 THEN 'expired' ELSE status END AS status, count(*) AS count ` +
          `FROM approvals WHERE ${conditions.join(" AND ")} GROUP BY 1, 2`,
      )
      .all(...params);
  }

  /** The condition for requests with `status` as shown (pending past expiry counts as expired). */
  private statusIs(status: ApprovalStatus) {
    const now = this.now();
    if (status === "pending") return and(eq(approvals.status, "pending"), gt(approvals.expiresAt, now));
    if (status === "expired") return or(eq(approvals.status, "expired"), and(eq(approvals.status, "pending"), lte(approvals.expiresAt, now)));
    return eq(approvals.status, status);
  }

  private toView(row: Row, viewer: Pick<Caller, "role" | "scopes">): ApprovalView {
    const expired = row.status === "pending" && row.expiresAt <= this.now();
    const votes = this.store.db
      .select({ userId: approvalVotes.userId, email: users.email, decision: approvalVotes.decision, comment: approvalVotes.comment, at: approvalVotes.at })
      .from(approvalVotes)
      .leftJoin(users, eq(users.id, approvalVotes.userId))
      .where(eq(approvalVotes.approvalId, row.id))
      .orderBy(asc(approvalVotes.at))
      .all();
    const whole = this.isApprover(viewer);
    const args = JSON.parse(row.arguments);
    const known = this.records.knownSecrets.of(row.tenantId);
    return {
      id: row.id,
      status: expired ? "expired" : row.status,
      tool: row.tool,
      arguments: whole ? args : redact(args, known),
      arguments_redacted: !whole,
      agent_id: row.agentId,
      client_name: row.clientName,
      requested_by: row.requestedBy,
      policy_version: row.policyVersion,
      matched_rules: JSON.parse(row.matchedRules),
      approvals_required: row.approvalsRequired,
      approver_groups: row.approverGroups === null ? [] : (JSON.parse(row.approverGroups) as string[]),
      approvals: votes.filter((vote) => vote.decision === "approve").length,
      votes: votes.map((vote) => ({ user_id: vote.userId, email: vote.email, decision: vote.decision, comment: vote.comment, at: new Date(vote.at).toISOString() })),
      created_at: new Date(row.createdAt).toISOString(),
      expires_at: new Date(row.expiresAt).toISOString(),
      decided_at: expired ? new Date(row.expiresAt).toISOString() : row.decidedAt === null ? null : new Date(row.decidedAt).toISOString(),
      ...(row.outcome !== null && { outcome: whole ? JSON.parse(row.outcome) : redact(JSON.parse(row.outcome), known) }),
      ...(row.error !== null && { error: redactText(row.error, known) }),
    };
  }
}
