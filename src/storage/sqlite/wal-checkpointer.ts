/**
 * WAL checkpoints off the request thread. SQLite copies the write-ahead log into the database file
 * (and syncs it) on whichever commit crosses `wal_autocheckpoint` pages: under load that is a 25–45 ms
 * stall of the serving thread every fraction of a second, the tail latency of recorded calls. A serving
 * process turns that off on its connection and has a Worker thread, with a connection of its own,
 * checkpoint PASSIVE (never waiting for, nor blocking, the writer) every interval instead.
 */
import type { Store } from "./db.ts";

/**
 * Log frames (pages) past which the log is started over: about 200 MB. A restart holds writers back for
 * one sync of the database file, so it is kept rare (about every 10 s at full load; never when writes
 * pause long enough for a passive checkpoint to catch up, as SQLite then starts the log over itself).
 */
const RESTART_PAGES = 50_000;

/** SQLite's default, restored when the checkpointer stops or fails. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

/**
 * The worker's source: a Blob module, so the compiled binary needs no entrypoint of its own for it. Its
 * statements are finalized before the close: a connection closed with one open lingers, holding its locks.
 */
function workerSource(path: string, intervalMs: number, restartPages: number): string {
  return `
import { Database } from "bun:sqlite";
const db = new Database(${JSON.stringify(path)});
db.run("PRAGMA busy_timeout = 5000");
const passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
const restart = db.prepare("PRAGMA wal_checkpoint(RESTART)");
const timer = setInterval(() => {
  try {
    if (passive.get().log > ${restartPages}) restart.get();
  } catch (error) { postMessage({ error: String(error) }); }
}, ${intervalMs});
self.onmessage = () => { clearInterval(timer); passive.finalize(); restart.finalize(); db.close(true); postMessage({ closed: true }); };
`;
}

/**
 * Starts checkpointing `store`'s WAL every `intervalMs` on a Worker thread; returns the stop function.
 * Under sustained writes a passive checkpoint never catches up with the writer, and SQLite starts the
 * log over only once it has, so past `restartPages` frames a RESTART checkpoint (holding writers back
 * while it copies the few frames left) bounds the log. A failed checkpoint is reported to `logError`
 * (the next interval tries again); a worker that dies hands checkpointing back to the store's connection.
 */
export function startWalCheckpointer(store: Store, intervalMs: number, logError: (message: string, error: unknown) => void, restartPages = RESTART_PAGES): () => Promise<void> {
  const worker = new Worker(URL.createObjectURL(new Blob([workerSource(store.path, intervalMs, restartPages)], { type: "application/javascript" })));
  const autocheckpoint = (pages: number) => store.sqlite.run(`PRAGMA wal_autocheckpoint = ${pages}`);
  autocheckpoint(0);
  let closed: () => void = () => {};
  let running = true;
  worker.onmessage = ({ data }: MessageEvent<{ error?: string; closed?: true }>) => {
    if (data.closed) closed();
    else logError("checkpointing the database's write-ahead log failed", data.error);
  };
  worker.onerror = (event) => {
    running = false;
    logError("the write-ahead log checkpointer stopped; the serving connection checkpoints again", event.message);
    autocheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
    closed();
  };
  worker.unref();
  return async () => {
    autocheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
    // The worker closes its connection itself: a thread terminated mid-checkpoint would leave its locks held.
    if (running) {
      await new Promise<void>((resolve) => {
        closed = resolve;
        worker.postMessage("stop");
      });
    }
    worker.terminate();
  };
}
