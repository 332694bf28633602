/**
 * SQLite for the `database` connector, run in a worker process (sqlite-worker.ts) so that a statement
 * never holds up the server's thread. Calls reach the worker one at a time, in order. A call still running
 * at its time limit is cancelled by killing the worker: bun:sqlite cannot interrupt a statement, and a
 * Worker thread cannot be stopped while one runs, so only the process's end stops it and releases its
 * locks (SQLite rolls back an unfinished write from its journal). A fresh worker reopens the file for the
 * next call; a file that cannot be reopened makes the engine report a problem, and the connector reconnects.
 *
 * The compiled binary holds the worker as a second entrypoint (`bun build --compile src/cli.ts
 * src/connectors/sqlite-worker.ts`): there the worker's bundle is read from the binary's embedded file system
 * and piped to the binary itself acting as `bun run -` (BUN_BE_BUN=1), since running the binary otherwise
 * starts the CLI, and `bun` running as the binary cannot open embedded files by path.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Subprocess } from "bun";
import type { SqlAnalysis } from "../policy/analyzers/sql.ts";
import { ConnectorError } from "./connector.ts";
import { messageOf, StatementError, timeoutMessage, type Outcome, type SqlEngine, type SqlPlan } from "./database-engine.ts";
import type { WorkerReply, WorkerRequest } from "./sqlite-worker.ts";

/** The worker's source next to this file (outside the compiled binary). */
const WORKER_URL = new URL("./sqlite-worker.ts", import.meta.url);

const OPEN_TIMEOUT_MS = 10_000;
/** Past a call's deadline, how long SQLite may take to report a lock wait itself before the worker is killed. */
const KILL_GRACE_MS = 50;
const CLOSE_TIMEOUT_MS = 1_000;

/** A request as queued, before it gets its id (Omit applied to each member of the union). */
type WithoutId<R> = R extends unknown ? Omit<R, "id"> : never;
type Request = WithoutId<WorkerRequest>;

/** One call waiting for, or getting, the worker's answer. */
interface Job {
  request: Request;
  timeoutMs: number;
  /** performance.now() by which the call must be answered. */
  deadline: number;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer?: Timer;
}

/** One SQLite file behind a worker process. */
export class SqliteEngine implements SqlEngine {
  private worker?: Subprocess;
  private active?: { job: Job; id: number };
  private queue: Job[] = [];
  private nextId = 0;
  private brokenReason?: string;
  private closed = false;

  private constructor(
    /** The path as configured, for messages. */
    private readonly path: string,
  ) {}

  /** Starts a worker and opens the file in it; the file must exist. */
  static async open(path: string): Promise<SqliteEngine> {
    // Opening a missing path would create an empty database and hide a wrong path.
    if (!existsSync(path)) throw new ConnectorError(`SQLite database ${path} does not exist (Invoke does not create it: check the path)`);
    const engine = new SqliteEngine(path);
    try {
      await engine.startWorker();
    } catch (error) {
      await engine.close();
      throw error;
    }
    return engine;
  }

  async run(plan: SqlPlan): Promise<Outcome> {
    const { sql, params, mode, analysis, maxRows, timeoutMs } = plan;
    return (await this.enqueue({ op: "run", sql, params, mode, analysis, maxRows, busyTimeoutMs: timeoutMs }, timeoutMs)) as Outcome;
  }

  /** The SQL facts for policy: the analysis reconciled with the statement as SQLite compiles it (sqlite-guard.ts). */
  async inspect(plan: Omit<SqlPlan, "params" | "maxRows">): Promise<SqlAnalysis> {
    const { sql, mode, analysis, timeoutMs } = plan;
    return (await this.enqueue({ op: "inspect", sql, mode, analysis, busyTimeoutMs: timeoutMs }, timeoutMs)) as SqlAnalysis;
  }

