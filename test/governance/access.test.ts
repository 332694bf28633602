/**
 * Access, adversarially: the role × profile × tool matrix through tools/list and tools/call, tenant
 * isolation on every route, the key lifecycle, spoofing attempts, and the fail-closed rate limiter.
 */
import type { Scope } from "../../src/governance/caller.ts";
import { describe, expect, it } from "bun:test";
import { Type } from "@sinclair/typebox";
import { RateLimiter } from "../../src/governance/rate-limit.ts";
import { builtinTools, ToolRegistry } from "../../src/tools/registry.ts";
import { defineTool, type ToolDefinition } from "../../src/tools/tool.ts";
import { keyFor, rest as admin, request, rpc, send, startTestServer, writeFromAnotherProcess, type TestServer } from "../support/harness.ts";

/** Tools with every combination of scope, company data and classification that the rules distinguish. */
function tool(name: string, scope: Scope, readOnly: boolean, touchesCompanyData: boolean): ToolDefinition {
  return defineTool({ name, title: name, description: `Test tool ${name}.`, scope, readOnly, touchesCompanyData, input: Type.Object({}), handler: () => ({ ran: name }) });
}
const matrixTools = [
  tool("crm.lookup", "brain:read", true, true),
  tool("database.query", "tools:call", true, true),
  tool("database.execute", "tools:call", false, true),
  tool("invoke.notes.write", "brain:read", false, false),
];
const matrixRegistry = () => new ToolRegistry([...builtinTools, ...matrixTools]);

const listNames = async (server: TestServer, key: string) =>
  (await rpc(server, request(1, "tools/list"), { key })).body.result.tools.map((listed: { name: string }) => listed.name).sort();

describe("the role × profile × tool matrix", () => {
  // Expected from the contract, written out rather than recomputed: seed 000's mcp_readonly, an
  // operator that may call production tools, and admin.
  const readonlyVisible = [
    "invoke.approvals.get",
    "invoke.approvals.list",
    "invoke.company_brain.query",
    "invoke.executions.get",
    "invoke.executions.list",
    "invoke.governance.readiness",
    "invoke.observability.summary",
    "invoke.policy.simulate",
    "invoke.preflight.run",
    "invoke.tools.search",
    "invoke.whoami",
  ];
  const everything = ["crm.lookup", "database.execute", "database.query", "invoke.notes.write", ...readonlyVisible].sort();
  const cases: [role: string, profile: string, visible: string[]][] = [
    ["editor", "mcp_readonly", readonlyVisible],
    ["admin", "mcp_readonly", readonlyVisible],
    ["editor", "operator", everything],
    ["admin", "operator", everything],
    ["admin", "admin", everything],
  ];

  it.each(cases)("a %s with a %s key sees exactly the tools it may call, and may call exactly those", async (role, profile, visible) => {
    using server = startTestServer({ registry: matrixRegistry() });
    const key = await keyFor(server, role, profile);
    expect(await listNames(server, key)).toEqual(visible);
    for (const name of everything) {
      const answer = await rpc(server, request(2, "tools/call", { name, arguments: {} }), { key });
      expect(answer.status).toBe(200);
      if (!visible.includes(name)) expect(answer.body.error).toMatchObject({ code: -32602, data: { tool: name, rule: expect.stringMatching(/^(scope|allowed_tools|read_only)$/) } });
      else if (name === "invoke.whoami") expect(answer.body.result.structuredContent.key.profile).toBe(profile);
      // Invoke's own tools may refuse the empty arguments, but never by an access rule.
      else if (name.startsWith("invoke.")) expect(answer.body.error?.data?.rule).toBeUndefined();
      else expect(JSON.parse(answer.body.result.content[0].text)).toEqual({ ran: name });
    }
  });

  it.each([
    ["database.execute", "scope"],
    ["crm.lookup", "allowed_tools"],
    ["invoke.notes.write", "read_only"],
  ])("mcp_readonly is refused %s by the %s rule, named in the error", async (name, rule) => {
    using server = startTestServer({ registry: matrixRegistry() });
    const key = await keyFor(server, "editor", "mcp_readonly");
    const answer = await rpc(server, request(1, "tools/call", { name, arguments: {} }), { key });
    expect(answer.body.error.code).toBe(-32602);
    expect(answer.body.error.data.rule).toBe(rule);
    expect(answer.body.error.message).toContain(name);
  });

  it.each(["mcp_readonly", "operator", "admin"])("a viewer's %s-or-weaker key is refused at the MCP endpoint with 403, never 'Unauthorized'", async (profile) => {
    using server = startTestServer({ registry: matrixRegistry() });
    const created = await admin(server, "POST", "/v1/beta/users", { email: "viewer@example.com", role: "viewer" });
    const key = await admin(server, "POST", `/v1/beta/users/${created.body.id}/keys`, { name: "v", profile });
    if (profile !== "mcp_readonly") {
      expect(key.status).toBe(403);
      expect(key.body.error.code).toBe("profile_exceeds_role");
      return;
    }
    const answer = await rpc(server, request(1, "tools/list"), { key: key.body.key });
    expect(answer.status).toBe(403);
    expect(answer.text.toLowerCase()).not.toContain("unauthorized");
  });

  it("refuses an editor a key of the admin profile", async () => {
    using server = startTestServer();
    const user = await admin(server, "POST", "/v1/beta/users", { email: "ed@example.com", role: "editor" });
    const key = await admin(server, "POST", `/v1/beta/users/${user.body.id}/keys`, { name: "x", profile: "admin" });
    expect(key.status).toBe(403);
    expect(key.body.error.message).toContain("needs role admin");
  });

  it("cuts an existing key down when its user is demoted: the key never exceeds the role", async () => {
    using server = startTestServer({ registry: matrixRegistry() });
    const key = await keyFor(server, "admin", "admin", "boss@example.com");
    await writeFromAnotherProcess(server, "UPDATE users SET role = 'editor' WHERE email = 'boss@example.com'");
    expect((await admin(server, "GET", "/v1/beta/users", undefined, key)).status).toBe(403);
    const whoami = await rpc(server, request(1, "tools/call", { name: "invoke.whoami" }), { key });
    expect(whoami.body.result.structuredContent.scopes).not.toContain("admin");
    expect(whoami.body.result.structuredContent.scopes).toContain("tools:call");
  });
});

