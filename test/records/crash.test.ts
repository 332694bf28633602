/**
 * Crash safety of the execution ledger: a process appending records under load is killed with SIGKILL;
 * every record whose append() had resolved (the writer printed its id) is in the database afterwards,
 * and the chain still verifies.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { bootstrapIfEmpty } from "../../src/governance/bootstrap.ts";
import { ExecutionLedger } from "../../src/records/ledger.ts";
import { openStore } from "../../src/storage/sqlite/db.ts";
import { sqliteRepositories } from "../../src/storage/sqlite/index.ts";
import { tempDir } from "../support/harness.ts";
import { REPO_ROOT, spawnProcess } from "../support/process.ts";

const WRITER = join(REPO_ROOT, "test", "fixtures", "records-writer.ts");
const RECORD_ID = /^exe_[0-9a-z]+_[0-9A-Za-z]{10}$/;

test("no record of an answered call is lost when the process is killed with SIGKILL mid-load", async () => {
  using dir = tempDir();
  const path = join(dir.path, "invoke.db");
  const setup = openStore(path);
  const tenantId = (await bootstrapIfEmpty(sqliteRepositories(setup).directory))!.tenant_id;
  setup.close();

  let printed: string[];
  {
    await using writer = spawnProcess([process.execPath, WRITER, path, tenantId, "32"]);
    await writer.stdout.waitFor(() => writer.stdout.lines.length >= 400, "400 committed records");
    writer.kill("SIGKILL");
    expect(await writer.waitForExit()).toBeNull();
    // A line cut short by the kill was never fully printed, so it promised nothing.
    printed = writer.stdout.lines.filter((line) => RECORD_ID.test(line));
  }

  const store = openStore(path);
  try {
    const ledger = new ExecutionLedger(sqliteRepositories(store).records);
    expect(printed.length).toBeGreaterThanOrEqual(400);
    const missing: string[] = [];
    for (const id of printed) if ((await ledger.get(tenantId, id)) === undefined) missing.push(id);
    expect(missing).toEqual([]);
    const report = await ledger.verify(tenantId);
    expect(report).toEqual({ ok: true, records: report.records });
    expect(report.records).toBeGreaterThanOrEqual(printed.length);
  } finally {
    store.close();
  }
});
