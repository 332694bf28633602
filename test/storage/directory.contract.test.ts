/**
 * The governance room's store contract: tenants, users, keys and approver groups. Tenants never see or
 * change each other's rows; emails are unique per tenant among users not removed; keys are found by
 * the digest of their current or (in its grace) replaced secret; checked writes are all or nothing.
 */
import { afterEach, expect, it } from "bun:test";
import type { NewStoredKey, NewStoredUser } from "../../src/governance/repository.ts";
import { newTenant } from "../../src/governance/bootstrap.ts";
import { describeStores, type StoreUnderTest } from "./contract.ts";

let counter = 0;
const user = (email: string, role: NewStoredUser["role"] = "editor"): NewStoredUser => ({ id: `usr_${++counter}`, email, role, createdAt: 1_000 + counter });
const key = (tenantId: string, userId: string, secretHash = `hash_${++counter}`): NewStoredKey => ({
  id: `key_${++counter}`,
  tenantId,
  userId,
  name: "a key",
  profile: "operator",
  secretHash,
  prefix: "inv_live_abcd",
  createdBy: null,
  createdAt: 1_000 + counter,
  expiresAt: null,
});

describeStores("directory", (open) => {
  let store: StoreUnderTest;
  afterEach(() => store.close());
  const setUp = async () => {
    store = open();
    return { directory: store.repositories.directory, a: await store.addTenant("a"), b: await store.addTenant("b") };
  };

  it("stores a tenant with its admin and key together, and refuses a taken name storing nothing", async () => {
    store = open();
    const { directory } = store.repositories;
    const first = newTenant("acme", "admin@acme.example");
    expect(await directory.createTenant(first.stored)).toBe("created");
    expect(await directory.findTenantByName("acme")).toMatchObject({ id: first.result.tenant_id, name: "acme" });
    expect(await directory.findKeyHolder(first.stored.key.secretHash)).toMatchObject({ tenantName: "acme", userId: first.result.user_id, role: "admin", graceEndsAt: null });

    const again = newTenant("acme", "other@acme.example");
    expect(await directory.createTenant(again.stored)).toBe("exists");
    expect(await directory.findKeyHolder(again.stored.key.secretHash)).toBeUndefined();
    expect(await directory.findUser(again.result.tenant_id, again.result.user_id, { includeRemoved: true })).toBeUndefined();
    expect((await directory.listTenants()).map((tenant) => tenant.name)).toEqual(["acme"]);
  });

  it("creates a first tenant only while the store has none", async () => {
    store = open();
    const { directory } = store.repositories;
    expect(await directory.createTenant(newTenant("default", "admin@localhost").stored, { onlyIfFirst: true })).toBe("created");
    expect(await directory.createTenant(newTenant("second", "admin@localhost").stored, { onlyIfFirst: true })).toBe("not_first");
    expect((await directory.listTenants()).map((tenant) => tenant.name)).toEqual(["default"]);
  });

  it("keeps emails unique per tenant among users not removed", async () => {
    const { directory, a, b } = await setUp();
    const alice = user("alice@example.com");
    expect(await directory.addUser(a, alice)).toBe(true);
    expect(await directory.addUser(a, user("alice@example.com"))).toBe(false);
    // Another tenant may have the same email.
    expect(await directory.addUser(b, user("alice@example.com"))).toBe(true);
    // A removed user frees its email, and stays findable by id only when asked.
    expect(await directory.removeUser(a, alice.id, 5_000)).toEqual({ revokedKeys: 0 });
    expect(await directory.addUser(a, user("alice@example.com"))).toBe(true);
    expect((await directory.listUsers(a)).filter((listed) => listed.email === "alice@example.com")).toHaveLength(1);
    expect(await directory.findUser(a, alice.id)).toBeUndefined();
    expect(await directory.findUser(a, alice.id, { includeRemoved: true })).toMatchObject({ removedAt: 5_000 });
  });

  it("never shows or changes another tenant's users and keys", async () => {
    const { directory, a, b } = await setUp();
    const alice = user("alice@example.com", "admin");
    const bob = user("bob@example.com", "admin");
    await directory.addUser(a, alice);
    await directory.addUser(a, bob);
    const aliceKey = key(a, alice.id);
    await directory.addKey(aliceKey);

    const usersOfB = await directory.listUsers(b);
    expect(usersOfB.map((listed) => listed.email)).toEqual(["admin@b.example"]);
    expect(await directory.findUser(b, alice.id)).toBeUndefined();
    expect(await directory.findUserByEmail(b, alice.email)).toBeUndefined();
    expect((await directory.listKeys(b)).map((listed) => listed.userId)).toEqual([usersOfB[0]!.id]);
    expect(await directory.findKey(b, aliceKey.id)).toBeUndefined();
    expect(await directory.changeUser(b, alice.id, { role: "viewer" })).toBeUndefined();
    expect(await directory.removeUser(b, alice.id, 9_000)).toBeUndefined();
    await directory.revokeKey(b, aliceKey.id, 9_000);
    await directory.rotateKey(b, aliceKey.id, { secretHash: "stolen", prefix: "inv_live_xxxx", previousValidUntil: null, rotatedAt: 9_000 });

    expect(await directory.findUser(a, alice.id)).toMatchObject({ role: "admin", removedAt: null });
    expect(await directory.findKey(a, aliceKey.id)).toMatchObject({ revokedAt: null, rotatedAt: null });
    expect(await directory.findKeyHolder(aliceKey.secretHash)).toMatchObject({ keyId: aliceKey.id });
    expect(await directory.findKeyHolder("stolen")).toBeUndefined();
  });

  it("finds a live key by its digest with its user's current role, and never a revoked one or a removed user's", async () => {
    const { directory, a } = await setUp();
    const carol = user("carol@example.com");
    await directory.addUser(a, carol);
    const carolKey = key(a, carol.id);
    await directory.addKey(carolKey);
    expect(await directory.findKeyHolder(carolKey.secretHash)).toEqual({
      tenantId: a,
      tenantName: "a",
      userId: carol.id,
      email: carol.email,
      role: "editor",
      keyId: carolKey.id,
      keyName: "a key",
      profile: "operator",
      expiresAt: null,
      disabledAt: null,
      graceEndsAt: null,
    });
    expect(await directory.changeUser(a, carol.id, { role: "viewer", disabledAt: 2_000 })).toMatchObject({ role: "viewer", disabledAt: 2_000 });
    expect(await directory.findKeyHolder(carolKey.secretHash)).toMatchObject({ role: "viewer", disabledAt: 2_000 });

    await directory.revokeKey(a, carolKey.id, 3_000);
    await directory.revokeKey(a, carolKey.id, 4_000);
    expect((await directory.findKey(a, carolKey.id))?.revokedAt).toBe(3_000);
    expect(await directory.findKeyHolder(carolKey.secretHash)).toBeUndefined();

    const other = key(a, carol.id);
    await directory.addKey(other);
    expect(await directory.removeUser(a, carol.id, 5_000)).toEqual({ revokedKeys: 1 });
    expect(await directory.findKeyHolder(other.secretHash)).toBeUndefined();
    expect((await directory.listKeys(a, carol.id)).map((listed) => listed.revokedAt)).toEqual([3_000, 5_000]);
  });

  it("admits a rotated key's replaced secret until its grace ends, and only the latest replaced one", async () => {
    const { directory, a } = await setUp();
    const dave = user("dave@example.com");
    await directory.addUser(a, dave);
    const daveKey = key(a, dave.id, "first");
    await directory.addKey(daveKey);

    await directory.rotateKey(a, daveKey.id, { secretHash: "second", prefix: "inv_live_2222", previousValidUntil: 10_000, rotatedAt: 2_000 });
    expect(await directory.findKeyHolder("second")).toMatchObject({ keyId: daveKey.id, graceEndsAt: null });
    expect(await directory.findKeyHolder("first")).toMatchObject({ keyId: daveKey.id, graceEndsAt: 10_000 });
    expect(await directory.findKey(a, daveKey.id)).toMatchObject({ prefix: "inv_live_2222", rotatedAt: 2_000 });

    await directory.rotateKey(a, daveKey.id, { secretHash: "third", prefix: "inv_live_3333", previousValidUntil: 20_000, rotatedAt: 3_000 });
    expect(await directory.findKeyHolder("first")).toBeUndefined();
    expect(await directory.findKeyHolder("second")).toMatchObject({ graceEndsAt: 20_000 });

    // No grace: the replaced secret is refused at once.
    await directory.rotateKey(a, daveKey.id, { secretHash: "fourth", prefix: "inv_live_4444", previousValidUntil: null, rotatedAt: 4_000 });
    expect(await directory.findKeyHolder("third")).toBeUndefined();
    expect(await directory.findKeyHolder("fourth")).toMatchObject({ graceEndsAt: null });
  });

  it("refuses to take a tenant's last enabled admin, changing nothing", async () => {
    const { directory, a } = await setUp();
    // The admin the tenant was created with, and its key.
    const [admin] = await directory.listUsers(a);
    const [adminKey] = await directory.listKeys(a, admin!.id);

    expect(await directory.changeUser(a, admin!.id, { role: "editor" })).toBe("last_admin");
    expect(await directory.changeUser(a, admin!.id, { disabledAt: 2_000 })).toBe("last_admin");
    expect(await directory.removeUser(a, admin!.id, 2_000)).toBe("last_admin");
    expect(await directory.findUser(a, admin!.id)).toMatchObject({ role: "admin", disabledAt: null, removedAt: null });
    expect((await directory.findKey(a, adminKey!.id))?.revokedAt).toBeNull();

    // With a second enabled admin, the first may go.
    const second = user("second@example.com", "admin");
    await directory.addUser(a, second);
    expect(await directory.changeUser(a, admin!.id, { role: "editor" })).toMatchObject({ role: "editor" });
    expect(await directory.removeUser(a, second.id, 3_000)).toBe("last_admin");
    // Other users' changes are not held up by the rule.
    expect(await directory.changeUser(a, admin!.id, { disabledAt: 4_000 })).toMatchObject({ disabledAt: 4_000 });
  });

  it("moves credentialsVersion when users or keys change", async () => {
    const { directory, a } = await setUp();
    const erin = user("erin@example.com");
    const before = directory.credentialsVersion();
    expect(directory.credentialsVersion()).toBe(before);
    await directory.addUser(a, erin);
    const erinKey = key(a, erin.id);
    await directory.addKey(erinKey);
    const afterAdding = directory.credentialsVersion();
    await directory.revokeKey(a, erinKey.id, 2_000);
    expect(directory.credentialsVersion()).not.toBe(afterAdding);
    const afterRevoking = directory.credentialsVersion();
    await directory.changeUser(a, erin.id, { role: "viewer" });
    expect(directory.credentialsVersion()).not.toBe(afterRevoking);
  });

  it("notes when a key was last used", async () => {
    const { directory, a } = await setUp();
    const frank = user("frank@example.com");
    await directory.addUser(a, frank);
    const frankKey = key(a, frank.id);
    await directory.addKey(frankKey);
    await directory.noteKeyUse(frankKey.id, 7_000);
    expect((await directory.findKey(a, frankKey.id))?.lastUsedAt).toBe(7_000);
  });
});