describe("key profiles", () => {
  it("serves mcp_readonly exactly as seed 000 describes it", async () => {
    using server = startTestServer();
    const answer = await send(server.app, "/v1/mcp/key-profiles");
    const readonly = answer.body.profiles.find((profile: { name: string }) => profile.name === "mcp_readonly");
    expect(readonly.scopes).toEqual(["tools:read", "brain:read", "policy:simulate", "traces:read", "approvals:read", "observability:read", "governance:read"]);
    expect(readonly.allowed_tools).toEqual(["invoke.company_brain.query"]);
    expect(readonly.read_only).toBe(true);
    expect(answer.body.profiles.map((profile: { name: string }) => profile.name)).toEqual(["mcp_readonly", "operator", "admin"]);
  });
});

describe("key lifecycle", () => {
  it("creates a key with the seed's call, returns the secret once, and the key works", async () => {
    using server = startTestServer();
    const created = await send(server.app, `/v1/beta/users/${server.userId}/keys`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": server.adminKey },
      body: JSON.stringify({ name: "Claude desktop MCP", profile: "mcp_readonly" }),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "Claude desktop MCP", profile: "mcp_readonly", read_only: true, allowed_tools: ["invoke.company_brain.query"] });
    expect(created.body.key).toMatch(/^inv_live_[0-9A-Za-z]{40}$/);
    const whoami = await rpc(server, request(1, "tools/call", { name: "invoke.whoami" }), { key: created.body.key });
    expect(whoami.body.result.structuredContent.key).toMatchObject({ id: created.body.id, profile: "mcp_readonly" });
    const listed = await admin(server, "GET", `/v1/beta/users/${server.userId}/keys`);
    expect(listed.text).not.toContain(created.body.key);
    expect(listed.text).not.toContain(created.body.key.slice(13));
    expect(listed.body.keys.map((key: { id: string }) => key.id)).toContain(created.body.id);
  });

  it("records creator, creation and last use", async () => {
    using server = startTestServer();
    const created = await admin(server, "POST", `/v1/beta/users/${server.userId}/keys`, { name: "k", profile: "operator" });
    await rpc(server, request(1, "ping"), { key: created.body.key });
    const listed = (await admin(server, "GET", `/v1/beta/users/${server.userId}/keys`)).body.keys.find((key: { id: string }) => key.id === created.body.id);
    expect(listed.created_by).toBe(server.userId);
    expect(Date.parse(listed.created_at)).toBeGreaterThan(0);
    expect(Date.parse(listed.last_used_at)).toBeGreaterThan(0);
  });

  it("refuses a revoked key on the very next request", async () => {
    using server = startTestServer();
    const created = await admin(server, "POST", `/v1/beta/users/${server.userId}/keys`, { name: "k", profile: "operator" });
    expect((await rpc(server, request(1, "ping"), { key: created.body.key })).status).toBe(200);
    const revoked = await admin(server, "DELETE", `/v1/beta/users/${server.userId}/keys/${created.body.id}`);
    expect(revoked.status).toBe(200);
    expect((await rpc(server, request(1, "ping"), { key: created.body.key })).status).toBe(401);
  });

  it("refuses a key once its expiry passes (controllable clock)", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    using server = startTestServer({ now: () => now });
    const created = await admin(server, "POST", `/v1/beta/users/${server.userId}/keys`, { name: "k", profile: "operator", expires_at: "2026-01-01T01:00:00Z" });
    expect(created.status).toBe(201);
    expect((await rpc(server, request(1, "ping"), { key: created.body.key })).status).toBe(200);
    now += 3_600_000;
    const answer = await rpc(server, request(1, "ping"), { key: created.body.key });
    expect(answer.status).toBe(401);
    expect(answer.body.error.data.reason).toBe("expired_key");
  });

  it.each([
    [{ name: "k", profile: "superuser" }, "unknown_profile"],
    [{ name: "k", profile: "operator", expires_at: "yesterday" }, "invalid_expires_at"],
    [{ name: "k", profile: "operator", expires_at: "2001-01-01T00:00:00Z" }, "invalid_expires_at"],
    [{ profile: "operator" }, "invalid_request"],
    [{ name: "", profile: "operator" }, "invalid_request"],
  ])("refuses the key request %j with 400 %s", async (body, code) => {
    using server = startTestServer();
    const answer = await admin(server, "POST", `/v1/beta/users/${server.userId}/keys`, body);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe(code);
  });

  it("never stores a key's secret in the database file or its WAL", async () => {
    using server = startTestServer();
    const created = await admin(server, "POST", `/v1/beta/users/${server.userId}/keys`, { name: "k", profile: "operator" });
    const secrets = [server.adminKey, created.body.key];
    for (const file of [server.dbPath, `${server.dbPath}-wal`]) {
      const bytes = Buffer.from(await Bun.file(file).arrayBuffer());
      for (const secret of secrets) {
        expect(bytes.includes(Buffer.from(secret))).toBe(false);
        expect(bytes.includes(Buffer.from(secret.slice(13)))).toBe(false);
      }
    }
  });
});

