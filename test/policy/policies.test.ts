/**
 * Policy: the seed's simulate example over HTTP, precedence and defaults, globs and conditions,
 * invalid policies (each with its exact error), versions through REST, preflight and backtest.
 */
import { describe, expect, it } from "bun:test";
import { backtest, type RecordedAction } from "../../src/policy/backtest.ts";
import { compilePolicy, PolicyInvalid } from "../../src/policy/compile.ts";
import type { ActionContext } from "../../src/policy/model.ts";
import { rest as admin, request, rpc, send, startTestServer, type TestServer } from "../support/harness.ts";

const context = (overrides: Partial<ActionContext> = {}): ActionContext => ({
  action: "database.execute",
  agentId: "finance_agent",
  profile: "operator",
  role: "editor",
  classification: "mutating",
  connectorKind: "unconfigured",
  params: {},
  analysis: {},
  ...overrides,
});

/** The problems `compilePolicy` reports for `source`. */
function problems(source: string): string[] {
  try {
    compilePolicy(source, "test.yaml");
  } catch (error) {
    if (error instanceof PolicyInvalid) return error.issues.map((issue) => `${issue.rule ? `${issue.rule}: ` : ""}${issue.field}: ${issue.message}`);
    throw error;
  }
  return [];
}

const rule = (body: string) => `version: 1\nrules:\n  - id: r1\n    reason: because\n${body.replace(/^/gm, "    ")}\n`;

async function simulate(server: TestServer, args: Record<string, unknown>, key = server.adminKey) {
  const answer = await rpc(server, request(2, "tools/call", { name: "invoke.policy.simulate", arguments: args }), { key });
  return answer.body.result.structuredContent;
}

describe("seed 000: simulate a dangerous action", () => {
  it("denies drop table invoices for finance_agent with the rule and its reason, over the seed's curl call with an mcp_readonly key", async () => {
    using server = startTestServer();
    const created = await admin(server, "POST", `/v1/beta/users/${server.userId}/keys`, { name: "Claude desktop MCP", profile: "mcp_readonly" });
    const answer = await send(server.app, "/v1/mcp", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": created.body.key },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "invoke.policy.simulate", arguments: { agent_id: "finance_agent", action: "database.execute", params: { sql: "drop table invoices" } } },
      }),
    });
    expect(answer.status).toBe(200);
    const result = answer.body.result.structuredContent;
    expect(result.decision).toBe("deny");
    expect(result.matched_rules[0]).toMatchObject({ id: "deny-destructive-sql", effect: "deny" });
    expect(result.reasons[0]).toContain("Destructive SQL");
    expect(result.analysis.sql).toMatchObject({ kind: "ddl", destructive: true, tables: ["invoices"] });
    expect(result.policy_version).toBe(0);
  });

  it.each([
    ["SELECT * FROM invoices WHERE customer = 'Acme'", "allow", 0],
    ["UPDATE invoices SET paid = true WHERE id = 7", "require_approval", 1],
    ["DELETE FROM invoices", "deny", 0],
    ["select 1; drop table invoices", "deny", 0],
    ["this is not sql", "deny", 0],
  ])("the default pack decides %j → %s", async (sql, decision, approvals) => {
    using server = startTestServer();
    const result = await simulate(server, { agent_id: "finance_agent", action: "database.execute", params: { sql } });
    expect(result.decision).toBe(decision);
    expect(result.approvals_required).toBe(approvals);
  });

  it("executes nothing: simulate of a mutating action changes no row", async () => {
    using server = startTestServer();
    const before = server.store.sqlite.query("SELECT (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM users) + (SELECT count(*) FROM policy_versions) AS n").get();
    await simulate(server, { agent_id: "a", action: "database.execute", params: { sql: "drop table api_keys" } });
    expect(server.store.sqlite.query("SELECT (SELECT count(*) FROM api_keys) + (SELECT count(*) FROM users) + (SELECT count(*) FROM policy_versions) AS n").get()).toEqual(before);
  });
});

