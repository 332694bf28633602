/**
 * Sessions that outlive their credential and batches that outrun the limiter, attacked through the
 * public surface: a running `invoke mcp` whose key is revoked (by the CLI, by REST on a server sharing
 * the file), expires, loses its user's role or its user; JSON-RPC batches, notifications, duplicated
 * ids and the modern era against the per-key bucket, over HTTP and over stdio.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { request, rpc, keyFor, startTestServer, tempDir, type TestServer } from "../support/harness.ts";
import { modern, modernRpc } from "../support/modern.ts";
import { CLI, cleanEnv, initDatabase, runCli, spawnProcess, startServer, type InitOutput, type RunningProcess } from "../support/process.ts";

type Message = { jsonrpc: "2.0"; id?: string | number; result?: any; error?: { code: number; message: string; data?: any } };

const UNAUTHENTICATED = -31001;
const FORBIDDEN = -31003;
const RATE_LIMITED = -31029;

const whoami = (id: number | string) => request(id, "tools/call", { name: "invoke.whoami", arguments: {} });

/** One `invoke mcp` process: lines in, answers (and when each arrived) out. */
class StdioSession implements AsyncDisposable {
  /** When each answer's line was read (`performance.now()`), by id. */
  readonly answeredAt = new Map<unknown, number>();
  private seen = 0;

  private constructor(readonly process: RunningProcess) {}

  static start(db: string, key: string, extra: string[] = []): StdioSession {
    return new StdioSession(spawnProcess([...CLI, "mcp", "--db", db, ...extra], { env: cleanEnv({ INVOKE_API_KEY: key }) }));
  }

  send(message: unknown): void {
    this.process.write(`${JSON.stringify(message)}\n`);
  }

  /** Every answer so far (batch answers flattened), noting when new ones arrived. */
  answers(): Message[] {
    const now = performance.now();
    const lines = this.process.stdout.lines;
    for (; this.seen < lines.length; this.seen++) {
      for (const message of [JSON.parse(lines[this.seen]!)].flat() as Message[]) this.answeredAt.set(message.id, now);
    }
    return lines.flatMap((line) => [JSON.parse(line)].flat() as Message[]);
  }

  /** Sends a request and waits for the answer with its id. */
  async call(message: { id: number | string }): Promise<Message> {
    this.send(message);
    return this.answerTo(message.id);
  }

  async answerTo(id: number | string): Promise<Message> {
    await this.process.waitForLine((line) => ([JSON.parse(line)].flat() as Message[]).some((answer) => answer.id === id), `the answer to ${id}`);
    return this.answers().find((answer) => answer.id === id)!;
  }

  /** Waits until `count` answers have arrived. */
  async waitForAnswers(count: number, timeoutMs = 20_000): Promise<Message[]> {
    const deadline = performance.now() + timeoutMs;
    while (this.answers().length < count) {
      if (performance.now() > deadline) throw new Error(`only ${this.answers().length} of ${count} answers; stderr:\n${this.process.stderr.text}`);
      await Bun.sleep(5);
    }
    return this.answers();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.process[Symbol.asyncDispose]();
  }
}

