/**
 * Approver groups: named sets of a tenant's users that a policy rule can require approvers to belong
 * to (`approvers: [finance-leads]`). Admins manage them (REST and CLI); every change is recorded by
 * the surface that made it. A member counts for requests made after they were added.
 */
import { Conflict, NotFound } from "../errors.ts";
import { isoTime } from "../text.ts";
import { findUser, normalEmail } from "./directory.ts";
import type { DirectoryRepository, GroupRepository, StoredGroup } from "./repository.ts";

/** A group as admins see it. */
export interface GroupView {
  name: string;
  created_at: string;
  members: { user_id: string; email: string; added_at: string }[];
}

function groupView(group: StoredGroup): GroupView {
  return {
    name: group.name,
    created_at: isoTime(group.createdAt)!,
    members: group.members.map((member) => ({ user_id: member.userId, email: member.email, added_at: isoTime(member.addedAt)! })),
  };
}

/** The tenant's groups with their members. */
export async function listGroups(groups: GroupRepository, tenantId: string): Promise<GroupView[]> {
  return (await groups.listGroups(tenantId)).map(groupView);
}

/** One group. */
export async function getGroup(groups: GroupRepository, tenantId: string, name: string): Promise<GroupView> {
  const group = await groups.findGroup(tenantId, name);
  if (group === undefined) throw new NotFound(`no group named "${name}"`, "group_not_found");
  return groupView(group);
}

/** Creates an empty group. */
export async function createGroup(groups: GroupRepository, tenantId: string, name: string, by: string | null, now: number): Promise<GroupView> {
  if (!(await groups.addGroup(tenantId, { name, createdBy: by, createdAt: now }))) throw new Conflict(`a group named "${name}" exists`, "group_exists");
  return getGroup(groups, tenantId, name);
}

/** Deletes a group and its memberships. */
export async function deleteGroup(groups: GroupRepository, tenantId: string, name: string): Promise<{ deleted: string }> {
  await getGroup(groups, tenantId, name);
  await groups.deleteGroup(tenantId, name);
  return { deleted: name };
}

/** Adds a user of the tenant (by id or email) to a group. */
export async function addMember(
  stores: { groups: GroupRepository; directory: DirectoryRepository },
  tenantId: string,
  name: string,
  user: string,
  by: string | null,
  now: number,
): Promise<GroupView> {
  await getGroup(stores.groups, tenantId, name);
  // The directory's lookup: emails compare as stored (lower-cased), removed users are absent.
  const { id } = await findUser(stores.directory, tenantId, user);
  if (!(await stores.groups.addMember(tenantId, name, { userId: id, addedBy: by, addedAt: now }))) {
    // Deleted or removed since the checks above: the same checks say which.
    await getGroup(stores.groups, tenantId, name);
    await findUser(stores.directory, tenantId, user);
  }
  return getGroup(stores.groups, tenantId, name);
}

/** Removes a user (by id or email) from a group. */
export async function removeMember(groups: GroupRepository, tenantId: string, name: string, user: string): Promise<GroupView> {
  const group = await getGroup(groups, tenantId, name);
  const email = normalEmail(user);
  const member = group.members.find((candidate) => candidate.user_id === user || candidate.email === email);
  if (member === undefined) throw new NotFound(`${user} is not a member of group ${name}`, "member_not_found");
  await groups.removeMember(tenantId, name, member.user_id);
  return getGroup(groups, tenantId, name);
}
