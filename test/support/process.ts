/**
 * Child processes for tests that drive Invoke through its real entry points (`bun src/cli.ts`, the
 * compiled binary): spawn with an environment free of the developer's INVOKE_* settings, read output
 * line by line, and always stop and reap the process (`await using`).
 */
import { join } from "node:path";
import { tempDir } from "./harness.ts";
import type { Subprocess } from "bun";

/** The repository root, where `bun src/cli.ts` is run from. */
export const REPO_ROOT = join(import.meta.dir, "..", "..");

/** `bun src/cli.ts`: the CLI as `bun run` starts it. */
export const CLI = [process.execPath, join(REPO_ROOT, "src", "cli.ts")];

/** How long a waiting helper waits before failing with the output seen so far. */
const DEFAULT_TIMEOUT_MS = 15_000;

/** The parent's environment without INVOKE_* variables, plus `extra`: a child sees only the settings a test gives it. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("INVOKE_")) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Reads a byte stream as lines, keeping every line seen so tests can wait for one or inspect them all. */
export class LineReader {
  /** Complete lines so far (a final unterminated line is added when the stream ends). */
  readonly lines: string[] = [];
  /** Resolves when the stream has ended. */
  readonly done: Promise<void>;
  private raw = "";
  private partial = "";
  private ended = false;
  private readonly watchers = new Set<() => void>();

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = this.pump(stream);
  }

  /** Everything read so far, exactly as written. */
  get text(): string {
    return this.raw;
  }

  /** The first line (from the start of the stream) that matches, once it has been written. */
  waitFor(predicate: (line: string) => boolean, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    return new Promise((resolve, reject) => {
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        this.watchers.delete(check);
        outcome();
      };
      const check = () => {
        const found = this.lines.find(predicate);
        if (found !== undefined) settle(() => resolve(found));
        else if (this.ended) settle(() => reject(new Error(`the output ended before ${what}; it was:\n${this.raw}`)));
      };
      const timer = setTimeout(() => settle(() => reject(new Error(`no ${what} after ${timeoutMs} ms; the output was:\n${this.raw}`))), timeoutMs);
      this.watchers.add(check);
      check();
    });
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) this.append(decoder.decode(chunk, { stream: true }));
      this.append(decoder.decode());
    } finally {
      if (this.partial.length > 0) this.lines.push(this.partial);
      this.partial = "";
      this.ended = true;
      this.notify();
    }
  }

  private append(text: string): void {
    if (text.length === 0) return;
    this.raw += text;
    const parts = (this.partial + text).split("\n");
    this.partial = parts.pop()!;
    if (parts.length === 0) return;
    this.lines.push(...parts);
    this.notify();
  }

  private notify(): void {
    for (const check of [...this.watchers]) check();
  }
}

/** Where and how to start a process. */
export interface SpawnOptions {
  /** Working folder (default: the repository root). */
  cwd?: string;
  /** The complete environment (default: `cleanEnv()`). */
  env?: Record<string, string>;
}

/** A running child with its output readers; `await using` kills it (if still running) and reaps it. */
export class RunningProcess implements AsyncDisposable {
  readonly stdout: LineReader;
  readonly stderr: LineReader;
  /** When the process was spawned (`performance.now()`). */
  readonly startedAt: number;

