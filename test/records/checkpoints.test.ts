/**
 * Signed checkpoints of the chain heads: truncation (the newest record, the newest ten, all of a
 * tenant's) and a replaced, re-signed or edited checkpoint file are named by `invoke executions verify`
 * on a copy of the store; every tenant is verified by default (REST: the caller's only); a signed export
 * verifies offline with the public key alone; the final head is checkpointed at shutdown; witnesses
 * (HTTP, syslog over UDP and TCP) receive the signed checkpoints.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, it } from "bun:test";
import { createPublicKey } from "node:crypto";
import { createSocket } from "node:dgram";
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { DEFAULT_CONFIG, type CheckpointConfig } from "../../src/config.ts";
import { bootstrapIfEmpty, createTenant } from "../../src/governance/bootstrap.ts";
import { loadInstanceKeys } from "../../src/governance/key-file.ts";
import { GENESIS_HASH, HASHED_FIELDS, recordHash, type StoredRecord } from "../../src/records/chain.ts";
import { signStatement, verifyStatement, type SignedCheckpoint } from "../../src/records/checkpoints.ts";
import { ExecutionLedger, type RecordInput } from "../../src/records/ledger.ts";
import { startBackground } from "../../src/background.ts";
import { createServices, type Services } from "../../src/services.ts";
import { openStore, type Store } from "../../src/storage/sqlite/db.ts";
import { sqliteRepositories } from "../../src/storage/sqlite/index.ts";
import { eventually, rest, startTestServer, tempDir } from "../support/harness.ts";
import { cleanEnv, CLI, runCli, startServer } from "../support/process.ts";

const call = (tenantId: string, index: number): RecordInput => ({
  tenantId,
  kind: "tool_call",
  agentId: "finance_agent",
  tool: "database.execute",
  arguments: { sql: `select ${index}` },
  decision: "allow",
  status: "ok",
  latencyMs: 1,
});

/** An installation on disk: the store, its key file and its checkpoint log, in a folder of its own. */
interface Install {
  dir: string;
  db: string;
  checkpoints: string;
  tenants: { default: string; acme: string };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A folder removed after the test. */
function folder(): string {
  const dir = tempDir();
  cleanups.push(() => dir[Symbol.dispose]());
  return dir.path;
}

/** Runs a serving process's background work on the store (checkpoint at start) and stops it (checkpoint at shutdown). */
async function serveBriefly(store: Store, db: string, checkpoints: Partial<CheckpointConfig> = {}): Promise<void> {
  const services = createServices({ store, config: { ...DEFAULT_CONFIG, db, checkpoints: { ...DEFAULT_CONFIG.checkpoints, ...checkpoints } } });
  const stop = await startBackground(services);
  await stop();
}

/** Tenants default (`counts[0]` records) and acme (`counts[1]`), checkpointed as a server would. */
async function install(counts: [number, number] = [50, 20]): Promise<Install> {
  const dir = folder();
  const db = join(dir, "invoke.db");
  const store = openStore(db);
  try {
    const { directory } = sqliteRepositories(store);
    const tenants = { default: (await bootstrapIfEmpty(directory))!.tenant_id, acme: (await createTenant(directory, "acme", "admin@acme.example")).tenant_id };
    const ledger = new ExecutionLedger(sqliteRepositories(store).records);
    for (let index = 0; index < counts[0]; index++) await ledger.append(call(tenants.default, index));
    for (let index = 0; index < counts[1]; index++) await ledger.append(call(tenants.acme, index));
    await serveBriefly(store, db);
    return { dir, db, checkpoints: `${db}.checkpoints.jsonl`, tenants };
  } finally {
    store.close();
  }
}

/** Appends records to a tenant of the installation and checkpoints them again. */
async function appendAndCheckpoint(target: Install, tenantId: string, count: number): Promise<void> {
  const store = openStore(target.db);
  try {
    const ledger = new ExecutionLedger(sqliteRepositories(store).records);
    for (let index = 0; index < count; index++) await ledger.append(call(tenantId, index));
    await serveBriefly(store, target.db);
  } finally {
    store.close();
  }
}

/** Changes the store as someone with file access would: the append-only triggers dropped first. */
function tamper(db: string, sql: string, params: (string | number)[] = []): void {
  const sqlite = new Database(db);
  try {
    sqlite.run("DROP TRIGGER IF EXISTS execution_records_no_update");
    sqlite.run("DROP TRIGGER IF EXISTS execution_records_no_delete");
    sqlite.run(sql, params);
  } finally {
    sqlite.close();
  }
}

const logLines = (path: string): SignedCheckpoint[] =>
  existsSync(path)
    ? readFileSync(path, "utf8")
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line))
    : [];

