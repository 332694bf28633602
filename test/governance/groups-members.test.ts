/** Group members are named as the directory names users: emails in any case, removed users absent. */
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { keyFor, rest, startTestServer, type TestServer } from "../support/harness.ts";

let server: TestServer;
beforeEach(async () => {
  server = startTestServer();
  await keyFor(server, "editor", "operator", "lead@example.com");
  expect((await rest(server, "POST", "/v1/beta/groups", { name: "finance-leads" })).status).toBe(201);
});
afterEach(() => server[Symbol.asyncDispose]());

describe("group members", () => {
  it("adds and removes a member by an email written in another case", async () => {
    const added = await rest(server, "POST", "/v1/beta/groups/finance-leads/members", { user: "Lead@Example.COM" });
    expect(added.status).toBe(200);
    expect(added.body.members.map((member: { email: string }) => member.email)).toEqual(["lead@example.com"]);
    const removed = await rest(server, "DELETE", "/v1/beta/groups/finance-leads/members/LEAD@example.com");
    expect(removed.status).toBe(200);
    expect(removed.body.members).toEqual([]);
  });

  it("refuses an unknown user as user_not_found", async () => {
    const answer = await rest(server, "POST", "/v1/beta/groups/finance-leads/members", { user: "nobody@example.com" });
    expect(answer.status).toBe(404);
  });
});
