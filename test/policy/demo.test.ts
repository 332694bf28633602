/**
 * `--demo` is the whole demo company: its data, its database connector and its published policy. The
 * seed's `drop table invoices` is denied by that policy (version 1), and a tenant's own policy is never
 * replaced by loading the demo again.
 */
import { describe, expect, it } from "bun:test";
import { installDemo } from "../../src/demo.ts";
import { sqliteRepositories } from "../../src/storage/sqlite/index.ts";
import { request, rest, rpc, startTestServer } from "../support/harness.ts";

const simulate = (sql: string) => request(1, "tools/call", { name: "invoke.policy.simulate", arguments: { agent_id: "finance_agent", action: "database.execute", params: { sql } } });

describe("the demo company's policy", () => {
  it("is published by --demo and decides the seed's examples", async () => {
    await using server = startTestServer();
    const demo = { ...server.services, connectorStore: sqliteRepositories(server.store).connectors, storePath: server.store.path };
    expect((await installDemo(demo, { tenantId: server.tenantId })).policyVersion).toBe(1);
    await server.services.connectors.reconcile();
    const drop = (await rpc(server, simulate("drop table invoices"))).body.result.structuredContent;
    expect(drop).toMatchObject({ decision: "deny", policy_version: 1 });
    expect(drop.matched_rules[0].id).toBe("deny-destructive-sql");
    const update = (await rpc(server, simulate("UPDATE invoices SET status = 'paid' WHERE key = 'inv-1'"))).body.result.structuredContent;
    expect(update.decision).toBe("require_approval");
    expect(update.matched_rules.map((rule: { id: string }) => rule.id)).toContain("invoice-changes-need-approval");
    expect((await rpc(server, simulate("select count(*) from invoices"))).body.result.structuredContent.decision).toBe("allow");
    // Loaded again: nothing new is published.
    expect((await installDemo(demo, { tenantId: server.tenantId })).policyVersion).toBeUndefined();
    expect((await rest(server, "GET", "/v1/policies")).body.versions.filter((version: { version: number }) => version.version > 0)).toHaveLength(1);
  });

  it("never replaces a policy the tenant published", async () => {
    await using server = startTestServer();
    const own = "version: 1\nrules:\n  - {id: ours, effect: deny, reason: ours, match: {action: database.execute}}\n";
    expect((await rest(server, "POST", "/v1/policies", { source: own, publish: true })).status).toBeLessThan(300);
    expect((await installDemo({ ...server.services, connectorStore: sqliteRepositories(server.store).connectors, storePath: server.store.path }, { tenantId: server.tenantId })).policyVersion).toBeUndefined();
    expect((await rest(server, "GET", "/v1/policies/active")).body.source).toBe(own);
  });
});
