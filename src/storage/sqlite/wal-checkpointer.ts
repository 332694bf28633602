/**
 * WAL checkpoints off the request thread. SQLite copies the write-ahead log into the database file
 * (and syncs it) on whichever commit crosses `wal_autocheckpoint` pages: under load that is a 25–45 ms
 * stall of the serving thread every fraction of a second, the tail latency of recorded calls. A serving
 * process turns that off on its connection and has a Worker thread, with a connection of its own,
 * checkpoint PASSIVE (never waiting for, nor blocking, the writer) every interval instead.
 */
import type { Store } from "./db.ts";

/** SQLite's default, restored when the checkpointer stops or fails. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;

/**
 * The worker's source: a Blob module, so the compiled binary needs no entrypoint of its own for it. Its
 * statement is finalized before the close: a connection closed with one open lingers, holding its locks.
 */
function workerSource(path: string, intervalMs: number): string {
  return `
import { Database } from "bun:sqlite";
const db = new Database(${JSON.stringify(path)});
db.run("PRAGMA busy_timeout = 5000");
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
const timer = setInterval(() => {
  try { checkpoint.get(); } catch (error) { postMessage({ error: String(error) }); }
}, ${intervalMs});
self.onmessage = () => { clearInterval(timer); checkpoint.finalize(); db.close(true); postMessage({ closed: true }); };
`;
}

/**
 * Starts checkpointing `store`'s WAL every `intervalMs` on a Worker thread; returns the stop function.
 * A failed checkpoint is reported to `logError` (the next interval tries again); a worker that dies
 * hands checkpointing back to the store's own connection.
 */
export function startWalCheckpointer(store: Store, intervalMs: number, logError: (message: string, error: unknown) => void): () => Promise<void> {
  const worker = new Worker(URL.createObjectURL(new Blob([workerSource(store.path, intervalMs)], { type: "application/javascript" })));
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
