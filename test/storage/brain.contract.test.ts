/**
 * The brain room's store contract: what every BrainRepository must do, through the interface only —
 * tenant scoping, all-or-nothing batches, upsert counts, full-text ranking with the query language the
 * product documents (words ANDed, "phrases", prefix*), hostile input, stable pages, joins, deletion.
 */
import { afterEach, beforeEach, expect, it } from "bun:test";
import type { BrainRepository, BrainSearch } from "../../src/brain/repository.ts";
import { describeStores, type StoreUnderTest } from "./contract.ts";

const AT = Date.UTC(2026, 0, 1);

describeStores("brain", (open) => {
  let store: StoreUnderTest;
  let brain: BrainRepository;
  let a: string;
  let b: string;
  beforeEach(async () => {
    store = open();
    brain = store.repositories.brain;
    a = await store.addTenant("a");
    b = await store.addTenant("b");
  });
  afterEach(() => store.close());

  const search = async (tenantId: string, text: string, options: Partial<BrainSearch> = {}) => (await brain.search(tenantId, { text, offset: 0, limit: 100, ...options })).hits;
  const keys = async (tenantId: string, text: string, options: Partial<BrainSearch> = {}) => (await search(tenantId, text, options)).map((hit) => hit.key);

  it("keeps each tenant's entities, relations and deletions to that tenant", async () => {
    await brain.write(a, { entities: [{ type: "customer", key: "C1", name: "Acme Corporation" }], relations: [] }, AT);
    await brain.write(b, { entities: [{ type: "customer", key: "C1", name: "Acme Rival" }, { type: "invoice", key: "I1", name: "Invoice one" }], relations: [] }, AT);
    expect((await search(a, "acme")).map((hit) => hit.name)).toEqual(["Acme Corporation"]);
    expect((await search(b, "acme")).map((hit) => hit.name)).toEqual(["Acme Rival"]);
    // A relation can only name the tenant's own entities.
    await expect(brain.write(a, { entities: [], relations: [{ from: { type: "customer", key: "C1" }, relation: "billed_by", to: { type: "invoice", key: "I1" } }] }, AT)).rejects.toThrow("no invoice with key I1");
    expect(await brain.deleteEntities(b, [{ type: "customer", key: "C1" }])).toBe(1);
    expect(await keys(a, "acme")).toEqual(["C1"]);
    expect(await brain.deleteEntities(b, [{ type: "customer", key: "C1" }])).toBe(0);
  });

  it("finds a tenant's matches behind many better-ranked matches of another tenant, page after page", async () => {
    const crowd = Array.from({ length: 200 }, (_, i) => ({ type: "customer", key: `Z${i}`, name: `Zephyr Zephyr Zephyr ${i}` }));
    await brain.write(b, { entities: crowd, relations: [] }, AT);
    await brain.write(a, { entities: [{ type: "customer", key: "A1", name: "Alpha", attributes: { note: "zephyr account" } }, { type: "customer", key: "A2", name: "Beta", attributes: { note: "zephyr prospect" } }], relations: [] }, AT);
    const first = await brain.search(a, { text: "zephyr", offset: 0, limit: 1 });
    const second = await brain.search(a, { text: "zephyr", offset: 1, limit: 1 });
    expect(first.more).toBe(true);
    expect(second.more).toBe(false);
    expect([...first.hits, ...second.hits].map((hit) => hit.key).sort()).toEqual(["A1", "A2"]);
  });

  it("writes a batch all or nothing: a relation to a missing entity leaves no entity, update or relation of it", async () => {
    await brain.write(a, { entities: [{ type: "customer", key: "C1", name: "Acme Corporation" }, { type: "invoice", key: "I1", name: "Invoice one" }], relations: [] }, AT);
    const failed = brain.write(
      a,
      {
        entities: [{ type: "customer", key: "C2", name: "Globex" }, { type: "customer", key: "C1", name: "Acme Renamed" }],
        relations: [
          { from: { type: "customer", key: "C2" }, relation: "billed_by", to: { type: "invoice", key: "I1" } },
          { from: { type: "customer", key: "C2" }, relation: "billed_by", to: { type: "invoice", key: "NOPE" } },
        ],
      },
      AT + 1,
    );
    await expect(failed).rejects.toThrow("no invoice with key NOPE");
    expect(await keys(a, "globex")).toEqual([]);
    expect((await search(a, "acme")).map((hit) => hit.name)).toEqual(["Acme Corporation"]);
    expect(await search(a, "renamed")).toEqual([]);
    expect((await search(a, "invoice", { join: { entityType: "customer", limit: 10 } }))[0]!.related).toEqual([]);
  });

  it("counts inserted, updated and unchanged entities; the last of duplicates in a batch wins", async () => {
    const first = await brain.write(a, { entities: [{ type: "customer", key: "C1", name: "Draft" }, { type: "customer", key: "C1", name: "Final" }, { type: "customer", key: "C2", name: "Other" }], relations: [] }, AT);
    expect(first.entities).toEqual({ inserted: 2, updated: 0, unchanged: 0 });
    expect(await keys(a, "draft")).toEqual([]);
    const again = await brain.write(a, { entities: [{ type: "customer", key: "C1", name: "Final" }, { type: "customer", key: "C2", name: "Changed", source: "crm" }], relations: [] }, AT + 1);
    expect(again.entities).toEqual({ inserted: 0, updated: 1, unchanged: 1 });
    const [hit] = await search(a, "changed");
    expect(hit).toMatchObject({ type: "customer", key: "C2", name: "Changed", source: "crm", attributes: {}, updated_at: new Date(AT + 1).toISOString() });
    expect(await keys(a, "other")).toEqual([]);
  });

  it("ranks a name match above an attribute match, best first with higher scores", async () => {
    await brain.write(
      a,
      {
        entities: [
          { type: "customer", key: "ATTR", name: "Globex", attributes: { note: "formerly known as kestrel" } },
          { type: "customer", key: "NAME", name: "Kestrel Holdings" },
          // Documents without the word give it weight (BM25's inverse document frequency).
          ...Array.from({ length: 10 }, (_, i) => ({ type: "customer", key: `F${i}`, name: `Filler ${i}` })),
        ],
        relations: [],
      },
      AT,
    );
    const hits = await search(a, "kestrel");
    expect(hits.map((hit) => hit.key)).toEqual(["NAME", "ATTR"]);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
  });

  it("ANDs words, matches quoted words as a phrase and a trailing * as a prefix, in names and attribute values", async () => {
    await brain.write(
      a,
      {
        entities: [
          { type: "customer", key: "P", name: "Acme Corporation" },
          { type: "customer", key: "R", name: "Corporation of Acme" },
          { type: "customer", key: "W", name: "Acme Widgets", attributes: { city: "Leeds", nested: { tier: "gold" } } },
        ],
        relations: [],
      },
      AT,
    );
    expect((await keys(a, "acme corporation")).sort()).toEqual(["P", "R"]);
    expect(await keys(a, '"acme corporation"')).toEqual(["P"]);
    expect(await keys(a, "acme leeds")).toEqual(["W"]);
    expect(await keys(a, "gold")).toEqual(["W"]);
    expect((await keys(a, "corp*")).sort()).toEqual(["P", "R"]);
    expect(await keys(a, "corp")).toEqual([]);
    expect(await keys(a, "ACME WIDGETS")).toEqual(["W"]);
  });

  it("never fails on hostile query syntax, and finds nothing in input without words", async () => {
    await brain.write(a, { entities: [{ type: "customer", key: "C1", name: "Acme or Globex, near the name" }], relations: [] }, AT);
    const hostile = ['"', '"unbalanced', "NEAR(acme globex)", "acme OR", "NOT acme", "acme AND", "(", ")", "name:acme", "{name}: acme", "^acme", "*", "acme**", "-acme", "+", "'; DROP TABLE x; --", "\u0000", "a".repeat(20_000), Array.from({ length: 500 }, (_, i) => `w${i}`).join(" "), "ñandú 日本語 🙂", ""];
    for (const text of hostile) expect(Array.isArray(await search(a, text))).toBe(true);
    expect(await keys(a, "NEAR(acme globex)")).toEqual(["C1"]);
    expect(await keys(a, "name:acme")).toEqual(["C1"]);
    expect(await search(a, '"" * ()')).toEqual([]);
  });

  it("pages in a stable order with neither gaps nor duplicates, equal scores included", async () => {
    const entities = Array.from({ length: 23 }, (_, i) => ({ type: "customer", key: `K${String(i).padStart(2, "0")}`, name: `Kestrel ${i % 3 === 0 ? "kestrel " : ""}branch` }));
    await brain.write(a, { entities, relations: [] }, AT);
    const whole = await keys(a, "kestrel");
    expect(whole).toHaveLength(23);
    const paged: string[] = [];
    for (let offset = 0; ; offset += 5) {
      const page = await brain.search(a, { text: "kestrel", offset, limit: 5 });
      paged.push(...page.hits.map((hit) => hit.key));
      if (!page.more) break;
    }
    expect(paged).toEqual(whole);
    expect(await keys(a, "kestrel")).toEqual(whole);
  });

  it("filters by entity type and joins related entities in both directions, by relation, up to the limit", async () => {
    await brain.write(
      a,
      {
        entities: [
          { type: "customer", key: "C1", name: "Acme" },
          { type: "invoice", key: "I1", name: "Invoice acme one" },
          { type: "invoice", key: "I2", name: "Invoice acme two" },
          { type: "contact", key: "P1", name: "Pat" },
        ],
        relations: [
          { from: { type: "customer", key: "C1" }, relation: "billed_by", to: { type: "invoice", key: "I1" } },
          { from: { type: "customer", key: "C1" }, relation: "billed_by", to: { type: "invoice", key: "I2" } },
          { from: { type: "contact", key: "P1" }, relation: "works_at", to: { type: "customer", key: "C1" } },
        ],
      },
      AT,
    );
    expect(await keys(a, "acme", { entityType: "invoice" })).toHaveLength(2);
    const [customer] = await search(a, "acme", { entityType: "customer", join: { entityType: "invoice", limit: 10 } });
    expect(customer!.related!.map((entity) => [entity.key, entity.relation, entity.direction])).toEqual([
      ["I1", "billed_by", "outgoing"],
      ["I2", "billed_by", "outgoing"],
    ]);
    const [withContact] = await search(a, "acme", { entityType: "customer", join: { entityType: "contact", relation: "works_at", limit: 10 } });
    expect(withContact!.related).toEqual([{ type: "contact", key: "P1", name: "Pat", attributes: {}, relation: "works_at", direction: "incoming" }]);
    expect((await search(a, "acme", { entityType: "customer", join: { entityType: "invoice", limit: 1 } }))[0]!.related).toHaveLength(1);
    expect((await search(a, "acme", { entityType: "customer", join: { entityType: "invoice", relation: "other", limit: 10 } }))[0]!.related).toEqual([]);
  });

  it("deletes entities with their relations and takes them out of the index", async () => {
    await brain.write(
      a,
      {
        entities: [{ type: "customer", key: "C1", name: "Acme" }, { type: "invoice", key: "I1", name: "Invoice one" }],
        relations: [{ from: { type: "customer", key: "C1" }, relation: "billed_by", to: { type: "invoice", key: "I1" } }],
      },
      AT,
    );
    expect(await brain.deleteEntities(a, [{ type: "invoice", key: "I1" }, { type: "invoice", key: "NOPE" }])).toBe(1);
    expect(await search(a, "invoice")).toEqual([]);
    expect((await search(a, "acme", { join: { entityType: "invoice", limit: 10 } }))[0]!.related).toEqual([]);
    // Written again, it is new, and the old relation did not survive.
    expect((await brain.write(a, { entities: [{ type: "invoice", key: "I1", name: "Invoice one" }], relations: [] }, AT)).entities.inserted).toBe(1);
    expect((await search(a, "acme", { join: { entityType: "invoice", limit: 10 } }))[0]!.related).toEqual([]);
  });

  it("adds a relation once however often it is written", async () => {
    const batch = {
      entities: [{ type: "customer", key: "C1", name: "Acme" }, { type: "invoice", key: "I1", name: "Invoice one" }],
      relations: [{ from: { type: "customer", key: "C1" }, relation: "billed_by", to: { type: "invoice", key: "I1" } }],
    };
    expect((await brain.write(a, batch, AT)).relations.added).toBe(1);
    expect((await brain.write(a, batch, AT)).relations.added).toBe(0);
    expect((await search(a, "acme", { join: { entityType: "invoice", limit: 10 } }))[0]!.related).toHaveLength(1);
  });
});
