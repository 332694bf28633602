/**
 * The records repository's contract, run against every store: chain appends under concurrency from
 * several tenants, a failed batch leaving nothing, cursors in both directions with filters, tenant
 * scoping, roll-ups that agree with the records and move their marks only from where they were, and the
 * checkpoint log's memo, saved only by a turn that completes, one turn at a time.
 */
import { expect, it } from "bun:test";
import { GENESIS_HASH, type StoredRecord } from "../../src/records/chain.ts";
import { MINUTE_MS, RollupBatch } from "../../src/records/rollups.ts";
import type { Place, RecordRepository } from "../../src/records/repository.ts";
import type { Repositories } from "../../src/storage/repositories.ts";
import { approvalRequest, AT, describeStores, draft, place } from "./contract.ts";

/** Every record of the tenant, oldest first, read in pages of `page`. */
async function allRecords(records: RecordRepository, tenantId: string, page = 7): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for (let after = 0; ; ) {
    const rows = await records.oldestFirst(tenantId, {}, after, Number.MAX_SAFE_INTEGER, page);
    out.push(...rows);
    if (rows.length < page) return out;
    after = rows.at(-1)!.seq;
  }
}

/** The chain is gapless from seq 1 and each record's prev_hash is the previous record's hash. */
function expectChain(rows: StoredRecord[], count: number): void {
  expect(rows.map((row) => row.seq)).toEqual(Array.from({ length: count }, (_, index) => index + 1));
  rows.forEach((row, index) => expect(row.prev_hash).toBe(index === 0 ? GENESIS_HASH : rows[index - 1]!.hash));
}

