/**
 * The company brain through `invoke.company_brain.query`: seed 000's example on the demo company,
 * ranking, prefix and phrase matching, type filter, pagination, joins in both directions, idempotent
 * loading, tenant isolation and hostile queries.
 */
import { describe, expect, it } from "bun:test";
import { loadDemoCompany } from "../../src/brain/demo.ts";
import { encodeCursor } from "../../src/cursor.ts";
import { createTenant } from "../../src/governance/bootstrap.ts";
import { rest as post, request, rpc, send, startTestServer, type TestServer } from "../support/harness.ts";

async function demoServer(): Promise<TestServer> {
  const server = startTestServer();
  await loadDemoCompany(server.services.brain, server.tenantId);
  return server;
}

async function query(server: TestServer, args: Record<string, unknown>, key = server.adminKey) {
  const answer = await rpc(server, request(3, "tools/call", { name: "invoke.company_brain.query", arguments: args }), { key });
  expect(answer.status).toBe(200);
  return answer.body;
}

const names = (body: any) => body.result.structuredContent.results.map((hit: { name: string }) => hit.name);

describe("seed 000: query company brain", () => {
  it("returns the Acme customer with its invoices joined, over the seed's curl call with an mcp_readonly key", async () => {
    using server = await demoServer();
    const created = await send(server.app, `/v1/beta/users/${server.userId}/keys`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": server.adminKey },
      body: JSON.stringify({ name: "Claude desktop MCP", profile: "mcp_readonly" }),
    });
    const body = await query(server, { query: "Acme", entity_type: "customer", join_to: { entity_type: "invoice" } }, created.body.key);
    const [acme] = body.result.structuredContent.results;
    expect(acme).toMatchObject({ type: "customer", key: "C-1001", name: "Acme Corporation" });
    expect(acme.related.map((invoice: { key: string }) => invoice.key)).toEqual(["INV-2024-001", "INV-2024-002", "INV-2024-003"]);
    expect(acme.related.every((invoice: { type: string; relation: string; direction: string }) => invoice.type === "invoice" && invoice.relation === "billed_by" && invoice.direction === "outgoing")).toBe(true);
    expect(JSON.parse(body.result.content[0].text)).toEqual(body.result.structuredContent);
  });
});

describe("search", () => {
  it("ranks an exact name above a mention in attributes", async () => {
    using server = await demoServer();
    expect(names(await query(server, { query: "Acme", entity_type: "customer" }))).toEqual(["Acme Corporation", "Globex Industries"]);
  });

  it("matches prefixes with a trailing *", async () => {
    using server = await demoServer();
    expect(names(await query(server, { query: "Umbr*" }))).toEqual(["Umbrella Health"]);
    expect(names(await query(server, { query: "Umbr" }))).toEqual([]);
  });

  it("matches quoted phrases only in order", async () => {
    using server = await demoServer();
    expect(names(await query(server, { query: '"Head of Procurement"' }))).toEqual(["Wile E. Coyote"]);
    expect(names(await query(server, { query: '"Procurement of Head"' }))).toEqual([]);
  });

  it("filters by entity type", async () => {
    using server = await demoServer();
    const hits = (await query(server, { query: "overdue", entity_type: "invoice" })).result.structuredContent.results;
    expect(hits.map((hit: { key: string }) => hit.key).sort()).toEqual(["INV-2024-002", "INV-2024-006"]);
    expect(names(await query(server, { query: "overdue", entity_type: "customer" }))).toEqual([]);
  });

  it("pages with a cursor, each hit once", async () => {
    using server = await demoServer();
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = (await query(server, { query: "invoice", limit: 4, ...(cursor ? { cursor } : {}) })).result.structuredContent;
      seen.push(...page.results.map((hit: { key: string }) => hit.key));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen.sort()).toEqual(["INV-2024-001", "INV-2024-002", "INV-2024-003", "INV-2024-004", "INV-2024-005", "INV-2024-006"]);
  });

  it("refuses a cursor forged deep into the ranking, as it refuses any cursor it did not issue", async () => {
    using server = await demoServer();
    for (const cursor of [encodeCursor(1_000_000), encodeCursor(1000), "bogus"]) {
      const body = await query(server, { query: "invoice", cursor });
      expect({ cursor, refused: body.result?.isError ?? body.error !== undefined, text: JSON.stringify(body) }).toMatchObject({ cursor, refused: true, text: expect.stringContaining("invalid cursor") });
    }
    expect((await query(server, { query: "invoice", cursor: encodeCursor(2) })).result.structuredContent.results).toHaveLength(4);
  });

  it("joins in the incoming direction too, and by relation", async () => {
    using server = await demoServer();
    const contact = (await query(server, { query: "Coyote", join_to: { entity_type: "customer", relation: "works_at" } })).result.structuredContent.results[0];
    expect(contact.related).toEqual([expect.objectContaining({ key: "C-1001", relation: "works_at", direction: "outgoing" })]);
    const customer = (await query(server, { query: "Acme Corporation", entity_type: "customer", join_to: { entity_type: "contact" } })).result.structuredContent.results[0];
    expect(customer.related.map((person: { name: string; direction: string }) => `${person.name}:${person.direction}`).sort()).toEqual(["Road Runner:incoming", "Wile E. Coyote:incoming"]);
    const invoice = (await query(server, { query: "INV-2024-004", entity_type: "invoice", join_to: { entity_type: "customer" } })).result.structuredContent.results[0];
    expect(invoice.related).toEqual([expect.objectContaining({ name: "Globex Industries", direction: "incoming" })]);
  });

  it("returns an empty list, not an error, when nothing matches", async () => {
    using server = await demoServer();
    const body = await query(server, { query: "zebra" });
    expect(body.result.structuredContent).toEqual({ results: [] });
  });

  it.each([
    ['"unbalanced'],
    ["((Acme"],
    ["Acme NEAR Globex"],
    ["Acme OR 1=1 --"],
    ["*"],
    ["name:Acme"],
    ["'; DROP TABLE brain_entities; --"],
    ["^Acme"],
    ["x".repeat(10_000)],
    ["Acme ".repeat(2000)],
  ])("survives the hostile query %p without an error", async (text) => {
    using server = await demoServer();
    const body = await query(server, { query: text.slice(0, 10_000) });
    expect(body.error).toBeUndefined();
    expect(body.result.isError).toBeUndefined();
    const count = server.store.sqlite.query("SELECT count(*) AS n FROM brain_entities").get() as { n: number };
    expect(count.n).toBe(14);
  });
});

