/**
 * The directory's repository on SQLite: `tenants`, `users`, `api_keys`. Writes that check something
 * (a free email, the last admin) run in immediate transactions, so the server and the CLI cannot both
 * pass the check. Every write here tells this process's key caches (`credentialsVersion`); SQLite's
 * `data_version` tells them of other processes' commits.
 */
import { and, asc, count, eq, isNull, ne, or, sql, type SQL } from "drizzle-orm";
import type { DirectoryRepository, KeyHolder, LastAdmin, NewStoredKey, StoredKey, StoredUser } from "../../governance/repository.ts";
import type { Store } from "./db.ts";
import { apiKeys, tenants, users } from "./schema.ts";

/** The directory on `store`. */
export function sqliteDirectoryRepository(store: Store): DirectoryRepository {
  const { db } = store;
  /** This connection's own credential writes, which data_version does not count (one directory per connection: `index.ts`). */
  let localChanges = 0;
  const changed = () => localChanges++;
  /** Runs `work` in an immediate transaction and tells the key caches. */
  const write = <T>(work: () => T): T => {
    const result = store.sqlite.transaction(work).immediate();
    changed();
    return result;
  };
  const userWhere = (tenantId: string, ...conditions: (SQL | undefined)[]) => and(eq(users.tenantId, tenantId), ...conditions);
  const keyWhere = (tenantId: string, ...conditions: (SQL | undefined)[]) => and(eq(apiKeys.tenantId, tenantId), ...conditions);
  const keyColumns = {
    id: apiKeys.id,
    tenantId: apiKeys.tenantId,
    userId: apiKeys.userId,
    name: apiKeys.name,
    profile: apiKeys.profile,
    prefix: apiKeys.prefix,
    createdBy: apiKeys.createdBy,
    createdAt: apiKeys.createdAt,
    lastUsedAt: apiKeys.lastUsedAt,
    expiresAt: apiKeys.expiresAt,
    revokedAt: apiKeys.revokedAt,
    rotatedAt: apiKeys.rotatedAt,
  };
  const findUser = (tenantId: string, userId: string, includeRemoved = false): StoredUser | undefined =>
    db.select().from(users).where(userWhere(tenantId, eq(users.id, userId), includeRemoved ? undefined : isNull(users.removedAt))).get();
  const isActiveAdmin = (user: Pick<StoredUser, "role" | "disabledAt" | "removedAt">) => user.role === "admin" && user.disabledAt === null && user.removedAt === null;
  /** The last-admin rule: `user` (the row before) may become `after` unless it is the tenant's only enabled admin. */
  const takesLastAdmin = (user: StoredUser, after: Pick<StoredUser, "role" | "disabledAt" | "removedAt">): boolean => {
    if (!isActiveAdmin(user) || isActiveAdmin(after)) return false;
    const others = db
      .select({ n: count() })
      .from(users)
      .where(userWhere(user.tenantId, eq(users.role, "admin"), isNull(users.disabledAt), isNull(users.removedAt), ne(users.id, user.id)))
      .get();
    return (others?.n ?? 0) === 0;
  };
  const insertKey = (key: NewStoredKey) => db.insert(apiKeys).values(key).run();

  // Prepared once, at the first lookup (not at start-up): a request whose key is not cached asks this.
  const prepareHolderLookup = () =>
    db
      .select({
        tenantId: apiKeys.tenantId,
        tenantName: tenants.name,
        userId: apiKeys.userId,
        email: users.email,
        role: users.role,
        keyId: apiKeys.id,
        keyName: apiKeys.name,
        profile: apiKeys.profile,
        expiresAt: apiKeys.expiresAt,
        disabledAt: users.disabledAt,
        secretHash: apiKeys.secretHash,
        previousSecretExpiresAt: apiKeys.previousSecretExpiresAt,
      })
      .from(apiKeys)
      .innerJoin(users, and(eq(users.id, apiKeys.userId), eq(users.tenantId, apiKeys.tenantId), isNull(users.removedAt)))
      .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
      .where(and(or(eq(apiKeys.secretHash, sql.placeholder("hash")), eq(apiKeys.previousSecretHash, sql.placeholder("hash"))), isNull(apiKeys.revokedAt)))
      .prepare();
  let holderLookup: ReturnType<typeof prepareHolderLookup> | undefined;
  const prepareTouch = () =>
    db
      .update(apiKeys)
      .set({ lastUsedAt: sql`${sql.placeholder("at")}` })
      .where(eq(apiKeys.id, sql.placeholder("id")))
      .prepare();
  let touch: ReturnType<typeof prepareTouch> | undefined;
  // Another connection's commit changes it (about 1.5 µs to read); this connection's own writes do not, hence `localChanges`.
  const dataVersion = store.sqlite.prepare("PRAGMA data_version");
  let seenLocal = -1;
  let seenData = -1;
  let generation = 0;

  return {
    createTenant: async ({ tenant, admin, key }, options = {}) =>
      write(() => {
        if (options.onlyIfFirst && db.select({ n: count() }).from(tenants).get()!.n > 0) return "not_first";
        if (db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, tenant.name)).get()) return "exists";
        db.insert(tenants).values(tenant).run();
        db.insert(users).values({ ...admin, tenantId: tenant.id }).run();
        insertKey(key);
        return "created";
      }),
    listTenants: async () => db.select().from(tenants).orderBy(asc(tenants.createdAt), asc(tenants.name)).all(),
    findTenantByName: async (name) => db.select().from(tenants).where(eq(tenants.name, name)).get(),

    addUser: async (tenantId, user) =>
      write(() => {
        if (db.select({ id: users.id }).from(users).where(userWhere(tenantId, eq(users.email, user.email), isNull(users.removedAt))).get()) return false;
        db.insert(users).values({ ...user, tenantId }).run();
        return true;
      }),
    listUsers: async (tenantId) => db.select().from(users).where(userWhere(tenantId, isNull(users.removedAt))).orderBy(asc(users.createdAt), asc(users.id)).all(),
    findUser: async (tenantId, userId, options = {}) => findUser(tenantId, userId, options.includeRemoved),
    findUserByEmail: async (tenantId, email) => db.select().from(users).where(userWhere(tenantId, eq(users.email, email), isNull(users.removedAt))).get(),
    changeUser: async (tenantId, userId, change) =>
      write((): StoredUser | LastAdmin | undefined => {
        const user = findUser(tenantId, userId);
        if (user === undefined) return undefined;
        const after = { ...user, ...change };
        if (takesLastAdmin(user, after)) return "last_admin";
        db.update(users).set(change).where(eq(users.id, user.id)).run();
        return after;
      }),
    removeUser: async (tenantId, userId, at) =>
      write(() => {
        const user = findUser(tenantId, userId);
        if (user === undefined) return undefined;
        if (takesLastAdmin(user, { ...user, removedAt: at })) return "last_admin";
        db.update(users).set({ removedAt: at }).where(eq(users.id, user.id)).run();
        const revoked = db.update(apiKeys).set({ revokedAt: at }).where(keyWhere(tenantId, eq(apiKeys.userId, user.id), isNull(apiKeys.revokedAt))).returning({ id: apiKeys.id }).all();
        return { revokedKeys: revoked.length };
      }),

    addKey: async (key) => write(() => insertKey(key)),
    listKeys: async (tenantId, userId) =>
      db
        .select(keyColumns)
        .from(apiKeys)
        .where(keyWhere(tenantId, userId === undefined ? undefined : eq(apiKeys.userId, userId)))
        .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))
        .all(),
    findKey: async (tenantId, keyId): Promise<StoredKey | undefined> => db.select(keyColumns).from(apiKeys).where(keyWhere(tenantId, eq(apiKeys.id, keyId))).get(),
    revokeKey: async (tenantId, keyId, at) => write(() => db.update(apiKeys).set({ revokedAt: at }).where(keyWhere(tenantId, eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt))).run()),
    rotateKey: async (tenantId, keyId, secret) =>
      write(() =>
        db
          .update(apiKeys)
          .set({
            secretHash: secret.secretHash,
            prefix: secret.prefix,
            previousSecretHash: secret.previousValidUntil === null ? null : sql`${apiKeys.secretHash}`,
            previousSecretExpiresAt: secret.previousValidUntil,
            rotatedAt: secret.rotatedAt,
          })
          .where(keyWhere(tenantId, eq(apiKeys.id, keyId)))
          .run(),
      ),

    findKeyHolder: async (hash) => {
      const row = (holderLookup ??= prepareHolderLookup()).get({ hash });
      if (row === undefined) return undefined;
      const { secretHash, previousSecretExpiresAt, ...holder } = row;
      return { ...holder, graceEndsAt: secretHash === hash ? null : (previousSecretExpiresAt ?? 0) } satisfies KeyHolder;
    },
    credentialsVersion: () => {
      const local = localChanges;
      const data = (dataVersion.get() as { data_version: number }).data_version;
      if (local !== seenLocal || data !== seenData) {
        seenLocal = local;
        seenData = data;
        generation++;
      }
      return generation;
    },
    noteKeyUse: async (keyId, at) => {
      (touch ??= prepareTouch()).run({ id: keyId, at });
    },
  };
}
