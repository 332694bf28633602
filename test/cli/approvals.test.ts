/**
 * `invoke approvals` from another process, on the database a server is using: the voter proves who
 * they are with their own key (never `--as`), four-eyes refusals are one-line failures, and an approval
 * decided on the CLI is run once by the server's sweeper.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { startApprovalSweeper } from "../../src/execution/approved.ts";
import { keyFor, request, rest, rpc, startTestServer, type TestServer } from "../support/harness.ts";
import { cleanEnv, runCli } from "../support/process.ts";

/** The CLI with `key` as the voter's own credential. */
const as = (key: string) => ({ env: cleanEnv({ INVOKE_API_KEY: key }) });

const servers: TestServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server[Symbol.asyncDispose]();
});

describe("invoke approvals", () => {
  it("refuses the requester, lists and shows the request, and the server runs it once after a CLI approval", async () => {
    const server = startTestServer();
    servers.push(server);
    const path = join(server.filesDir, "company.sqlite");
    const company = new Database(path, { create: true });
    company.run("CREATE TABLE audit (note TEXT)");
    company.close();
    await rest(server, "POST", "/v1/connectors", { name: "database", type: "database", dialect: "sqlite", path });
    const agentKey = await keyFor(server, "admin", "admin", "requester@example.com");
    const answer = await rpc(server, request(1, "tools/call", { name: "database.execute", arguments: { sql: "INSERT INTO audit (note) VALUES ('cli')" } }), { key: agentKey });
    const id = answer.body.result.structuredContent.approval_id as string;
    const db = ["--db", server.dbPath];

    const self = await runCli(["approvals", "approve", id, ...db], as(agentKey));
    expect(self.exitCode).toBe(1);
    expect(self.stderr).toContain("can never approve");
    const missingVoter = await runCli(["approvals", "approve", id, ...db]);
    expect(missingVoter.exitCode).toBe(2);
    expect(missingVoter.stderr).toContain("INVOKE_API_KEY");
    // An asserted identity is no credential.
    const asserted = await runCli(["approvals", "approve", id, "--as", "admin@localhost", ...db]);
    expect(asserted.exitCode).toBe(2);
    expect((await runCli(["approvals", "approve", id, ...db], as("inv_live_forged0000000000000000000000000"))).exitCode).toBe(1);
    // A person created after the request (here by the requester, an admin) cannot vote on it.
    const latecomer = await keyFor(server, "admin", "admin", "latecomer@example.com");
    const late = await runCli(["approvals", "approve", id, ...db], as(latecomer));
    expect(late.exitCode).toBe(1);
    expect(late.stderr).toContain("became a user after");

    const listed = await runCli(["approvals", "list", "--status", "pending", ...db]);
    expect(listed.stdout).toContain(id);
    const shown = JSON.parse((await runCli(["approvals", "show", id, "--json", ...db])).stdout);
    expect(shown).toMatchObject({ id, status: "pending", tool: "database.execute", arguments: { sql: "INSERT INTO audit (note) VALUES ('cli')" } });

    const approved = await runCli(["approvals", "approve", id, "--comment", "ok", ...db], as(server.adminKey));
    expect(approved.exitCode).toBe(0);
    expect(approved.stdout).toContain("executes it");
    const stop = startApprovalSweeper(server.services.approvals, server.services.calls, 20);
    try {
      const deadline = Date.now() + 5000;
      while ((await rest(server, "GET", `/v1/approvals/${id}`)).body.status !== "executed" && Date.now() < deadline) await Bun.sleep(20);
    } finally {
      stop();
    }
    const check = new Database(path, { readonly: true });
    expect(check.query("SELECT count(*) AS n FROM audit").get()).toEqual({ n: 1 });
    check.close();
    const votes = (await rest(server, "GET", "/v1/executions?kind=approval_vote")).body.records;
    expect(votes[0]).toMatchObject({ approval_id: id, status: "approve", client_name: "invoke approvals (cli)" });
    expect((await runCli(["approvals", "reject", id, ...db], as(server.adminKey))).exitCode).toBe(1);
    // Records appended by the CLI's process and the server's interleave in one chain.
    expect((await rest(server, "GET", "/v1/executions/verify")).body).toMatchObject({ ok: true });
  });
});
