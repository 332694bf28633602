/**
 * `invoke.observability.summary` against counts computed independently from the same seeded records:
 * three windows, both groupings, approvals by outcome, rate-limit refusals, latency percentiles.
 */
import { describe, expect, it } from "bun:test";
import { createTenant } from "../../src/governance/bootstrap.ts";
import type { RecordInput } from "../../src/records/ledger.ts";
import { keyFor, request, rpc, startTestServer, type TestServer } from "../support/harness.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = Date.UTC(2026, 10, 21, 12, 34, 56, 789);
const TOOLS = ["database.execute", "database.query", "crm.update"];
const AGENTS = ["finance_agent", "support_agent"];
const STATUSES = [
  { status: "ok", decision: "allow" },
  { status: "denied", decision: "deny" },
  { status: "pending_approval", decision: "require_approval" },
  { status: "error", decision: "allow" },
  { status: "refused", decision: null },
] as const;

/** A deterministic spread of tool calls over the last 8 days (some outside every window). */
function seededCalls(tenantId: string): (RecordInput & { agentId: string; at: number })[] {
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: 3000 }, () => {
    const outcome = STATUSES[Math.floor(random() * STATUSES.length)]!;
    return {
      tenantId,
      kind: "tool_call" as const,
      tool: TOOLS[Math.floor(random() * TOOLS.length)]!,
      agentId: AGENTS[Math.floor(random() * AGENTS.length)]!,
      arguments: {},
      status: outcome.status,
      decision: outcome.decision,
      // 0.01 ms to about 2 s, log-uniform.
      latencyMs: 0.01 * 10 ** (random() * 5.3),
      // Denser in the last hour, so every window has plenty.
      at: NOW - Math.floor(random() < 0.3 ? random() * HOUR : random() * 8 * 24 * HOUR),
    };
  });
}

function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

async function summary(server: TestServer, args: Record<string, unknown>, key?: string) {
  const answer = await rpc(server, request(1, "tools/call", { name: "invoke.observability.summary", arguments: args }), key ? { key } : {});
  expect(answer.body.error).toBeUndefined();
  expect(answer.body.result.isError).toBeUndefined();
  return answer.body.result.structuredContent;
}

