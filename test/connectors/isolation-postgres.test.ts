/**
 * SQL on a PostgreSQL connector named anything but `database`, through REST and MCP against the real
 * test server: the default pack's SQL rules follow the kind of tool, side-effecting functions are not
 * reads, simulation predicts enforcement, what changed is read back through the test's own connection,
 * and a superuser role is flagged by readiness and /readyz.
 */
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { keyFor, request, rest, rpc, send, startTestServer, type TestServer } from "../support/harness.ts";
import { postgresSkipReason, usePostgres } from "../support/postgres.ts";

const skip = postgresSkipReason();
if (skip) console.warn(skip);

describe.skipIf(skip !== undefined)("a PostgreSQL connector called warehouse", () => {
  const pg = usePostgres();
  let server: TestServer;
  let agent: string;
  const admin = (strings: TemplateStringsArray, ...values: unknown[]) => pg.admin(strings, ...values);

  beforeEach(async () => {
    await pg.admin.unsafe(`
      DROP TABLE IF EXISTS invoices; DROP SEQUENCE IF EXISTS numbers;
      CREATE TABLE invoices (id SERIAL PRIMARY KEY, amount INTEGER NOT NULL);
      INSERT INTO invoices (amount) VALUES (100), (200), (300);
      CREATE SEQUENCE numbers;`);
    server = startTestServer();
    expect((await rest(server, "POST", "/v1/connectors", { name: "warehouse", type: "database", dialect: "postgres", url: pg.server.url })).status).toBe(201);
    agent = await keyFor(server, "editor", "operator", "agent@example.com");
  });
  afterEach(() => server[Symbol.asyncDispose]());

  const call = async (tool: string, sql: string) => (await rpc(server, request(1, "tools/call", { name: `warehouse.${tool}`, arguments: { sql } }), { key: agent })).body.result;
  const simulate = async (tool: string, sql: string) =>
    (await rpc(server, request(2, "tools/call", { name: "invoke.policy.simulate", arguments: { agent_id: "a", action: `warehouse.${tool}`, params: { sql } } }), { key: agent })).body.result
      .structuredContent as { decision: string; analysis: { sql: { kind: string; functions: string[] } } };
  const enforced = (result: { isError?: boolean; content: { text: string }[]; structuredContent?: { status?: string } }) =>
    result.isError && /Policy denies/.test(result.content[0]!.text) ? "deny" : result.structuredContent?.status === "pending_approval" ? "require_approval" : "allow";

  it("denies destructive SQL and sends writes to approval, as simulated, and nothing changes", async () => {
    const cases: [string, string, string][] = [
      ["execute", "DROP TABLE invoices", "deny"],
      ["execute", "DELETE FROM invoices WHERE 1 = 1", "deny"],
      ["execute", "UPDATE invoices SET amount = 0 WHERE amount IS NOT NULL", "deny"],
      ["query", "SELECT nextval('numbers')", "require_approval"],
      ["query", "SELECT set_config('search_path', 'evil', false)", "require_approval"],
      ["query", "SELECT pg_advisory_lock(42)", "require_approval"],
      ["query", "SELECT 1 /* nested /* comment */ ; DROP TABLE invoices; */", "allow"],
      ["execute", "SELECT $$ ; DROP TABLE invoices; $$", "allow"],
      ["query", "SELECT sum(amount) AS total FROM invoices WHERE amount > 150", "allow"],
    ];
    for (const [tool, sql, expected] of cases) {
      const predicted = await simulate(tool, sql);
      const result = await call(tool, sql);
      expect({ sql, predicted: predicted.decision, enforced: enforced(result) }).toEqual({ sql, predicted: expected, enforced: expected });
    }
    expect((await admin`SELECT count(*)::int AS n, sum(amount)::int AS total FROM invoices`)[0]).toEqual({ n: 3, total: 600 });
    expect((await admin`SELECT last_value::int AS v, is_called FROM numbers`)[0]).toEqual({ v: 1, is_called: false });
    expect((await admin`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`)[0].n).toBe(0);
  });

  it("reports side-effecting functions in the analysis", async () => {
    const analysis = (await simulate("query", "SELECT lower('A'), nextval('numbers'), pg_terminate_backend(1)")).analysis.sql;
    expect(analysis.kind).toBe("admin");
    expect(analysis.functions).toEqual(expect.arrayContaining(["lower", "nextval", "pg_terminate_backend"]));
  });

  it("flags the superuser role in readiness and in /readyz for the tenant's admin", async () => {
    const readonly = await keyFor(server, "editor", "mcp_readonly");
    const report = (await rpc(server, request(3, "tools/call", { name: "invoke.governance.readiness", arguments: {} }), { key: readonly })).body.result.structuredContent;
    const item = report.checklist.find((entry: { id: string }) => entry.id === "connector_privileges");
    expect(item).toMatchObject({ status: "fail", detail: expect.stringContaining("warehouse: role invoke is a superuser") });
    const ready = await send(server.app, "/readyz", { headers: { "x-api-key": server.adminKey } });
    expect(ready.body.checks.connectors.items).toEqual([expect.objectContaining({ name: "warehouse", healthy: true, warnings: [expect.stringContaining("superuser")] })]);
    expect((await send(server.app, "/readyz")).body).toEqual({ status: "ready" });
  });
});