describe("evaluation", () => {
  const policy = compilePolicy(
    `
version: 1
defaults: { read_only: allow, mutating: deny }
rules:
  - id: allow-finance-db
    effect: allow
    reason: finance agents may use the database
    match: { action: "database.*", agent: "finance_*" }
  - id: approve-big-payments
    effect: require_approval
    approvals_required: 2
    reason: payments over 1000 need two people
    match: { action: payments.send }
    when: [{ field: params.amount, gt: 1000 }]
  - id: approve-eur
    effect: require_approval
    reason: euro payments need one person
    match: { action: payments.send }
    when: [{ field: params.currency, in: [EUR] }]
  - id: allow-payments
    effect: allow
    reason: payments are allowed otherwise
    match: { action: payments.send }
  - id: deny-sanctioned
    effect: deny
    reason: never pay sanctioned accounts
    match: { action: "payments.*" }
    when: [{ field: params.account, matches: "^SANCTIONED-" }]
  - id: viewers-never-write
    effect: deny
    reason: viewers do not change things
    match: { role: [viewer], classification: mutating }
`,
    "test.yaml",
  );

  it("prefers deny over require_approval over allow, listing every matched rule in document order", () => {
    const decision = policy.evaluate(context({ action: "payments.send", params: { amount: 5000, currency: "EUR", account: "SANCTIONED-1" } }));
    expect(decision.decision).toBe("deny");
    expect(decision.matched_rules.map((matched) => matched.id)).toEqual(["approve-big-payments", "approve-eur", "allow-payments", "deny-sanctioned"]);
    expect(decision.reasons).toEqual(["never pay sanctioned accounts"]);
  });

  it("asks for the largest approver count among the deciding rules", () => {
    expect(policy.evaluate(context({ action: "payments.send", params: { amount: 5000, currency: "EUR" } }))).toMatchObject({ decision: "require_approval", approvals_required: 2 });
    expect(policy.evaluate(context({ action: "payments.send", params: { amount: 10, currency: "EUR" } }))).toMatchObject({ decision: "require_approval", approvals_required: 1 });
    expect(policy.evaluate(context({ action: "payments.send", params: { amount: 10, currency: "USD" } }))).toMatchObject({ decision: "allow", approvals_required: 0 });
  });

  it("compares numbers given as strings as numbers, so '5000' cannot slip past gt: 1000", () => {
    expect(policy.evaluate(context({ action: "payments.send", params: { amount: "5000" } })).decision).toBe("require_approval");
  });

  it("matches agent globs", () => {
    expect(policy.evaluate(context({ agentId: "finance_bot" })).decision).toBe("allow");
    expect(policy.evaluate(context({ agentId: "marketing_bot" }))).toMatchObject({ decision: "deny", defaulted: true });
  });

  it("falls back to the default of the tool's classification when no rule matches", () => {
    expect(policy.evaluate(context({ action: "fs.read_file", classification: "read_only" }))).toMatchObject({ decision: "allow", defaulted: true, matched_rules: [] });
    expect(policy.evaluate(context({ action: "fs.write_file", classification: "mutating" }))).toMatchObject({ decision: "deny", defaulted: true });
  });

  it("denies unmatched production tools when the policy sets no defaults", () => {
    const bare = compilePolicy("version: 1\nrules: []\n");
    expect(bare.evaluate(context({ classification: "read_only" })).decision).toBe("deny");
    expect(bare.evaluate(context({ classification: "mutating" })).decision).toBe("deny");
  });

  it("matches role and classification", () => {
    expect(policy.evaluate(context({ agentId: "finance_x", role: "viewer" })).decision).toBe("deny");
    expect(policy.evaluate(context({ agentId: "finance_x", role: "viewer", classification: "read_only" })).decision).toBe("allow");
  });

  it.each([
    ["equals", "{ field: params.x, equals: 1 }", { x: 1 }, { x: 2 }],
    ["not_equals", "{ field: params.x, not_equals: 1 }", { x: 2 }, { x: 1 }],
    ["not_in", "{ field: params.x, not_in: [a, b] }", { x: "c" }, { x: "a" }],
    ["gte/lte range", "{ field: params.x, gte: 1, lte: 3 }", { x: 3 }, { x: 4 }],
    ["lt", "{ field: params.x, lt: 0 }", { x: -1 }, { x: 0 }],
    ["present", "{ field: params.x, present: true }", { x: null }, {}],
    ["absent", "{ field: params.x, present: false }", {}, { x: 1 }],
    ["nested path", "{ field: params.a.b, equals: deep }", { a: { b: "deep" } }, { a: "deep" }],
    ["contains", "{ field: params.tags, contains: pii }", { tags: ["x", "pii"] }, { tags: ["x"] }],
    ["contains_any", "{ field: params.tags, contains_any: [pii, phi] }", { tags: ["phi"] }, { tags: [] }],
    ["matches", "{ field: params.path, matches: '^/etc/' }", { path: "/etc/passwd" }, { path: "/tmp/etc/x" }],
  ])("condition %s matches and refuses as expected", (_name, condition, matching, other) => {
    const compiled = compilePolicy(`version: 1\nrules:\n  - id: r\n    effect: deny\n    reason: r\n    match: { action: "x.*" }\n    when: [${condition}]\n`);
    expect(compiled.evaluate(context({ action: "x.y", params: matching })).matched_rules).toHaveLength(1);
    expect(compiled.evaluate(context({ action: "x.y", params: other })).matched_rules).toHaveLength(0);
  });
});