/** The newest checkpoint of a tenant in the log. */
const newestOf = (path: string, tenantId: string) => logLines(path).findLast((line) => line.tenant_id === tenantId)!;

/** The line of the log (1-based) holding the tenant's newest checkpoint. */
const lineOf = (path: string, tenantId: string) => logLines(path).findLastIndex((line) => line.tenant_id === tenantId) + 1;

const verify = (target: Install, ...args: string[]) => runCli(["executions", "verify", "--db", target.db, ...args], { env: cleanEnv() });

/** The problem lines verify printed on stderr. */
const problemsOf = (stderr: string) =>
  stderr
    .trimEnd()
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => line.replace(/^invoke: /, ""));

describe("invoke executions verify against the signed checkpoints", () => {
  it("passes on an intact store, checking every tenant by default", async () => {
    const target = await install();
    const result = await verify(target);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("intact: 70 records in 2 tenants");
    expect(result.stdout).toContain(`tenant default: 50 records, checkpointed up to seq 50 at ${newestOf(target.checkpoints, target.tenants.default).at}`);
    expect(result.stdout).toContain("tenant acme: 20 records, checkpointed up to seq 20");
  });

  it("names the newest record deleted", async () => {
    const target = await install();
    const checkpoint = newestOf(target.checkpoints, target.tenants.default);
    tamper(target.db, "DELETE FROM execution_records WHERE tenant_id = ? AND seq = 50", [target.tenants.default]);
    const result = await verify(target);
    expect(result.exitCode).toBe(1);
    expect(problemsOf(result.stderr)).toEqual([
      `tenant default: record 50 missing: the chain ends at seq 49 but the checkpoint of ${checkpoint.at} covers seq 50 (hash ${checkpoint.hash})`,
    ]);
  });

  it("names the newest ten records deleted", async () => {
    const target = await install();
    const checkpoint = newestOf(target.checkpoints, target.tenants.default);
    tamper(target.db, "DELETE FROM execution_records WHERE tenant_id = ? AND seq > 40", [target.tenants.default]);
    const result = await verify(target);
    expect(result.exitCode).toBe(1);
    expect(problemsOf(result.stderr)).toEqual([
      `tenant default: records 41–50 missing: the chain ends at seq 40 but the checkpoint of ${checkpoint.at} covers seq 50 (hash ${checkpoint.hash})`,
    ]);
  });

  it("names a tenant whose records were all deleted, without being asked for that tenant", async () => {
    const target = await install();
    const checkpoint = newestOf(target.checkpoints, target.tenants.acme);
    tamper(target.db, "DELETE FROM execution_records WHERE tenant_id = ?", [target.tenants.acme]);
    const result = await verify(target);
    expect(result.exitCode).toBe(1);
    expect(problemsOf(result.stderr)).toEqual([`tenant acme: all records deleted: the checkpoint of ${checkpoint.at} covers seq 20 (hash ${checkpoint.hash})`]);
    // Asked for one tenant only, verify checks that one.
    expect((await verify(target, "--tenant", "default")).exitCode).toBe(0);
    expect((await verify(target, "--tenant", "acme")).exitCode).toBe(1);
  });

  it("names a record rewritten with a recomputed chain by the checkpointed hash it no longer has", async () => {
    const target = await install([5, 1]);
    const checkpoint = newestOf(target.checkpoints, target.tenants.default);
    // The whole chain rebuilt from seq 1 with new contents: every hash valid, only the checkpoint disagrees.
    const sqlite = new Database(target.db, { readonly: true });
    const rows = sqlite.query(`SELECT ${HASHED_FIELDS.join(", ")} FROM execution_records WHERE tenant_id = ? ORDER BY seq`).all(target.tenants.default) as Omit<StoredRecord, "hash">[];
    sqlite.close();
    let prev = GENESIS_HASH;
    for (const row of rows) {
      const hash = recordHash({ ...row, status: "error", prev_hash: prev });
      tamper(target.db, "UPDATE execution_records SET status = 'error', prev_hash = ?, hash = ? WHERE tenant_id = ? AND seq = ?", [prev, hash, target.tenants.default, row.seq]);
      prev = hash;
    }
    const result = await verify(target, "--tenant", "default", "--json");
    expect(result.exitCode).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.problems.some((problem: string) => problem.startsWith(`tenant default: seq 5 has hash `) && problem.endsWith(`but the checkpoint of ${checkpoint.at} covers seq 5 (hash ${checkpoint.hash}): records were rewritten`))).toBe(true);
  });

  it("detects the checkpoint file replaced with an older copy that hides deleted records", async () => {
    const target = await install();
    const older = join(target.dir, "older.jsonl");
    copyFileSync(target.checkpoints, older);
    await appendAndCheckpoint(target, target.tenants.default, 5);
    expect((await verify(target)).exitCode).toBe(0);
    // Records 51–55 removed and the log rolled back to before them: the chain and the old log agree.
    tamper(target.db, "DELETE FROM execution_records WHERE tenant_id = ? AND seq > 50", [target.tenants.default]);
    copyFileSync(older, target.checkpoints);
    const result = await verify(target);
    expect(result.exitCode).toBe(1);
    const problems = problemsOf(result.stderr);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith(`checkpoint file ${target.checkpoints} ends at checkpoint 2: this store wrote checkpoints 1–3 to it, the last at `);
    expect(problems[0]).toEndWith("the file was replaced by an older copy or cut short");
  });

  it("detects a checkpoint file signed by another key", async () => {
    const target = await install();
    tamper(target.db, "DELETE FROM execution_records WHERE tenant_id = ? AND seq > 40", [target.tenants.default]);
    // The attacker re-signs a log claiming seq 40 with a key of their own.
    const theirs = loadInstanceKeys(join(folder(), "their.keys"));
    const lines = logLines(target.checkpoints).map(({ key: _key, sig: _sig, ...line }) => signStatement(line.tenant_id === target.tenants.default ? { ...line, seq: 40, records: 40 } : line, theirs.signingKey));
    writeFileSync(target.checkpoints, lines.map((line) => `${JSON.stringify(line)}\n`).join(""));
    const result = await verify(target);
    expect(result.exitCode).toBe(1);
    expect(problemsOf(result.stderr)).toEqual([
      expect.stringMatching(/^checkpoint file replaced or edited: line 1 \(checkpoint 1 of .*\) has an invalid signature: signed by another key \(\w+, not \w+\)$/),
      expect.stringMatching(/^checkpoint file replaced or edited: line 2 \(checkpoint 2 of .*\) has an invalid signature: signed by another key/),
      `checkpoint file ${target.checkpoints} was replaced: its checkpoint 2 is not the one this store wrote`,
    ]);
  });

  it("detects a hand-edited checkpoint file", async () => {
    const target = await install();
    tamper(target.db, "DELETE FROM execution_records WHERE tenant_id = ? AND seq > 40", [target.tenants.default]);
    writeFileSync(target.checkpoints, readFileSync(target.checkpoints, "utf8").replace('"records":50,"seq":50', '"records":40,"seq":40'));
    const result = await verify(target);
    expect(result.exitCode).toBe(1);
    const line = lineOf(target.checkpoints, target.tenants.default);
    const problems = problemsOf(result.stderr);
    expect(problems[0]).toMatch(new RegExp(`^checkpoint file replaced or edited: line ${line} \\(checkpoint ${line} of .*\\) has an invalid signature: edited after signing$`));
    // When the edited line is the last, the store's note of it disagrees too.
    expect(problems.slice(1)).toEqual(line === 2 ? [`checkpoint file ${target.checkpoints} was replaced: its checkpoint 2 is not the one this store wrote`] : []);
  });

  it("detects the checkpoint file deleted", async () => {
    const target = await install();
    writeFileSync(target.checkpoints, "");
    const result = await verify(target);
    expect(result.exitCode).toBe(1);
    expect(problemsOf(result.stderr)).toEqual([expect.stringContaining(`checkpoint file ${target.checkpoints} is missing or empty: this store wrote checkpoints 1–2 to it`)]);
  });

  it("prints the report as JSON with the public key", async () => {
    const target = await install();
    const result = await verify(target, "--json");
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ ok: true, records: 70, problems: [] });
    // Tenants created in the same millisecond come in name order.
    const heads = report.tenants.map((tenant: { tenant: string; checkpoint: { seq: number } }) => [tenant.tenant, tenant.checkpoint.seq]);
    expect(Object.fromEntries(heads)).toEqual({ default: 50, acme: 20 });
    expect(report.public_key).toBe(loadInstanceKeys(`${target.db}.keys`).publicKeyPem);
  });

  it("needs the key when there are checkpoints: the key file, --config naming it, or --public-key", async () => {
    const target = await install();
    const away = join(target.dir, "elsewhere.keys");
    copyFileSync(`${target.db}.keys`, away);
    rmSync(`${target.db}.keys`);
    const keyless = await verify(target);
    expect(keyless.exitCode).toBe(2);
    expect(keyless.stderr).toContain(`no key file at ${target.db}.keys`);
    const pem = join(target.dir, "invoke.pub");
    writeFileSync(pem, loadInstanceKeys(away).publicKeyPem);
    expect((await verify(target, "--public-key", pem)).exitCode).toBe(0);
  });

  it("refuses --export without --public-key as a usage error", async () => {
    const result = await runCli(["executions", "verify", "--export", "x.jsonl"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("--public-key");
  });
});