describe("tenant isolation", () => {
  /** Two tenants with overlapping data: same emails, keys on both sides. */
  async function twoTenants() {
    const server = startTestServer({ registry: matrixRegistry() });
    const { createTenant } = await import("../../src/governance/bootstrap.ts");
    const b = await createTenant(server.services.directory, "tenant-b", "admin@localhost");
    const bUser = await admin(server, "POST", "/v1/beta/users", { email: "shared@example.com", role: "editor" }, b.admin_key);
    const bKey = await admin(server, "POST", `/v1/beta/users/${bUser.body.id}/keys`, { name: "b key", profile: "operator" }, b.admin_key);
    await admin(server, "POST", "/v1/beta/users", { email: "shared@example.com", role: "editor" });
    return { server, b, bUser: bUser.body, bKey: bKey.body };
  }

  it("lists only the caller's tenant's users", async () => {
    const { server, bUser } = await twoTenants();
    using _ = server;
    const users = await admin(server, "GET", "/v1/beta/users");
    expect(users.body.users.map((user: { id: string }) => user.id)).not.toContain(bUser.id);
    expect(users.body.users).toHaveLength(2);
  });

  it.each([
    ["GET", (ids: { user: string; key: string }) => `/v1/beta/users/${ids.user}/keys`, undefined],
    ["POST", (ids: { user: string; key: string }) => `/v1/beta/users/${ids.user}/keys`, { name: "stolen", profile: "operator" }],
    ["DELETE", (ids: { user: string; key: string }) => `/v1/beta/users/${ids.user}/keys/${ids.key}`, undefined],
  ])("answers %s on another tenant's user with 404 and changes nothing", async (method, path, body) => {
    const { server, bUser, bKey } = await twoTenants();
    using _ = server;
    const answer = await admin(server, method, path({ user: bUser.id, key: bKey.id }), body);
    expect(answer.status).toBe(404);
    expect(answer.text).not.toContain(bKey.id);
    expect((await rpc(server, request(1, "ping"), { key: bKey.key })).status).toBe(200);
    const bKeys = server.store.sqlite.query("SELECT count(*) AS n FROM api_keys WHERE user_id = ?").get(bUser.id) as { n: number };
    expect(bKeys.n).toBe(1);
  });

  it("cannot revoke another tenant's key through one of its own users' paths", async () => {
    const { server, bKey } = await twoTenants();
    using _ = server;
    const answer = await admin(server, "DELETE", `/v1/beta/users/${server.userId}/keys/${bKey.id}`);
    expect(answer.status).toBe(404);
    expect((await rpc(server, request(1, "ping"), { key: bKey.key })).status).toBe(200);
  });

  it("ignores a forged tenantId in tool arguments: refused by the schema, never used", async () => {
    const { server, b } = await twoTenants();
    using _ = server;
    for (const forged of [{ tenantId: b.tenant_id }, { tenant_id: b.tenant_id }]) {
      const answer = await rpc(server, request(1, "tools/call", { name: "invoke.whoami", arguments: forged }));
      expect(answer.body.error.code).toBe(-32602);
      expect(answer.text).not.toContain("tenant-b");
    }
  });

  it("shows each key only its own tenant in whoami", async () => {
    const { server, b, bKey } = await twoTenants();
    using _ = server;
    const mine = await rpc(server, request(1, "tools/call", { name: "invoke.whoami" }));
    const theirs = await rpc(server, request(1, "tools/call", { name: "invoke.whoami" }), { key: bKey.key });
    expect(mine.body.result.structuredContent.tenant.id).toBe(server.tenantId);
    expect(theirs.body.result.structuredContent.tenant.id).toBe(b.tenant_id);
  });
});