describe("invalid policies", () => {
  it.each([
    ["YAML syntax", "version: 1\nrules: [\n", /\(yaml\): /],
    ["a missing version", "rules: []\n", /version: Expected/],
    ["an unknown top-level field", "version: 1\nrulez: []\nrules: []\n", /rulez|Unexpected property/],
    ["a bad effect", rule("effect: permit\nmatch: { action: a.b }"), /^r1: effect: /],
    ["an unknown match field", rule("effect: deny\nmatch: { tool: a.b }"), /^r1: match.tool: Unexpected property/],
    ["an operator-less condition", rule("effect: deny\nmatch: { action: a.b }\nwhen: [{ field: params.x }]"), /no operator/],
    ["an unknown field root", rule("effect: deny\nmatch: { action: a.b }\nwhen: [{ field: secrets.x, equals: 1 }]"), /unknown field secrets.x/],
    ["an unknown sql fact", rule("effect: deny\nmatch: { action: database.execute }\nwhen: [{ field: sql.danger, equals: true }]"), /unknown fact sql.danger/],
    ["sql facts on a non-SQL kind of tool", rule("effect: deny\nmatch: { connector_kind: [mcp_stdio] }\nwhen: [{ field: sql.destructive, equals: true }]"), /can never match/],
    ["an invalid regular expression", rule("effect: deny\nmatch: { action: a.b }\nwhen: [{ field: params.x, matches: '(' }]"), /invalid regular expression/],
    ["a backreference, which RE2 cannot match in linear time", rule("effect: deny\nmatch: { action: a.b }\nwhen: [{ field: params.x, matches: '(a)\\1' }]"), /RE2 syntax/],
    ["a lookahead", rule("effect: deny\nmatch: { action: a.b }\nwhen: [{ field: params.x, matches: '(?=a)' }]"), /RE2 syntax/],
    ["contradictory equals", rule("effect: deny\nmatch: { action: a.b }\nwhen: [{ field: params.x, equals: 1 }, { field: params.x, equals: 2 }]"), /can never match/],
    ["an empty in list", rule("effect: allow\nmatch: { action: a.b }\nwhen: [{ field: params.x, in: [] }]"), /`in` lists nothing/],
    ["an empty numeric range", rule("effect: allow\nmatch: { action: a.b }\nwhen: [{ field: params.x, gt: 10, lt: 5 }]"), /no number is above 10 and below 5/],
    ["absent and valued", rule("effect: allow\nmatch: { action: a.b }\nwhen: [{ field: params.x, present: false }, { field: params.x, equals: 3 }]"), /absent and also have a value/],
    ["approvals on an allow rule", rule("effect: allow\napprovals_required: 2\nmatch: { action: a.b }"), /only require_approval rules take approvals_required/],
    ["an unknown profile", rule("effect: deny\nmatch: { action: a.b, profile: [superuser] }"), /unknown key profile superuser/],
    ["a deny-everything rule", rule("effect: deny"), /would deny everything/],
    ["an allow-everything rule", rule('effect: allow\nmatch: { action: "*" }'), /would allow everything/],
  ])("refuses %s", (_name, source, expected) => {
    const found = problems(source);
    expect(found.length).toBeGreaterThan(0);
    expect(found.some((problem) => expected.test(problem))).toBe(true);
  });

  it("refuses duplicate rule ids", () => {
    const source = "version: 1\nrules:\n  - { id: same, effect: deny, reason: a, match: { action: a.b } }\n  - { id: same, effect: allow, reason: b, match: { action: a.c } }\n";
    expect(problems(source)).toEqual(["same: id: duplicate rule id same"]);
  });

  it("names the file, the rule, the field and the line", () => {
    try {
      compilePolicy("version: 1\nrules:\n  - id: first\n    effect: deny\n    reason: r\n    match: { action: a.b }\n  - id: second\n    effect: maybe\n    reason: r\n", "prod.yaml");
      throw new Error("expected the policy to be refused");
    } catch (error) {
      expect(error).toBeInstanceOf(PolicyInvalid);
      expect((error as PolicyInvalid).message).toContain("prod.yaml:8: rule second: effect:");
    }
  });

  it("accepts a catch-all rule that says so", () => {
    expect(problems(rule("effect: require_approval\ncatch_all: true"))).toEqual([]);
  });
});

