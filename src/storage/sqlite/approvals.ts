/**
 * Approval requests and votes on SQLite. One vote per person is the primary key of `approval_votes`;
 * every step of a request is a conditional UPDATE inside an immediate transaction, so concurrent votes
 * and takers — from this process or from the CLI in another — move a request at most once.
 */
import { and, asc, desc, eq, gt, lt, lte, or, sql } from "drizzle-orm";
import type { ApprovalStatus } from "../../approvals/model.ts";
import type { ApprovalOutcome, ApprovalRepository, NewApproval, StoredApproval, StoredVote, VoteResult, VoteRules, VoterHistory } from "../../approvals/repository.ts";
import type { PendingRecord } from "../../records/repository.ts";
import type { Store } from "./db.ts";
import type { SqliteRecords } from "./records.ts";
import { approvals, approvalVotes, groupMembers, users } from "./schema.ts";

type Row = typeof approvals.$inferSelect;

/** The stored form of a row: JSON columns parsed. */
function toStored(row: Row): StoredApproval {
  const { outcome, ...rest } = row;
  return {
    ...rest,
    arguments: JSON.parse(row.arguments),
    matchedRules: JSON.parse(row.matchedRules),
    approverGroups: row.approverGroups === null ? [] : JSON.parse(row.approverGroups),
    ...(outcome !== null && { outcome: JSON.parse(outcome) }),
  };
}

/** The grouping columns of `countByStatus`. */
const COUNT_COLUMNS = { tenant: "tenant_id", tool: "tool", agent: "agent_id" } as const;

export class SqliteApprovalRepository implements ApprovalRepository {
  /** The hot path's statement, prepared once. */
  private readonly insert;

