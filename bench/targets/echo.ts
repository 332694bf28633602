// Benchmark target: a bare `Bun.serve` JSON-RPC echo server, the practical ceiling for any Bun HTTP
// server. It parses the JSON body and answers a JSON-RPC result shaped like a trivial tools/call
// result, with no validation, auth or storage.
//
// With `--record <file>` it also keeps a durable, hash-chained record of every call, the practical
// ceiling for any Bun server that records each call before answering it: records queued during one
// turn of the event loop are committed in one IMMEDIATE transaction of a SQLite file (WAL, synchronous =
// NORMAL: a committed record survives the process being killed), and a call is answered only after its
// record committed. Still no validation, auth, policy, log or metrics.
// Usage: bun bench/targets/echo.ts --port <P> [--record <file>]   (listens on 127.0.0.1 only)
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { port: { type: "string" }, record: { type: "string" } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: echo.ts --port <P> [--record <file>]");
  process.exit(2);
}

const RESULT = { content: [{ type: "text", text: '{"tenant_id":"bench","user_id":"bench"}' }] };
const record = values.record ? await recorder(values.record) : undefined;

Bun.serve({
  hostname: "127.0.0.1",
  port,
  routes: {
    "/healthz": new Response("ok"),
    "/mcp": {
      POST: async (req) => {
        const rpc = (await req.json()) as { id?: unknown; params?: { name?: unknown; arguments?: unknown } };
        if (record) await record(String(rpc.params?.name), JSON.stringify(rpc.params?.arguments ?? null), JSON.stringify(RESULT));
        return Response.json({ jsonrpc: "2.0", id: rpc.id ?? null, result: RESULT });
      },
    },
  },
});

/** Returns a function that resolves once a call's record committed (one transaction per turn of the event loop). */
async function recorder(path: string): Promise<(tool: string, args: string, result: string) => Promise<void>> {
  const { Database } = await import("bun:sqlite");
  const db = new Database(path, { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run(
    "CREATE TABLE IF NOT EXISTS records (id TEXT NOT NULL, tenant_id TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, " +
      "tool TEXT NOT NULL, arguments TEXT NOT NULL, status TEXT NOT NULL, result_digest TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
  );
  db.run("CREATE UNIQUE INDEX IF NOT EXISTS records_tenant_seq ON records (tenant_id, seq)");
  const insert = db.prepare("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const headOf = db.prepare<{ seq: number; hash: string }, [string]>("SELECT seq, hash FROM records WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1");
  const sha256 = (text: string) => Bun.CryptoHasher.hash("sha256", text, "hex") as string;

  interface Queued {
    tool: string;
    args: string;
    result: string;
    done(): void;
  }
  /** Chains and inserts a batch after the tenant's head, read under the write lock. */
  const commit = db.transaction((batch: Queued[]) => {
    let head = headOf.get("bench") ?? { seq: 0, hash: "0".repeat(64) };
    for (const call of batch) {
      const seq = head.seq + 1;
      const row = { id: `exe_${seq.toString(36)}`, tenant_id: "bench", seq, at: Date.now(), tool: call.tool, arguments: call.args, status: "ok", result_digest: sha256(call.result) };
      const hash = sha256(head.hash + JSON.stringify(row));
      insert.run(row.id, row.tenant_id, seq, row.at, row.tool, row.arguments, row.status, row.result_digest, head.hash, hash);
      head = { seq, hash };
    }
  });

  let queue: Queued[] = [];
  return (tool, args, result) =>
    new Promise((done) => {
      queue.push({ tool, args, result, done });
      if (queue.length > 1) return;
      setImmediate(() => {
        const batch = queue;
        queue = [];
        commit.immediate(batch);
        for (const call of batch) call.done();
      });
    });
}
