/**
 * Company-brain benchmark: import rate and `invoke.company_brain.query` latency with `join_to`, on
 * generated data at growing sizes (default 10k, 100k, 1M entities, 3 relations per entity), so the
 * figures show how query time grows. Targets at 1M: p50 < 10 ms, p99 < 50 ms; import ≥ 50,000/s.
 * Run: `bun bench/brain.ts` (BENCH_BRAIN_SIZES=10000,100000 for a quicker run).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyExport } from "../src/brain/importer.ts";
import type { EntityInput, RelationInput } from "../src/brain/model.ts";
import { BrainService } from "../src/brain/service.ts";
import { createTenant } from "../src/governance/bootstrap.ts";
import { openStore } from "../src/storage/sqlite/db.ts";
import { sqliteRepositories } from "../src/storage/sqlite/index.ts";
import { percentile } from "./stats.ts";

const WORDS = ["acme", "globex", "initech", "umbrella", "stark", "wayne", "wonka", "tyrell", "cyberdyne", "soylent", "hooli", "vandelay", "dunder", "monarch", "oscorp", "aperture"];
const word = (i: number) => WORDS[i % WORDS.length]! + (i % 997);

/** `count` entities (customers, contacts, invoices) and 3 relations each (a few may repeat and count once). */
export function generate(count: number): { entities: EntityInput[]; relations: RelationInput[] } {
  const customers = Math.max(1, Math.floor(count / 10));
  const entities: EntityInput[] = [];
  const relations: RelationInput[] = [];
  for (let i = 0; i < count; i++) {
    if (i < customers) {
      entities.push({ type: "customer", key: `C${i}`, name: `${WORDS[i % WORDS.length]} ${word(i * 7)} corp`, attributes: { country: ["US", "DE", "GB"][i % 3], tier: ["smb", "mid", "enterprise"][i % 3] } });
    } else if (i % 3 === 0) {
      entities.push({ type: "contact", key: `P${i}`, name: `${word(i)} person ${i}`, attributes: { title: "buyer", email: `p${i}@example.com` } });
    } else {
      entities.push({ type: "invoice", key: `I${i}`, name: `invoice ${i}`, attributes: { amount: i % 10_000, status: ["open", "paid", "overdue"][i % 3], note: word(i * 13) } });
    }
  }
  for (let i = 0; i < customers; i++) {
    const customer = { type: "customer", key: `C${i}` };
    for (const [relation, step] of [["related_to", 31], ["mentions", 17], ["partner_of", 7]] as const) relations.push({ from: customer, relation, to: { type: "customer", key: `C${(i * step + 1) % customers}` } });
  }
  for (let i = customers; i < count; i++) {
    const entity = entities[i]!;
    const customer = { type: "customer", key: `C${i % customers}` };
    relations.push(entity.type === "contact" ? { from: { type: "contact", key: entity.key }, relation: "works_at", to: customer } : { from: customer, relation: "billed_by", to: { type: "invoice", key: entity.key } });
    const other = entities[customers + ((i * 31 + 1) % (count - customers))]!;
    relations.push({ from: { type: entity.type, key: entity.key }, relation: "related_to", to: { type: other.type, key: other.key } });
    relations.push({ from: { type: entity.type, key: entity.key }, relation: "mentions", to: { type: "customer", key: `C${(i * 17) % customers}` } });
  }
  return { entities, relations };
}

/** Imports `count` entities into a fresh store and times queries with join_to. */
export async function runBrainBenchmark(count: number) {
  const dir = mkdtempSync(join(tmpdir(), "invoke-brain-bench-"));
  const store = openStore(join(dir, "brain.db"));
  try {
    const tenant = await createTenant(sqliteRepositories(store).directory, "bench", "admin@localhost");
    const tenantId = tenant.tenant_id;
    const brain = new BrainService(sqliteRepositories(store).brain);
    const data = generate(count);
    const started = performance.now();
    await applyExport(brain, tenantId, { ...data, skipped: [] }, "generated");
    const importSeconds = (performance.now() - started) / 1000;

    // Half the queries name a common word (1 in 16 customers), half a rare one (about 1 in 1,000).
    const queries = Array.from({ length: 300 }, (_, i) => ({ query: i % 2 ? WORDS[i % WORDS.length]! : word(i * 7), entity_type: "customer", join_to: { entity_type: "invoice" }, limit: 10 }));
    for (const query of queries.slice(0, 30)) await brain.query(tenantId, query);
    const times: number[] = [];
    for (const query of queries) {
      const begin = performance.now();
      await brain.query(tenantId, query);
      times.push(performance.now() - begin);
    }
    times.sort((a, b) => a - b);
    return { entities: count, relations: data.relations.length, import_per_second: Math.round(count / importSeconds), import_seconds: importSeconds, query_ms: { p50: percentile(times, 50), p99: percentile(times, 99) } };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const sizes = (process.env.BENCH_BRAIN_SIZES ?? "10000,100000,1000000").split(",").map(Number);
  const base = [];
  for (const size of sizes) {
    const result = await runBrainBenchmark(size);
    base.push(result);
    console.log(
      `${result.entities.toLocaleString("en").padStart(9)} entities, ${result.relations.toLocaleString("en").padStart(9)} relations: import ${result.import_per_second.toLocaleString("en")}/s (${result.import_seconds.toFixed(1)} s); query+join p50 ${result.query_ms.p50.toFixed(2)} ms, p99 ${result.query_ms.p99.toFixed(2)} ms (×${(result.query_ms.p50 / base[0]!.query_ms.p50).toFixed(1)} of the smallest)`,
    );
  }
}