describe("isolation and loading", () => {
  it("keeps each tenant's brain to itself", async () => {
    using server = await demoServer();
    const other = await createTenant(server.services.directory, "other", "admin@localhost");
    expect(names(await query(server, { query: "Acme" }, other.admin_key))).toEqual([]);
    await server.services.brain.upsertEntities(other.tenant_id, [{ type: "customer", key: "C-1001", name: "Acme Other" }]);
    expect(names(await query(server, { query: "Acme", entity_type: "customer" }, other.admin_key))).toEqual(["Acme Other"]);
    expect(names(await query(server, { query: "Acme", entity_type: "customer" }))).toEqual(["Acme Corporation", "Globex Industries"]);
  });

  it("finds a tenant's matches behind many better-ranked matches of another tenant, page by page", async () => {
    using server = await demoServer();
    const other = await createTenant(server.services.directory, "other", "admin@localhost");
    const crowd = Array.from({ length: 60 }, (_, i) => ({ type: "customer", key: `Z${i}`, name: `Zephyr Zephyr ${i}` }));
    await server.services.brain.upsertEntities(other.tenant_id, crowd);
    await server.services.brain.upsertEntities(server.tenantId, [
      { type: "customer", key: "Z-A", name: "Alpha Trading", attributes: { note: "zephyr account" } },
      { type: "customer", key: "Z-B", name: "Beta Trading", attributes: { note: "zephyr prospect" } },
    ]);
    const first = (await query(server, { query: "zephyr", limit: 1 })).result.structuredContent;
    expect(first.results.map((hit: { key: string }) => hit.key)).toHaveLength(1);
    const second = (await query(server, { query: "zephyr", limit: 1, cursor: first.next_cursor })).result.structuredContent;
    expect([...first.results, ...second.results].map((hit: { key: string }) => hit.key).sort()).toEqual(["Z-A", "Z-B"]);
    expect(second.next_cursor).toBeUndefined();
  });

  it("loads the demo company idempotently", async () => {
    using server = await demoServer();
    const again = await loadDemoCompany(server.services.brain, server.tenantId);
    expect(again).toEqual({ entities: { inserted: 0, updated: 0, unchanged: 14 }, relations: { added: 0 } });
  });

  it("removes an entity's relations with it and keeps the index in step", async () => {
    using server = await demoServer();
    await server.services.brain.deleteEntities(server.tenantId, [{ type: "invoice", key: "INV-2024-001" }]);
    const acme = (await query(server, { query: "Acme Corporation", entity_type: "customer", join_to: { entity_type: "invoice" } })).result.structuredContent.results[0];
    expect(acme.related.map((invoice: { key: string }) => invoice.key)).toEqual(["INV-2024-002", "INV-2024-003"]);
    expect(names(await query(server, { query: "INV-2024-001" }))).toEqual([]);
  });

  it("indexes a batch's new entities once, the last of duplicates winning, and keeps foreign keys on afterwards", async () => {
    using server = await demoServer();
    const counts = await server.services.brain.write(server.tenantId, {
      entities: [
        { type: "customer", key: "D1", name: "Draft Name" },
        { type: "customer", key: "D1", name: "Dunmore Holdings" },
        { type: "customer", key: "C-1001", name: "Acme Corporation", attributes: { note: "renamed nothing, added a note" } },
      ],
      relations: [{ from: { type: "customer", key: "D1" }, relation: "billed_by", to: { type: "invoice", key: "INV-2024-001" } }],
    });
    expect(counts).toEqual({ entities: { inserted: 1, updated: 1, unchanged: 0 }, relations: { added: 1 } });
    expect(names(await query(server, { query: "Dunmore" }))).toEqual(["Dunmore Holdings"]);
    expect(names(await query(server, { query: "Draft" }))).toEqual([]);
    expect(names(await query(server, { query: "renamed" }))).toEqual(["Acme Corporation"]);
    // FTS5 compares its index with the content table, row by row.
    expect(() => server.store.sqlite.run("INSERT INTO brain_fts (brain_fts, rank) VALUES ('integrity-check', 1)")).not.toThrow();
    expect(server.store.sqlite.query("PRAGMA foreign_keys").get()).toEqual({ foreign_keys: 1 });
    await server.services.brain.deleteEntities(server.tenantId, [{ type: "customer", key: "D1" }]);
    expect((server.store.sqlite.query("SELECT count(*) AS n FROM brain_relations WHERE relation = 'billed_by' AND to_id = (SELECT id FROM brain_entities WHERE key = 'INV-2024-001')").get() as { n: number }).n).toBe(1);
  });

  it("refuses a relation to an entity that does not exist, adding nothing", async () => {
    using server = await demoServer();
    await expect(
      server.services.brain.upsertRelations(server.tenantId, [
        { from: { type: "customer", key: "C-1003" }, relation: "billed_by", to: { type: "invoice", key: "INV-2024-003" } },
        { from: { type: "customer", key: "C-1003" }, relation: "billed_by", to: { type: "invoice", key: "NOPE" } },
      ]),
    ).rejects.toThrow("no invoice with key NOPE");
    const count = server.store.sqlite.query("SELECT count(*) AS n FROM brain_relations").get() as { n: number };
    expect(count.n).toBe(10);
  });
});

