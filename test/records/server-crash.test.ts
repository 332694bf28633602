/**
 * Crash safety through the real server: `invoke serve` is killed with SIGKILL while tools/call requests
 * are in flight; after a restart on the same database, every call it had answered has its execution
 * record and `invoke executions verify` still passes.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../support/harness.ts";
import { CLI, initDatabase, runCli, startServer } from "../support/process.ts";

const CONCURRENCY = 16;
/** Load before each kill, and kill-and-restart rounds. */
const LOAD_MS = 600;
const ROUNDS = 3;
const CALL = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "invoke.whoami", arguments: {} } });

/** Every agent id in the tenant's tool-call records, read page by page over REST. */
async function recordedAgents(url: string, key: string): Promise<Set<string>> {
  const agents = new Set<string>();
  let cursor: string | undefined;
  do {
    const query = new URLSearchParams({ tool: "invoke.whoami", limit: "500", ...(cursor && { cursor }) });
    const res = await fetch(`${url}/v1/executions?${query}`, { headers: { "X-API-Key": key } });
    expect(res.status).toBe(200);
    const page = (await res.json()) as { records: { agent_id: string | null }[]; next_cursor?: string };
    for (const record of page.records) if (record.agent_id !== null) agents.add(record.agent_id);
    cursor = page.next_cursor;
  } while (cursor !== undefined);
  return agents;
}

/** What one round of load saw: the agents whose calls were answered, and how many calls were still in flight at the kill. */
interface Round {
  answered: string[];
  inFlightAtKill: number;
}

/**
 * Starts the server, sends tools/call from CONCURRENCY loops (each call under its own agent id) for
 * LOAD_MS, then kills the server with SIGKILL the moment the next answer arrives: the instant at which
 * a record committed only after the answer would be lost.
 */
async function loadAndKill(serve: string[], key: string, round: number): Promise<Round> {
  await using server = await startServer(serve);
  const answered: string[] = [];
  let inFlight = 0;
  let inFlightAtKill = 0;
  let killing = false;
  let stopping = false;
  const killed = Promise.withResolvers<void>();
  const kill = () => {
    inFlightAtKill = inFlight;
    server.kill("SIGKILL");
    stopping = true;
    killed.resolve();
  };
  const worker = async (index: number) => {
    for (let call = 0; !stopping; call++) {
      const agent = `crash-${round}-${index}-${call}`;
      inFlight++;
      try {
        const res = await fetch(`${server.url}/v1/mcp`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", "X-API-Key": key, "X-Invoke-Agent-Id": agent },
          body: CALL,
          signal: AbortSignal.timeout(5000),
        });
        const body = (await res.json()) as { result?: { isError?: boolean } };
        inFlight--;
        if (res.status === 200 && body.result !== undefined && body.result.isError !== true) {
          answered.push(agent);
          if (killing && !stopping) kill();
        }
      } catch {
        // Cut off by the kill: never answered, so nothing was promised.
        inFlight--;
      }
    }
  };
  const workers = Array.from({ length: CONCURRENCY }, (_, index) => worker(index));
  try {
    await Bun.sleep(LOAD_MS);
    killing = true;
    await Promise.race([killed.promise, Bun.sleep(2000)]);
    if (!stopping) kill(); // a stalled server: no answer came to kill it on
  } finally {
    stopping = true;
    await Promise.all(workers);
  }
  expect(await server.waitForExit()).toBeNull();
  return { answered, inFlightAtKill };
}

test("a server killed with SIGKILL under load loses no record of a call it answered, and the chain verifies after restart", async () => {
  using dir = tempDir();
  const db = join(dir.path, "invoke.db");
  const config = join(dir.path, "invoke.yaml");
  // The default limit (60 a minute) would refuse almost all of the load.
  await Bun.write(config, "rate_limit: { requests: 100000, per_seconds: 60 }\n");
  const { admin_key: key } = await initDatabase(CLI, ["--db", db]);
  const serve = [...CLI, "serve", "--db", db, "--port", "0", "--config", config];

  // Each restart continues the chain a crash left; a lost record shows in any round.
  const answered: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const seen = await loadAndKill(serve, key, round);
    expect(seen.inFlightAtKill).toBeGreaterThan(0);
    expect(seen.answered.length).toBeGreaterThan(100);
    answered.push(...seen.answered);
  }

  await using restarted = await startServer(serve);
  const recorded = await recordedAgents(restarted.url, key);
  expect(answered.filter((agent) => !recorded.has(agent))).toEqual([]);

  // The server's config: it names the key file that signed the checkpoints.
  const verify = await runCli(["executions", "verify", "--db", db, "--config", config, "--json"]);
  expect(verify.exitCode).toBe(0);
  const report = JSON.parse(verify.stdout) as { ok: boolean; records: number };
  expect(report.ok).toBe(true);
  expect(report.records).toBeGreaterThanOrEqual(answered.length);
}, 20_000);
