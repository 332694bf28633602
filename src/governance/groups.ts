/**
 * Approver groups: named sets of a tenant's users that a policy rule can require approvers to belong
 * to (`approvers: [finance-leads]`). Admins manage them (REST and CLI); every change is recorded by
 * the surface that made it. A member counts for requests made after they were added.
 */
import { and, asc, eq } from "drizzle-orm";
import { Conflict, NotFound } from "../errors.ts";
import { groupMembers, groups, users } from "../storage/sqlite/schema.ts";
import type { TenantScope } from "../storage/sqlite/tenant-scope.ts";
import { isoTime } from "../text.ts";
import { findUser } from "./directory.ts";

/** A group as admins see it. */
export interface GroupView {
  name: string;
  created_at: string;
  members: { user_id: string; email: string; added_at: string }[];
}

/** The tenant's groups with their members. */
export function listGroups(scope: TenantScope): GroupView[] {
  return scope.store.db
    .select()
    .from(groups)
    .where(scope.where(groups))
    .orderBy(asc(groups.name))
    .all()
    .map((row) => viewOf(scope, row.name, row.createdAt));
}

/** One group. */
export function getGroup(scope: TenantScope, name: string): GroupView {
  const row = scope.store.db.select().from(groups).where(scope.where(groups, eq(groups.name, name))).get();
  if (row === undefined) throw new NotFound(`no group named "${name}"`, "group_not_found");
  return viewOf(scope, row.name, row.createdAt);
}

/** Creates an empty group. */
export function createGroup(scope: TenantScope, name: string, by: string | null, now: number): GroupView {
  const created = scope.store.db.insert(groups).values({ tenantId: scope.tenantId, name, createdBy: by, createdAt: now }).onConflictDoNothing().returning().all();
  if (created.length === 0) throw new Conflict(`a group named "${name}" exists`, "group_exists");
  return getGroup(scope, name);
}

/** Deletes a group and its memberships. */
export function deleteGroup(scope: TenantScope, name: string): { deleted: string } {
  getGroup(scope, name);
  scope.store.sqlite.transaction(() => {
    scope.store.db.delete(groupMembers).where(scope.where(groupMembers, eq(groupMembers.groupName, name))).run();
    scope.store.db.delete(groups).where(scope.where(groups, eq(groups.name, name))).run();
  })();
  return { deleted: name };
}

/** Adds a user of the tenant (by id or email) to a group. */
export function addMember(scope: TenantScope, name: string, user: string, by: string | null, now: number): GroupView {
  getGroup(scope, name);
  // The directory's lookup: emails compare as stored (lower-cased), removed users are absent.
  const { id } = findUser(scope, user);
  scope.store.db.insert(groupMembers).values({ tenantId: scope.tenantId, groupName: name, userId: id, addedBy: by, addedAt: now }).onConflictDoNothing().run();
  return getGroup(scope, name);
}

/** Removes a user (by id or email) from a group. */
export function removeMember(scope: TenantScope, name: string, user: string): GroupView {
  const group = getGroup(scope, name);
  const email = user.trim().toLowerCase();
  const member = group.members.find((candidate) => candidate.user_id === user || candidate.email === email);
  if (member === undefined) throw new NotFound(`${user} is not a member of group ${name}`, "member_not_found");
  scope.store.db.delete(groupMembers).where(scope.where(groupMembers, and(eq(groupMembers.groupName, name), eq(groupMembers.userId, member.user_id)))).run();
  return getGroup(scope, name);
}

function viewOf(scope: TenantScope, name: string, createdAt: number): GroupView {
  const members = scope.store.db
    .select({ userId: groupMembers.userId, email: users.email, addedAt: groupMembers.addedAt })
    .from(groupMembers)
    .innerJoin(users, eq(users.id, groupMembers.userId))
    .where(scope.where(groupMembers, eq(groupMembers.groupName, name)))
    .orderBy(asc(users.email))
    .all();
  return { name, created_at: isoTime(createdAt)!, members: members.map((member) => ({ user_id: member.userId, email: member.email, added_at: isoTime(member.addedAt)! })) };
}