  problem(): string | undefined {
    if (this.brokenReason !== undefined) return this.brokenReason;
    // The worker would keep writing to a deleted file that nobody else sees.
    return existsSync(this.path) ? undefined : `SQLite database ${this.path} no longer exists`;
  }

  warnings(): string[] {
    return [];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const busy = this.active !== undefined;
    this.rejectAll(new ConnectorError("the connector is closed"));
    const worker = this.worker;
    this.worker = undefined;
    if (worker === undefined) return;
    try {
      if (busy) throw new Error("a statement is running");
      // The worker closes its connections (SQLite checkpoints and removes its -wal file), then exits on disconnect.
      worker.send({ id: 0, op: "close" } satisfies WorkerRequest);
      worker.disconnect();
    } catch {
      worker.kill("SIGKILL");
    }
    const timer = setTimeout(() => worker.kill("SIGKILL"), CLOSE_TIMEOUT_MS);
    await worker.exited;
    clearTimeout(timer);
  }

  /** Spawns a worker and queues the opening of the file ahead of every call; resolves once it is open. */
  private startWorker(): Promise<unknown> {
    let worker: Subprocess;
    try {
      worker = this.spawnWorker();
    } catch (error) {
      const reason = error instanceof ConnectorError ? error.message : `cannot start the SQLite worker: ${messageOf(error)}`;
      this.fail(reason);
      return Promise.reject(new ConnectorError(reason));
    }
    // A worker waiting for calls must not keep the process alive; a call's own timer does while it runs.
    worker.unref();
    this.worker = worker;
    const opening = this.enqueue({ op: "open", path: resolve(this.path), busyTimeoutMs: OPEN_TIMEOUT_MS / 2 }, OPEN_TIMEOUT_MS, true);
    return opening.catch((error: Error) => {
      // A worker that cannot open the file is of no use to any call.
      this.fail(error.message);
      throw error;
    });
  }

  private spawnWorker(): Subprocess {
    const { cmd, stdin } = workerCommand();
    return Bun.spawn(cmd, {
      // Neither the server's working folder (a bunfig.toml there could preload code) nor its environment
      // (secrets) concern the worker; only SQLite's temporary-file folder does.
      cwd: "/",
      env: workerEnvironment(),
      stdin,
      stdout: "ignore",
      stderr: "inherit",
      serialization: "json",
      ipc: (message, subprocess) => this.onReply(subprocess, message as WorkerReply),
      onExit: (subprocess, exitCode, signalCode) => this.onExit(subprocess, String(signalCode ?? exitCode)),
    });
  }

  private enqueue(request: Request, timeoutMs: number, first = false): Promise<unknown> {
    if (this.closed) return Promise.reject(new ConnectorError("the connector is closed"));
    if (this.brokenReason !== undefined) return Promise.reject(new ConnectorError(this.brokenReason));
    return new Promise((resolve, reject) => {
      const job: Job = { request, timeoutMs, deadline: performance.now() + timeoutMs, resolve, reject };
      job.timer = setTimeout(() => this.expire(job), timeoutMs + (request.op === "open" ? 0 : KILL_GRACE_MS));
      if (first) this.queue.unshift(job);
      else this.queue.push(job);
      this.pump();
    });
  }

  /** Sends the next call once the worker is free. */
  private pump(): void {
    if (this.active !== undefined || this.worker === undefined) return;
    const job = this.queue.shift();
    if (job === undefined) return;
    const id = ++this.nextId;
    this.active = { job, id };
    // A call that waited its turn has only the rest of its time for SQLite's lock waits.
    const busyTimeoutMs = job.request.op === "open" ? job.request.busyTimeoutMs : Math.max(0, job.deadline - performance.now());
    try {
      this.worker.send({ ...job.request, id, ...("busyTimeoutMs" in job.request && { busyTimeoutMs }) } as WorkerRequest);
    } catch (error) {
      this.fail(`the SQLite worker is gone: ${(error as Error).message}`);
    }
  }

