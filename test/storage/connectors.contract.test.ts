/** The connector repository's contract: tenant scoping, unique names, pin state, removal, concurrent writes. */
import { afterEach, beforeEach, expect, it } from "bun:test";
import type { ConnectorRepository, StoredConnector, ToolDefinition } from "../../src/connectors/repository.ts";
import { describeStores, type StoreUnderTest } from "./contract.ts";

const connector = (tenantId: string, name: string, config = `{"type":"mcp_stdio","command":"${name}"}`): StoredConnector => ({ tenantId, name, config, origin: "api" });
const definition = (tool: string, hash = `h-${tool}`): ToolDefinition => ({ tool, definition: `{"name":"${tool}"}`, hash });

describeStores("connectors", (open) => {
  let store: StoreUnderTest;
  let repo: ConnectorRepository;
  let a: string;
  let b: string;

  beforeEach(async () => {
    store = open();
    repo = store.repositories.connectors;
    a = await store.addTenant("alpha");
    b = await store.addTenant("beta");
  });
  afterEach(() => store.close());

  it("keeps each tenant's connectors apart, one name each per tenant", async () => {
    expect(await repo.add(connector(a, "fs"), 1)).toBe(true);
    expect(await repo.add(connector(a, "fs", '{"other":true}'), 2)).toBe(false);
    expect(await repo.add(connector(b, "fs", '{"b":true}'), 3)).toBe(true);
    expect(await repo.list(a)).toEqual([connector(a, "fs")]);
    expect(await repo.get(b, "fs")).toEqual(connector(b, "fs", '{"b":true}'));
    expect(await repo.get(b, "nope")).toBeUndefined();
    expect((await repo.list()).map((row) => row.tenantId).sort()).toEqual([a, b].sort());
    expect(await repo.tenantName(b)).toBe("beta");
  });

  it("round-trips pins: enabled when first seen, quarantined, released, approved again", async () => {
    await repo.add(connector(a, "fs"), 1);
    await repo.enableFirstSeen(a, "fs", definition("read"), "config", 10);
    // First seen again: the pin stays as approved.
    await repo.enableFirstSeen(a, "fs", definition("read", "other"), "someone", 20);
    expect(await repo.pins(a, "fs")).toEqual([{ tool: "read", status: "enabled", hash: "h-read", pendingHash: null, approvedBy: "config", approvedAt: 10 }]);
    await repo.quarantine(a, "fs", definition("read", "h-new"));
    expect(await repo.pins(a, "fs")).toMatchObject([{ status: "quarantined", hash: "h-read", pendingHash: "h-new" }]);
    expect(await repo.quarantined(a)).toEqual([{ connector: "fs", tool: "read" }]);
    expect(await repo.quarantined(b)).toEqual([]);
    await repo.release(a, "fs", "read");
    expect(await repo.pins(a, "fs")).toMatchObject([{ status: "enabled", hash: "h-read", pendingHash: null }]);
    await repo.quarantine(a, "fs", definition("read", "h-new"));
    await repo.enable(a, "fs", [definition("read", "h-new"), definition("write")], "admin@example.com", 30);
    expect(await repo.pins(a, "fs")).toEqual([
      { tool: "read", status: "enabled", hash: "h-new", pendingHash: null, approvedBy: "admin@example.com", approvedAt: 30 },
      { tool: "write", status: "enabled", hash: "h-write", pendingHash: null, approvedBy: "admin@example.com", approvedAt: 30 },
    ]);
    expect(await repo.pins(b, "fs")).toEqual([]);
  });

  it("removes a connector with its pins, in its tenant only", async () => {
    for (const tenant of [a, b]) {
      await repo.add(connector(tenant, "fs"), 1);
      await repo.enable(tenant, "fs", [definition("read")], "admin", 1);
    }
    expect(await repo.remove(a, "fs")).toBe(true);
    expect(await repo.remove(a, "fs")).toBe(false);
    expect(await repo.list(a)).toEqual([]);
    expect(await repo.pins(a, "fs")).toEqual([]);
    expect(await repo.list(b)).toHaveLength(1);
    expect(await repo.pins(b, "fs")).toHaveLength(1);
  });

  it("applies the config file: its removed connectors go, others' stay, listed ones become its own", async () => {
    await repo.add({ ...connector(a, "old"), origin: "config" }, 1);
    await repo.add(connector(a, "mine"), 1);
    await repo.applyConfigFile({ removed: [{ tenantId: a, name: "old" }, { tenantId: a, name: "mine" }], stored: [{ tenantId: b, name: "cfg", config: "{}" }, { tenantId: a, name: "mine", config: "{}" }] }, 5);
    expect(await repo.get(a, "old")).toBeUndefined();
    expect(await repo.get(a, "mine")).toEqual({ tenantId: a, name: "mine", config: "{}", origin: "config" });
    expect(await repo.get(b, "cfg")).toEqual({ tenantId: b, name: "cfg", config: "{}", origin: "config" });
  });

  it("hands a connector to another origin only when it is stored with exactly that configuration", async () => {
    await repo.add(connector(a, "database", "{}"), 1);
    await repo.adopt(a, "database", '{"x":1}', "operator");
    expect((await repo.get(a, "database"))?.origin).toBe("api");
    await repo.adopt(a, "database", "{}", "operator");
    expect((await repo.get(a, "database"))?.origin).toBe("operator");
  });

  it("reseals every tenant's connectors at once, or none when one fails", async () => {
    await repo.add(connector(a, "x", "1"), 1);
    await repo.add(connector(b, "y", "2"), 1);
    expect(await repo.resealAll((row) => `${row.config}!`)).toBe(2);
    expect((await repo.list()).map((row) => row.config).sort()).toEqual(["1!", "2!"]);
    const failing = repo.resealAll((row) => {
      if (row.tenantId === b) throw new Error("unreadable");
      return "changed";
    });
    await expect(failing).rejects.toThrow("unreadable");
    expect((await repo.list()).map((row) => row.config).sort()).toEqual(["1!", "2!"]);
  });

  it("admits one of concurrent adds of a name, and keeps every concurrent pin", async () => {
    const adds = await Promise.all(Array.from({ length: 8 }, (_, index) => repo.add(connector(a, "race", `{"n":${index}}`), index)));
    expect(adds.filter(Boolean)).toHaveLength(1);
    await Promise.all(Array.from({ length: 8 }, (_, index) => repo.enable(a, "race", [definition(`tool${index}`)], "admin", index)));
    expect((await repo.pins(a, "race")).map((pin) => pin.tool).sort()).toEqual(Array.from({ length: 8 }, (_, index) => `tool${index}`));
  });
});