  constructor(
    private readonly store: Store,
    /** Where a vote's record is stored, inside the vote's transaction. */
    private readonly records: SqliteRecords,
  ) {
    this.insert = store.sqlite.prepare<unknown, (string | number | null)[]>(
      `INSERT INTO approvals (id, tenant_id, tool, arguments, agent_id, client_name, requested_by, requested_key, profile, role, policy_version,
         matched_rules, approvals_required, approver_groups, status, created_at, expires_at, request_record_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
    );
  }

  async create(approval: NewApproval): Promise<void> {
    this.insert.run(
      approval.id,
      approval.tenantId,
      approval.tool,
      JSON.stringify(approval.arguments),
      approval.agentId,
      approval.clientName,
      approval.requestedBy,
      approval.requestedKey,
      approval.profile,
      approval.role,
      approval.policyVersion,
      JSON.stringify(approval.matchedRules),
      approval.approvalsRequired,
      approval.approverGroups.length > 0 ? JSON.stringify(approval.approverGroups) : null,
      approval.createdAt,
      approval.expiresAt,
      approval.requestRecordId,
    );
  }

  async find(tenantId: string, id: string): Promise<StoredApproval | undefined> {
    const row = this.row(tenantId, id);
    return row && toStored(row);
  }

  private row(tenantId: string, id: string): Row | undefined {
    return this.store.db.select().from(approvals).where(and(eq(approvals.tenantId, tenantId), eq(approvals.id, id))).get();
  }

  async list(tenantId: string, filter: { status?: ApprovalStatus; now: number; after?: readonly [number, string]; limit: number }): Promise<{ approvals: StoredApproval[]; more: boolean }> {
    const after = filter.after && or(lt(approvals.createdAt, filter.after[0]), and(eq(approvals.createdAt, filter.after[0]), lt(approvals.id, filter.after[1])));
    const rows = this.store.db
      .select()
      .from(approvals)
      .where(and(eq(approvals.tenantId, tenantId), filter.status && statusIs(filter.status, filter.now), after))
      .orderBy(desc(approvals.createdAt), desc(approvals.id))
      .limit(filter.limit + 1)
      .all();
    return { approvals: rows.slice(0, filter.limit).map(toStored), more: rows.length > filter.limit };
  }

  async votes(tenantId: string, approvalId: string): Promise<StoredVote[]> {
    return this.store.db
      .select({ userId: approvalVotes.userId, email: users.email, decision: approvalVotes.decision, comment: approvalVotes.comment, at: approvalVotes.at })
      .from(approvalVotes)
      .leftJoin(users, eq(users.id, approvalVotes.userId))
      .where(and(eq(approvalVotes.tenantId, tenantId), eq(approvalVotes.approvalId, approvalId)))
      .orderBy(asc(approvalVotes.at))
      .all();
  }

  async castVote(tenantId: string, id: string, vote: Omit<StoredVote, "email">, rules: VoteRules): Promise<VoteResult> {
    const db = this.store.db;
    return this.store.sqlite
      .transaction((): VoteResult => {
        const row = this.row(tenantId, id);
        if (row === undefined) return "not_found";
        const approval = toStored(row);
        rules.check(approval, this.voterHistory(tenantId, vote.userId, approval.approverGroups));
        const stored = db
          .insert(approvalVotes)
          .values({ approvalId: id, tenantId, ...vote })
          .onConflictDoNothing()
          .returning({ userId: approvalVotes.userId })
          .all();
        if (stored.length === 0) return "already_voted";
        this.records.appendWithin(rules.record());
        const pending = and(eq(approvals.id, id), eq(approvals.status, "pending"));
        if (vote.decision === "reject") {
          db.update(approvals).set({ status: "rejected", decidedAt: vote.at }).where(pending).run();
          return "cast";
        }
        const approved = db
          .select({ count: sql<number>`count(*)` })
          .from(approvalVotes)
          .where(and(eq(approvalVotes.approvalId, id), eq(approvalVotes.decision, "approve")))
          .get()!.count;
        if (approved < row.approvalsRequired) return "cast";
        const moved = db.update(approvals).set({ status: "approved", decidedAt: vote.at }).where(pending).returning({ id: approvals.id }).all();
        return moved.length === 1 ? "approved" : "cast";
      })
      .immediate();
  }

  private voterHistory(tenantId: string, userId: string, groups: string[]): VoterHistory {
    const db = this.store.db;
    const user = db.select({ createdAt: users.createdAt }).from(users).where(and(eq(users.tenantId, tenantId), eq(users.id, userId))).get();
    const memberSince = new Map<string, number>();
    for (const group of groups) {
      const member = db
        .select({ addedAt: groupMembers.addedAt })
        .from(groupMembers)
        .where(and(eq(groupMembers.tenantId, tenantId), eq(groupMembers.groupName, group), eq(groupMembers.userId, userId)))
        .get();
      if (member !== undefined) memberSince.set(group, member.addedAt);
    }
    return { userSince: user?.createdAt, memberSince };
  }

  async withdraw(tenantId: string, id: string, requestedKey: string, at: number, record: () => PendingRecord): Promise<boolean> {
    return this.store.sqlite
      .transaction(() => {
        const withdrawn = this.store.db
          .update(approvals)
          .set({ status: "withdrawn", decidedAt: at })
          .where(and(eq(approvals.tenantId, tenantId), eq(approvals.id, id), eq(approvals.requestedKey, requestedKey), eq(approvals.status, "pending"), gt(approvals.expiresAt, at)))
          .returning({ id: approvals.id })
          .all();
        if (withdrawn.length === 0) return false;
        this.records.appendWithin(record());
        return true;
      })
      .immediate();
  }

  async claim(tenantId: string, id: string): Promise<StoredApproval | undefined> {
    const taken = this.store.db
      .update(approvals)
      .set({ status: "executing" })
      .where(and(eq(approvals.tenantId, tenantId), eq(approvals.id, id), eq(approvals.status, "approved")))
      .returning()
      .get();
    return taken && toStored(taken);
  }

  async finish(tenantId: string, id: string, outcome: ApprovalOutcome): Promise<void> {
    this.store.db
      .update(approvals)
      .set({ status: outcome.status, outcome: outcome.result === undefined ? null : JSON.stringify(outcome.result), error: outcome.error ?? null, executionRecordId: outcome.recordId ?? null })
      .where(and(eq(approvals.tenantId, tenantId), eq(approvals.id, id), eq(approvals.status, "executing")))
      .run();
  }

  async unclaimed(): Promise<{ tenantId: string; id: string }[]> {
    return this.store.db.select({ tenantId: approvals.tenantId, id: approvals.id }).from(approvals).where(eq(approvals.status, "approved")).orderBy(asc(approvals.decidedAt)).all();
  }

  async expireDue(now: number, tenantId?: string): Promise<number> {
    return this.store.db
      .update(approvals)
      .set({ status: "expired", decidedAt: sql`${approvals.expiresAt}` })
      .where(and(eq(approvals.status, "pending"), lt(approvals.expiresAt, now + 1), tenantId === undefined ? undefined : eq(approvals.tenantId, tenantId)))
      .returning({ id: approvals.id })
      .all().length;
  }

  async countByStatus(by: "tenant" | "tool" | "agent", filter: { now: number; tenantId?: string; from?: number; to?: number }): Promise<{ name: string; status: ApprovalStatus; count: number }[]> {
    // ?1 is now; the conditions' values follow it.
    const conditions = ["1"];
    const params: (string | number)[] = [filter.now];
    for (const [condition, value] of [["tenant_id = ?", filter.tenantId], ["created_at >= ?", filter.from], ["created_at < ?", filter.to]] as const) {
      if (value === undefined) continue;
      conditions.push(condition);
      params.push(value);
    }
    return this.store.sqlite
      .query<{ name: string; status: ApprovalStatus; count: number }, (string | number)[]>(
        `SELECT ${COUNT_COLUMNS[by]} AS name, CASE WHEN status = 'pending' AND expires_at <= ?1 THEN 'expired' ELSE status END AS status, count(*) AS count ` +
          `FROM approvals WHERE ${conditions.join(" AND ")} GROUP BY 1, 2`,
      )
      .all(...params);
  }
}

/** The condition for requests with `status` as shown at `now` (pending past expiry counts as expired). */
function statusIs(status: ApprovalStatus, now: number) {
  if (status === "pending") return and(eq(approvals.status, "pending"), gt(approvals.expiresAt, now));
  if (status === "expired") return or(eq(approvals.status, "expired"), and(eq(approvals.status, "pending"), lte(approvals.expiresAt, now)));
  return eq(approvals.status, status);
}
