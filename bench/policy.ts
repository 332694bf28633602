/**
 * Policy benchmark: load-and-validate time of a 1,000-rule policy, and the median and p99 time to
 * evaluate one action against it (targets: < 200 ms and < 50 µs), with the 3-rule default pack as the
 * baseline in the same run. Run alone with `bun bench/policy.ts`; `bun run bench` includes it.
 */
import { compilePolicy } from "../src/policy/compile.ts";
import { analyzeAction } from "../src/policy/analyzers/index.ts";
import type { ActionContext } from "../src/policy/model.ts";
import { DEFAULT_POLICY_SOURCE } from "../src/policy/service.ts";
import { percentile } from "./stats.ts";

/** A policy of `count` rules: exact actions, connector globs, agent globs, argument conditions, SQL facts. */
export function generatePolicy(count: number): string {
  const lines = ["version: 1", "defaults: { read_only: allow, mutating: require_approval }", "rules:"];
  for (let i = 0; i < count; i++) {
    const connector = `svc${i % 50}`;
    switch (i % 5) {
      case 0:
        lines.push(`  - { id: r${i}, effect: allow, reason: exact ${i}, match: { action: ${connector}.op${i} } }`);
        break;
      case 1:
        lines.push(`  - { id: r${i}, effect: require_approval, approvals_required: ${1 + (i % 3)}, reason: amount ${i}, match: { action: "${connector}.*" }, when: [{ field: params.amount, gt: ${i * 10} }] }`);
        break;
      case 2:
        lines.push(`  - { id: r${i}, effect: deny, reason: agent ${i}, match: { action: "${connector}.*", agent: "bad_agent_${i}*" } }`);
        break;
      case 3:
        lines.push(`  - { id: r${i}, effect: deny, reason: sql ${i}, match: { action: "database.*" }, when: [{ field: sql.tables, contains: table_${i} }] }`);
        break;
      default:
        lines.push(`  - { id: r${i}, effect: allow, reason: path ${i}, match: { action: "*", agent: "agent_${i % 100}_*" }, when: [{ field: params.path, matches: "^/data/${i}/" }] }`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** Evaluates `contexts` `rounds` times each and returns per-evaluation times in µs. */
function timeEvaluations(evaluate: (context: ActionContext) => unknown, contexts: ActionContext[], rounds: number): number[] {
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const context of contexts) {
      const started = Bun.nanoseconds();
      evaluate(context);
      times.push((Bun.nanoseconds() - started) / 1000);
    }
  }
  return times.sort((a, b) => a - b);
}

/** The generated 1000-rule policy is ~126 KB, over what a request may publish (64 KiB): compiled here as a trusted source. */
const LARGE_POLICY_BYTES = 1 << 20;

/** Runs the benchmark and returns its figures. */
export function runPolicyBenchmark(ruleCount = 1000) {
  const source = generatePolicy(ruleCount);
  const loads: number[] = [];
  let policy = compilePolicy(source, "bench.yaml", LARGE_POLICY_BYTES);
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    policy = compilePolicy(source, "bench.yaml", LARGE_POLICY_BYTES);
    loads.push(performance.now() - started);
  }
  loads.sort((a, b) => a - b);

  const contexts: ActionContext[] = Array.from({ length: 500 }, (_, i) => {
    const action = i % 4 === 0 ? "database.execute" : `svc${i % 50}.op${i % 1000}`;
    const params = i % 4 === 0 ? { sql: `select * from table_${i % 1000} where id = ${i}` } : { amount: i * 7, path: `/data/${i}/x` };
    const target = { kind: "unconfigured" } as const;
    return { action, agentId: `agent_${i % 100}_x`, profile: "operator", role: "editor", classification: "mutating", connectorKind: target.kind, params, analysis: analyzeAction(action, params, target) };
  });
  const baseline = compilePolicy(DEFAULT_POLICY_SOURCE);
  timeEvaluations(policy.evaluate, contexts, 20);
  const large = timeEvaluations(policy.evaluate, contexts, 40);
  const small = timeEvaluations(baseline.evaluate, contexts, 40);
  return {
    rules: ruleCount,
    load_ms: { median: loads[2]!, max: loads.at(-1)! },
    evaluate_us: { p50: percentile(large, 50), p99: percentile(large, 99) },
    baseline_default_pack_us: { p50: percentile(small, 50), p99: percentile(small, 99) },
  };
}

if (import.meta.main) {
  const result = runPolicyBenchmark();
  console.log(`policy of ${result.rules} rules: load+validate median ${result.load_ms.median.toFixed(1)} ms (target < 200 ms)`);
  console.log(`evaluate one action: p50 ${result.evaluate_us.p50.toFixed(2)} µs, p99 ${result.evaluate_us.p99.toFixed(2)} µs (target p50 < 50 µs)`);
  console.log(`baseline, default pack (3 rules): p50 ${result.baseline_default_pack_us.p50.toFixed(2)} µs, p99 ${result.baseline_default_pack_us.p99.toFixed(2)} µs`);
  console.log(`ratio 1,000 rules / default pack at p50: ${(result.evaluate_us.p50 / result.baseline_default_pack_us.p50).toFixed(1)}x`);
}
