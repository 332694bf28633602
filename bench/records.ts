/**
 * Execution-ledger benchmark: records per second of `append()` (group commit) against the naive
 * baseline of one transaction per record (`single`), in the same run, with 1, 16 and 64 concurrent
 * callers each awaiting its record before the next, on a fresh database file per measurement (WAL,
 * synchronous = NORMAL, as the server runs). Also times `verify` over the largest chain.
 * Run: `bun bench/records.ts` (BENCH_RECORDS=N records per measurement, default 20000).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrapIfEmpty } from "../src/governance/bootstrap.ts";
import { ExecutionLedger, type RecordInput } from "../src/records/ledger.ts";
import { openStore } from "../src/storage/sqlite/db.ts";
import { sqliteRepositories } from "../src/storage/sqlite/index.ts";

type Mode = "append" | "single";

/** A typical tool-call record: a short SQL argument (with a secret to redact) and a small result. */
function toolCall(tenantId: string, index: number): RecordInput {
  return {
    tenantId,
    kind: "tool_call",
    userId: "usr_bench",
    keyId: "key_bench",
    agentId: `agent_${index % 8}`,
    clientName: "bench",
    profile: "operator",
    role: "editor",
    tool: "database.execute",
    classification: "mutating",
    arguments: { sql: `update invoices set status = 'paid' where id = ${index}`, connection: { password: "hunter2" } },
    decision: "allow",
    matchedRules: ["allow-finance-updates"],
    status: "ok",
    latencyMs: 2.5,
    result: { rows_affected: 1 },
  };
}

/** Appends `total` records from `concurrency` callers in `mode` on a fresh database; returns records/s and the transactions used. */
async function measure(mode: Mode, concurrency: number, total: number): Promise<{ perSecond: number; batches: number; verifyPerSecond: number }> {
  const dir = mkdtempSync(join(tmpdir(), "invoke-bench-records-"));
  const store = openStore(join(dir, "invoke.db"));
  try {
    const tenantId = (await bootstrapIfEmpty(sqliteRepositories(store).directory))!.tenant_id;
    const records = sqliteRepositories(store).records;
    const ledger = new ExecutionLedger(records);
    // The naive server: every call commits its own record, in a transaction of its own, before answering.
    const single = async (input: RecordInput) => {
      const { draft, place } = ledger.pending(input);
      await records.append([draft], place);
    };
    const write = mode === "append" ? (input: RecordInput) => ledger.append(input) : single;
    let next = 0;
    const caller = async () => {
      while (next < total) await write(toolCall(tenantId, next++));
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: concurrency }, caller));
    const seconds = (performance.now() - started) / 1000;

    const verifyStarted = performance.now();
    const report = await ledger.verify(tenantId);
    if (!report.ok || report.records !== total) throw new Error(`the chain does not verify: ${JSON.stringify(report)}`);
    const verifySeconds = (performance.now() - verifyStarted) / 1000;
    return { perSecond: total / seconds, batches: mode === "append" ? ledger.stats().batches : total, verifyPerSecond: total / verifySeconds };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the benchmark and returns its figures. */
export async function runRecordsBenchmark(total = 20_000, concurrencies = [1, 16, 64]) {
  await measure("append", 16, 1000);
  await measure("single", 16, 1000);
  const rows = [];
  for (const concurrency of concurrencies) {
    const grouped = await measure("append", concurrency, total);
    const naive = await measure("single", concurrency, total);
    rows.push({
      concurrency,
      append_per_second: Math.round(grouped.perSecond),
      single_per_second: Math.round(naive.perSecond),
      ratio: grouped.perSecond / naive.perSecond,
      records_per_transaction: total / grouped.batches,
      verify_per_second: Math.round(grouped.verifyPerSecond),
    });
  }
  return { records: total, rows };
}

if (import.meta.main) {
  const total = Number(process.env.BENCH_RECORDS ?? 20_000);
  const { rows } = await runRecordsBenchmark(total);
  console.log(`Execution ledger: ${total} records per measurement (Bun ${Bun.version}).`);
  console.log("concurrency  append() rec/s  single tx rec/s  ratio  records/transaction  verify rec/s");
  for (const row of rows) {
    console.log(
      [
        String(row.concurrency).padStart(11),
        String(row.append_per_second).padStart(14),
        String(row.single_per_second).padStart(15),
        `${row.ratio.toFixed(1)}x`.padStart(6),
        row.records_per_transaction.toFixed(1).padStart(19),
        String(row.verify_per_second).padStart(12),
      ].join("  "),
    );
  }
}