describe("invoke.observability.summary", () => {
  it("equals counts computed independently from the same records, in every window and grouping", async () => {
    using server = startTestServer({ now: () => NOW });
    const calls = seededCalls(server.tenantId);
    await Promise.all(calls.map((call) => server.services.records.append(call)));

    // Each summary call is itself recorded (tool invoke.observability.summary, agent: the key's name) and shows in the next ones.
    let summaries = 0;
    const own = { tool: "invoke.observability.summary", agent: "bootstrap admin key" };
    for (const [window, span] of [["1h", HOUR], ["24h", 24 * HOUR], ["7d", 7 * 24 * HOUR]] as const) {
      const to = NOW - (NOW % MINUTE) + MINUTE;
      const from = to - span;
      const inWindow = calls.filter((call) => call.at >= from && call.at < to);
      for (const groupBy of ["tool", "agent"] as const) {
        const answer = await summary(server, { window, group_by: groupBy });
        const ownGroup = answer.groups.find((group: { name: string }) => group.name === own[groupBy]);
        expect(ownGroup?.calls ?? 0).toBe(summaries++);
        answer.groups = answer.groups.filter((group: { name: string }) => group !== ownGroup);
        expect(answer).toMatchObject({ window, group_by: groupBy, from: new Date(from).toISOString(), to: new Date(to).toISOString() });
        const names = [...new Set(inWindow.map((call) => (groupBy === "tool" ? call.tool : call.agentId)))].sort();
        expect(answer.groups.map((group: { name: string }) => group.name)).toEqual(names);
        for (const group of answer.groups) {
          const mine = inWindow.filter((call) => (groupBy === "tool" ? call.tool : call.agentId) === group.name);
          expect({ window, groupBy, name: group.name, calls: group.calls, errors: group.errors, denials: group.denials, approvals_required: group.approvals_required }).toEqual({
            window,
            groupBy,
            name: group.name,
            calls: mine.length,
            errors: mine.filter((call) => call.status === "error" || call.status === "refused").length,
            denials: mine.filter((call) => call.decision === "deny").length,
            approvals_required: mine.filter((call) => call.decision === "require_approval").length,
          });
          const latencies = mine.map((call) => call.latencyMs);
          for (const q of ["p50", "p95", "p99"] as const) {
            const exact = exactQuantile(latencies, Number(q.slice(1)) / 100);
            // Histogram buckets are 2^(1/3) wide: the estimate lies within one bucket of the exact value.
            expect(group.latency_ms[q] / exact).toBeGreaterThan(1 / 1.27);
            expect(group.latency_ms[q] / exact).toBeLessThan(1.27);
          }
          expect(group.latency_ms.mean).toBeCloseTo(latencies.reduce((sum, value) => sum + value, 0) / latencies.length, 2);
        }
        expect(answer.totals.calls).toBe(inWindow.length + summaries - 1);
      }
    }
  });

  it("counts approval requests by outcome (expiry derived), rate-limit refusals, keeps tenants apart and sees new records at once", async () => {
    let now = NOW;
    using server = startTestServer({ now: () => now, config: { profileRateLimits: { operator: { requests: 3, per_seconds: 60 } } } });
    const reader = await keyFor(server, "admin", "admin", "reader@example.com");
    const insert = server.store.sqlite.prepare(
      "INSERT INTO approvals (id, tenant_id, tool, arguments, agent_id, requested_by, requested_key, profile, role, policy_version, matched_rules, approvals_required, status, created_at, expires_at) VALUES (?, ?, ?, '{}', ?, ?, 'key', 'operator', 'editor', 1, '[]', 1, ?, ?, ?)",
    );
    const seeded: [string, string, string, number, number][] = [
      ["database.execute", "finance_agent", "pending", NOW - 10 * MINUTE, NOW + HOUR],
      ["database.execute", "finance_agent", "pending", NOW - 20 * MINUTE, NOW - MINUTE], // past its expiry: expired
      ["database.execute", "support_agent", "executed", NOW - 30 * MINUTE, NOW + HOUR],
      ["crm.update", "support_agent", "failed", NOW - 40 * MINUTE, NOW + HOUR],
      ["crm.update", "support_agent", "rejected", NOW - 50 * MINUTE, NOW + HOUR],
      ["crm.update", "finance_agent", "expired", NOW - 55 * MINUTE, NOW - 5 * MINUTE],
      ["crm.update", "finance_agent", "withdrawn", NOW - 56 * MINUTE, NOW + HOUR],
      ["crm.update", "finance_agent", "pending", NOW - 2 * HOUR, NOW + HOUR], // outside the 1h window
    ];
    seeded.forEach(([tool, agent, status, created, expires], index) => insert.run(`apr_${index}`, server.tenantId, tool, agent, server.userId, status, created, expires));

    const limited = await keyFor(server, "editor", "operator", "limited@example.com");
    for (let i = 0; i < 5; i++) await rpc(server, request(i, "tools/call", { name: "invoke.whoami", arguments: {} }), { key: limited });
    const other = await createTenant(server.services.directory, "other", "admin@other.example");
    await server.services.records.append({ tenantId: other.tenant_id, kind: "tool_call", tool: "secret.tool", agentId: "theirs", arguments: {}, status: "ok", latencyMs: 1, at: NOW });

    const byTool = await summary(server, { window: "1h" }, reader);
    const tools = Object.fromEntries(byTool.groups.map((group: { name: string; approvals: unknown }) => [group.name, group.approvals]));
    expect(tools).toEqual({
      "crm.update": { pending: 0, approved: 1, rejected: 1, expired: 1, withdrawn: 1 },
      "database.execute": { pending: 1, approved: 1, rejected: 0, expired: 1, withdrawn: 0 },
      "invoke.whoami": { pending: 0, approved: 0, rejected: 0, expired: 0, withdrawn: 0 },
    });
    expect(byTool.totals.approvals).toEqual({ pending: 1, approved: 2, rejected: 1, expired: 2, withdrawn: 1 });
    // The limiter let 3 of the 5 calls through: the refusals cannot be put under a tool, but the totals keep them.
    expect(byTool.groups.find((group: { name: string }) => group.name === "invoke.whoami").calls).toBe(3);
    expect(byTool.totals.rate_limit_refusals).toBe(2);

    const byAgent = await summary(server, { window: "1h", group_by: "agent" }, reader);
    const agents = Object.fromEntries(byAgent.groups.map((group: { name: string; calls: number; rate_limit_refusals: number }) => [group.name, [group.calls, group.rate_limit_refusals]]));
    expect(agents["editor operator"]).toEqual([3, 2]);
    expect(Object.values(agents).filter(([, refusals]) => refusals > 0)).toEqual([[3, 2]]);
    expect(agents.theirs).toBeUndefined();

    // A call recorded now shows in the next summary (the rollups catch up before reading); two hours on, the window is empty of the old ones.
    now += 2 * HOUR;
    const later = await summary(server, { window: "1h" }, reader);
    expect(later.totals.calls).toBe(0);
    const again = await summary(server, { window: "1h" }, reader);
    expect(again.totals.calls).toBe(1);
    expect(again.groups.map((group: { name: string }) => group.name)).toEqual(["invoke.observability.summary"]);
  });
});
