/**
 * Four eyes: actions that policy sends to approval wait here, with their full arguments, until enough
 * distinct people approve them (or one rejects, or they expire). Who may vote, and what people and
 * agents see, is decided here; the store keeps one vote per person and takes each step of a request
 * at most once (see ApprovalRepository), so concurrent votes — from this process or from the CLI in
 * another — execute an action at most once.
 */
import { decodeKeyCursor, encodeKeyCursor } from "../cursor.ts";
import { Forbidden, InvokeError, NotFound } from "../errors.ts";
import { roleAtLeast, type Caller, type Role } from "../governance/caller.ts";
import { newId } from "../ids.ts";
import type { PolicyAnswer } from "../policy/service.ts";
import { redact, redactText } from "../records/redact.ts";
import type { ExecutionLedger } from "../records/ledger.ts";
import type { ApprovalStatus, ApprovalView } from "./model.ts";
import type { ApprovalOutcome, ApprovalRepository, StoredApproval, VoterHistory } from "./repository.ts";

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

/** Who sees a request: approvers see its arguments and outcome whole. */
type Viewer = Pick<Caller, "role" | "scopes">;

/** Approval requests and votes. */
export class ApprovalService {
  readonly ttlMs: number;
  readonly approverRole: Role;

  constructor(
    private readonly repository: ApprovalRepository,
    /** Every vote is recorded in the transaction that casts it; what people see is redacted with the tenant's known secrets. */
    private readonly records: Pick<ExecutionLedger, "pending" | "knownSecrets">,
    private readonly now: () => number = Date.now,
    options: ApprovalOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 24 * 3_600_000;
    this.approverRole = options.approverRole ?? "admin";
  }

