/**
 * The execution ledger: the hash chain and what `verify` finds (edits, deletions, reordering), redaction,
 * group commit, chains per tenant and across processes, and the surfaces over it: `invoke executions`,
 * REST `/v1/executions` and the MCP tools `invoke.executions.list` / `.get`.
 */
import { Database } from "bun:sqlite";
import { describe, expect, it } from "bun:test";
import { join } from "node:path";
import { createTenant } from "../../src/governance/bootstrap.ts";
import { sha256Hex } from "../../src/records/canonical.ts";
import { GENESIS_HASH, HASHED_FIELDS, recordHash } from "../../src/records/chain.ts";
import { ExecutionLedger, type RecordInput } from "../../src/records/ledger.ts";
import { redact } from "../../src/records/redact.ts";
import { MINUTE_MS } from "../../src/records/rollups.ts";
import { openStore } from "../../src/storage/sqlite/db.ts";
import { sqliteRepositories } from "../../src/storage/sqlite/index.ts";
import type { SqliteRecords } from "../../src/storage/sqlite/records.ts";
import { migrations } from "../../src/storage/sqlite/migrations.ts";
import { keyFor, request, rest, rpc, send, startTestServer, tempDir, type TestServer } from "../support/harness.ts";
import { CLI, initDatabase, runCli, runOnFreshDatabase } from "../support/process.ts";
import { approvalRequest } from "../storage/contract.ts";

/** A tool call as the dispatcher would record it; the tool name keeps these apart from records the tests' own calls leave. */
function toolCall(tenantId: string, overrides: Partial<RecordInput> = {}): RecordInput {
  return {
    tenantId,
    kind: "tool_call",
    userId: "usr_test",
    keyId: "key_test",
    agentId: "finance_agent",
    clientName: "records-test",
    profile: "operator",
    role: "editor",
    tool: "database.execute",
    classification: "mutating",
    arguments: { sql: "update invoices set paid = 1 where id = 42" },
    decision: "allow",
    matchedRules: ["allow-finance"],
    status: "ok",
    latencyMs: 1.5,
    result: { rows_affected: 1 },
    ...overrides,
  };
}

/** Appends `count` tool calls concurrently. */
function appendMany(server: TestServer, count: number, overrides: (index: number) => Partial<RecordInput> = () => ({})) {
  return Promise.all(Array.from({ length: count }, (_, index) => server.services.records.append(toolCall(server.tenantId, overrides(index)))));
}

/** Changes the database file directly, as someone with access to it could: the append-only triggers are dropped first. */
function tamper(dbPath: string, sql: string, params: (string | number)[] = []): void {
  const db = new Database(dbPath);
  try {
    db.run("PRAGMA busy_timeout = 5000");
    db.run("DROP TRIGGER IF EXISTS execution_records_no_update");
    db.run("DROP TRIGGER IF EXISTS execution_records_no_delete");
    db.run(sql, params);
  } finally {
    db.close();
  }
}

const idAt = (server: TestServer, seq: number) =>
  (server.store.sqlite.query("SELECT id FROM execution_records WHERE tenant_id = ? AND seq = ?").get(server.tenantId, seq) as { id: string }).id;

