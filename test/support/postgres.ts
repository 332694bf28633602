/**
 * A private, throwaway PostgreSQL server for tests: Debian's binaries (`postgresql` package, which
 * `.ci/run` installs) initialise a cluster in a temporary folder, serve it on a free loopback port with
 * trust authentication, and the folder is removed on `stop()`. The Debian-managed cluster is not used.
 * initdb refuses to run as root, so as root every server command runs as the `postgres` system user.
 */
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { afterAll, beforeAll } from "bun:test";

/** A running test server; `await using` stops it and removes its files. */
export interface PostgresServer extends AsyncDisposable {
  /** `postgres://invoke@127.0.0.1:<port>/invoke_test` (trust authentication, no password). */
  url: string;
  /** Stops the server (immediately, like a crash) and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

const DEBIAN_ROOT = "/usr/lib/postgresql";
const USER = "invoke";
const DATABASE = "invoke_test";

/** The folder of the newest installed PostgreSQL's binaries (`initdb`, `pg_ctl` …), or undefined when none is installed. */
export function findPostgresBinaries(): string | undefined {
  if (!existsSync(DEBIAN_ROOT)) return undefined;
  const versions = readdirSync(DEBIAN_ROOT)
    .filter((version) => existsSync(join(DEBIAN_ROOT, version, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(DEBIAN_ROOT, versions[0]!, "bin") : undefined;
}

/**
 * Why PostgreSQL tests cannot run here, or undefined when they can. In CI (`CI` set) it is always
 * undefined: there the tests run and fail in `startPostgres` rather than pass by skipping.
 */
export function postgresSkipReason(): string | undefined {
  if (findPostgresBinaries() !== undefined || process.env.CI) return undefined;
  return `PostgreSQL tests skipped: no ${DEBIAN_ROOT}/*/bin/initdb (install Debian's postgresql package; in CI these tests fail instead)`;
}

/** Initialises and starts a fresh server; rejects with the server's own output when it cannot. */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = findPostgresBinaries();
  if (bin === undefined) throw new Error(`PostgreSQL is not installed (no ${DEBIAN_ROOT}/*/bin/initdb): install Debian's postgresql package, as .ci/run does`);
  const asRoot = process.getuid?.() === 0;
  // As root the postgres user must reach the folder: /tmp is world-traversable, a custom TMPDIR may not be.
  const dir = mkdtempSync(join(asRoot ? "/tmp" : tmpdir(), "invoke-pg-"));
  const data = join(dir, "data");
  const sockets = join(dir, "sockets");
  mkdirSync(sockets);
  if (asRoot) {
    const { uid, gid } = systemUser("postgres");
    for (const path of [dir, sockets]) chownSync(path, uid, gid);
  }
  const run = (tool: string, args: string[]) => runTool(asRoot, join(bin, tool), args);
  let started = false;
  const stop = async () => {
    if (started) {
      started = false;
      await run("pg_ctl", ["stop", "-D", data, "-m", "immediate", "-w"]).catch(() => {});
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run("initdb", ["-D", data, "-U", USER, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"]);
    const port = await freePort();
    const options = `-p ${port} -k ${sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    started = true;
    await run("pg_ctl", ["start", "-D", data, "-w", "-t", "30", "-l", join(dir, "server.log"), "-o", options]).catch((error: Error) => {
      const log = join(dir, "server.log");
      throw new Error(`${error.message}\nserver log:\n${existsSync(log) ? readFileSync(log, "utf8") : "(none)"}`);
    });
    await run("createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", USER, DATABASE]);
    return { url: `postgres://${USER}@127.0.0.1:${port}/${DATABASE}`, stop, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Runs a PostgreSQL tool to completion (as the postgres user when we are root); rejects with its output when it fails. */
async function runTool(asRoot: boolean, tool: string, args: string[]): Promise<void> {
  const cmd = asRoot ? ["runuser", "-u", "postgres", "--", tool, ...args] : [tool, ...args];
  // pg_ctl sends the server's own output to the log file (-l), so the pipes close when the tool exits.
  const child = Bun.spawn({ cmd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C" } });
  const [stdout, stderr, exitCode] = await Promise.all([readText(child.stdout), readText(child.stderr), child.exited]);
  if (exitCode !== 0) throw new Error(`${cmd.join(" ")} exited with ${exitCode}:\n${stdout}${stderr}`);
}

/** Reads a stream to its end. */
function readText(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

/** A loopback port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** A system user's ids, from /etc/passwd. */
function systemUser(name: string): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith(`${name}:`));
  if (line === undefined) throw new Error(`running as root, PostgreSQL needs the '${name}' system user, which Debian's postgresql package creates`);
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A server for the tests of the enclosing `describe`, started before them and stopped after them, with
 * an admin connection of the test's own (one connection, so session settings stay put).
 */
export function usePostgres(): { readonly server: PostgresServer; readonly admin: SQL } {
  let server: PostgresServer | undefined;
  let admin: SQL | undefined;
  beforeAll(async () => {
    server = await startPostgres();
    admin = new SQL(server.url, { max: 1 });
  });
  afterAll(async () => {
    await admin?.close();
    await server?.stop();
  });
  return {
    get server() {
      return server!;
    },
    get admin() {
      return admin!;
    },
  };
}