  /** Queues an action; nothing runs. */
  async request(input: ApprovalRequest): Promise<PendingNotice> {
    const id = newId("apr");
    const now = this.now();
    const expiresAt = now + this.ttlMs;
    const approvalsRequired = Math.max(1, input.answer.approvals_required);
    await this.repository.create({
      id,
      tenantId: input.caller.tenantId,
      tool: input.tool,
      arguments: input.args,
      agentId: input.agentId,
      clientName: input.clientName,
      requestedBy: input.caller.userId,
      requestedKey: input.caller.keyId,
      profile: input.caller.profile,
      role: input.caller.role,
      policyVersion: input.answer.policy_version,
      matchedRules: input.answer.matched_rules,
      approvalsRequired,
      approverGroups: input.answer.approver_groups,
      createdAt: now,
      expiresAt,
      requestRecordId: input.requestRecordId ?? null,
    });
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
   * Whether `voter` may vote on `approval` at `now`: only while it is pending and unexpired, never its
   * requester, and only a user of the tenant since before the request (a person created afterwards,
   * e.g. by the requester, cannot vote on it) who is a member of each of its approver groups since
   * before then.
   */
  private checkVote(approval: StoredApproval, voter: Caller, history: VoterHistory, now: number): void {
    const id = approval.id;
    if (approval.status === "pending" && approval.expiresAt <= now) {
      throw new InvokeError(409, "approval_expired", `approval ${id} expired at ${new Date(approval.expiresAt).toISOString()}; it will never run`);
    }
    if (approval.status !== "pending") throw new InvokeError(409, "approval_decided", `approval ${id} is ${approval.status}; votes are closed`);
    if (approval.requestedBy === voter.userId) throw new Forbidden("the requester of an action can never approve it (four eyes)", "self_approval");
    if (history.userSince === undefined || history.userSince > approval.createdAt) {
      throw new Forbidden(`${voter.email} became a user after approval ${id} was requested, so cannot vote on it`, "voter_too_new");
    }
    for (const group of approval.approverGroups) {
      const since = history.memberSince.get(group);
      if (since === undefined || since > approval.createdAt) {
        throw new Forbidden(`approval ${id} needs approvers from group ${group}, and ${voter.email} was not a member when it was requested`, "not_in_approver_group");
      }
    }
  }

  /** Whether `viewer` may decide (and so see the arguments whole). */
  isApprover(viewer: Viewer): boolean {
    return roleAtLeast(viewer.role, this.approverRole) && viewer.scopes.has("approvals:decide");
  }

  /**
   * The tenant's requests, newest first; `status` filters. A pending request past its expiry is shown
   * (and filtered) as expired whether or not the sweeper has written that yet: reads never write.
   */
  async list(tenantId: string, viewer: Viewer, filter: { status?: ApprovalStatus; limit?: number; cursor?: string } = {}): Promise<{ approvals: ApprovalView[]; next_cursor?: string }> {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
    const after = filter.cursor === undefined ? undefined : decodeKeyCursor(filter.cursor);
    if (filter.cursor !== undefined && after === undefined) throw new InvokeError(400, "invalid_cursor", "invalid cursor");
    const page = await this.repository.list(tenantId, { status: filter.status, now: this.now(), after, limit });
    const views = await Promise.all(page.approvals.map((approval) => this.toView(approval, viewer)));
    const last = page.approvals.at(-1);
    return page.more && last ? { approvals: views, next_cursor: encodeKeyCursor([last.createdAt, last.id]) } : { approvals: views };
  }

  /** One request of the tenant; another tenant's id is not found. */
  async get(tenantId: string, id: string, viewer: Viewer): Promise<ApprovalView> {
    const approval = await this.repository.find(tenantId, id);
    if (approval === undefined) throw new NotFound(`no approval ${id}`, "approval_not_found");
    return this.toView(approval, viewer);
  }

  /**
   * Records `voter`'s decision. Refused: a voter below the approver role or without approvals:decide,
   * the requester, a second vote by the same person, a request no longer pending (decided or expired).
   * The vote and its execution record commit together. Returns the request afterwards and whether
   * this vote made it approved (the caller then runs it).
   */
  async decide(
    tenantId: string,
    voter: Caller,
    id: string,
    decision: "approve" | "reject",
    comment: string | null,
    clientName: string | null = null,
  ): Promise<{ approval: ApprovalView; approvedNow: boolean }> {
    const started = performance.now();
    if (!this.isApprover(voter)) {
      throw new Forbidden(`deciding approvals needs role ${this.approverRole} and scope approvals:decide; ${voter.email} has role ${voter.role}`, "approver_required");
    }
    const now = this.now();
    const result = await this.repository.castVote(tenantId, id, { userId: voter.userId, decision, comment, at: now }, {
      check: (approval, history) => this.checkVote(approval, voter, history, now),
      record: () =>
        this.records.pending({
          tenantId,
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
        }),
    });
    if (result === "not_found") throw new NotFound(`no approval ${id}`, "approval_not_found");
    if (result === "already_voted") throw new InvokeError(409, "already_voted", `${voter.email} has already voted on ${id}; each person counts once`);
    return { approval: await this.get(tenantId, id, voter), approvedNow: result === "approved" };
  }

  /** A request as its requester sees it: only the key that made it finds it (another key's or tenant's id is not found). */
  async ofRequester(requester: Pick<Caller, "tenantId" | "keyId">, id: string): Promise<StoredApproval | undefined> {
    const approval = await this.repository.find(requester.tenantId, id);
    return approval?.requestedKey === requester.keyId ? approval : undefined;
  }

  /**
   * Withdraws a pending request on behalf of the key that made it: it will never run, and the
   * withdrawal is recorded like a vote. Returns false when the request is no longer pending (decided,
   * expired, running or run): withdrawing is then too late and changes nothing.
   */
  withdraw(requester: Caller, id: string, clientName: string | null = null): Promise<boolean> {
    const started = performance.now();
    return this.repository.withdraw(requester.tenantId, id, requester.keyId, this.now(), () =>
      this.records.pending({
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
      }),
    );
  }

  /** Takes an approved request for execution; the request for exactly one taker. */
  async claim(tenantId: string, id: string): Promise<{ tool: string; args: Record<string, unknown>; row: StoredApproval } | undefined> {
    const taken = await this.repository.claim(tenantId, id);
    return taken && { tool: taken.tool, args: taken.arguments, row: taken };
  }

  /** Stores the outcome of an executed request. */
  finish(tenantId: string, id: string, outcome: ApprovalOutcome): Promise<void> {
    return this.repository.finish(tenantId, id, outcome);
  }

  /** Approved requests nobody has taken yet (approved from another process, e.g. the CLI). */
  unclaimed(): Promise<{ tenantId: string; id: string }[]> {
    return this.repository.unclaimed();
  }

  /** Marks requests past their expiry as expired (they never run); returns how many. */
  expireDue(tenantId?: string): Promise<number> {
    return this.repository.expireDue(this.now(), tenantId);
  }

  private async toView(approval: StoredApproval, viewer: Viewer): Promise<ApprovalView> {
    const expired = approval.status === "pending" && approval.expiresAt <= this.now();
    const votes = await this.repository.votes(approval.tenantId, approval.id);
    const whole = this.isApprover(viewer);
    const known = this.records.knownSecrets.of(approval.tenantId);
    return {
      id: approval.id,
      status: expired ? "expired" : approval.status,
      tool: approval.tool,
      arguments: whole ? approval.arguments : redact(approval.arguments, known),
      arguments_redacted: !whole,
      agent_id: approval.agentId,
      client_name: approval.clientName,
      requested_by: approval.requestedBy,
      policy_version: approval.policyVersion,
      matched_rules: approval.matchedRules,
      approvals_required: approval.approvalsRequired,
      approver_groups: approval.approverGroups,
      approvals: votes.filter((vote) => vote.decision === "approve").length,
      votes: votes.map((vote) => ({ user_id: vote.userId, email: vote.email, decision: vote.decision, comment: vote.comment, at: new Date(vote.at).toISOString() })),
      created_at: new Date(approval.createdAt).toISOString(),
      expires_at: new Date(approval.expiresAt).toISOString(),
      decided_at: expired ? new Date(approval.expiresAt).toISOString() : approval.decidedAt === null ? null : new Date(approval.decidedAt).toISOString(),
      ...("outcome" in approval && { outcome: whole ? approval.outcome : redact(approval.outcome, known) }),
      ...(approval.error !== null && { error: redactText(approval.error, known) }),
    };
  }
}