  private onReply(worker: Subprocess, reply: WorkerReply): void {
    if (worker !== this.worker || this.active === undefined || reply.id !== this.active.id) return;
    const { job } = this.active;
    this.active = undefined;
    clearTimeout(job.timer);
    if (reply.ok) job.resolve(reply.value);
    else if (reply.failure === "statement") job.reject(new StatementError(reply.message));
    else {
      if (reply.failure === "broken") this.brokenReason = reply.message;
      job.reject(new ConnectorError(reply.message));
    }
    this.pump();
  }

  /** A call ran out of time: one still waiting leaves the queue; the one running is cancelled with its worker. */
  private expire(job: Job): void {
    const error = new ConnectorError(job.request.op === "open" ? `SQLite database ${this.path} did not open within ${job.timeoutMs} ms` : timeoutMessage(job.timeoutMs));
    if (this.active?.job !== job) {
      this.queue = this.queue.filter((queued) => queued !== job);
      job.reject(error);
      return;
    }
    this.active = undefined;
    const worker = this.worker;
    this.worker = undefined;
    worker?.kill("SIGKILL");
    // Answered once the worker is gone (at most a second): its locks on the file die with it, so the
    // caller may use the file as soon as it has the answer.
    void Promise.race([worker?.exited, Bun.sleep(1000)]).then(() => job.reject(error));
    if (job.request.op === "open") this.fail(error.message);
    else if (!this.closed) this.startWorker().catch(() => {});
  }

  /** The worker exited by itself (crashed): nothing it was doing will be answered. */
  private onExit(worker: Subprocess, how: string): void {
    if (worker !== this.worker || this.closed) return;
    this.worker = undefined;
    this.fail(`the SQLite worker for ${this.path} exited (${how})`);
  }

  /** The engine cannot serve calls any more: the connector sees it in problem() and reconnects. */
  private fail(reason: string): void {
    this.brokenReason ??= reason;
    this.rejectAll(new ConnectorError(this.brokenReason));
  }

  private rejectAll(error: Error): void {
    const jobs = [...(this.active === undefined ? [] : [this.active.job]), ...this.queue];
    this.active = undefined;
    this.queue = [];
    for (const job of jobs) {
      clearTimeout(job.timer);
      job.reject(error);
    }
  }
}

/** How to start a worker: Bun running the worker's file, or the compiled binary acting as Bun on its embedded bundle, read from stdin. */
function workerCommand(): { cmd: string[]; stdin: Blob | "ignore" } {
  // No bunfig.toml and no .env file from anywhere: the worker runs exactly its own code.
  const flags = ["--config=/dev/null", "--no-env-file"];
  if (!Bun.isStandaloneExecutable) return { cmd: [process.execPath, ...flags, fileURLToPath(WORKER_URL)], stdin: "ignore" };
  return { cmd: [process.execPath, ...flags, "run", "-"], stdin: new Blob([embeddedWorkerSource()]) };
}

let workerSource: string | undefined;

/**
 * The worker's bundle from the binary's embedded file system. Each entrypoint keeps its place below the
 * entrypoints' common folder (`connectors/sqlite-worker.js`), while this code runs inside the CLI's bundle
 * at the root, so the worker is looked up by name rather than next to this file.
 */
function embeddedWorkerSource(): string {
  if (workerSource !== undefined) return workerSource;
  const root = dirname(Bun.main);
  const entry = readdirSync(root, { recursive: true, encoding: "utf8" }).find((name) => basename(name) === "sqlite-worker.js");
  if (entry === undefined) throw new ConnectorError("this binary holds no SQLite worker: build it with src/connectors/sqlite-worker.ts as a second entrypoint");
  workerSource = readFileSync(join(root, entry), "utf8");
  return workerSource;
}

function workerEnvironment(): Record<string, string> {
  const env: Record<string, string> = Bun.isStandaloneExecutable ? { BUN_BE_BUN: "1" } : {};
  for (const name of ["SQLITE_TMPDIR", "TMPDIR"]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}