  constructor(private readonly child: Subprocess<"pipe", "pipe", "pipe">) {
    this.startedAt = performance.now();
    this.stdout = new LineReader(child.stdout);
    this.stderr = new LineReader(child.stderr);
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Writes to stdin. */
  write(text: string): void {
    this.child.stdin.write(text);
    this.child.stdin.flush();
  }

  /** Closes stdin (end of input). */
  endInput(): void {
    this.child.stdin.end();
  }

  /** Sends a signal. */
  kill(signal: NodeJS.Signals = "SIGTERM"): void {
    this.child.kill(signal);
  }

  /** The first stdout line that matches; fails early, with stdout and stderr, if the process ends first. */
  async waitForLine(predicate: (line: string) => boolean, what: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    try {
      return await this.stdout.waitFor(predicate, what, timeoutMs);
    } catch (error) {
      throw new Error(`${(error as Error).message}\nstderr:\n${this.stderr.text}`);
    }
  }

  /** Waits for the process to end and for its output to be read; returns the exit code (null if a signal ended it). */
  async waitForExit(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<number | null> {
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the process did not exit within ${timeoutMs} ms\nstdout:\n${this.stdout.text}\nstderr:\n${this.stderr.text}`)), timeoutMs);
    });
    try {
      await Promise.race([this.child.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
    await Promise.all([this.stdout.done, this.stderr.done]);
    return this.child.exitCode;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.child.exited;
    await Promise.all([this.stdout.done, this.stderr.done]);
  }
}

/** Spawns `cmd` with piped stdin, stdout and stderr. */
export function spawnProcess(cmd: string[], options: SpawnOptions = {}): RunningProcess {
  const child = Bun.spawn({
    cmd,
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env ?? cleanEnv(),
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  return new RunningProcess(child);
}

/** What a finished process left. */
export interface RunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` to completion with `stdin` as its input (killed after `timeoutMs`). */
export async function runProcess(cmd: string[], options: SpawnOptions & { stdin?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  await using child = spawnProcess(cmd, options);
  if (options.stdin !== undefined) child.write(options.stdin);
  child.endInput();
  const exitCode = await child.waitForExit(options.timeoutMs);
  return { exitCode, stdout: child.stdout.text, stderr: child.stderr.text };
}

/** Runs `bun src/cli.ts …args`. */
export function runCli(args: string[], options: SpawnOptions & { stdin?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return runProcess([...CLI, ...args], options);
}

/** What `invoke init --json` prints. */
export interface InitOutput {
  tenant_id: string;
  user_id: string;
  admin_key: string;
}

/** Runs `<invoke> init --json` (with `args`, e.g. `--db PATH`) and returns its output; throws with stderr on failure. */
export async function initDatabase(invoke: string[], args: string[], options: SpawnOptions = {}): Promise<InitOutput> {
  const result = await runProcess([...invoke, "init", "--json", ...args], options);
  if (result.exitCode !== 0) throw new Error(`init failed with exit code ${result.exitCode}: ${result.stderr}`);
  return JSON.parse(result.stdout) as InitOutput;
}

/** Waits for `serve` to print "listening on http://HOST:PORT" and returns that base URL. */
export async function listeningUrl(server: RunningProcess, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
  const pattern = /listening on (http:\/\/\S+?:\d+)/;
  const line = await server.waitForLine((candidate) => pattern.test(candidate), 'the "listening on" line', timeoutMs);
  return pattern.exec(line)![1]!;
}

/** Spawns `cmd` (a `serve` command line) and waits until it listens; the process is stopped if it never does. */
export async function startServer(cmd: string[], options: SpawnOptions = {}): Promise<RunningProcess & { url: string }> {
  const server = spawnProcess(cmd, options);
  try {
    return Object.assign(server, { url: await listeningUrl(server) });
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
}

/** Whether a process with this id still exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs the CLI with `args` (plus `--db`) on a freshly initialised database in a temporary folder. */
export async function runOnFreshDatabase(args: string[]): Promise<RunResult> {
  using dir = tempDir();
  const db = join(dir.path, "invoke.db");
  await initDatabase(CLI, ["--db", db]);
  // Awaited here: the folder is removed when this function returns.
  return await runCli([...args, "--db", db]);
}

/** Polls GET /healthz until it answers 200. */
export async function waitForHealthy(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const status = await fetch(`${url}/healthz`).then((response) => response.status, () => 0);
    if (status === 200) return;
    await Bun.sleep(5);
  }
  throw new Error(`${url}/healthz did not answer 200 within ${timeoutMs} ms`);
}
