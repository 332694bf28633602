/** Approver groups on SQLite: `groups` and `group_members`, every query bound to one tenant. */
import { and, asc, eq, isNull } from "drizzle-orm";
import type { GroupRepository, StoredGroup } from "../../governance/repository.ts";
import type { Store } from "./db.ts";
import { groupMembers, groups, users } from "./schema.ts";

/** Approver groups on `store`. */
export function sqliteGroupRepository(store: Store): GroupRepository {
  const { db } = store;
  const ofGroup = (tenantId: string, name: string) => and(eq(groupMembers.tenantId, tenantId), eq(groupMembers.groupName, name));
  const withMembers = (tenantId: string, row: { name: string; createdAt: number }): StoredGroup => ({
    name: row.name,
    createdAt: row.createdAt,
    members: db
      .select({ userId: groupMembers.userId, email: users.email, addedAt: groupMembers.addedAt })
      .from(groupMembers)
      .innerJoin(users, eq(users.id, groupMembers.userId))
      .where(ofGroup(tenantId, row.name))
      .orderBy(asc(users.email))
      .all(),
  });

  return {
    listGroups: async (tenantId) =>
      db
        .select()
        .from(groups)
        .where(eq(groups.tenantId, tenantId))
        .orderBy(asc(groups.name))
        .all()
        .map((row) => withMembers(tenantId, row)),
    findGroup: async (tenantId, name) => {
      const row = db.select().from(groups).where(and(eq(groups.tenantId, tenantId), eq(groups.name, name))).get();
      return row && withMembers(tenantId, row);
    },
    addGroup: async (tenantId, group) => db.insert(groups).values({ ...group, tenantId }).onConflictDoNothing().returning().all().length > 0,
    deleteGroup: async (tenantId, name) =>
      store.sqlite.transaction(() => {
        db.delete(groupMembers).where(ofGroup(tenantId, name)).run();
        db.delete(groups).where(and(eq(groups.tenantId, tenantId), eq(groups.name, name))).run();
      })(),
    // Immediate: a group deleted (or a user removed) between the check and the insert would leave a
    // membership that a group made again under the name inherits.
    addMember: async (tenantId, name, member) =>
      store.sqlite
        .transaction(() => {
          const group = db.select({ name: groups.name }).from(groups).where(and(eq(groups.tenantId, tenantId), eq(groups.name, name))).get();
          const user = db.select({ id: users.id }).from(users).where(and(eq(users.tenantId, tenantId), eq(users.id, member.userId), isNull(users.removedAt))).get();
          if (group === undefined || user === undefined) return false;
          db.insert(groupMembers).values({ ...member, tenantId, groupName: name }).onConflictDoNothing().run();
          return true;
        })
        .immediate(),
    removeMember: async (tenantId, name, userId) => {
      db.delete(groupMembers).where(and(ofGroup(tenantId, name), eq(groupMembers.userId, userId))).run();
    },
  };
}
