/**
 * What a serving process (HTTP or stdio) runs beside requests, apart from the wiring in `services.ts`:
 * connectors started and kept in line with the store, the approval sweeper, roll-ups of execution
 * records, the signed checkpoints of the chain heads and the store's WAL checkpoints on a thread of their own.
 */
import { startApprovalSweeper } from "./execution/approved.ts";
import { every } from "./every.ts";
import { tenantIdByName } from "./governance/directory.ts";
import { logError, logInfo } from "./log.ts";
import { startCheckpointing } from "./records/checkpoints.ts";
import type { Services } from "./services.ts";
import { startWalCheckpointer } from "./storage/sqlite/wal-checkpointer.ts";

/** How often a serving process adds new execution records to the rollups the summary reads. */
const ROLLUP_INTERVAL_MS = 1000;

/** How often a serving process checkpoints the database's write-ahead log, on a thread of its own. */
const WAL_CHECKPOINT_INTERVAL_MS = 250;

/** How often a serving process brings its connectors in line with the store (changes made by `invoke connectors`). */
const RECONCILE_INTERVAL_MS = 2000;

/**
 * Starts what runs beside requests in a serving process (HTTP or stdio): the config file's connectors
 * synced and every connector started (then kept in line with the store), the approval sweeper, the
 * signed checkpoints of the chain heads and the WAL checkpointer. Returns the stop function, which stops connectors (children
 * reaped), commits the last records and checkpoints the final heads.
 */
export async function startBackground(services: Services): Promise<() => Promise<void>> {
  // First: a checkpoint log that cannot be written stops the start before anything else runs.
  const stopCheckpointing = await startCheckpointing({ ...services, dbPath: services.store.path, config: services.config.checkpoints, log: logInfo, logError });
  const tenantNames = new Set(services.config.connectors.map((entry) => entry.tenant ?? "default"));
  const tenantIds = new Map(await Promise.all([...tenantNames].map(async (name) => [name, await tenantIdByName(services.directory, name)] as const)));
  await services.connectors.syncConfig(services.config.connectors, (name) => tenantIds.get(name)!);
  await services.connectors.reconcile();
  const stopSweeper = startApprovalSweeper(services.approvals, services.calls, 1000, logError);
  const stopRollUps = every(ROLLUP_INTERVAL_MS, () => services.records.rollUp(), (error) => logError("rolling up execution records failed", error));
  const stopReconciling = every(RECONCILE_INTERVAL_MS, () => services.connectors.reconcile(), (error) => logError("reconciling connectors failed", error));
  const stopWalCheckpoints = startWalCheckpointer(services.store, WAL_CHECKPOINT_INTERVAL_MS, logError);
  return async () => {
    await stopWalCheckpoints();
    stopReconciling();
    stopRollUps();
    stopSweeper();
    await services.connectors.close();
    await services.records.flush();
    // After the last records: the final head is what the last checkpoint signs.
    await stopCheckpointing();
  };
}
