/**
 * Approvals as MCP tasks (MCP 2026-07-28 tasks extension): a modern client that declares the extension
 * gets an approval-gated call back as a task, which survives a restart of the server, completes with
 * the real result once approved, fails with the refusal when rejected, and is withdrawn by
 * tasks/cancel. Clients without the extension keep getting the pending_approval result. Every answer
 * is validated against the 2026-07-28 schema (the harness's rpc).
 */
import { describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { keyFor, rest, restartTestServer, startTestServer, type TestServer } from "../support/harness.ts";
import { modern, modernRpc } from "../support/modern.ts";

const POLICY = `
version: 1
defaults: { read_only: allow, mutating: require_approval }
rules:
  - id: writes-need-a-person
    effect: require_approval
    approvals_required: 1
    reason: Writes need a person.
    match: { action: "database.execute" }
`;

/** A server with a `database` connector on a small company database, writes sent to approval; and an agent key. */
async function governed() {
  const server = startTestServer();
  const company = join(server.filesDir, "company.sqlite");
  const db = new Database(company, { create: true });
  db.run("CREATE TABLE invoices (id INTEGER PRIMARY KEY, status TEXT)");
  db.run("INSERT INTO invoices VALUES (1, 'open'), (2, 'open'), (3, 'open')");
  db.close();
  expect((await rest(server, "POST", "/v1/connectors", { name: "database", type: "database", dialect: "sqlite", path: company })).status).toBe(201);
  expect((await rest(server, "POST", "/v1/policies", { source: POLICY, publish: true })).status).toBe(201);
  const agent = await keyFor(server, "editor", "operator", "agent@example.com");
  const statusOf = (id: number) => {
    const reader = new Database(company, { readonly: true });
    try {
      return (reader.query("SELECT status FROM invoices WHERE id = ?").get(id) as { status: string }).status;
    } finally {
      reader.close();
    }
  };
  return { server, agent, statusOf };
}

const update = (id: number) => ({ name: "database.execute", arguments: { sql: `UPDATE invoices SET status = 'paid' WHERE id = ${id}` } });
const task = (server: TestServer, key: string, method: string, taskId: string) => modernRpc(server, modern(`${method}-${taskId}`, method, { taskId }, { tasks: true }), {}, key);

describe("approvals as tasks", () => {
  it("a declared client gets a task that survives a restart and completes with the real result once approved", async () => {
    const { server: first, agent, statusOf } = await governed();
    const created = await modernRpc(first, modern(1, "tools/call", update(1), { tasks: true }), {}, agent);
    expect(created.status).toBe(200);
    const handle = created.body.result;
    expect(handle).toMatchObject({ resultType: "task", status: "working", ttlMs: null, pollIntervalMs: expect.any(Number) });
    expect(handle.taskId).toMatch(/^apr_[A-Za-z0-9]{20}$/);
    expect(Date.parse(handle.createdAt)).toBeGreaterThan(0);
    expect(handle.content).toBeUndefined();
    // Durably created before the answer: tasks/get resolves at once.
    expect((await task(first, agent, "tasks/get", handle.taskId)).body.result).toMatchObject({ resultType: "complete", taskId: handle.taskId, status: "working" });

    await using server = await restartTestServer(first);
    const polled = await task(server, agent, "tasks/get", handle.taskId);
    expect(polled.body.result).toMatchObject({ status: "working", statusMessage: expect.stringContaining("Waiting for approval") });
    expect(statusOf(1)).toBe("open");

    expect((await rest(server, "POST", `/v1/approvals/${handle.taskId}/approve`)).status).toBe(200);
    const done = await task(server, agent, "tasks/get", handle.taskId);
    expect(done.body.result).toMatchObject({ resultType: "complete", status: "completed" });
    expect(done.body.result.result.isError).toBeFalsy();
    expect(done.body.result.result.content.length).toBeGreaterThan(0);
    // The result is what the approval holds: the same as invoke.approvals.get shows.
    expect(done.body.result.result).toEqual((await rest(server, "GET", `/v1/approvals/${handle.taskId}`)).body.outcome);
    expect(statusOf(1)).toBe("paid");
  });

  it("a rejected request fails with the refusal; a client without the extension keeps the pending_approval result", async () => {
    const { server, agent, statusOf } = await governed();
    await using _ = server;
    const plain = await modernRpc(server, modern(1, "tools/call", update(2)), {}, agent);
    expect(plain.body.result.resultType).toBe("complete");
    expect(plain.body.result.structuredContent).toMatchObject({ status: "pending_approval", approval_id: expect.stringMatching(/^apr_/) });

    const created = await modernRpc(server, modern(2, "tools/call", update(2), { tasks: true }), {}, agent);
    const taskId = created.body.result.taskId;
    expect((await rest(server, "POST", `/v1/approvals/${taskId}/reject`, { comment: "not today" })).status).toBe(200);
    const failed = await task(server, agent, "tasks/get", taskId);
    expect(failed.body.result).toMatchObject({ status: "failed", error: { code: -31003, data: { reason: "approval_rejected", approval_id: taskId } } });
    expect(failed.body.result.result).toBeUndefined();
    expect(statusOf(2)).toBe("open");
  });

  it("tasks/cancel withdraws the request: it is cancelled, can no longer be approved, and the withdrawal is recorded", async () => {
    const { server, agent, statusOf } = await governed();
    await using _ = server;
    const created = await modernRpc(server, modern(1, "tools/call", update(3), { tasks: true }), {}, agent);
    const taskId = created.body.result.taskId;
    const cancelled = await task(server, agent, "tasks/cancel", taskId);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.result).toEqual({ resultType: "complete", _meta: expect.any(Object) });
    expect((await task(server, agent, "tasks/get", taskId)).body.result).toMatchObject({ status: "cancelled" });
    expect((await rest(server, "GET", `/v1/approvals/${taskId}`)).body.status).toBe("withdrawn");
    expect((await rest(server, "POST", `/v1/approvals/${taskId}/approve`)).status).toBe(409);
    expect(statusOf(3)).toBe("open");
    // Cancelling again (or after the end) is still acknowledged and changes nothing.
    expect((await task(server, agent, "tasks/cancel", taskId)).status).toBe(200);
    const records = (await rest(server, "GET", "/v1/executions?limit=100")).body.records as { tool: string; approval_id: string | null }[];
    expect(records.filter((record) => record.tool === "approvals.withdraw").map((record) => record.approval_id)).toEqual([taskId]);
    expect((await rest(server, "GET", "/v1/executions/verify")).body).toMatchObject({ ok: true });
  });

  it("only the key that made the request finds its task: another key, another tenant's or a made-up id get -32602", async () => {
    const { server, agent } = await governed();
    await using _ = server;
    const taskId = (await modernRpc(server, modern(1, "tools/call", update(1), { tasks: true }), {}, agent)).body.result.taskId;
    const colleague = await keyFor(server, "editor", "operator", "colleague@example.com");
    for (const [key, id] of [
      [colleague, taskId],
      [agent, "apr_madeupmadeupmadeupmade"],
    ] as const) {
      const answer = await task(server, key, "tasks/get", id);
      expect(answer.body.error).toMatchObject({ code: -32602, message: "Failed to retrieve task: Task not found" });
      expect((await task(server, key, "tasks/cancel", id)).body.error.code).toBe(-32602);
    }
    // The colleague's cancel did not withdraw it.
    expect((await task(server, agent, "tasks/get", taskId)).body.result.status).toBe("working");
  });
});
