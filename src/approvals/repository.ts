/**
 * What four eyes needs from a store. The store keeps the rules that concurrent processes must not
 * break: one vote per person, and each step (pending → approved or rejected, approved → executing,
 * pending → withdrawn or expired) taken at most once, whoever races for it.
 */
import type { PendingRecord } from "../records/repository.ts";
import type { ApprovalStatus } from "./model.ts";

/** A request as it is made. */
export interface NewApproval {
  id: string;
  tenantId: string;
  tool: string;
  /** Complete (the action runs with them). */
  arguments: Record<string, unknown>;
  agentId: string;
  clientName: string | null;
  requestedBy: string;
  requestedKey: string;
  profile: string;
  role: string;
  policyVersion: number;
  matchedRules: { id: string; effect: string; reason: string }[];
  approvalsRequired: number;
  /** Groups every voter must belong to (members since before `createdAt`); empty: any approver. */
  approverGroups: string[];
  createdAt: number;
  expiresAt: number;
  requestRecordId: string | null;
}

/** A request as stored. A pending one past `expiresAt` is expired whether or not `expireDue` has written so. */
export interface StoredApproval extends NewApproval {
  status: ApprovalStatus;
  decidedAt: number | null;
  /** The tool's result once executed; absent before. */
  outcome?: unknown;
  error: string | null;
  executionRecordId: string | null;
}

/** A vote, with the voter's email when the voter is (still) a user. */
export interface StoredVote {
  userId: string;
  email: string | null;
  decision: "approve" | "reject";
  comment: string | null;
  at: number;
}

/** What the store knows of a voter when the vote is cast: since when they are a user of the tenant and a member of each of the request's approver groups. */
export interface VoterHistory {
  userSince: number | undefined;
  memberSince: Map<string, number>;
}

/** What the service adds to casting a vote; both run inside the vote's transaction. */
export interface VoteRules {
  /** Throws to refuse the vote (nothing is stored). */
  check(approval: StoredApproval, voter: VoterHistory): void;
  /** The cast vote's record, stored with it: the vote and its record commit together, or neither does. */
  record(): PendingRecord;
}

/**
 * What casting a vote did: `cast` (stored), `approved` (stored, and it made the request approved:
 * exactly one vote does), `already_voted` (this person's vote was stored before), `not_found`.
 */
export type VoteResult = "cast" | "approved" | "already_voted" | "not_found";

/** A request's end once run. */
export interface ApprovalOutcome {
  status: "executed" | "failed";
  result?: unknown;
  error?: string | null;
  recordId?: string | null;
}

/** Approval requests and votes. */
export interface ApprovalRepository {
  /** Stores a new pending request (on the hot path of every call policy sends to approval). */
  create(approval: NewApproval): Promise<void>;
  /** One of the tenant's requests; another tenant's id is not found. */
  find(tenantId: string, id: string): Promise<StoredApproval | undefined>;
  /**
   * The tenant's requests, newest first (ties by id, descending), with `status` as shown at `now`:
   * `after` (the createdAt and id of the last request seen) starts after it, so requests made while
   * a list is paged never shift it; `more`: requests follow the page.
   */
  list(tenantId: string, filter: { status?: ApprovalStatus; now: number; after?: readonly [number, string]; limit: number }): Promise<{ approvals: StoredApproval[]; more: boolean }>;
  /** A request's votes, oldest first. */
  votes(tenantId: string, approvalId: string): Promise<StoredVote[]>;
  /**
   * Casts a vote in one transaction: `rules.check` sees the request and the voter; the vote is stored
   * unless this person already voted; `rules.record` runs; a rejection makes a pending request
   * rejected, and the approval that reaches `approvalsRequired` makes it approved.
   */
  castVote(tenantId: string, id: string, vote: Omit<StoredVote, "email">, rules: VoteRules): Promise<VoteResult>;
  /** Withdraws a request of `requestedKey` still pending at `at`, storing `record`'s record in the same transaction; false (nothing done) otherwise. */
  withdraw(tenantId: string, id: string, requestedKey: string, at: number, record: () => PendingRecord): Promise<boolean>;
  /** Takes an approved request for execution (approved → executing): exactly one of any number of concurrent takers gets it. */
  claim(tenantId: string, id: string): Promise<StoredApproval | undefined>;
  /** Stores the outcome of a request being executed (executing → executed or failed). */
  finish(tenantId: string, id: string, outcome: ApprovalOutcome): Promise<void>;
  /** Approved requests of every tenant nobody has taken yet, the longest approved first. */
  unclaimed(): Promise<{ tenantId: string; id: string }[]>;
  /** Marks pending requests expired at `now` (of one tenant, or all) as expired, decided at their expiry; returns how many. */
  expireDue(now: number, tenantId?: string): Promise<number>;
  /** Requests counted by status as shown at `now`, grouped by tenant, tool or agent; `from`/`to` keep those created in [from, to). */
  countByStatus(by: "tenant" | "tool" | "agent", filter: { now: number; tenantId?: string; from?: number; to?: number }): Promise<{ name: string; status: ApprovalStatus; count: number }[]>;
}