describeStores("records", (open) => {
  it("keeps each tenant's chain gapless and linked under many concurrent appends from several tenants", async () => {
    const store = open();
    try {
      const tenants = [await store.addTenant("a"), await store.addTenant("b"), await store.addTenant("c")];
      const { records } = store.repositories;
      // 60 batches of 1–4 drafts, each mixing tenants, all in flight at once.
      let index = 0;
      const batches = Array.from({ length: 60 }, (_, batch) => Array.from({ length: 1 + (batch % 4) }, () => draft(tenants[index % 3]!, index++)));
      const outcomes = (await Promise.all(batches.map((batch) => records.append(batch, place)))).flat();
      expect(outcomes.filter((outcome) => outcome instanceof Error)).toEqual([]);
      for (const tenantId of tenants) {
        const expected = outcomes.filter((outcome) => (outcome as StoredRecord).tenant_id === tenantId).length;
        expectChain(await allRecords(records, tenantId), expected);
      }
      const last = await allRecords(records, tenants[1]!);
      expect(await records.head(tenants[1]!)).toEqual({ seq: last.at(-1)!.seq, hash: last.at(-1)!.hash });
      expect((await records.heads()).map((head) => head.tenant_id)).toEqual([...tenants].sort());
    } finally {
      store.close();
    }
  });

  it("fails a draft of an unknown tenant alone, and a failed batch entirely: nothing of it is kept and the chain goes on", async () => {
    const store = open();
    try {
      const tenantId = await store.addTenant("a");
      const { records } = store.repositories;
      const outcomes = await records.append([draft(tenantId, 0), draft("tenant_nobody", 1), draft(tenantId, 2)], place);
      expect(outcomes.map((outcome) => (outcome instanceof Error ? "error" : outcome.seq))).toEqual([1, "error", 2]);
      const failing: Place = (next, head) => {
        if (next.arguments.includes('"index":4')) throw new Error("placing failed");
        return place(next, head);
      };
      await expect(records.append([draft(tenantId, 3), draft(tenantId, 4)], failing)).rejects.toThrow("placing failed");
      expect(await records.head(tenantId)).toMatchObject({ seq: 2 });
      await records.append([draft(tenantId, 5)], place);
      const rows = await allRecords(records, tenantId);
      expectChain(rows, 3);
      expect(rows.map((row) => JSON.parse(row.arguments).index)).toEqual([0, 2, 5]);
    } finally {
      store.close();
    }
  });

  it("continues the chain from heads its batches did not write: records stored with another room's change, and another connection's", async () => {
    const store = open();
    try {
      const tenantId = await store.addTenant("a");
      const { records } = store.repositories;
      const another = store.another();
      let index = 0;
      const batch = (size: number) => Array.from({ length: size }, () => draft(tenantId, index++));
      /** A vote on a new approval request, its record stored in the vote's transaction (through `repositories`' approvals). */
      const vote = async (repositories: Repositories) => {
        const id = `apr_${index}`;
        await repositories.approvals.create(approvalRequest(tenantId, id));
        const cast = await repositories.approvals.castVote(tenantId, id, { userId: "usr_voter", decision: "approve", comment: null, at: 1 }, { check() {}, record: () => ({ draft: batch(1)[0]!, place }) });
        expect(cast).toBe("approved");
      };
      await records.append(batch(3), place);
      await vote(store.repositories);
      await records.append(batch(2), place);
      await another.records.append(batch(1), place);
      await records.append(batch(1), place);
      await vote(another);
      await records.append(batch(2), place);
      const rows = await allRecords(records, tenantId);
      expectChain(rows, 11);
      expect(rows.map((row) => JSON.parse(row.arguments).index)).toEqual(Array.from({ length: 11 }, (_, at) => at));
    } finally {
      store.close();
    }
  });

  it("fails a whole batch placed after a stale head, and the next batch continues the chain", async () => {
    const store = open();
    try {
      const tenantId = await store.addTenant("a");
      const { records } = store.repositories;
      await records.append([draft(tenantId, 0), draft(tenantId, 1)], place);
      // Placed where a record already is, as after a head read too early.
      const stale: Place = (next, head) => place(next, head && { seq: head.seq - 1, hash: head.hash });
      await expect(records.append([draft(tenantId, 2)], stale)).rejects.toThrow();
      await records.append([draft(tenantId, 3)], place);
      const rows = await allRecords(records, tenantId);
      expectChain(rows, 3);
      expect(rows.map((row) => JSON.parse(row.arguments).index)).toEqual([0, 1, 3]);
    } finally {
      store.close();
    }
  });

  it("pages newest first and oldest first without duplicates or gaps, with filters, while records are added", async () => {
    const store = open();
    try {
      const tenantId = await store.addTenant("a");
      const { records } = store.repositories;
      await records.append(Array.from({ length: 40 }, (_, index) => draft(tenantId, index)), place);
      const newest: number[] = [];
      for (let before = 0; ; ) {
        const rows = await records.newestFirst(tenantId, { tool: "database.execute" }, before, 6);
        newest.push(...rows.map((row) => row.seq));
        // Records appended between pages never shift the pages still to come.
        await records.append([draft(tenantId, 1)], place);
        if (rows.length < 6) break;
        before = rows.at(-1)!.seq;
      }
      const matching = Array.from({ length: 40 }, (_, index) => index).filter((index) => index % 3 !== 0).map((index) => index + 1);
      expect(newest).toEqual(matching.reverse());
      const denied = await records.oldestFirst(tenantId, { decision: "deny", since: AT + 8000, until: AT + 20_000 }, 0, 40, 100);
      expect(denied.map((row) => row.seq)).toEqual([9, 13, 17]);
      expect((await records.oldestFirst(tenantId, {}, 10, 15, 100)).map((row) => row.seq)).toEqual([11, 12, 13, 14, 15]);
    } finally {
      store.close();
    }
  });

  it("keeps tenants apart: another tenant's records are never read", async () => {
    const store = open();
    try {
      const [a, b] = [await store.addTenant("a"), await store.addTenant("b")];
      const { records } = store.repositories;
      const [first] = (await records.append([draft(a, 0), draft(a, 1)], place)) as StoredRecord[];
      expect(await records.bySeq(b, 1)).toBeUndefined();
      expect(await records.byId(b, first!.id)).toBeUndefined();
      expect(await records.byId(a, first!.id)).toEqual(first);
      expect(await records.newestFirst(b, {}, 0, 10)).toEqual([]);
      expect(await records.head(b)).toBeUndefined();
      expect(await records.heads()).toEqual([{ tenant_id: a, seq: 2, hash: (await records.bySeq(a, 2))!.hash }]);
    } finally {
      store.close();
    }
  });

  it("adds roll-ups that agree with the records, and moves a mark only from where it was read", async () => {
    const store = open();
    try {
      const [a, b] = [await store.addTenant("a"), await store.addTenant("b")];
      const { records } = store.repositories;
      const rows = (await records.append([...Array.from({ length: 30 }, (_, index) => draft(a, index)), draft(b, 0)], place)) as StoredRecord[];
      // Marks come in no particular order.
      expect((await records.rollupMarks()).sort((x, y) => (x.tenantId < y.tenantId ? -1 : 1))).toEqual([{ tenantId: a, seq: 0 }, { tenantId: b, seq: 0 }].sort((x, y) => (x.tenantId < y.tenantId ? -1 : 1)));
      const counts = new RollupBatch();
      for (const row of rows.filter((row) => row.tenant_id === a)) {
        counts.addCall({ tenantId: a, at: row.at, tool: row.tool, agentId: row.agent_id, decision: row.decision, status: row.status, latencyMs: row.latency_ms });
      }
      counts.addRateLimited(a, AT, "agent_0");
      expect(await records.addRollups(counts, [{ tenantId: a, from: 0, to: 30 }])).toBe(true);
      // A second writer that read the old mark changes nothing.
      expect(await records.addRollups(counts, [{ tenantId: a, from: 0, to: 30 }])).toBe(false);
      expect((await records.rollupMarks()).find((mark) => mark.tenantId === a)).toEqual({ tenantId: a, seq: 30 });
      const window: [number, number] = [AT - (AT % MINUTE_MS) - 2 * MINUTE_MS, AT + 60 * MINUTE_MS];
      const byTool = await records.sumRollups(a, "tool", ...window);
      const tenantRows = rows.filter((row) => row.tenant_id === a);
      expect(byTool.map((group) => [group.name, group.calls])).toEqual([
        ["crm.update", tenantRows.filter((row) => row.tool === "crm.update").length],
        ["database.execute", tenantRows.filter((row) => row.tool === "database.execute").length],
      ]);
      const byAgent = await records.sumRollups(a, "agent", ...window);
      const total = byAgent.reduce((sum, group) => ({ calls: sum.calls + group.calls, errors: sum.errors + group.errors, denials: sum.denials + group.denials, rate_limited: sum.rate_limited + group.rate_limited, latency: sum.latency + group.latency_sum }), { calls: 0, errors: 0, denials: 0, rate_limited: 0, latency: 0 });
      expect(total).toEqual({
        calls: 30,
        errors: tenantRows.filter((row) => row.status === "error").length,
        denials: tenantRows.filter((row) => row.decision === "deny").length,
        rate_limited: 1,
        latency: tenantRows.reduce((sum, row) => sum + row.latency_ms, 0),
      });
      expect(await records.sumRollups(b, "agent", ...window)).toEqual([]);
    } finally {
      store.close();
    }
  });

  it("keeps the checkpoint memo a turn returns; a turn that writes nothing or fails leaves it as it was", async () => {
    const store = open();
    try {
      const { records } = store.repositories;
      expect(await records.checkpointMemo()).toBeUndefined();
      const seen: unknown[] = [];
      await records.takeCheckpointTurn((memo) => {
        seen.push(memo);
        return { line: 2, digest: "d2", at: AT };
      });
      expect(seen).toEqual([undefined]);
      expect(await records.checkpointMemo()).toEqual({ line: 2, digest: "d2", at: AT });
      await records.takeCheckpointTurn(() => undefined);
      expect(await records.checkpointMemo()).toEqual({ line: 2, digest: "d2", at: AT });
      await expect(
        records.takeCheckpointTurn(() => {
          throw new Error("appending failed");
        }),
      ).rejects.toThrow("appending failed");
      expect(await records.checkpointMemo()).toEqual({ line: 2, digest: "d2", at: AT });
      await records.takeCheckpointTurn((memo) => ({ line: memo!.line + 3, digest: "d5", at: AT + 1 }));
      expect(await records.checkpointMemo()).toEqual({ line: 5, digest: "d5", at: AT + 1 });
    } finally {
      store.close();
    }
  });

  it("takes checkpoint turns one at a time: each turn sees the memo the turn before saved", async () => {
    const store = open();
    try {
      const { records } = store.repositories;
      const seen: number[] = [];
      await Promise.all(
        Array.from({ length: 20 }, () =>
          records.takeCheckpointTurn((memo) => {
            const line = (memo?.line ?? 0) + 1;
            seen.push(line);
            return { line, digest: `d${line}`, at: AT };
          }),
        ),
      );
      expect(seen).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
      expect(await records.checkpointMemo()).toEqual({ line: 20, digest: "d20", at: AT });
    } finally {
      store.close();
    }
  });
});