describe("a signed export, verified with only the public key", () => {
  /** Exports the tenant and the public key into a folder that holds nothing else. */
  async function exportTo(target: Install, tenant = "default") {
    const away = folder();
    const file = join(away, "export.jsonl");
    const key = join(away, "invoke.pub");
    expect((await runCli(["executions", "export", "--db", target.db, "--tenant", tenant, "--out", file])).exitCode).toBe(0);
    const printed = await runCli(["executions", "public-key", "--db", target.db]);
    expect(printed.exitCode).toBe(0);
    writeFileSync(key, printed.stdout);
    const check = () => runCli(["executions", "verify", "--export", file, "--public-key", key], { cwd: away });
    return { file, key, check };
  }

  it("passes on an intact export and ends with a signed head", async () => {
    const target = await install();
    const { file, key, check } = await exportTo(target);
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(51);
    const head = JSON.parse(lines.at(-1)!);
    expect(head).toMatchObject({ type: "invoke.export_head", tenant: "default", seq: 50, records: 50, checkpoint: { seq: 50 } });
    expect(verifyStatement(head, createPublicKey(readFileSync(key, "utf8")))).toBe(true);
    const result = await check();
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("intact: 50 records of tenant default");
  });

  it("fails on an export cut short, naming the missing records", async () => {
    const target = await install();
    const { file, check } = await exportTo(target);
    const lines = readFileSync(file, "utf8").trimEnd().split("\n");
    writeFileSync(file, [...lines.slice(0, 45), lines.at(-1)!].join("\n") + "\n");
    const result = await check();
    expect(result.exitCode).toBe(1);
    expect(problemsOf(result.stderr)[0]).toStartWith("tenant default: records 46–50 missing: the export ends at seq 45 but its signed head covers seq 50");
  });

  it("fails on an edited record, a missing head and a head signed by another key", async () => {
    const target = await install();
    const { file, check } = await exportTo(target);
    const original = readFileSync(file, "utf8");
    const lines = original.trimEnd().split("\n");

    writeFileSync(file, original.replace('"status":"ok"', '"status":"error"'));
    const edited = await check();
    expect(edited.exitCode).toBe(1);
    expect(problemsOf(edited.stderr)).toEqual([expect.stringMatching(/^tenant default: record exe_\w+ \(seq 1\) was changed: its hash does not match its contents$/)]);

    writeFileSync(file, lines.slice(0, -1).join("\n") + "\n");
    const headless = await check();
    expect(headless.exitCode).toBe(1);
    expect(problemsOf(headless.stderr)).toEqual(["the export has no signed head line: it was cut short, or made with filters"]);

    const theirs = loadInstanceKeys(join(folder(), "their.keys"));
    const { key: _key, sig: _sig, ...head } = JSON.parse(lines.at(-1)!);
    writeFileSync(file, [...lines.slice(0, 40), JSON.stringify(signStatement({ ...head, seq: 40, records: 40, hash: JSON.parse(lines[39]!).hash }, theirs.signingKey))].join("\n") + "\n");
    const forged = await check();
    expect(forged.exitCode).toBe(1);
    expect(problemsOf(forged.stderr)[0]).toMatch(/^the export's signed head is invalid: signed by another key/);
  });

  it("carries the newest checkpoint, so an export of a truncated store fails too", async () => {
    const target = await install();
    tamper(target.db, "DELETE FROM execution_records WHERE tenant_id = ? AND seq > 40", [target.tenants.default]);
    const { check } = await exportTo(target);
    const result = await check();
    expect(result.exitCode).toBe(1);
    expect(problemsOf(result.stderr)).toEqual([expect.stringMatching(/^tenant default: records 41–50 missing: the chain ends at seq 40 but the checkpoint of \S+ covers seq 50 \(hash [0-9a-f]{64}\)$/)]);
  });
});

describe("GET /v1/executions/verify", () => {
  it("holds the caller's tenant to its checkpoint and names no other tenant", async () => {
    using server = startTestServer();
    const other = await createTenant(server.services.directory, "other", "admin@other.example");
    for (let index = 0; index < 12; index++) await server.services.records.append(call(server.tenantId, index));
    for (let index = 0; index < 3; index++) await server.services.records.append(call(other.tenant_id, index));
    await (await startBackground(server.services))();
    const intact = await rest(server, "GET", "/v1/executions/verify");
    expect(intact.body).toMatchObject({ ok: true, records: 12, problems: [], checkpoint: { seq: 12 } });

    tamper(server.dbPath, "DELETE FROM execution_records WHERE tenant_id = ? AND seq > 10", [server.tenantId]);
    const broken = await rest(server, "GET", "/v1/executions/verify");
    expect(broken.status).toBe(200);
    expect(broken.body.ok).toBe(false);
    expect(broken.body.problems).toHaveLength(1);
    expect(broken.body.problems[0]).toStartWith("tenant default: records 11–12 missing: the chain ends at seq 10 but the checkpoint of ");

    const theirs = await rest(server, "GET", "/v1/executions/verify", undefined, other.admin_key);
    expect(theirs.body).toMatchObject({ ok: true, records: 3, tenant: "other", problems: [] });
    expect(theirs.text).not.toContain(server.tenantId);
    expect(theirs.text).not.toContain("default");
  });
});

describe("checkpointing while serving", () => {
  it("checkpoints the final head at shutdown", async () => {
    const dir = folder();
    const db = join(dir, "invoke.db");
    const config = join(dir, "invoke.yaml");
    // An hour between checkpoints: only the one at start and the one at shutdown are written.
    writeFileSync(config, `checkpoints:\n  interval_seconds: 3600\n  burst_records: 100000\n`);
    await using server = await startServer([...CLI, "serve", "--db", db, "--port", "0", "--config", config], { env: cleanEnv() });
    const adminKey = /Admin API key[^:]*: (\S+)/.exec(await server.waitForLine((line) => line.includes("Admin API key"), "the admin key"))![1]!;
    for (let index = 0; index < 3; index++) {
      const created = await fetch(`${server.url}/v1/beta/users`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": adminKey }, body: JSON.stringify({ email: `u${index}@example.com`, role: "viewer" }) });
      expect(created.status).toBe(201);
    }
    server.kill("SIGTERM");
    expect(await server.waitForExit()).toBe(0);
    const sqlite = new Database(db, { readonly: true });
    const head = sqlite.query("SELECT tenant_id, seq, hash FROM execution_records ORDER BY seq DESC LIMIT 1").get() as { tenant_id: string; seq: number; hash: string };
    sqlite.close();
    expect(head.seq).toBeGreaterThanOrEqual(3);
    const newest = newestOf(`${db}.checkpoints.jsonl`, head.tenant_id);
    expect(newest).toMatchObject({ seq: head.seq, hash: head.hash, tenant: "default" });
    // With a config file, the key file is invoke.keys beside it.
    expect(verifyStatement(newest, createPublicKey(loadInstanceKeys(join(dir, "invoke.keys")).publicKeyPem))).toBe(true);
  });

  it("checkpoints after a burst of records, and never checkpoints a head that went backwards", async () => {
    using server = startTestServer({ config: { checkpoints: { intervalMs: 3_600_000, burstRecords: 5 } } });
    const path = `${server.dbPath}.checkpoints.jsonl`;
    const stop = await startBackground(server.services);
    try {
      await Promise.all(Array.from({ length: 6 }, (_, index) => server.services.records.append(call(server.tenantId, index))));
      await eventually(() => newestOf(path, server.tenantId)?.seq === 6, "a checkpoint of seq 6 after the burst");
    } finally {
      await stop();
    }
    tamper(server.dbPath, "DELETE FROM execution_records WHERE tenant_id = ? AND seq > 2", [server.tenantId]);
    await (await startBackground(server.services))();
    expect(newestOf(path, server.tenantId).seq).toBe(6);
  });
});

describe("witnesses", () => {
  /** Starts background work on a test server whose checkpoints go to `checkpoints`' witnesses, with one record. */
  async function serveWith(checkpoints: Partial<CheckpointConfig>) {
    const server = startTestServer({ config: { checkpoints: { ...DEFAULT_CONFIG.checkpoints, ...checkpoints } } });
    await server.services.records.append(call(server.tenantId, 0));
    const stop = await startBackground(server.services);
    return { server, stop };
  }

  /** The checkpoint in a witness message, checked against the instance's key. */
  function expectSigned(services: Services, checkpoint: SignedCheckpoint): void {
    expect(checkpoint).toMatchObject({ type: "invoke.checkpoint", tenant: "default", seq: 1 });
    expect(verifyStatement(checkpoint, createPublicKey(services.keys.publicKeyPem))).toBe(true);
  }

  it("POSTs every signed checkpoint to the witness URL, retrying after a failure", async () => {
    const received: SignedCheckpoint[] = [];
    let answers = 0;
    using witness = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(request) {
        // The first attempt fails: the checkpoint must come again.
        if (answers++ === 0) return new Response("down", { status: 503 });
        received.push((await request.json()) as SignedCheckpoint);
        return new Response(null, { status: 204 });
      },
    });
    const { server, stop } = await serveWith({ witnessUrl: `http://127.0.0.1:${witness.port}/checkpoints` });
    try {
      await eventually(() => received.length > 0, "the checkpoint at the witness after a retry", { timeoutMs: 5000 });
      expectSigned(server.services, received[0]!);
      expect(answers).toBe(2);
    } finally {
      await stop();
      server[Symbol.dispose]();
    }
  });

  it("sends every signed checkpoint to syslog over UDP as RFC 5424", async () => {
    const messages: string[] = [];
    const socket = createSocket("udp4");
    socket.on("message", (message) => messages.push(message.toString()));
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    const { server, stop } = await serveWith({ syslog: `udp://127.0.0.1:${socket.address().port}` });
    try {
      await eventually(() => messages.length > 0, "a syslog datagram");
      expect(messages[0]).toMatch(/^<134>1 \d{4}-\d\d-\d\dT\S+Z \S+ invoke \d+ checkpoint - \{/);
      expectSigned(server.services, JSON.parse(messages[0]!.slice(messages[0]!.indexOf("{"))));
    } finally {
      await stop();
      server[Symbol.dispose]();
      socket.close();
    }
  });

  it("sends every signed checkpoint to syslog over TCP with octet counting", async () => {
    let stream = "";
    const listener = createServer((connection) => connection.on("data", (chunk) => (stream += chunk.toString())));
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    const port = (listener.address() as { port: number }).port;
    const { server, stop } = await serveWith({ syslog: `tcp://127.0.0.1:${port}` });
    try {
      await eventually(() => /^\d+ /.test(stream) && stream.length >= Number(stream.split(" ")[0]) + stream.indexOf(" ") + 1, "a complete syslog frame");
      const length = Number(stream.split(" ")[0]);
      const frame = Buffer.from(stream).subarray(stream.indexOf(" ") + 1, stream.indexOf(" ") + 1 + length).toString();
      expect(frame).toStartWith("<134>1 ");
      expectSigned(server.services, JSON.parse(frame.slice(frame.indexOf("{"))));
    } finally {
      await stop();
      server[Symbol.dispose]();
      listener.close();
    }
  });
});
