/** The policy room's store contract: versions numbered per tenant, one active version, tenants apart. */
import { afterEach, expect, it } from "bun:test";
import type { NewPolicyVersion } from "../../src/policy/repository.ts";
import { describeStores, type StoreUnderTest } from "./contract.ts";

const draft = (source: string, createdAt = 1_000): NewPolicyVersion => ({ source, comment: null, createdBy: "usr_1", createdAt });

describeStores("policy versions", (open) => {
  let store: StoreUnderTest;
  afterEach(() => store.close());
  const setUp = async () => {
    store = open();
    return { policy: store.repositories.policy, a: await store.addTenant("a"), b: await store.addTenant("b") };
  };

  it("numbers each tenant's versions 1, 2, 3… on its own and lists them newest first", async () => {
    const { policy, a, b } = await setUp();
    expect((await policy.add(a, draft("a1"))).version).toBe(1);
    expect((await policy.add(a, draft("a2"))).version).toBe(2);
    expect(await policy.add(b, draft("b1"))).toMatchObject({ version: 1, status: "draft", source: "b1", createdBy: "usr_1", publishedAt: null });
    expect((await policy.list(a)).map((row) => [row.version, row.source])).toEqual([
      [2, "a2"],
      [1, "a1"],
    ]);
    expect((await policy.list(b)).map((row) => row.source)).toEqual(["b1"]);
  });

  it("gives concurrent drafts distinct numbers", async () => {
    const { policy, a } = await setUp();
    const added = await Promise.all(Array.from({ length: 8 }, (_, i) => policy.add(a, draft(`v${i}`))));
    expect(added.map((row) => row.version).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(new Set(added.map((row) => row.id)).size).toBe(8);
  });

  it("has no active version until one is published, then exactly one", async () => {
    const { policy, a } = await setUp();
    expect(await policy.active(a)).toBeUndefined();
    await policy.add(a, draft("one"));
    expect(await policy.active(a)).toBeUndefined();
    const two = await policy.add(a, draft("two"), { by: "usr_2", at: 2_000 });
    expect(two).toMatchObject({ version: 2, status: "active", publishedBy: "usr_2", publishedAt: 2_000 });
    expect(await policy.active(a)).toEqual({ id: two.id, version: 2, source: "two" });
    expect(await policy.publish(a, 1, "usr_3", 3_000)).toMatchObject({ version: 1, status: "active", publishedAt: 3_000 });
    expect((await policy.active(a))?.version).toBe(1);
    expect((await policy.list(a)).map((row) => row.status)).toEqual(["superseded", "active"]);
  });

  it("replaces the active version only while it is still the one named, storing nothing otherwise", async () => {
    const { policy, a, b } = await setUp();
    // 0 names the default pack: nothing active yet.
    expect(await policy.replaceActive(a, draft("one"), { by: "usr_1", at: 2_000 }, 0)).toMatchObject({ version: 1, status: "active", publishedAt: 2_000 });
    expect(await policy.replaceActive(a, draft("stale"), { by: "usr_2", at: 3_000 }, 0)).toBeUndefined();
    await policy.add(a, draft("two"), { by: "usr_3", at: 4_000 });
    expect(await policy.replaceActive(a, draft("stale"), { by: "usr_2", at: 5_000 }, 1)).toBeUndefined();
    expect((await policy.list(a)).map((row) => `${row.version}:${row.source}:${row.status}`)).toEqual(["2:two:active", "1:one:superseded"]);
    expect(await policy.replaceActive(a, draft("three"), { by: "usr_4", at: 6_000 }, 2)).toMatchObject({ version: 3, status: "active" });
    // Another tenant's active version is not this tenant's.
    expect(await policy.replaceActive(b, draft("b1"), { by: null, at: 7_000 }, 3)).toBeUndefined();
    expect(await policy.replaceActive(b, draft("b1"), { by: null, at: 7_000 }, 0)).toMatchObject({ version: 1, status: "active" });
    expect((await policy.active(a))?.source).toBe("three");
  });

  it("leaves an already active version as it was published", async () => {
    const { policy, a } = await setUp();
    await policy.add(a, draft("one"), { by: "usr_1", at: 2_000 });
    expect(await policy.publish(a, 1, "usr_9", 9_000)).toMatchObject({ status: "active", publishedBy: "usr_1", publishedAt: 2_000 });
  });

  it("refuses to publish a version the tenant does not have, changing nothing", async () => {
    const { policy, a } = await setUp();
    await policy.add(a, draft("one"), { by: null, at: 2_000 });
    expect(await policy.publish(a, 7, null, 3_000)).toBeUndefined();
    expect((await policy.active(a))?.version).toBe(1);
    expect((await policy.find(a, 1))?.status).toBe("active");
  });

  it("never shows or changes another tenant's versions", async () => {
    const { policy, a, b } = await setUp();
    await policy.add(a, draft("a1"), { by: null, at: 2_000 });
    await policy.add(a, draft("a2"));
    expect(await policy.find(b, 1)).toBeUndefined();
    expect(await policy.list(b)).toEqual([]);
    expect(await policy.active(b)).toBeUndefined();
    expect(await policy.publish(b, 2, null, 3_000)).toBeUndefined();
    expect((await policy.active(a))?.source).toBe("a1");
    // Publishing in B supersedes nothing of A's.
    await policy.add(b, draft("b1"), { by: null, at: 4_000 });
    expect((await policy.active(a))?.source).toBe("a1");
    expect((await policy.active(b))?.source).toBe("b1");
  });

  it("names the most recently published superseded version other than the one given", async () => {
    const { policy, a, b } = await setUp();
    expect(await policy.previousPublished(a, 0)).toBeUndefined();
    await policy.add(a, draft("one"), { by: null, at: 2_000 });
    await policy.add(a, draft("two"), { by: null, at: 3_000 });
    await policy.add(a, draft("three"), { by: null, at: 4_000 });
    expect(await policy.previousPublished(a, 3)).toBe(2);
    // Version 1 published again later: it is now the latest superseded once 3 is back.
    await policy.publish(a, 1, null, 5_000);
    await policy.publish(a, 3, null, 6_000);
    expect(await policy.previousPublished(a, 3)).toBe(1);
    expect(await policy.previousPublished(a, 1)).toBe(2);
    expect(await policy.previousPublished(b, 0)).toBeUndefined();
  });
});