describe("the hash chain", () => {
  it("links every record to the one before it and verifies a long chain", async () => {
    using server = startTestServer();
    const records = await appendMany(server, 300, (index) => ({ arguments: { n: index } }));
    const bySeq = records.toSorted((a, b) => a.seq - b.seq);
    expect(bySeq.map((record) => record.seq)).toEqual(Array.from({ length: 300 }, (_, index) => index + 1));
    expect(bySeq[0]!.prev_hash).toBe("0".repeat(64));
    for (let index = 1; index < bySeq.length; index++) expect(bySeq[index]!.prev_hash).toBe(bySeq[index - 1]!.hash);
    expect(await server.services.records.verify(server.tenantId)).toEqual({ ok: true, records: 300 });
  });

  it("refuses changes and deletions through the database: records are append-only", async () => {
    using server = startTestServer();
    await appendMany(server, 1);
    expect(() => server.store.sqlite.run("UPDATE execution_records SET status = 'error'")).toThrow("append-only");
    expect(() => server.store.sqlite.run("DELETE FROM execution_records")).toThrow("append-only");
  });

  it("names an edited record", async () => {
    using server = startTestServer();
    await appendMany(server, 20);
    const edited = idAt(server, 7);
    tamper(server.dbPath, "UPDATE execution_records SET decision = 'deny' WHERE id = ?", [edited]);
    expect(await server.services.records.verify(server.tenantId)).toEqual({
      ok: false,
      records: 20,
      first_broken: { seq: 7, id: edited, reason: `record ${edited} (seq 7) was changed: its hash does not match its contents` },
    });
  });

  it("names a record whose hash was recomputed after an edit by its broken link to the next one", async () => {
    using server = startTestServer();
    await appendMany(server, 10);
    // Rewrite record 4 and give it a hash matching its new contents: record 5 no longer links to it.
    const forged = { ...(await server.services.records.get(server.tenantId, idAt(server, 4)))!, status: "error" };
    // A null request_id is left out of the hash (records older than the column have none).
    const { hash: _, request_id: __, ...stored } = { ...forged, at: Date.parse(forged.at), arguments: JSON.stringify(forged.arguments), matched_rules: JSON.stringify(forged.matched_rules) };
    expect(forged.request_id).toBeNull();
    const fields = Object.fromEntries(Object.entries(stored).sort(([a], [b]) => (a < b ? -1 : 1)));
    tamper(server.dbPath, "UPDATE execution_records SET status = 'error', hash = ? WHERE id = ?", [sha256Hex(forged.prev_hash + JSON.stringify(fields)), forged.id]);
    const report = await server.services.records.verify(server.tenantId);
    expect(report.first_broken).toMatchObject({ seq: 5, id: idAt(server, 5) });
    expect(report.first_broken!.reason).toContain("prev_hash does not match");
  });

  it("reports a deleted record by the seq that is missing", async () => {
    using server = startTestServer();
    await appendMany(server, 10);
    tamper(server.dbPath, "DELETE FROM execution_records WHERE tenant_id = ? AND seq = 5", [server.tenantId]);
    expect(await server.services.records.verify(server.tenantId)).toEqual({
      ok: false,
      records: 9,
      first_broken: { seq: 5, id: null, reason: "seq 5 is missing: a record was deleted" },
    });
  });

  it("detects two records swapped in the chain's order", async () => {
    using server = startTestServer();
    await appendMany(server, 6);
    const [third, fourth] = [idAt(server, 3), idAt(server, 4)];
    tamper(server.dbPath, "UPDATE execution_records SET seq = -seq WHERE id IN (?, ?)", [third, fourth]);
    tamper(server.dbPath, "UPDATE execution_records SET seq = CASE id WHEN ? THEN 4 ELSE 3 END WHERE id IN (?, ?)", [third, third, fourth]);
    expect((await server.services.records.verify(server.tenantId)).first_broken).toMatchObject({ seq: 3, id: fourth, reason: expect.stringContaining("was changed") });
  });

  it("keeps a separate chain per tenant", async () => {
    using server = startTestServer();
    const other = (await createTenant(server.services.directory, "other", "admin@other.example")).tenant_id;
    const ledger = server.services.records;
    const records = await Promise.all(Array.from({ length: 40 }, (_, index) => ledger.append(toolCall(index % 2 ? other : server.tenantId))));
    for (const tenantId of [server.tenantId, other]) {
      const own = records.filter((record) => record.tenant_id === tenantId).toSorted((a, b) => a.seq - b.seq);
      expect(own.map((record) => record.seq)).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
      expect(own[0]!.prev_hash).toBe("0".repeat(64));
      expect(await ledger.verify(tenantId)).toEqual({ ok: true, records: 20 });
    }
    tamper(server.dbPath, "UPDATE execution_records SET tool = 'x' WHERE tenant_id = ? AND seq = 3", [other]);
    expect((await ledger.verify(other)).ok).toBe(false);
    expect((await ledger.verify(server.tenantId)).ok).toBe(true);
  });

  it("continues the chain another process appended to (the head is read inside the write transaction)", async () => {
    using server = startTestServer();
    const second = openStore(server.dbPath);
    try {
      const otherProcess = new ExecutionLedger(sqliteRepositories(second).records);
      for (let round = 0; round < 5; round++) {
        await appendMany(server, 10);
        await otherProcess.append(toolCall(server.tenantId, { kind: "approval_vote", tool: "approvals.decide", status: "approve" }));
        await Promise.all([otherProcess.append(toolCall(server.tenantId)), server.services.records.append(toolCall(server.tenantId))]);
      }
    } finally {
      second.close();
    }
    expect(await server.services.records.verify(server.tenantId)).toEqual({ ok: true, records: 65 });
  });

  it("rolls up every tool call exactly once when two processes append and roll up in turn", async () => {
    using server = startTestServer();
    const ledger = server.services.records;
    const until = Math.ceil(Date.now() / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    const rolled = async () => {
      const group = (await ledger.rollups(server.tenantId, "tool", 0, until)).find((row) => row.name === "database.execute");
      return { calls: group?.calls, latency_sum: group?.latency_sum };
    };
    const second = openStore(server.dbPath);
    try {
      const otherProcess = new ExecutionLedger(sqliteRepositories(second).records);
      for (let round = 1; round <= 3; round++) {
        await appendMany(server, 7);
        // The other process rolls up this one's records from the store, then this one's go on without a gap.
        await otherProcess.rollUp();
        await appendMany(server, 3);
        await ledger.rollUp();
        // Records of the other process before and after this one's.
        await otherProcess.append(toolCall(server.tenantId, { latencyMs: 3 }));
        await appendMany(server, 2);
        await otherProcess.append(toolCall(server.tenantId, { latencyMs: 3 }));
        await ledger.rollUp();
        expect(await rolled()).toEqual({ calls: 14 * round, latency_sum: round * (12 * 1.5 + 2 * 3) });
      }
    } finally {
      second.close();
    }
  });

  it("counts every rate-limit refusal once when roll-ups of one process overlap", async () => {
    using server = startTestServer();
    const ledger = server.services.records;
    for (let round = 0; round < 10; round++) {
      await appendMany(server, 2);
      // The summary rolls up while the background roll-up is under way: both move the same mark, and the
      // refusal counted in between goes with the second.
      const first = ledger.rollUp();
      ledger.countRateLimited(server.tenantId, "flooder");
      await Promise.all([first, ledger.rollUp()]);
    }
    const until = Math.ceil(Date.now() / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    const agents = await ledger.rollups(server.tenantId, "agent", 0, until);
    expect(agents.find((row) => row.name === "flooder")?.rate_limited).toBe(10);
    expect(agents.reduce((sum, row) => sum + row.calls, 0)).toBe(20);
  });
});

describe("records written before migration 0006 (random ids, an index of their own)", () => {
  it("keep verifying and are found by their old ids after the migration; new records continue the chain", async () => {
    using dir = tempDir();
    const path = join(dir.path, "old.db");
    // A database as the previous schema left it: migrations 0000 to 0005 and two records with random ids.
    const old = new Database(path, { create: true, strict: true });
    const before = migrations.findIndex((migration) => migration.tag === "0006_records_without_id_index");
    for (const migration of migrations.slice(0, before)) for (const statement of migration.statements) old.run(statement);
    old.run(`PRAGMA user_version = ${before}`);
    old.run("INSERT INTO tenants (id, name, created_at) VALUES ('ten_old', 'old', 1)");
    let prev = GENESIS_HASH;
    // Those records had no request_id column; their hashes stay valid because a null request_id is not hashed.
    const oldFields = HASHED_FIELDS.filter((name) => name !== "request_id");
    const ids = ["exe_0mhk1a2b3cXYZabcdefgh", "exe_0mhk1a2b3dABCdefghijk"];
    ids.forEach((id, index) => {
      const unhashed = { id, tenant_id: "ten_old", seq: index + 1, at: 1000 + index, kind: "tool_call", user_id: null, key_id: null, agent_id: "a", client_name: null, profile: null, role: null, tool: "database.execute", classification: "mutating", arguments: "{}", decision: "allow", matched_rules: "[]", approval_id: null, status: "ok", latency_ms: 1, error: null, result_digest: null, request_id: null, prev_hash: prev };
      prev = recordHash(unhashed);
      old.query(`INSERT INTO execution_records (${oldFields.join(", ")}, hash) VALUES (${oldFields.map(() => "?").join(", ")}, ?)`).run(...oldFields.map((name) => unhashed[name]), prev);
    });
    old.close();

    const store = openStore(path);
    const ledger = new ExecutionLedger(sqliteRepositories(store).records);
    expect((await ledger.get("ten_old", ids[1]!))?.seq).toBe(2);
    const added = await ledger.append(toolCall("ten_old"));
    expect(added.seq).toBe(3);
    expect(added.id).toMatch(/^exe_3_[0-9A-Za-z]{10}$/);
    expect((await ledger.get("ten_old", added.id))?.hash).toBe(added.hash);
    // The seq an id names finds the row, but only the exact id returns it.
    expect(await ledger.get("ten_old", added.id.replace(/.$/, (c) => (c === "a" ? "b" : "a")))).toBeUndefined();
    expect(await ledger.get("ten_old", "exe_2_AAAAAAAAAA")).toBeUndefined();
    expect(await ledger.verify("ten_old")).toEqual({ ok: true, records: 3 });
    expect(() => store.sqlite.run("DELETE FROM execution_records WHERE seq = 1")).toThrow(/append-only/);
    store.close();
  });
});

describe("what a record keeps", () => {
  it("redacts secrets at any depth, in arrays too, without changing the caller's arguments", async () => {
    using server = startTestServer();
    const args = {
      sql: "select 1",
      password: "hunter2",
      connection: { Authorization: "Bearer abc", options: [{ access_token: "t1", keep: "visible" }], db_passwd: "p" },
      headers: [{ "X-Api-Key": "k", Cookie: "c" }],
      apiKey: "k2",
      client_secret: "s",
      privateKey: "-----BEGIN",
      credentials: { user: "u", pass: "p" },
    };
    const snapshot = structuredClone(args);
    const record = await server.services.records.append(toolCall(server.tenantId, { arguments: args }));
    expect(args).toEqual(snapshot);
    const expected = {
      sql: "select 1",
      password: "[REDACTED]",
      connection: { Authorization: "[REDACTED]", options: [{ access_token: "[REDACTED]", keep: "visible" }], db_passwd: "[REDACTED]" },
      headers: [{ "X-Api-Key": "[REDACTED]", Cookie: "[REDACTED]" }],
      apiKey: "[REDACTED]",
      client_secret: "[REDACTED]",
      privateKey: "[REDACTED]",
      credentials: "[REDACTED]",
    };
    expect(record.arguments).toEqual(expected);
    expect((await server.services.records.get(server.tenantId, record.id))!.arguments).toEqual(expected);
    const stored = server.store.sqlite.query("SELECT arguments FROM execution_records WHERE id = ?").get(record.id) as { arguments: string };
    for (const secret of ["hunter2", "Bearer abc", "t1", "-----BEGIN"]) expect(stored.arguments).not.toContain(secret);
    expect(redact([{ token: 1 }, "token"])).toEqual([{ token: "[REDACTED]" }, "token"]);
  });

  it("stores only the digest of the result: SHA-256 of its JSON text exactly as the response carries it", async () => {
    using server = startTestServer();
    const { text, body } = await rpc(server, request(1, "tools/call", { name: "invoke.whoami", arguments: {} }));
    const answered = body.result;
    const [record] = (await server.services.records.list(server.tenantId, { tool: "invoke.whoami" })).records;
    // A client re-serialising the result it parsed gets the same text (JSON keeps member order), so it can check the digest.
    expect(record!.result_digest).toBe(sha256Hex(JSON.stringify(answered)));
    expect(text).toContain(JSON.stringify(answered));
    const [none] = await Promise.all([server.services.records.append(toolCall(server.tenantId, { result: undefined }))]);
    expect(none!.result_digest).toBeNull();
  });

  it("keeps who, what, the decision and its rules, and how it went", async () => {
    using server = startTestServer();
    const at = Date.UTC(2025, 0, 2, 3, 4, 5);
    const record = await server.services.records.append(
      toolCall(server.tenantId, { at, decision: "require_approval", matchedRules: ["big-refunds"], approvalId: "apr_x", status: "pending_approval", error: null, latencyMs: 12.25 }),
    );
    expect(await server.services.records.get(server.tenantId, record.id)).toEqual({
      ...record,
      at: "2025-01-02T03:04:05.000Z",
      user_id: "usr_test",
      key_id: "key_test",
      agent_id: "finance_agent",
      client_name: "records-test",
      profile: "operator",
      role: "editor",
      classification: "mutating",
      decision: "require_approval",
      matched_rules: ["big-refunds"],
      approval_id: "apr_x",
      status: "pending_approval",
      latency_ms: 12.25,
      error: null,
    });
  });
});

describe("group commit", () => {
  it("commits 500 concurrent appends in a few transactions, each resolving with its place in the chain", async () => {
    using server = startTestServer();
    const ledger = server.services.records;
    const before = ledger.stats();
    const records = await appendMany(server, 500);
    const after = ledger.stats();
    expect(records.map((record) => record.seq).toSorted((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, index) => index + 1));
    expect(new Set(records.map((record) => record.id)).size).toBe(500);
    expect(after.records - before.records).toBe(500);
    expect(after.batches - before.batches).toBeLessThanOrEqual(5);
    expect(await ledger.verify(server.tenantId)).toEqual({ ok: true, records: 500 });
  });

  it("resolves only once the record is committed: another connection sees it", async () => {
    using server = startTestServer();
    const record = await server.services.records.append(toolCall(server.tenantId));
    const other = new Database(server.dbPath, { readonly: true });
    try {
      expect(other.query("SELECT hash FROM execution_records WHERE id = ?").get(record.id)).toEqual({ hash: record.hash });
    } finally {
      other.close();
    }
  });

  it("interleaves records stored with approval votes (in each vote's transaction) with queued appends in one chain", async () => {
    using server = startTestServer();
    const ledger = server.services.records;
    const { approvals } = sqliteRepositories(server.store);
    const queued: Promise<unknown>[] = [];
    const votes: Promise<unknown>[] = [];
    for (let index = 0; index < 100; index++) {
      queued.push(ledger.append(toolCall(server.tenantId)));
      if (index % 10 === 0) {
        const id = `apr_${index}`;
        votes.push(
          approvals.create(approvalRequest(server.tenantId, id, Date.now())).then(() =>
            approvals.castVote(server.tenantId, id, { userId: server.userId, decision: "approve", comment: null, at: Date.now() }, {
              check() {},
              record: () => ledger.pending(toolCall(server.tenantId, { kind: "approval_vote", tool: "approvals.approve", approvalId: id, status: "approve" })),
            }),
          ),
        );
      }
    }
    expect(await Promise.all(votes)).toEqual(Array.from({ length: 10 }, () => "approved"));
    await Promise.all(queued);
    // The votes committed before the queue was flushed, each with its record.
    expect((await ledger.list(server.tenantId, { kind: "approval_vote", limit: 100 })).records.map((record) => record.seq).reverse()).toEqual(Array.from({ length: 10 }, (_, index) => index + 1));
    expect(await ledger.verify(server.tenantId)).toEqual({ ok: true, records: 110 });
  });

  it("rolls a record stored in another room's transaction back with it, and the chain goes on from the head kept", async () => {
    using server = startTestServer();
    const ledger = server.services.records;
    const records = sqliteRepositories(server.store).records as SqliteRecords;
    await ledger.append(toolCall(server.tenantId));
    expect(() =>
      server.store.sqlite.transaction(() => {
        records.appendWithin(ledger.pending(toolCall(server.tenantId)));
        throw new Error("the other room's work failed");
      })(),
    ).toThrow("the other room's work failed");
    expect(server.store.sqlite.transaction(() => records.appendWithin(ledger.pending(toolCall(server.tenantId))).seq)()).toBe(2);
    expect((await ledger.append(toolCall(server.tenantId))).seq).toBe(3);
    expect(() => records.appendWithin(ledger.pending(toolCall(server.tenantId)))).toThrow("inside a transaction");
    expect(await ledger.verify(server.tenantId)).toEqual({ ok: true, records: 3 });
  });

  it("fails only the record the schema refuses; the rest of its batch commits", async () => {
    using server = startTestServer();
    const ledger = server.services.records;
    const outcomes = await Promise.allSettled([ledger.append(toolCall(server.tenantId)), ledger.append(toolCall("ten_unknown")), ledger.append(toolCall(server.tenantId))]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(await ledger.verify(server.tenantId)).toEqual({ ok: true, records: 2 });
  });

  it("refuses a record whose time no date can show, and goes on committing the rest", async () => {
    using server = startTestServer();
    const ledger = server.services.records;
    const [refused, kept] = await Promise.allSettled([ledger.append(toolCall(server.tenantId, { at: 9e15 })), ledger.append(toolCall(server.tenantId))]);
    expect(refused).toMatchObject({ status: "rejected", reason: expect.objectContaining({ message: expect.stringContaining("at must be a time") }) });
    expect(kept.status).toBe("fulfilled");
    expect((await ledger.append(toolCall(server.tenantId))).seq).toBe(2);
  });

  it("flush() commits what is queued", async () => {
    using server = startTestServer();
    const ledger = server.services.records;
    const pending = ledger.append(toolCall(server.tenantId));
    await ledger.flush();
    expect((await ledger.list(server.tenantId)).records).toHaveLength(1);
    expect((await pending).seq).toBe(1);
  });
});

describe("reading records", () => {
  it("lists newest first with filters, and pages by cursor without repeats while records keep arriving", async () => {
    using server = startTestServer();
    const ledger = server.services.records;
    for (let index = 0; index < 30; index++) {
      await ledger.append(toolCall(server.tenantId, { tool: index % 3 === 0 ? "crm.update" : "database.execute", decision: index % 2 ? "deny" : "allow", at: 1_000_000 + index }));
    }
    const first = await ledger.list(server.tenantId, { tool: "database.execute", limit: 8 });
    expect(first.records.map((record) => record.seq)).toEqual([30, 29, 27, 26, 24, 23, 21, 20]);
    await ledger.append(toolCall(server.tenantId));
    const second = await ledger.list(server.tenantId, { tool: "database.execute", limit: 8, cursor: first.next_cursor });
    expect(second.records[0]!.seq).toBe(18);
    expect((await ledger.list(server.tenantId, { decision: "deny", since: 1_000_010, until: 1_000_014 })).records.map((record) => record.seq)).toEqual([14, 12]);
    expect((await ledger.list(server.tenantId, { limit: 10_000 })).records).toHaveLength(31);
    expect(() => ledger.list(server.tenantId, { cursor: "nonsense" })).toThrow("invalid cursor");
  });

  it("exports oldest first and gives backtests the tool calls that had a decision", async () => {
    using server = startTestServer();
    const ledger = server.services.records;
    await appendMany(server, 1200, (index) => (index % 100 === 0 ? { decision: null, status: "error" } : { arguments: { n: index } }));
    await ledger.append(toolCall(server.tenantId, { kind: "approval_vote", tool: "approvals.decide", status: "approve" }));
    const lines = await Array.fromAsync(ledger.exportLines(server.tenantId));
    expect(lines).toHaveLength(1201);
    expect(lines.map((line) => JSON.parse(line).seq)).toEqual(Array.from({ length: 1201 }, (_, index) => index + 1));
    expect(await Array.fromAsync(ledger.exportLines(server.tenantId, { status: "error" }))).toHaveLength(12);
    const actions = await Array.fromAsync(ledger.recordedActions(server.tenantId, 0));
    expect(actions).toHaveLength(1188);
    expect(actions[0]).toMatchObject({ agentId: "finance_agent", action: "database.execute", decision: "allow", profile: "operator", role: "editor", classification: "mutating" });
  });
});

describe("a long walk", () => {
  it("lets calls be recorded while it verifies a long chain", async () => {
    using server = startTestServer();
    const ledger = server.services.records;
    await appendMany(server, 3000);
    let verified = false;
    const verifying = ledger.verify(server.tenantId).then((report) => {
      verified = true;
      return report;
    });
    await ledger.append(toolCall(server.tenantId));
    expect(verified).toBe(false);
    expect(await verifying).toEqual({ ok: true, records: 3000 });
  });
});

describe("invoke executions", () => {
  it("verify exits 0 on an intact chain and 1 naming the changed record after tampering; list and export read it", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    const { tenant_id } = await initDatabase(CLI, ["--db", db]);
    const store = openStore(db);
    const ids: string[] = [];
    try {
      const ledger = new ExecutionLedger(sqliteRepositories(store).records);
      for (let index = 0; index < 12; index++) ids.push((await ledger.append(toolCall(tenant_id, { agentId: index % 2 ? "a" : "b" }))).id);
    } finally {
      store.close();
    }

    const intact = await runCli(["executions", "verify", "--db", db]);
    expect(intact.exitCode).toBe(0);
    expect(intact.stdout).toContain("intact: 12 records");

    const listed = JSON.parse((await runCli(["executions", "list", "--db", db, "--agent", "a", "--limit", "2", "--json"])).stdout);
    expect(listed.records.map((record: { id: string }) => record.id)).toEqual([ids[11], ids[9]]);
    expect(listed.next_cursor).toBeString();

    const out = join(dir.path, "export.jsonl");
    expect((await runCli(["executions", "export", "--db", db, "--out", out])).exitCode).toBe(0);
    const exported = (await Bun.file(out).text()).trimEnd().split("\n").map((line) => JSON.parse(line).id);
    expect(exported).toEqual(ids);
    expect((await runCli(["executions", "export", "--db", db, "--agent", "b"])).stdout.trimEnd().split("\n")).toHaveLength(6);

    tamper(db, "UPDATE execution_records SET latency_ms = 0 WHERE id = ?", [ids[6]!]);
    const broken = await runCli(["executions", "verify", "--db", db]);
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toContain(`record ${ids[6]} (seq 7) was changed`);
    const json = await runCli(["executions", "verify", "--db", db, "--json"]);
    expect(json.exitCode).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, first_broken: { seq: 7, id: ids[6] } });
  });

  it.each([
    [["executions"], "expected one of"],
    [["executions", "list", "--since", "last tuesday"], "--since"],
    [["executions", "list", "--limit", "0"], "--limit"],
    [["executions", "list", "--kind", "everything"], "--kind"],
  ])("%j is a usage error", async (args, fragment) => {
    const result = await runOnFreshDatabase(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(fragment);
  });
});

describe("REST /v1/executions", () => {
  it("lists with filters and a cursor, fetches one, verifies and exports JSON Lines", async () => {
    using server = startTestServer();
    const records = await appendMany(server, 5, (index) => ({ tool: "crm.update", status: index === 2 ? "error" : "ok" }));
    const bySeq = records.toSorted((a, b) => a.seq - b.seq);

    const page = await rest(server, "GET", "/v1/executions?tool=crm.update&limit=3");
    expect(page.status).toBe(200);
    expect(page.body.records.map((record: { id: string }) => record.id)).toEqual([bySeq[4]!.id, bySeq[3]!.id, bySeq[2]!.id]);
    const next = await rest(server, "GET", `/v1/executions?tool=crm.update&limit=3&cursor=${page.body.next_cursor}`);
    expect(next.body).toEqual({ records: [bySeq[1], bySeq[0]] });
    expect((await rest(server, "GET", "/v1/executions?tool=crm.update&status=error")).body.records).toEqual([records.find((record) => record.status === "error")]);

    expect((await rest(server, "GET", `/v1/executions/${bySeq[0]!.id}`)).body).toEqual(bySeq[0]);
    expect((await rest(server, "GET", "/v1/executions/verify")).body).toMatchObject({ ok: true });

    const exported = await server.app.handle(new Request("http://localhost/v1/executions/export?tool=crm.update", { headers: { "x-api-key": server.adminKey } }));
    expect(exported.headers.get("content-type")).toStartWith("application/x-ndjson");
    const text = await exported.text();
    expect(text.endsWith("\n")).toBe(true);
    expect(text.trimEnd().split("\n").map((line) => JSON.parse(line))).toEqual(bySeq);
  });

  it("answers any key of the tenant with traces:read, 401 without a key, 404 for another tenant's record, 400 for bad filters", async () => {
    using server = startTestServer();
    const [record] = await appendMany(server, 1);
    const readonly = await keyFor(server, "viewer", "mcp_readonly");
    expect((await rest(server, "GET", `/v1/executions/${record!.id}`, undefined, readonly)).status).toBe(200);
    expect((await send(server.app, `/v1/executions/${record!.id}`)).status).toBe(401);
    expect((await send(server.app, "/v1/executions/verify")).status).toBe(401);

    const other = await createTenant(server.services.directory, "other", "admin@other.example");
    const foreign = await rest(server, "GET", `/v1/executions/${record!.id}`, undefined, other.admin_key);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe("execution_not_found");
    const otherList = await rest(server, "GET", "/v1/executions?tool=database.execute", undefined, other.admin_key);
    expect(otherList.body.records).toEqual([]);

    expect((await rest(server, "GET", "/v1/executions?limit=501")).status).toBe(400);
    expect((await rest(server, "GET", "/v1/executions?cursor=bogus")).body.error.code).toBe("invalid_cursor");
  });

  it("reports the first broken record from verify after tampering", async () => {
    using server = startTestServer();
    await appendMany(server, 3, () => ({ tool: "crm.update" }));
    tamper(server.dbPath, "DELETE FROM execution_records WHERE tenant_id = ? AND seq = 1", [server.tenantId]);
    const report = (await rest(server, "GET", "/v1/executions/verify")).body;
    expect(report).toMatchObject({ ok: false, first_broken: { seq: 1, id: null, reason: "seq 1 is missing: a record was deleted" } });
  });
});

describe("MCP invoke.executions.list and invoke.executions.get", () => {
  it("lists with structured output and fetches one record; another tenant's id is not found", async () => {
    using server = startTestServer();
    const records = await appendMany(server, 3, () => ({ tool: "crm.update", agentId: "support_agent" }));
    const newest = records.toSorted((a, b) => b.seq - a.seq);

    const listed = await rpc(server, request(1, "tools/call", { name: "invoke.executions.list", arguments: { tool: "crm.update", agent_id: "support_agent", limit: 2 } }));
    expect(listed.body.result.isError).toBeUndefined();
    expect(listed.body.result.structuredContent.records).toEqual(newest.slice(0, 2));
    expect(listed.body.result.structuredContent.next_cursor).toBeString();

    const fetched = await rpc(server, request(2, "tools/call", { name: "invoke.executions.get", arguments: { id: newest[2]!.id } }));
    expect(fetched.body.result.structuredContent).toEqual(newest[2]);

    const other = await createTenant(server.services.directory, "other", "admin@other.example");
    const foreign = await rpc(server, request(3, "tools/call", { name: "invoke.executions.get", arguments: { id: newest[2]!.id } }), { key: other.admin_key });
    expect(foreign.body.result).toMatchObject({ isError: true, content: [{ type: "text", text: expect.stringContaining("No execution record") }] });

    const badTime = await rpc(server, request(4, "tools/call", { name: "invoke.executions.list", arguments: { since: "soon" } }));
    expect(badTime.body.result.isError).toBe(true);
  });

  it("are listed as read-only tools with output schemas for keys with traces:read", async () => {
    using server = startTestServer();
    const key = await keyFor(server, "editor", "mcp_readonly");
    const tools = (await rpc(server, request(1, "tools/list"), { key })).body.result.tools;
    for (const name of ["invoke.executions.list", "invoke.executions.get"]) {
      const tool = tools.find((candidate: { name: string }) => candidate.name === name);
      expect(tool).toMatchObject({ annotations: { readOnlyHint: true, openWorldHint: false }, outputSchema: { type: "object" } });
    }
  });
});