describe("bulk REST", () => {
  it("upserts entities and relations in one call, idempotently, and queries them", async () => {
    using server = startTestServer();
    const body = {
      entities: [
        { type: "customer", key: "K1", name: "Kestrel Ltd", attributes: { city: "Leeds" } },
        { type: "invoice", key: "F1", name: "Invoice F1", attributes: { amount: 10 } },
      ],
      relations: [{ from: { type: "customer", key: "K1" }, relation: "billed_by", to: { type: "invoice", key: "F1" } }],
    };
    const first = await post(server, "POST", "/v1/brain/entities", body);
    expect(first.body).toMatchObject({ entities: { inserted: 2, updated: 0, unchanged: 0 }, relations: { added: 1 } });
    const second = await post(server, "POST", "/v1/brain/entities", body);
    expect(second.body).toMatchObject({ entities: { inserted: 0, updated: 0, unchanged: 2 }, relations: { added: 0 } });
    const found = await post(server, "POST", "/v1/brain/query", { query: "Leeds", join_to: { entity_type: "invoice" } });
    expect(found.body.results[0]).toMatchObject({ key: "K1", related: [{ key: "F1" }] });
  });

  it("applies nothing when one relation names a missing entity", async () => {
    using server = startTestServer();
    const answer = await post(server, "POST", "/v1/brain/entities", {
      entities: [{ type: "customer", key: "K2", name: "Kite" }],
      relations: [{ from: { type: "customer", key: "K2" }, relation: "billed_by", to: { type: "invoice", key: "missing" } }],
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("import_refused");
    expect((server.store.sqlite.query("SELECT count(*) AS n FROM brain_entities").get() as { n: number }).n).toBe(0);
  });

  it("needs brain:write to change and brain:read to query", async () => {
    using server = await demoServer();
    const operator = (await post(server, "POST", `/v1/beta/users/${server.userId}/keys`, { name: "op", profile: "operator" })).body.key;
    expect((await post(server, "POST", "/v1/brain/entities", { entities: [] }, operator)).status).toBe(403);
    expect((await post(server, "DELETE", "/v1/brain/entities", { entities: [{ type: "customer", key: "C-1001" }] }, operator)).status).toBe(403);
    expect((await post(server, "POST", "/v1/brain/query", { query: "Acme" }, operator)).status).toBe(200);
    const deleted = await post(server, "DELETE", "/v1/brain/entities", { entities: [{ type: "customer", key: "C-1001" }] });
    expect(deleted.body).toEqual({ deleted: 1 });
  });
});