describe("spoofing", () => {
  it.each([
    ["x-user-id: system", { "x-user-id": "system" }],
    ["x-user-id of the admin", { "x-user-id": "usr_admin" }],
    ["a session cookie", { cookie: "session=admin" }],
    ["Authorization: Basic", { authorization: "Basic YWRtaW46YWRtaW4=" }],
    ["Authorization: Bearer garbage", { authorization: "Bearer garbage" }],
    ["Authorization: Bearer with an oversized key", { authorization: `Bearer inv_live_${"x".repeat(100_000)}` }],
    ["an empty X-API-Key", { "x-api-key": "" }],
    ["a key with a NUL byte", { "x-api-key": `inv_live_${"a".repeat(39)}\u0000` }],
  ])("authenticates nobody from %s", async (_name, headers) => {
    using server = startTestServer();
    for (const path of ["/v1/mcp", "/v1/beta/users"]) {
      const answer = await send(server.app, path, { method: path === "/v1/mcp" ? "POST" : "GET", headers: { "content-type": "application/json", ...headers }, body: path === "/v1/mcp" ? JSON.stringify(request(1, "ping")) : undefined }).catch(() => ({ status: 400, text: "" }));
      expect([400, 401, 403]).toContain(answer.status);
      expect(answer.text.toLowerCase()).not.toContain("unauthorized");
    }
  });

  it("refuses admin routes to a non-admin key with 403", async () => {
    using server = startTestServer();
    const key = await keyFor(server, "editor", "operator");
    const answer = await admin(server, "GET", "/v1/beta/users", undefined, key);
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe("admin_required");
  });

  it("refuses admin routes without a key with 401 in the REST error shape", async () => {
    using server = startTestServer();
    const answer = await send(server.app, "/v1/beta/users");
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe("missing_key");
  });
});