describeStores("approver groups", (open) => {
  let store: StoreUnderTest;
  afterEach(() => store.close());
  const setUp = async () => {
    store = open();
    const { directory, groups } = store.repositories;
    const a = await store.addTenant("a");
    const b = await store.addTenant("b");
    const zoe = user("zoe@example.com");
    const amy = user("amy@example.com");
    await directory.addUser(a, zoe);
    await directory.addUser(a, amy);
    return { directory, groups, a, b, zoe, amy };
  };

  it("lists groups by name with their members by email, each added once", async () => {
    const { groups, a, zoe, amy } = await setUp();
    expect(await groups.addGroup(a, { name: "finance-leads", createdBy: null, createdAt: 1_000 })).toBe(true);
    expect(await groups.addGroup(a, { name: "finance-leads", createdBy: null, createdAt: 2_000 })).toBe(false);
    await groups.addGroup(a, { name: "auditors", createdBy: "usr_x", createdAt: 3_000 });
    await groups.addMember(a, "finance-leads", { userId: zoe.id, addedBy: null, addedAt: 4_000 });
    await groups.addMember(a, "finance-leads", { userId: amy.id, addedBy: null, addedAt: 5_000 });
    // Adding again keeps the first time: a member counts for requests made after they were added.
    await groups.addMember(a, "finance-leads", { userId: zoe.id, addedBy: null, addedAt: 6_000 });
    expect(await groups.listGroups(a)).toEqual([
      { name: "auditors", createdAt: 3_000, members: [] },
      {
        name: "finance-leads",
        createdAt: 1_000,
        members: [
          { userId: amy.id, email: amy.email, addedAt: 5_000 },
          { userId: zoe.id, email: zoe.email, addedAt: 4_000 },
        ],
      },
    ]);
    await groups.removeMember(a, "finance-leads", amy.id);
    expect((await groups.findGroup(a, "finance-leads"))?.members.map((member) => member.userId)).toEqual([zoe.id]);
  });

  it("deletes a group with its memberships: a group made again under the name starts empty", async () => {
    const { groups, a, zoe } = await setUp();
    await groups.addGroup(a, { name: "leads", createdBy: null, createdAt: 1_000 });
    await groups.addMember(a, "leads", { userId: zoe.id, addedBy: null, addedAt: 2_000 });
    await groups.deleteGroup(a, "leads");
    expect(await groups.findGroup(a, "leads")).toBeUndefined();
    await groups.addGroup(a, { name: "leads", createdBy: null, createdAt: 3_000 });
    expect((await groups.findGroup(a, "leads"))?.members).toEqual([]);
  });

  it("adds a member only while the group and the user both exist, so a group made again never inherits one", async () => {
    const { directory, groups, a, b, zoe } = await setUp();
    expect(await groups.addMember(a, "leads", { userId: zoe.id, addedBy: null, addedAt: 1_000 })).toBe(false);
    await groups.addGroup(a, { name: "leads", createdBy: null, createdAt: 2_000 });
    expect((await groups.findGroup(a, "leads"))?.members).toEqual([]);
    // Another tenant's group of that name, and a user removed, are not there either.
    expect(await groups.addMember(b, "leads", { userId: zoe.id, addedBy: null, addedAt: 3_000 })).toBe(false);
    await directory.removeUser(a, zoe.id, 4_000);
    expect(await groups.addMember(a, "leads", { userId: zoe.id, addedBy: null, addedAt: 5_000 })).toBe(false);
    expect((await groups.findGroup(a, "leads"))?.members).toEqual([]);
  });

  it("never shows or changes another tenant's groups", async () => {
    const { groups, a, b, zoe } = await setUp();
    await groups.addGroup(a, { name: "leads", createdBy: null, createdAt: 1_000 });
    await groups.addMember(a, "leads", { userId: zoe.id, addedBy: null, addedAt: 2_000 });
    expect(await groups.listGroups(b)).toEqual([]);
    expect(await groups.findGroup(b, "leads")).toBeUndefined();
    // B may have its own group of that name.
    expect(await groups.addGroup(b, { name: "leads", createdBy: null, createdAt: 3_000 })).toBe(true);
    await groups.removeMember(b, "leads", zoe.id);
    await groups.deleteGroup(b, "leads");
    expect((await groups.findGroup(a, "leads"))?.members.map((member) => member.userId)).toEqual([zoe.id]);
  });
});