describe("versions over REST", () => {
  const draft = `version: 1
rules:
  - id: deny-all-sql
    effect: deny
    reason: the database is frozen
    match: { action: "database.*" }
`;

  it("stores a draft, simulates against it without changing the active policy, publishes, diffs and rolls back", async () => {
    using server = startTestServer();
    const args = { agent_id: "a", action: "database.execute", params: { sql: "select 1" } };
    const created = await admin(server, "POST", "/v1/policies", { source: draft, comment: "freeze" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ version: 1, status: "draft", rules: 1, comment: "freeze", created_by: server.userId });

    expect(await simulate(server, { ...args, policy_version: 1 })).toMatchObject({ decision: "deny", policy_version: 1 });
    expect(await simulate(server, args)).toMatchObject({ decision: "allow", policy_version: 0 });

    const published = await admin(server, "POST", "/v1/policies/1/publish");
    expect(published.body).toMatchObject({ version: 1, status: "active", published_by: server.userId });
    expect(await simulate(server, args)).toMatchObject({ decision: "deny", policy_version: 1 });

    const diff = await admin(server, "GET", "/v1/policies/diff?from=0&to=1");
    expect(diff.body.diff).toContain("+  - id: deny-all-sql");
    expect(diff.body.diff).toContain("-  - id: deny-destructive-sql");

    const rolledBack = await admin(server, "POST", "/v1/policies/rollback", {});
    expect(rolledBack.body).toMatchObject({ version: 2, status: "active", comment: "rollback to version 0" });
    expect(await simulate(server, args)).toMatchObject({ decision: "allow", policy_version: 2 });

    const versions = (await admin(server, "GET", "/v1/policies")).body.versions;
    expect(versions.map((version: { version: number; status: string }) => `${version.version}:${version.status}`)).toEqual(["2:active", "1:superseded", "0:builtin"]);
  });

  it("publishes one of two rollbacks worked out from the same active version and refuses the other with 409, publishing nothing", async () => {
    using server = startTestServer();
    for (const id of ["first", "second"]) expect((await admin(server, "POST", "/v1/policies", { source: rule(`effect: deny\nmatch: { action: ${id} }`), publish: true })).status).toBe(201);
    const answers = await Promise.all([admin(server, "POST", "/v1/policies/rollback", {}), admin(server, "POST", "/v1/policies/rollback", {})]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    const refused = answers.find((answer) => answer.status === 409)!;
    expect(refused.body.error).toMatchObject({ code: "policy_changed" });
    expect(refused.body.error.message).toContain("version 2 then, version 3 now");
    const versions = (await admin(server, "GET", "/v1/policies")).body.versions;
    expect(versions.map((version: { version: number; status: string }) => `${version.version}:${version.status}`)).toEqual(["3:active", "2:superseded", "1:superseded", "0:builtin"]);
    // Worked out afresh, the next rollback goes on from version 3.
    expect((await admin(server, "POST", "/v1/policies/rollback", {})).body).toMatchObject({ version: 4, status: "active", comment: "rollback to version 2" });
  });

  it("refuses an invalid policy with 400 and every issue", async () => {
    using server = startTestServer();
    const answer = await admin(server, "POST", "/v1/policies", { source: rule("effect: deny") });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("invalid_policy");
    expect(answer.body.error.details.issues[0]).toMatchObject({ rule: "r1", field: "match" });
    expect((await admin(server, "GET", "/v1/policies")).body.versions).toHaveLength(1);
  });

  it("keeps policies per tenant", async () => {
    using server = startTestServer();
    const { createTenant } = await import("../../src/governance/bootstrap.ts");
    const other = await createTenant(server.services.directory, "other", "admin@localhost");
    await admin(server, "POST", "/v1/policies", { source: draft, publish: true });
    const theirs = await simulate(server, { agent_id: "a", action: "database.execute", params: { sql: "select 1" } }, other.admin_key);
    expect(theirs).toMatchObject({ decision: "allow", policy_version: 0 });
    const answer = await send(server.app, "/v1/policies/1", { headers: { "x-api-key": other.admin_key } });
    expect(answer.status).toBe(404);
  });

  it("lets read-only keys read and simulate but not publish", async () => {
    using server = startTestServer();
    const key = (await admin(server, "POST", `/v1/beta/users/${server.userId}/keys`, { name: "ro", profile: "mcp_readonly" })).body.key;
    const headers = { "content-type": "application/json", "x-api-key": key };
    expect((await send(server.app, "/v1/policies", { headers })).status).toBe(200);
    expect((await send(server.app, "/v1/policies", { method: "POST", headers, body: JSON.stringify({ source: draft }) })).status).toBe(403);
  });

  it("backtests a draft over the (empty) history", async () => {
    using server = startTestServer();
    const answer = await admin(server, "POST", "/v1/policies/backtest", { source: draft, days: 30 });
    expect(answer.body).toEqual({ window_days: 30, actions: 0, changed: 0, by_change: {}, changes: [] });
  });
});

describe("backtest", () => {
  it("reports which recorded decisions a candidate policy would change", async () => {
    const records: RecordedAction[] = [
      { id: "r1", at: 0, agentId: "a", action: "database.execute", params: { sql: "select 1" }, profile: "operator", role: "editor", classification: "mutating", decision: "allow" },
      { id: "r2", at: 0, agentId: "a", action: "database.execute", params: { sql: "update t set x = 1 where id = 2" }, profile: "operator", role: "editor", classification: "mutating", decision: "require_approval" },
      { id: "r3", at: 0, agentId: "a", action: "fs.read_file", params: {}, profile: "operator", role: "editor", classification: "read_only", decision: "allow" },
    ];
    const candidate = compilePolicy("version: 1\ndefaults: { read_only: allow }\nrules:\n  - { id: freeze, effect: deny, reason: frozen, match: { action: 'database.*' } }\n");
    const report = await backtest(candidate, records, 7, () => ({ kind: "unconfigured" }));
    expect(report).toMatchObject({ actions: 3, changed: 2, by_change: { "allow->deny": 1, "require_approval->deny": 1 } });
    expect(report.changes.map((change) => change.record_id)).toEqual(["r1", "r2"]);
  });
});

describe("preflight", () => {
  it("blocks an action on a tool that does not exist, naming the failing check", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "tools/call", { name: "invoke.preflight.run", arguments: { agent_id: "a", action: "database.execute", params: { sql: "select 1" } } }));
    const result = answer.body.result.structuredContent;
    expect(result.verdict).toBe("blocked");
    expect(result.checks.find((check: { check: string }) => check.check === "tool")).toMatchObject({ status: "fail" });
    expect(result.checks.find((check: { check: string }) => check.check === "policy")).toMatchObject({ status: "pass" });
    expect(result.checks.map((check: { check: string }) => check.check)).toEqual(["credential", "tool", "arguments", "policy", "rate_limit", "approval"]);
  });

  it("says ready for one of Invoke's own tools the key may call with valid arguments", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "tools/call", { name: "invoke.preflight.run", arguments: { agent_id: "a", action: "invoke.whoami", params: {} } }));
    expect(answer.body.result.structuredContent.checks.filter((check: { status: string }) => check.status !== "pass")).toEqual([]);
  });

  it("fails the credential and argument checks where they fail", async () => {
    using server = startTestServer();
    const key = (await admin(server, "POST", `/v1/beta/users/${server.userId}/keys`, { name: "ro", profile: "mcp_readonly" })).body.key;
    const answer = await rpc(server, request(1, "tools/call", { name: "invoke.preflight.run", arguments: { agent_id: "a", action: "invoke.whoami", params: { bogus: 1 } } }), { key });
    const checks = answer.body.result.structuredContent.checks;
    expect(checks.find((check: { check: string }) => check.check === "credential").status).toBe("pass");
    expect(checks.find((check: { check: string }) => check.check === "arguments")).toMatchObject({ status: "fail", detail: expect.stringContaining("/bogus") });
    const production = await rpc(server, request(1, "tools/call", { name: "invoke.preflight.run", arguments: { agent_id: "a", action: "database.execute", params: {} } }), { key });
    expect(production.body.result.structuredContent.checks[0]).toMatchObject({ check: "credential", status: "fail" });
  });
});

describe("tools.search", () => {
  it("lists no production tools while no connector is configured", async () => {
    using server = startTestServer();
    const answer = await rpc(server, request(1, "tools/call", { name: "invoke.tools.search", arguments: {} }));
    expect(answer.body.result.structuredContent).toEqual({ tools: [], policy_version: 0 });
  });
});
