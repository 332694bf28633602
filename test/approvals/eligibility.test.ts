/**
 * Who may vote: a person with their own credential, a user of the tenant since before the request, and —
 * when a rule names approver groups — a member of each since before the request. Groups are managed
 * over REST and the CLI, and every change is recorded.
 */
import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { join } from "node:path";
import { keyFor, request, rest, rpc, startTestServer, type TestServer } from "../support/harness.ts";
import { cleanEnv, runCli } from "../support/process.ts";

let server: TestServer;
let agent: string;

const POLICY = `version: 1
defaults: {read_only: allow, mutating: deny}
rules:
  - id: ledger-writes
    effect: require_approval
    reason: Writes to the ledger need a finance lead.
    approvers: [finance-leads]
    match: {connector_kind: [database]}
    when: [{field: sql.kind, equals: write}]
`;

beforeEach(async () => {
  server = startTestServer();
  const path = join(server.filesDir, "ledger.sqlite");
  const db = new Database(path, { create: true });
  db.run("CREATE TABLE entries (id INTEGER PRIMARY KEY, amount INTEGER)");
  db.close();
  expect((await rest(server, "POST", "/v1/connectors", { name: "ledger", type: "database", dialect: "sqlite", path })).status).toBe(201);
  expect((await rest(server, "POST", "/v1/policies", { source: POLICY, publish: true })).status).toBeLessThan(300);
  agent = await keyFor(server, "editor", "operator", "agent@example.com");
});
afterEach(() => server[Symbol.asyncDispose]());

async function requestWrite(): Promise<string> {
  const answer = await rpc(server, request(1, "tools/call", { name: "ledger.execute", arguments: { sql: "INSERT INTO entries (amount) VALUES (5)" } }), { key: agent });
  return answer.body.result.structuredContent.approval_id as string;
}

const vote = (id: string, key: string) => rest(server, "POST", `/v1/approvals/${id}/approve`, {}, key);

describe("approver groups", () => {
  it("only members since before the request may approve; the request names its groups", async () => {
    const lead = await keyFor(server, "admin", "admin", "lead@example.com");
    const other = await keyFor(server, "admin", "admin", "other@example.com");
    expect((await rest(server, "POST", "/v1/beta/groups", { name: "finance-leads" })).status).toBe(201);
    expect((await rest(server, "POST", "/v1/beta/groups/finance-leads/members", { user: "lead@example.com" })).status).toBe(200);

    const id = await requestWrite();
    expect((await rest(server, "GET", `/v1/approvals/${id}`)).body.approver_groups).toEqual(["finance-leads"]);
    const outsider = await vote(id, other);
    expect(outsider.status).toBe(403);
    expect(outsider.body.error.code).toBe("not_in_approver_group");
    // Added to the group after the request: still not an approver of it.
    expect((await rest(server, "POST", "/v1/beta/groups/finance-leads/members", { user: "other@example.com" })).status).toBe(200);
    expect((await vote(id, other)).body.error.code).toBe("not_in_approver_group");
    expect((await vote(id, lead)).status).toBe(200);
    expect((await rest(server, "GET", `/v1/approvals/${id}`)).body.status).toBe("executed");
    // The next request counts the new member.
    const next = await requestWrite();
    expect((await vote(next, other)).status).toBe(200);
  });

  it("a user created after the request cannot vote on it, whoever created them", async () => {
    const id = await requestWrite();
    const latecomer = await keyFor(server, "admin", "admin", "latecomer@example.com");
    expect((await rest(server, "POST", "/v1/beta/groups", { name: "finance-leads" })).status).toBe(201);
    await rest(server, "POST", "/v1/beta/groups/finance-leads/members", { user: "latecomer@example.com" });
    const answer = await vote(id, latecomer);
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe("voter_too_new");
  });

  it("refuses approvers on a rule that does not require approval", async () => {
    const bad = "version: 1\nrules:\n  - {id: r, effect: allow, reason: r, approvers: [x], match: {action: a.b}}\n";
    const answer = await rest(server, "POST", "/v1/policies/check", { source: bad });
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).toContain("only require_approval rules take approvers");
  });

  it("group changes over REST and the CLI are recorded", async () => {
    await keyFor(server, "admin", "admin", "lead@example.com");
    await rest(server, "POST", "/v1/beta/groups", { name: "finance-leads" });
    const env = { env: cleanEnv() };
    const db = ["--db", server.dbPath];
    expect((await runCli(["groups", "add", "finance-leads", "lead@example.com", ...db], env)).exitCode).toBe(0);
    const listed = JSON.parse((await runCli(["groups", "list", "--json", ...db], env)).stdout);
    expect(listed.groups[0].members.map((member: { email: string }) => member.email)).toEqual(["lead@example.com"]);
    expect((await runCli(["groups", "remove", "finance-leads", "nobody@example.com", ...db], env)).exitCode).toBe(1);
    await server.services.records.flush();
    const records = (await rest(server, "GET", "/v1/executions?kind=admin_mutation&limit=50")).body.records as { tool: string; status: string; client_name: string | null }[];
    const groupChanges = records.filter((record) => record.tool.includes("/v1/beta/groups")).map((record) => `${record.tool} ${record.status}`);
    expect(groupChanges).toEqual(
      expect.arrayContaining(["POST /v1/beta/groups ok", "POST /v1/beta/groups/:name/members ok", "DELETE /v1/beta/groups/:name/members/:user error"]),
    );
  });
});
