/**
 * The approvals room's store contract: what every ApprovalRepository must do, through the interface
 * only — tenant scoping, one vote per person, each step of a request taken once however many race for
 * it (approval, claim), votes and withdrawals committing with their records or not at all, expiry as
 * reads show it and as the sweeper writes it, counts, and stable pages.
 */
import { afterEach, beforeEach, expect, it } from "bun:test";
import type { ApprovalRepository, NewApproval, VoteRules } from "../../src/approvals/repository.ts";
import { describeStores, pendingRecord, type StoreUnderTest } from "./contract.ts";

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

/** Rules that let every vote through, recording each in `tenantId`'s chain, and count the records asked for. */
function acceptAll(tenantId: string): VoteRules & { records: number } {
  const rules = {
    records: 0,
    check() {},
    record: () => {
      rules.records++;
      return pendingRecord(tenantId, rules.records);
    },
  };
  return rules;
}

describeStores("approvals", (open) => {
  let store: StoreUnderTest;
  let approvals: ApprovalRepository;
  let a: string;
  let b: string;
  let sequence = 0;
  beforeEach(async () => {
    store = open();
    approvals = store.repositories.approvals;
    a = await store.addTenant("a");
    b = await store.addTenant("b");
  });
  afterEach(() => store.close());

  /** Stores a pending request of `tenantId` made at `createdAt`, expiring an hour later. */
  async function requested(tenantId: string, overrides: Partial<NewApproval> = {}): Promise<NewApproval> {
    const createdAt = overrides.createdAt ?? T0;
    const approval: NewApproval = {
      id: `apr_${++sequence}`,
      tenantId,
      tool: "database.execute",
      arguments: { sql: "UPDATE invoices SET paid = 1", nested: { list: [1, "two", null] } },
      agentId: "finance_agent",
      clientName: null,
      requestedBy: "usr_requester",
      requestedKey: "key_requester",
      profile: "operator",
      role: "editor",
      policyVersion: 3,
      matchedRules: [{ id: "writes-need-approval", effect: "require_approval", reason: "Writes need a person." }],
      approvalsRequired: 1,
      approverGroups: [],
      createdAt,
      expiresAt: createdAt + HOUR,
      requestRecordId: null,
      ...overrides,
    };
    await approvals.create(approval);
    return approval;
  }

  const vote = (userId: string, decision: "approve" | "reject" = "approve", at = T0 + 1) => ({ userId, decision, comment: null, at });

  /** A request of `tenantId`, approved. */
  async function approved(tenantId: string, overrides: Partial<NewApproval> = {}): Promise<NewApproval> {
    const approval = await requested(tenantId, overrides);
    expect(await approvals.castVote(tenantId, approval.id, vote("usr_approver"), acceptAll(tenantId))).toBe("approved");
    return approval;
  }

  it("stores a request as made and finds it only in its tenant", async () => {
    const made = await requested(a, { clientName: "claude", approverGroups: ["finance-leads"], requestRecordId: "rec_1" });
    expect(await approvals.find(a, made.id)).toEqual({ ...made, status: "pending", decidedAt: null, error: null, executionRecordId: null });
    expect(await approvals.find(b, made.id)).toBeUndefined();
    expect(await approvals.find(a, "apr_missing")).toBeUndefined();
    expect((await approvals.list(b, { now: T0, limit: 10 })).approvals).toEqual([]);
    expect(await approvals.votes(b, made.id)).toEqual([]);
  });

  it("never lets one tenant vote on, withdraw, claim, finish or expire another's request", async () => {
    const pending = await requested(a);
    expect(await approvals.castVote(b, pending.id, vote("usr_b"), acceptAll(b))).toBe("not_found");
    expect(await approvals.withdraw(b, pending.id, pending.requestedKey, T0 + 1, () => pendingRecord(b))).toBe(false);
    expect(await store.repositories.records.head(b)).toBeUndefined();
    expect(await approvals.expireDue(T0 + 2 * HOUR, b)).toBe(0);
    const ready = await approved(a);
    expect(await approvals.claim(b, ready.id)).toBeUndefined();
    const taken = await approved(a);
    expect(await approvals.claim(a, taken.id)).toBeDefined();
    await approvals.finish(b, taken.id, { status: "executed", result: { ok: true } });
    expect((await approvals.find(a, pending.id))!.status).toBe("pending");
    expect((await approvals.find(a, ready.id))!.status).toBe("approved");
    expect((await approvals.find(a, taken.id))!.status).toBe("executing");
    expect(await approvals.votes(a, pending.id)).toEqual([]);
  });

  it("counts one vote per person, however many times they vote at once", async () => {
    const approval = await requested(a, { approvalsRequired: 2 });
    const rules = acceptAll(a);
    const results = await Promise.all(Array.from({ length: 10 }, () => approvals.castVote(a, approval.id, vote("usr_same"), rules)));
    expect(results.filter((result) => result === "cast")).toHaveLength(1);
    expect(results.filter((result) => result === "already_voted")).toHaveLength(9);
    expect(rules.records).toBe(1);
    // The one vote stored its one record.
    expect(await store.repositories.records.head(a)).toMatchObject({ seq: 1 });
    expect(await approvals.votes(a, approval.id)).toEqual([{ userId: "usr_same", email: null, decision: "approve", comment: null, at: T0 + 1 }]);
    expect((await approvals.find(a, approval.id))!.status).toBe("pending");
  });

  it("approves once when enough distinct people approve at the same time", async () => {
    const approval = await requested(a, { approvalsRequired: 3 });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => approvals.castVote(a, approval.id, vote(`usr_${i}`, "approve", T0 + 10 + i), acceptAll(a))));
    expect(results.filter((result) => result === "approved")).toHaveLength(1);
    expect(results.filter((result) => result === "cast")).toHaveLength(11);
    const stored = (await approvals.find(a, approval.id))!;
    expect(stored.status).toBe("approved");
    expect(stored.decidedAt).toBeGreaterThanOrEqual(T0 + 10);
    expect((await approvals.votes(a, approval.id)).map((stored) => stored.at)).toEqual(Array.from({ length: 12 }, (_, i) => T0 + 10 + i));
  });

  it("rejects on one rejection, after which no approval makes the request approved", async () => {
    const approval = await requested(a, { approvalsRequired: 1 });
    expect(await approvals.castVote(a, approval.id, { ...vote("usr_no", "reject", T0 + 5), comment: "not this month" }, acceptAll(a))).toBe("cast");
    expect(await approvals.castVote(a, approval.id, vote("usr_yes", "approve", T0 + 6), acceptAll(a))).toBe("cast");
    expect(await approvals.find(a, approval.id)).toMatchObject({ status: "rejected", decidedAt: T0 + 5 });
    expect((await approvals.votes(a, approval.id))[0]).toMatchObject({ userId: "usr_no", decision: "reject", comment: "not this month" });
  });

  it("stores nothing of a vote its rules refuse or whose record fails", async () => {
    const approval = await requested(a, { approverGroups: ["finance-leads"] });
    let seen: unknown;
    const refuse: VoteRules = {
      check(stored, voter) {
        seen = { id: stored.id, groups: stored.approverGroups, userSince: voter.userSince, memberSince: [...voter.memberSince] };
        throw new Error("refused");
      },
      record: () => {
        throw new Error("must not be recorded");
      },
    };
    await expect(approvals.castVote(a, approval.id, vote("usr_unknown"), refuse)).rejects.toThrow("refused");
    // A voter the store does not know as a user has no history.
    expect(seen).toEqual({ id: approval.id, groups: ["finance-leads"], userSince: undefined, memberSince: [] });
    const failingRecord: VoteRules = {
      check() {},
      record: () => {
        throw new Error("ledger unavailable");
      },
    };
    await expect(approvals.castVote(a, approval.id, vote("usr_voter"), failingRecord)).rejects.toThrow("ledger unavailable");
    // A record the store refuses (its tenant does not exist) fails the vote with it.
    const refusedRecord: VoteRules = { check() {}, record: () => pendingRecord("ten_nobody") };
    await expect(approvals.castVote(a, approval.id, vote("usr_voter"), refusedRecord)).rejects.toThrow();
    expect(await approvals.votes(a, approval.id)).toEqual([]);
    expect((await approvals.find(a, approval.id))!.status).toBe("pending");
    expect(await store.repositories.records.head(a)).toBeUndefined();
    // Neither attempt counts as a vote: the same person may still vote.
    expect(await approvals.castVote(a, approval.id, vote("usr_voter"), acceptAll(a))).toBe("approved");
  });

  it("hands an approved request to exactly one of many concurrent takers, and finishes it once", async () => {
    const approval = await approved(a);
    const claims = await Promise.all(Array.from({ length: 20 }, () => approvals.claim(a, approval.id)));
    const winners = claims.filter((claim) => claim !== undefined);
    expect(winners).toHaveLength(1);
    expect(winners[0]).toMatchObject({ id: approval.id, status: "executing", tool: approval.tool, arguments: approval.arguments });
    expect(await approvals.claim(a, approval.id)).toBeUndefined();
    await approvals.finish(a, approval.id, { status: "executed", result: { content: [{ type: "text", text: "1 row" }] }, error: null, recordId: "rec_9" });
    expect(await approvals.find(a, approval.id)).toMatchObject({ status: "executed", outcome: { content: [{ type: "text", text: "1 row" }] }, error: null, executionRecordId: "rec_9" });
    // A finished request is finished for good.
    await approvals.finish(a, approval.id, { status: "failed", error: "late" });
    expect((await approvals.find(a, approval.id))!.status).toBe("executed");
    const failed = await approved(a);
    await approvals.claim(a, failed.id);
    await approvals.finish(a, failed.id, { status: "failed", error: "upstream down" });
    const stored = (await approvals.find(a, failed.id))!;
    expect(stored).toMatchObject({ status: "failed", error: "upstream down" });
    expect("outcome" in stored).toBe(false);
  });

  it("claims neither a pending nor a rejected request", async () => {
    const pending = await requested(a);
    expect(await approvals.claim(a, pending.id)).toBeUndefined();
    await approvals.castVote(a, pending.id, vote("usr_no", "reject"), acceptAll(a));
    expect(await approvals.claim(a, pending.id)).toBeUndefined();
    expect((await approvals.find(a, pending.id))!.status).toBe("rejected");
  });

  it("lists approved requests nobody has taken, of every tenant, the longest approved first", async () => {
    const first = await requested(a);
    const second = await requested(b);
    const third = await requested(a);
    await approvals.castVote(b, second.id, vote("usr_x", "approve", T0 + 1), acceptAll(b));
    await approvals.castVote(a, third.id, vote("usr_x", "approve", T0 + 2), acceptAll(a));
    await approvals.castVote(a, first.id, vote("usr_x", "approve", T0 + 3), acceptAll(a));
    await approvals.claim(a, third.id);
    expect(await approvals.unclaimed()).toEqual([
      { tenantId: b, id: second.id },
      { tenantId: a, id: first.id },
    ]);
  });

  it("withdraws only for the requesting key, only while pending and unexpired, with its record, once", async () => {
    const approval = await requested(a);
    let records = 0;
    const record = () => pendingRecord(a, ++records);
    expect(await approvals.withdraw(a, approval.id, "key_other", T0 + 1, record)).toBe(false);
    expect(await approvals.withdraw(a, approval.id, approval.requestedKey, approval.expiresAt, record)).toBe(false);
    await expect(
      approvals.withdraw(a, approval.id, approval.requestedKey, T0 + 1, () => {
        throw new Error("ledger unavailable");
      }),
    ).rejects.toThrow("ledger unavailable");
    expect((await approvals.find(a, approval.id))!.status).toBe("pending");
    const attempts = await Promise.all(Array.from({ length: 5 }, () => approvals.withdraw(a, approval.id, approval.requestedKey, T0 + 2, record)));
    expect(attempts.filter(Boolean)).toHaveLength(1);
    expect(records).toBe(1);
    expect(await store.repositories.records.head(a)).toMatchObject({ seq: 1 });
    expect(await approvals.find(a, approval.id)).toMatchObject({ status: "withdrawn", decidedAt: T0 + 2 });
    expect(await approvals.castVote(a, approval.id, vote("usr_late"), acceptAll(a))).toBe("cast");
    expect((await approvals.find(a, approval.id))!.status).toBe("withdrawn");
  });

  it("shows a request past its expiry as expired before the sweeper writes it, then expires it at its expiry", async () => {
    const due = await requested(a, { createdAt: T0 });
    const later = await requested(a, { createdAt: T0 + HOUR });
    const other = await requested(b, { createdAt: T0 });
    const at = due.expiresAt; // expiring at `now` is expired
    const ids = async (status: "pending" | "expired") => (await approvals.list(a, { status, now: at, limit: 10 })).approvals.map((approval) => approval.id);
    expect(await ids("expired")).toEqual([due.id]);
    expect(await ids("pending")).toEqual([later.id]);
    expect((await approvals.find(a, due.id))!.status).toBe("pending");
    expect(await approvals.countByStatus("tenant", { now: at, tenantId: a })).toEqual(expect.arrayContaining([{ name: a, status: "expired", count: 1 }, { name: a, status: "pending", count: 1 }]));
    expect(await approvals.expireDue(at, a)).toBe(1);
    expect(await approvals.find(a, due.id)).toMatchObject({ status: "expired", decidedAt: due.expiresAt });
    expect((await approvals.find(b, other.id))!.status).toBe("pending");
    expect(await approvals.expireDue(at)).toBe(1);
    expect((await approvals.find(b, other.id))!.status).toBe("expired");
    expect(await approvals.expireDue(at)).toBe(0);
    expect(await ids("expired")).toEqual([due.id]);
  });

  it("counts requests by status per tenant, tool or agent, created in a window", async () => {
    await requested(a, { tool: "crm.update", agentId: "sales", createdAt: T0 });
    await requested(a, { tool: "crm.update", agentId: "sales", createdAt: T0 + 10 });
    const rejected = await requested(a, { tool: "db.write", agentId: "finance", createdAt: T0 + 20 });
    await approvals.castVote(a, rejected.id, vote("usr_no", "reject", T0 + 21), acceptAll(a));
    await requested(b, { tool: "crm.update", createdAt: T0 });
    const sorted = (rows: { name: string; status: string; count: number }[]) => [...rows].sort((x, y) => `${x.name}/${x.status}`.localeCompare(`${y.name}/${y.status}`));
    expect(sorted(await approvals.countByStatus("tool", { now: T0 + 30, tenantId: a }))).toEqual([
      { name: "crm.update", status: "pending", count: 2 },
      { name: "db.write", status: "rejected", count: 1 },
    ]);
    expect(sorted(await approvals.countByStatus("agent", { now: T0 + 30, tenantId: a, from: T0 + 10, to: T0 + 20 }))).toEqual([{ name: "sales", status: "pending", count: 1 }]);
    expect(sorted(await approvals.countByStatus("tenant", { now: T0 + 30 }))).toEqual(
      sorted([
        { name: a, status: "pending", count: 2 },
        { name: a, status: "rejected", count: 1 },
        { name: b, status: "pending", count: 1 },
      ]),
    );
  });

  it("pages newest first in a stable order with neither gaps nor duplicates, equal times and requests made meanwhile included", async () => {
    for (let i = 0; i < 23; i++) await requested(a, { createdAt: T0 + Math.floor(i / 4) });
    await requested(b, { createdAt: T0 + 100 });
    const whole = (await approvals.list(a, { now: T0, limit: 100 })).approvals;
    expect(whole).toHaveLength(23);
    for (let i = 1; i < whole.length; i++) expect(whole[i - 1]!.createdAt).toBeGreaterThanOrEqual(whole[i]!.createdAt);
    const paged: string[] = [];
    let after: readonly [number, string] | undefined;
    for (;;) {
      const page = await approvals.list(a, { now: T0, after, limit: 5 });
      paged.push(...page.approvals.map((approval) => approval.id));
      // Newer requests arrive while the list is paged; they belong to a later reading, not to this one's pages.
      await requested(a, { createdAt: T0 + 50 + paged.length });
      const last = page.approvals.at(-1)!;
      after = [last.createdAt, last.id];
      if (!page.more) break;
    }
    expect(paged).toEqual(whole.map((approval) => approval.id));
    expect(new Set(paged).size).toBe(23);
    const pending = await approvals.list(a, { status: "pending", now: T0, after: [whole[9]!.createdAt, whole[9]!.id], limit: 100 });
    expect(pending.approvals.map((approval) => approval.id)).toEqual(whole.slice(10).map((approval) => approval.id));
  });
});