async function cliJson(args: string[]): Promise<any> {
  const result = await runCli([...args, "--json"]);
  if (result.exitCode !== 0) throw new Error(`invoke ${args.join(" ")} failed (${result.exitCode}): ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** Changes rows from a connection of its own, as another process would. */
function writeDirectly(db: string, sql: string, params: string[]): void {
  const other = new Database(db);
  try {
    other.run("PRAGMA busy_timeout = 5000");
    other.run(sql, params);
  } finally {
    other.close();
  }
}

function toolCallRecords(db: string, keyId: string): number {
  const reader = new Database(db, { readonly: true });
  try {
    return (reader.query("SELECT count(*) AS n FROM execution_records WHERE key_id = ? AND kind = 'tool_call'").get(keyId) as { n: number }).n;
  } finally {
    reader.close();
  }
}

function expectRefused(answer: Message, code: number, reason: string): void {
  expect(answer.result).toBeUndefined();
  expect(answer.error?.code).toBe(code);
  expect(answer.error?.data?.reason).toBe(reason);
}

describe("a running invoke mcp admits its key again on every message", () => {
  let dir: ReturnType<typeof tempDir>;
  let db: string;
  let admin: InitOutput;
  /** A config without a practical rate limit, so only the credential decides. */
  let unlimited: string;

  beforeAll(async () => {
    dir = tempDir();
    db = join(dir.path, "invoke.db");
    unlimited = join(dir.path, "unlimited.yaml");
    await Bun.write(unlimited, "rate_limit:\n  requests: 1000000\n  per_seconds: 60\n");
    admin = await initDatabase(CLI, ["--db", db]);
  });
  afterAll(() => dir[Symbol.dispose]());

  /** A new key of `profile` for `email` (created with `role` if missing), from the CLI. */
  async function newKey(email: string, role: string, profile: string, extra: string[] = []): Promise<{ id: string; key: string }> {
    const users = await cliJson(["users", "list", "--db", db]);
    if (!users.users.some((user: { email: string }) => user.email === email)) await cliJson(["users", "create", email, "--role", role, "--db", db]);
    return cliJson(["keys", "create", "--user", email, "--name", `${profile} for ${email}`, "--profile", profile, "--db", db, ...extra]);
  }

  test("a key revoked by `invoke keys revoke` in another process is refused on the very next call, and the session goes on", async () => {
    const key = await newKey("admin@localhost", "admin", "operator");
    await using session = StdioSession.start(db, key.key, ["--config", unlimited]);
    expect((await session.call(whoami(1))).result.structuredContent.key.id).toBe(key.id);

    const revoked = await runCli(["keys", "revoke", key.id, "--db", db]);
    expect(revoked.exitCode).toBe(0);

    expectRefused(await session.call(whoami(2)), UNAUTHENTICATED, "unknown_key");
    expectRefused(await session.call(request("p", "ping")), UNAUTHENTICATED, "unknown_key");
    await session.process.stderr.waitFor((line) => line.includes("INVOKE_API_KEY is no longer admitted"), "the refusal on stderr");
    session.process.endInput();
    expect(await session.process.waitForExit()).toBe(0);
    expect(toolCallRecords(db, key.id)).toBe(1);
  });

  test("a key revoked over REST by a server sharing the database file is refused on the very next call", async () => {
    const key = await newKey("admin@localhost", "admin", "operator");
    await using session = StdioSession.start(db, key.key, ["--config", unlimited]);
    expect((await session.call(whoami(1))).result).toBeDefined();

    await using server = await startServer([...CLI, "serve", "--port", "0", "--db", db]);
    const response = await fetch(`${server.url}/v1/beta/users/${admin.user_id}/keys/${key.id}`, { method: "DELETE", headers: { "x-api-key": admin.admin_key } });
    expect(response.status).toBe(200);

    expectRefused(await session.call(whoami(2)), UNAUTHENTICATED, "unknown_key");
  });

  test("a key that expires during the session is refused from its expiry on", async () => {
    const expiresAt = Date.now() + 3000;
    const key = await newKey("admin@localhost", "admin", "operator", ["--expires-at", new Date(expiresAt).toISOString()]);
    await using session = StdioSession.start(db, key.key, ["--config", unlimited]);
    expect((await session.call(whoami(1))).result).toBeDefined();
    await Bun.sleep(Math.max(0, expiresAt - Date.now()) + 50);
    expectRefused(await session.call(whoami(2)), UNAUTHENTICATED, "expired_key");
    expectRefused(await session.call(whoami(3)), UNAUTHENTICATED, "expired_key");
  });

  // No route or command changes a role yet, so the row is changed from a connection of its own.
  test("a role lowered under the key's profile cuts its scopes on the next call; below editor, the session is refused", async () => {
    const email = "demoted@example.com";
    const key = await newKey(email, "admin", "admin");
    await using session = StdioSession.start(db, key.key, ["--config", unlimited]);
    expect((await session.call(whoami(1))).result.structuredContent.scopes).toContain("admin");

    writeDirectly(db, "UPDATE users SET role = 'editor' WHERE email = ?", [email]);
    const asEditor = (await session.call(whoami(2))).result.structuredContent;
    expect(asEditor.user.role).toBe("editor");
    expect(asEditor.scopes).not.toContain("admin");
    expect(asEditor.scopes).toContain("tools:call");

    writeDirectly(db, "UPDATE users SET role = 'viewer' WHERE email = ?", [email]);
    expectRefused(await session.call(whoami(3)), FORBIDDEN, "role_too_low");
    expectRefused(await session.call(request(4, "tools/list")), FORBIDDEN, "role_too_low");

    writeDirectly(db, "UPDATE users SET role = 'admin' WHERE email = ?", [email]);
    expect((await session.call(whoami(5))).result.structuredContent.scopes).toContain("admin");
  });

  test("a key whose user is gone is refused on the next call", async () => {
    const email = "removed@example.com";
    const key = await newKey(email, "editor", "operator");
    await using session = StdioSession.start(db, key.key, ["--config", unlimited]);
    expect((await session.call(whoami(1))).result).toBeDefined();
    writeDirectly(db, "DELETE FROM users WHERE email = ?", [email]);
    expectRefused(await session.call(whoami(2)), UNAUTHENTICATED, "unknown_key");
  });

  test("racing a stream of calls, every call sent after the revocation returned is refused", async () => {
    const key = await newKey("admin@localhost", "admin", "operator");
    await using session = StdioSession.start(db, key.key, ["--config", unlimited]);
    expect((await session.call(whoami("warm-up"))).result).toBeDefined();

    const sentAt = new Map<number, number>();
    let revokedAt = Number.POSITIVE_INFINITY;
    const revocation = (async () => {
      await Bun.sleep(300);
      const result = await runCli(["keys", "revoke", key.id, "--db", db]);
      revokedAt = performance.now();
      expect(result.exitCode).toBe(0);
    })();
    let id = 0;
    // Keep calling until well after the revocation returned.
    while (performance.now() < revokedAt + 300) {
      sentAt.set(id, performance.now());
      session.send(whoami(id++));
      await Bun.sleep(2);
    }
    await revocation;
    const answers = new Map((await session.waitForAnswers(id + 1)).map((answer) => [answer.id, answer]));

    const after = [...sentAt].filter(([, at]) => at > revokedAt).map(([sent]) => answers.get(sent)!);
    expect(after.length).toBeGreaterThan(10);
    for (const answer of after) expectRefused(answer, UNAUTHENTICATED, "unknown_key");
    // The stream was admitted until the revocation: the race was a race.
    expect([...sentAt.keys()].some((sent) => answers.get(sent)!.result !== undefined)).toBe(true);
    // Whatever was admitted left its record; nothing refused did.
    const admitted = [...answers.values()].filter((answer) => answer.result !== undefined).length;
    expect(toolCallRecords(db, key.id)).toBe(admitted);
  });
});

describe("every message of a JSON-RPC batch takes its own token (HTTP)", () => {
  const at = Date.parse("2026-01-01T00:00:00Z");
  let server: TestServer;
  beforeAll(() => {
    server = startTestServer({ now: () => at });
  });
  afterAll(() => server[Symbol.dispose]());

  /** A fresh operator key (its own bucket of 60 per 60 s) and its id. */
  async function freshKey(): Promise<{ key: string; id: string }> {
    const key = await keyFor(server, "editor", "operator", `batch-${crypto.randomUUID()}@example.com`);
    const me = await rpc(server, whoami("id"), { key });
    return { key, id: me.body.result.structuredContent.key.id };
  }

  test("200 tools/call in one batch on a fresh key: 60 run, 140 get the rate-limit error with their own ids", async () => {
    const { key, id } = await freshKey();
    const before = toolCallRecords(server.dbPath, id);
    const answer = await rpc(server, Array.from({ length: 200 }, (_, n) => whoami(n)), { key, headers: { "mcp-protocol-version": "2025-03-26" } });
    expect(answer.status).toBe(200);
    const answers = answer.body as Message[];
    expect(answers.map((message) => message.id).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 200 }, (_, n) => n));
    // The whoami that learnt the key's id took the first token.
    expect(answers.filter((message) => message.result !== undefined)).toHaveLength(59);
    const refused = answers.filter((message) => message.error !== undefined);
    expect(refused).toHaveLength(141);
    for (const message of refused) expectRefused(message, RATE_LIMITED, "rate_limited");
    expect(toolCallRecords(server.dbPath, id) - before).toBe(59);

    // The refusal says what the single-request 429 says.
    const single = await rpc(server, whoami("single"), { key });
    expect(single.status).toBe(429);
    expect(refused[0]!.error).toEqual(single.body.error);
    expect(single.body.error.data.retry_after_seconds).toBe(Number(single.headers.get("retry-after")));
  });

  test("a batch of n costs n tokens, not n + 1: singles take the rest of the bucket exactly", async () => {
    const { key } = await freshKey();
    const batch = await rpc(server, Array.from({ length: 29 }, (_, n) => request(n, "ping")), { key });
    expect((batch.body as Message[]).every((message) => message.result !== undefined)).toBe(true);
    for (let n = 0; n < 30; n++) expect((await rpc(server, request(n, "ping"), { key })).status).toBe(200);
    expect((await rpc(server, request("over", "ping"), { key })).status).toBe(429);
  });

  test("notifications in a batch take tokens too", async () => {
    const { key } = await freshKey();
    const notifications = Array.from({ length: 58 }, () => ({ jsonrpc: "2.0", method: "notifications/initialized" }));
    const answer = await rpc(server, [...notifications, request("last", "ping"), request("over", "ping")], { key });
    expect((answer.body as Message[]).map((message) => message.id)).toEqual(["last", "over"]);
    expect((answer.body as Message[])[0]!.result).toEqual({});
    expectRefused((answer.body as Message[])[1]!, RATE_LIMITED, "rate_limited");
  });

  test("duplicated ids and invalid members each take a token; a nested batch runs nothing", async () => {
    const { key, id } = await freshKey();
    const before = toolCallRecords(server.dbPath, id);
    const nested = await rpc(server, [Array.from({ length: 100 }, (_, n) => whoami(n))], { key });
    expect((nested.body as Message[]).map((message) => message.error?.code)).toEqual([-32600]);
    expect(toolCallRecords(server.dbPath, id)).toBe(before);

    const answer = await rpc(server, [...Array.from({ length: 20 }, () => ({ jsonrpc: "1.0", id: "bad", method: "ping" })), ...Array.from({ length: 100 }, () => whoami("same"))], { key });
    const calls = (answer.body as Message[]).filter((message) => message.id === "same");
    // 60 tokens: the whoami that learnt the id, the nested batch, 20 invalid members, then 38 calls.
    expect(calls.filter((message) => message.result !== undefined)).toHaveLength(38);
    expect(calls.filter((message) => message.error?.code === RATE_LIMITED)).toHaveLength(62);
    expect(toolCallRecords(server.dbPath, id) - before).toBe(38);
  });

  test("batches racing single calls on one key never admit more than the bucket", async () => {
    const { key } = await freshKey();
    const batches = Array.from({ length: 4 }, (_, b) => rpc(server, Array.from({ length: 40 }, (_, n) => whoami(`b${b}-${n}`)), { key }));
    const singles = Array.from({ length: 80 }, (_, n) => rpc(server, whoami(`s${n}`), { key }));
    const answers = await Promise.all([...batches, ...singles]);
    const messages = answers.flatMap((answer) => [answer.body].flat() as Message[]);
    expect(messages).toHaveLength(240);
    expect(messages.filter((message) => message.result !== undefined)).toHaveLength(59);
  });

  test("modern-era requests, one per POST, are held to the same bucket", async () => {
    const { key } = await freshKey();
    const answers = await Promise.all(Array.from({ length: 100 }, (_, n) => modernRpc(server, modern(n, "tools/call", { name: "invoke.whoami", arguments: {} }), {}, key)));
    expect(answers.filter((answer) => answer.status === 200 && answer.body.result !== undefined)).toHaveLength(59);
    expect(answers.filter((answer) => answer.status === 429)).toHaveLength(41);
  });
});

describe("every stdio message takes its own token", () => {
  let dir: ReturnType<typeof tempDir>;
  let db: string;
  /** 60 per hour: the bucket cannot refill noticeably while a test runs. */
  let config: string;

  beforeAll(async () => {
    dir = tempDir();
    db = join(dir.path, "invoke.db");
    config = join(dir.path, "invoke.yaml");
    await Bun.write(config, "rate_limit:\n  requests: 60\n  per_seconds: 3600\n");
    await initDatabase(CLI, ["--db", db]);
  });
  afterAll(() => dir[Symbol.dispose]());

  const freshKey = () => cliJson(["keys", "create", "--user", "admin@localhost", "--name", `burst ${crypto.randomUUID()}`, "--profile", "operator", "--db", db]);

  test("a burst of 200 tools/call lines: 60 run, 140 get the rate-limit error with their own ids", async () => {
    const key = await freshKey();
    await using session = StdioSession.start(db, key.key, ["--config", config]);
    session.process.write(Array.from({ length: 200 }, (_, n) => `${JSON.stringify(whoami(n))}\n`).join(""));
    const answers = await session.waitForAnswers(200);
    expect(new Set(answers.map((answer) => answer.id)).size).toBe(200);
    expect(answers.filter((answer) => answer.result !== undefined)).toHaveLength(60);
    const refused = answers.filter((answer) => answer.error !== undefined);
    expect(refused).toHaveLength(140);
    for (const answer of refused) expectRefused(answer, RATE_LIMITED, "rate_limited");
    expect(toolCallRecords(db, key.id)).toBe(60);
  });

  test("a batch line of 200 tools/call costs 200 tokens", async () => {
    const key = await freshKey();
    await using session = StdioSession.start(db, key.key, ["--config", config]);
    const init = await session.call(request("init", "initialize", { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "burst", version: "1" } }));
    expect(init.result.protocolVersion).toBe("2025-03-26");
    session.send(Array.from({ length: 200 }, (_, n) => whoami(n)));
    const answers = (await session.waitForAnswers(201)).filter((answer) => answer.id !== "init");
    expect(answers.filter((answer) => answer.result !== undefined)).toHaveLength(59);
    const refused = answers.filter((answer) => answer.error !== undefined);
    expect(refused).toHaveLength(141);
    for (const answer of refused) expectRefused(answer, RATE_LIMITED, "rate_limited");
    expect(toolCallRecords(db, key.id)).toBe(59);
  });
});
