/**
 * Admin REST for approver groups in the caller's tenant: the groups a policy rule's `approvers` names.
 * Every change is an admin mutation, recorded like any other.
 */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { addMember, createGroup, deleteGroup, getGroup, listGroups, removeMember } from "../governance/groups.ts";
import { GROUP_NAME_PATTERN } from "../policy/model.ts";
import type { Services } from "../services.ts";
import { json } from "./respond.ts";
import { validBody } from "./request-body.ts";
import { rest, restAccess, type AddressOf } from "./rest-access.ts";

const NewGroup = Type.Object({ name: Type.String({ pattern: GROUP_NAME_PATTERN, description: "Lower-case, e.g. finance-leads." }) }, { additionalProperties: false });
const NewMember = Type.Object({ user: Type.String({ minLength: 1, description: "The user's id or email." }) }, { additionalProperties: false });

/** The group routes. */
export function groupRoutes(services: Services, addressOf: AddressOf) {
  const { groups } = services;
  return new Elysia({ name: "group-routes" })
    .use(restAccess(services, addressOf))
    .get("/v1/beta/groups", async ({ caller }) => ({ groups: await listGroups(groups, caller.tenantId) }), rest("admin", { summary: "List approver groups" }))
    .post(
      "/v1/beta/groups",
      async ({ caller, body }) => json(await createGroup(groups, caller.tenantId, validBody(NewGroup, body).name, caller.userId, services.now()), 201),
      rest("admin", { summary: "Create an approver group", body: NewGroup, status: 201 }),
    )
    .get("/v1/beta/groups/:name", ({ caller, params }) => getGroup(groups, caller.tenantId, params.name), rest("admin", { summary: "Show a group and its members" }))
    .delete("/v1/beta/groups/:name", ({ caller, params }) => deleteGroup(groups, caller.tenantId, params.name), rest("admin", { summary: "Delete a group" }))
    .post(
      "/v1/beta/groups/:name/members",
      ({ caller, params, body }) => addMember(services, caller.tenantId, params.name, validBody(NewMember, body).user, caller.userId, services.now()),
      rest("admin", { summary: "Add a member", body: NewMember }),
    )
    .delete("/v1/beta/groups/:name/members/:user", ({ caller, params }) => removeMember(groups, caller.tenantId, params.name, params.user), rest("admin", { summary: "Remove a member" }));
}