describe("rate limiter", () => {
  it("refuses the 61st request in a minute with 429, Retry-After, RateLimit headers and a JSON-RPC body", async () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    using server = startTestServer({ now: () => now });
    for (let i = 0; i < 60; i++) expect((await rpc(server, request(i, "ping"))).status).toBe(200);
    const refused = await rpc(server, request(61, "ping"));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get("ratelimit-limit")).toBe("60");
    expect(refused.headers.get("ratelimit-remaining")).toBe("0");
    expect(Number(refused.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
    expect(refused.body).toMatchObject({ jsonrpc: "2.0", error: { code: -31029, data: { reason: "rate_limited" } } });
  });

  it("admits exactly the bucket from a parallel burst", async () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    using server = startTestServer({ now: () => now });
    const answers = await Promise.all(Array.from({ length: 150 }, (_, i) => rpc(server, request(i, "ping"))));
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(60);
    expect(answers.filter((answer) => answer.status === 429)).toHaveLength(90);
  });

  it("refills with time", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    using server = startTestServer({ now: () => now });
    for (let i = 0; i < 60; i++) await rpc(server, request(i, "ping"));
    expect((await rpc(server, request(0, "ping"))).status).toBe(429);
    now += 1000;
    expect((await rpc(server, request(0, "ping"))).status).toBe(200);
    expect((await rpc(server, request(0, "ping"))).status).toBe(429);
    now += 60_000;
    const answers = await Promise.all(Array.from({ length: 61 }, (_, i) => rpc(server, request(i, "ping"))));
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(60);
  });

  it("keeps separate buckets per key", async () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    using server = startTestServer({ now: () => now });
    const first = await keyFor(server, "editor", "operator");
    const second = await keyFor(server, "admin", "operator");
    const answers = await Promise.all(Array.from({ length: 61 }, (_, i) => rpc(server, request(i, "ping"), { key: first })));
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(60);
    expect((await rpc(server, request(0, "ping"), { key: first })).status).toBe(429);
    expect((await rpc(server, request(0, "ping"), { key: second })).status).toBe(200);
  });

  it("throttles key guessing per client address", async () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    using server = startTestServer({ now: () => now });
    const guesses = await Promise.all(Array.from({ length: 61 }, (_, i) => rpc(server, request(i, "ping"), { key: `inv_live_${String(i).padStart(40, "0")}` })));
    expect(guesses.filter((answer) => answer.status === 401)).toHaveLength(60);
    expect(guesses.filter((answer) => answer.status === 429)).toHaveLength(1);
  });

  it("honours per-profile limits from the configuration", async () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    using server = startTestServer({ now: () => now, config: { profileRateLimits: { mcp_readonly: { requests: 3, per_seconds: 60 } } } });
    const key = await keyFor(server, "editor", "mcp_readonly");
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => rpc(server, request(i, "ping"), { key })));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 429, 429]);
    const profiles = await send(server.app, "/v1/mcp/key-profiles");
    expect(profiles.body.profiles[0].rate_limit).toEqual({ requests: 3, per_seconds: 60 });
  });

  it("fails closed: a limiter that throws refuses with 429", async () => {
    class BrokenLimiter extends RateLimiter {
      override consume(): never {
        throw new Error("limiter store unreachable");
      }
    }
    using server = startTestServer({ limiter: new BrokenLimiter({ defaultLimit: { requests: 60, per_seconds: 60 } }) });
    const answer = await rpc(server, request(1, "ping"));
    expect(answer.status).toBe(429);
    expect(answer.body.error.data.reason).toBe("rate_limiter_unavailable");
    expect(answer.headers.get("retry-after")).toBe("1");
  });

  it("fails closed when the bucket table is full, and evicts idle callers to stay bounded", () => {
    let now = 0;
    const limiter = new RateLimiter({ defaultLimit: { requests: 2, per_seconds: 1 }, maxBuckets: 100, now: () => now });
    for (let i = 0; i < 100; i++) expect(limiter.consume(`caller-${i}`).allowed).toBe(true);
    expect(limiter.consume("one-too-many").allowed).toBe(false);
    now += 1000;
    expect(limiter.consume("one-too-many").allowed).toBe(true);
    expect(limiter.size).toBe(1);
  });

  it("shows the headroom in whoami", async () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    using server = startTestServer({ now: () => now });
    for (let i = 0; i < 9; i++) await rpc(server, request(i, "ping"));
    const whoami = await rpc(server, request(1, "tools/call", { name: "invoke.whoami" }));
    expect(whoami.body.result.structuredContent.rate_limit).toEqual({ limit: 60, remaining: 50, window_seconds: 60 });
  });
});
