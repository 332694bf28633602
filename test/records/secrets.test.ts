/**
 * Secrets stay secret. Arguments are redacted by value as well as by name: planted credentials (an
 * Invoke key in `note`, URL passwords and tokens, a bearer header, a PEM private key, a connector's own
 * secret) appear in no answer, record, approval view or log line, whatever the call's outcome. Connector
 * secrets are sealed at rest (nowhere in the raw SQLite file or its WAL), shown by no view, and the key
 * that seals them rotates with `invoke connectors rotate-key` while a server keeps running on them.
 */
import { afterEach, describe, expect, it, spyOn } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { startUpstreamHttp, type UpstreamHttp } from "../fixtures/upstream-http.ts";
import { createRequestLogger } from "../../src/observability/logger.ts";
import { redactingTracing, type SpanHandle, type Tracing } from "../../src/observability/tracing.ts";
import { redactText } from "../../src/records/redact.ts";
import { startBackground } from "../../src/background.ts";
import { eventually, keyFor, request, rest, restartTestServer, rpc, send, startTestServer, writeFromAnotherProcess, type TestServer } from "../support/harness.ts";
import { REPO_ROOT, runCli } from "../support/process.ts";

const UPSTREAM_STDIO = join(REPO_ROOT, "test", "fixtures", "upstream-stdio.ts");
const AGENT = { "x-invoke-agent-id": "secrets_agent" };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const INVOKE_KEY = "inv_live_Q7r2Zk9LmN4pX8sT1vW6yB3cD5fG0hJ2kL4mN6pQ";
const PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7PlantedPemBody";
const UPSTREAM_HEADER_SECRET = "UpHdr-S3cret-9f8e7d";
/** What the planted arguments hold, and the parts of them that must never be seen again. */
const PLANTED = {
  note: `rotate ${INVOKE_KEY} tomorrow`,
  target: "postgres://user:S3cretPw@db.internal:5432/app",
  link: "http://u:S3cretPw@host/?access_token=T0kenValue&page=2",
  forwarded: { header: "Bearer Bx7TokenPlanted99" },
  attachments: [`-----BEGIN PRIVATE KEY-----\n${PEM_BODY}\n-----END PRIVATE KEY-----`],
  copied: `the upstream header is ${UPSTREAM_HEADER_SECRET}`,
};
const NEVER_SEEN = [INVOKE_KEY, "S3cretPw", "T0kenValue", "Bx7TokenPlanted99", PEM_BODY, UPSTREAM_HEADER_SECRET];

const POLICY = `
version: 1
defaults: { read_only: deny, mutating: deny }
rules:
  - { id: adds, effect: allow, reason: Sums are harmless., match: { action: ["up.add", "up.fail"] } }
  - { id: no-echo, effect: deny, reason: Echoes are off., match: { action: "up.echo" } }
  - { id: slow-needs-ok, effect: require_approval, reason: Slow calls need a person., match: { action: "up.slow" } }
`;

/** Every text a test saw, by where it came from, to search for planted secrets at the end. */
class Seen {
  readonly texts: { where: string; text: string }[] = [];
  add(where: string, text: string): string {
    this.texts.push({ where, text });
    return text;
  }
  /** Fails naming the first place a secret appears. */
  assertClean(secrets: string[]): void {
    for (const secret of secrets) {
      const found = this.texts.find(({ text }) => text.includes(secret));
      expect(found ? `${secret} in ${found.where}: ${found.text.slice(0, 400)}` : null).toBeNull();
    }
  }
}

/** Captures console.error (where logInfo/logError write) for the test. */
function captureStderr(seen: Seen): void {
  const spy = spyOn(console, "error").mockImplementation((...parts: unknown[]) => void seen.add("stderr log", parts.map(String).join(" ")));
  cleanups.push(() => spy.mockRestore());
}

async function upstreamHttp(): Promise<UpstreamHttp> {
  const upstream = await startUpstreamHttp();
  cleanups.push(() => upstream.close());
  return upstream;
}

/** The raw bytes of the store (after a checkpoint) and of its WAL, as text. */
function rawStore(server: TestServer): string {
  server.store.sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
  const wal = `${server.dbPath}-wal`;
  return readFileSync(server.dbPath).toString("latin1") + (existsSync(wal) ? readFileSync(wal).toString("latin1") : "");
}

/** The sealed key ids the stored connector configurations name. */
function storedKeyIds(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    const rows = db.query<{ config: string }, []>("SELECT config FROM connectors").all();
    return [...new Set(rows.flatMap((row) => [...row.config.matchAll(/invoke-sealed:v1:([^:"]+):/g)].map((match) => match[1]!)))];
  } finally {
    db.close();
  }
}

const keyFileIds = (dbPath: string) => (JSON.parse(readFileSync(`${dbPath}.keys`, "utf8")) as { secret_keys: { id: string }[] }).secret_keys.map((key) => key.id);

describe("value-based redaction", () => {
  it("keeps only the secret part out, for each shape", () => {
    const cases: [string, string][] = [
      [`note ${INVOKE_KEY}.`, "note [REDACTED]."],
      ["postgres://user:S3cretPw@db:5432/app", "postgres://user:[REDACTED]@db:5432/app"],
      ["http://u:p@ss@host/x?access_token=T0k&page=2&sig=abc", "http://u:[REDACTED]@host/x?access_token=[REDACTED]&page=2&sig=[REDACTED]"],
      ["https://s3/b?X-Amz-Signature=ab12&X-Amz-Credential=AKID%2F1", "https://s3/b?X-Amz-Signature=[REDACTED]&X-Amz-Credential=[REDACTED]"],
      ["Authorization: Bearer abc.DEF-123", "Authorization: Bearer [REDACTED]"],
      ["Basic dXNlcjpwYXNz, not Basic usage", "Basic [REDACTED], not Basic usage"],
      [`a\n-----BEGIN RSA PRIVATE KEY-----\n${PEM_BODY}\n-----END RSA PRIVATE KEY-----\nb`, "a\n-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\nb"],
      ["host=db password='s3 cr3t' user=app", "host=db password='[REDACTED]' user=app"],
      ['{"client_secret": "x\\"y", "name": "ok"}', '{"client_secret": "[REDACTED]", "name": "ok"}'],
      ["id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sgnature1", "id [REDACTED]"],
      ["SELECT * FROM t WHERE key=5 AND code=7", "SELECT * FROM t WHERE key=5 AND code=7"],
      ["see http://host:8080/path?q=1", "see http://host:8080/path?q=1"],
    ];
    for (const [input, output] of cases) expect(redactText(input)).toBe(output);
    expect(redactText("pw is Zq9-Up5tr34m-Val!", ["Zq9-Up5tr34m-Val"])).toBe("pw is [REDACTED]!");
    expect(redactText("pw", ["pw"])).toBe("[REDACTED]");
  });

  it("leaves no secret in a span's attributes or error, and keeps parents linked", () => {
    const exported: string[] = [];
    const parents: unknown[] = [];
    const exporter: Tracing = {
      enabled: true,
      startSpan(_name, options) {
        parents.push(options?.parent);
        exported.push(JSON.stringify(options?.attributes ?? {}));
        const handle: SpanHandle = { setAttribute: (key, value) => void exported.push(`${key}=${value}`), setError: (message) => void exported.push(message), end: () => {}, traceparent: () => "" };
        return handle;
      },
      shutdown: async () => {},
    };
    const tracing = redactingTracing(exporter);
    const span = tracing.startSpan("http", { attributes: { "url.full": "http://u:S3cretPw@host/?access_token=T0kenValue", "http.status": 200 } })!;
    span.setAttribute("invoke.detail", `key ${INVOKE_KEY}`);
    span.setError("cannot connect to postgres://app:S3cretPw@db/app");
    tracing.startSpan("child", { parent: span });
    expect(parents[1]).not.toBe(span);
    expect(parents[1]).toBeDefined();
    const text = exported.join("\n");
    expect(text).toContain("[REDACTED]");
    for (const secret of ["S3cretPw", "T0kenValue", INVOKE_KEY]) expect(text).not.toContain(secret);
  });

  it("scans hostile input in linear time", () => {
    for (const hostile of ["?a=".repeat(300_000), "://a:".repeat(200_000), "eyJa-".repeat(200_000), '"password":"'.repeat(100_000), "-----BEGIN ".repeat(100_000), "a='".repeat(300_000)]) {
      const started = performance.now();
      redactText(hostile);
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });

  it("no planted secret appears in any answer, record, approval view or log line, allowed, denied, queued or failed", async () => {
    const seen = new Seen();
    captureStderr(seen);
    const server = startTestServer({
      config: { rateLimit: { requests: 10_000, per_seconds: 60 } },
      logger: createRequestLogger({ level: "info", format: "json", sink: { write: (text) => void seen.add("request log", text) } }),
    });
    cleanups.push(() => server[Symbol.asyncDispose]());
    const upstream = await upstreamHttp();
    const added = await rest(server, "POST", "/v1/connectors", { name: "up", type: "mcp_http", url: upstream.url, headers: { "X-Upstream-Auth": UPSTREAM_HEADER_SECRET }, enable_tools: ["add", "echo", "slow", "fail"] });
    expect(added.status).toBe(201);
    // Unreachable, with its credentials in the URL: its failures are logged and shown as health.
    const down = await rest(server, "POST", "/v1/connectors", { name: "down", type: "mcp_http", url: "http://u:S3cretPw@127.0.0.1:1/mcp?access_token=T0kenValue" });
    seen.add("POST down", down.text);
    expect((await rest(server, "POST", "/v1/policies", { source: POLICY, publish: true })).status).toBe(201);
    expect(upstream.receivedHeaders.some((headers) => headers["x-upstream-auth"] === UPSTREAM_HEADER_SECRET)).toBe(true);

    const agent = await keyFor(server, "editor", "operator", "agent@example.com");
    // Made before the request: a person added after it was queued may not vote on it.
    const approver = await keyFor(server, "admin", "admin", "approver@example.com");
    const call = async (name: string, args: Record<string, unknown>) => {
      const answer = await rpc(server, request(1, "tools/call", { name, arguments: { ...args, ...PLANTED } }), { key: agent, headers: AGENT });
      seen.add(`tools/call ${name}`, answer.text);
      return answer.body.result;
    };
    expect((await call("up.add", { a: 1, b: 2 })).structuredContent).toEqual({ sum: 3 });
    expect((await call("up.echo", { text: "hi" })).isError).toBe(true);
    expect((await call("up.fail", {})).isError).toBe(true);
    const queued = await call("up.slow", { ms: 1 });
    const approvalId = queued.structuredContent.approval_id;
    expect(typeof approvalId).toBe("string");
    expect((await rest(server, "POST", `/v1/approvals/${approvalId}/approve`, undefined, approver)).status).toBeLessThan(300);
    await server.services.records.flush();

    const readonly = await keyFor(server, "editor", "mcp_readonly", "reader@example.com");
    const listed = await rpc(server, request(2, "tools/call", { name: "invoke.executions.list", arguments: { limit: 100 } }), { key: readonly, headers: AGENT });
    seen.add("invoke.executions.list", listed.text);
    if (!listed.body.result) throw new Error(listed.text);
    const records = listed.body.result.structuredContent.records as { id: string; tool: string; arguments: unknown }[];
    // The scan covers the calls: each production call left a record with its (redacted) arguments.
    for (const tool of ["up.add", "up.echo", "up.fail", "up.slow"]) expect(records.some((record) => record.tool === tool)).toBe(true);
    const addRecord = records.find((record) => record.tool === "up.add")!;
    expect(addRecord.arguments).toMatchObject({ a: 1, note: "rotate [REDACTED] tomorrow", target: "postgres://user:[REDACTED]@db.internal:5432/app" });
    for (const record of records) seen.add(`invoke.executions.get ${record.id}`, (await rpc(server, request(3, "tools/call", { name: "invoke.executions.get", arguments: { id: record.id } }), { key: readonly, headers: AGENT })).text);
    seen.add("GET /v1/executions", (await rest(server, "GET", "/v1/executions?limit=100", undefined, readonly)).text);
    const exported = await (await server.app.handle(new Request("http://localhost/v1/executions/export", { headers: { "x-api-key": readonly } }))).text();
    expect(exported.split("\n").filter(Boolean).length).toBeGreaterThanOrEqual(records.length);
    seen.add("GET /v1/executions/export", exported);
    for (const record of records) seen.add(`GET /v1/executions/${record.id}`, (await rest(server, "GET", `/v1/executions/${record.id}`, undefined, readonly)).text);

    // Approval views for everyone but approvers, who must see exactly what they approve.
    seen.add("invoke.approvals.list", (await rpc(server, request(4, "tools/call", { name: "invoke.approvals.list", arguments: {} }), { key: readonly, headers: AGENT })).text);
    const agentView = await rpc(server, request(5, "tools/call", { name: "invoke.approvals.get", arguments: { id: approvalId } }), { key: agent, headers: AGENT });
    seen.add("invoke.approvals.get (requester)", agentView.text);
    expect(agentView.body.result.structuredContent).toMatchObject({ arguments_redacted: true, arguments: { note: "rotate [REDACTED] tomorrow" } });
    const approverView = await rest(server, "GET", `/v1/approvals/${approvalId}`, undefined, approver);
    expect(approverView.body.arguments.note).toBe(PLANTED.note);

    for (const path of ["/v1/connectors", "/v1/connectors/down"]) seen.add(`GET ${path}`, (await rest(server, "GET", path)).text);
    seen.add("GET /readyz", (await send(server.app, "/readyz", { headers: { "x-api-key": server.adminKey } })).text);
    seen.add("invoke.governance.readiness", (await rpc(server, request(6, "tools/call", { name: "invoke.governance.readiness", arguments: {} }))).text);
    await Bun.sleep(5); // the request log flushes once per turn of the event loop
    expect(seen.texts.some(({ where }) => where === "request log")).toBe(true);
    expect(seen.texts.some(({ where, text }) => where === "stderr log" && text.includes("connector down"))).toBe(true);

    // The raw store holds the approval's arguments (to run them once approved) but no record does.
    const db = new Database(server.dbPath, { readonly: true });
    for (const row of db.query<{ arguments: string; error: string | null }, []>("SELECT arguments, error FROM execution_records").all()) seen.add("execution_records row", `${row.arguments} ${row.error}`);
    db.close();
    seen.assertClean(NEVER_SEEN);
  });
});

describe("connector secrets at rest", () => {
  it("are sealed in the store and its WAL, shown by no view, and still reach the upstream", async () => {
    const server = startTestServer();
    cleanups.push(() => server[Symbol.asyncDispose]());
    const upstream = await upstreamHttp();
    const secrets = { pg: "PgS3cretPw-41", header: "Bearer HdrS3cret-Value-77", env: "EnvS3cret-Tok-52" };
    const adds = [
      { name: "warehouse", type: "database", dialect: "postgres", url: `postgres://reader:${secrets.pg}@127.0.0.1:1/app` },
      { name: "up", type: "mcp_http", url: upstream.url, headers: { Authorization: secrets.header } },
      { name: "tool", type: "mcp_stdio", command: process.execPath, args: [UPSTREAM_STDIO], env: { UPSTREAM_TOKEN: secrets.env }, enable_tools: ["env"], read_only_tools: ["env"] },
    ];
    const views: string[] = [];
    for (const body of adds) {
      const answer = await rest(server, "POST", "/v1/connectors", body);
      expect(answer.status).toBe(201);
      views.push(answer.text);
    }
    // Each secret is in use: the upstream got its header, the child its environment.
    expect(upstream.receivedHeaders.some((headers) => headers.authorization === secrets.header)).toBe(true);
    await rest(server, "POST", "/v1/policies", { source: "version: 1\ndefaults: { read_only: allow }\nrules: []\n", publish: true });
    const env = await rpc(server, request(1, "tools/call", { name: "tool.env", arguments: { name: "UPSTREAM_TOKEN" } }), { headers: AGENT });
    expect(env.body.result.structuredContent).toEqual({ name: "UPSTREAM_TOKEN", value: secrets.env });

    await server.services.records.flush();
    const raw = rawStore(server);
    const [current] = keyFileIds(server.dbPath);
    expect(raw).toContain(`invoke-sealed:v1:${current}:`);
    for (const path of ["/v1/connectors", "/v1/connectors/warehouse", "/v1/connectors/up", "/v1/connectors/tool", "/readyz"]) views.push((await send(server.app, path, { headers: { "x-api-key": server.adminKey } })).text);
    const cli = await runCli(["connectors", "list", "--json", "--db", server.dbPath]);
    expect(cli.exitCode).toBe(0);
    views.push(cli.stdout, cli.stderr);
    for (const secret of Object.values(secrets)) {
      expect(raw).not.toContain(secret);
      for (const view of views) expect(view).not.toContain(secret);
    }
    expect(statSync(`${server.dbPath}.keys`).mode & 0o777).toBe(0o600);
  });

  it("syncs the config file's connectors sealed, and leaves an unchanged one as stored", async () => {
    const server = startTestServer();
    cleanups.push(() => server[Symbol.asyncDispose]());
    const entry = { name: "cfg", type: "mcp_http" as const, url: "http://127.0.0.1:1/mcp", headers: { "X-Api-Key": "CfgS3cret-Header-13" } };
    const stored = () => server.store.sqlite.query<{ config: string }, []>("SELECT config FROM connectors WHERE name = 'cfg'").get()!.config;
    await server.services.connectors.syncConfig([entry], () => server.tenantId);
    const first = stored();
    expect(first).not.toContain("CfgS3cret-Header-13");
    await server.services.connectors.syncConfig([entry], () => server.tenantId);
    expect(stored()).toBe(first);
    await server.services.connectors.syncConfig([{ ...entry, headers: { "X-Api-Key": "CfgS3cret-Header-14" } }], () => server.tenantId);
    expect(stored()).not.toBe(first);
    expect(rawStore(server)).not.toContain("CfgS3cret-Header-1");
  });

  it("rotate-key re-seals every secret under a new key (clear ones of older databases too); a running server follows without restarting them", async () => {
    let server = startTestServer();
    let stop: (() => Promise<void>) | undefined;
    cleanups.push(async () => {
      await stop?.();
      await server[Symbol.asyncDispose]();
    });
    const upstream = await upstreamHttp();
    const secrets = { header: "Bearer Rot-Hdr-S3cret-88", env: "Rot-Env-S3cret-61" };
    expect((await rest(server, "POST", "/v1/connectors", { name: "up", type: "mcp_http", url: upstream.url, headers: { Authorization: secrets.header } })).status).toBe(201);
    // As an Invoke from before sealing stored it: in clear.
    const clear = JSON.stringify({ type: "mcp_stdio", command: process.execPath, args: [UPSTREAM_STDIO], env: { UPSTREAM_TOKEN: secrets.env }, enable_tools: ["env", "pid"], read_only_tools: ["env", "pid"] });
    await writeFromAnotherProcess(server, "INSERT INTO connectors (tenant_id, name, config, origin, created_at, updated_at) VALUES (?, 'tool', ?, 'operator', 0, 0)", [server.tenantId, clear]);
    server = await restartTestServer(server);
    stop = await startBackground(server.services);
    await rest(server, "POST", "/v1/policies", { source: "version: 1\ndefaults: { read_only: allow }\nrules: []\n", publish: true });
    const call = async (name: string, args: Record<string, unknown> = {}) => (await rpc(server, request(1, "tools/call", { name, arguments: args }), { headers: AGENT })).body.result.structuredContent;
    expect(await call("tool.env", { name: "UPSTREAM_TOKEN" })).toEqual({ name: "UPSTREAM_TOKEN", value: secrets.env });
    const pid = (await call("tool.pid")).pid;
    const [oldKey] = keyFileIds(server.dbPath);
    expect(rawStore(server)).toContain(secrets.env);

    const rotated = await runCli(["connectors", "rotate-key", "--json", "--db", server.dbPath]);
    expect(rotated.exitCode).toBe(0);
    const report = JSON.parse(rotated.stdout);
    expect(report).toMatchObject({ resealed: 2, retired: [oldKey] });
    expect(keyFileIds(server.dbPath)).toEqual([report.key_id]);
    expect(storedKeyIds(server.dbPath)).toEqual([report.key_id]);
    const raw = rawStore(server);
    for (const secret of Object.values(secrets)) expect(raw).not.toContain(secret);

    // The server's reconciler meets the new key id, reads the key file again, and sees the same
    // configuration: nothing restarts (the same child), and the upstream still gets its credential.
    const logged = new Seen();
    captureStderr(logged);
    await Bun.sleep(2500);
    expect(logged.texts.filter(({ text }) => /does not hold|keeps its running/.test(text))).toEqual([]);
    expect((await call("tool.pid")).pid).toBe(pid);
    expect(await call("tool.env", { name: "UPSTREAM_TOKEN" })).toEqual({ name: "UPSTREAM_TOKEN", value: secrets.env });
    // A connector added now is sealed with the new key, which only the key file had told the server.
    expect((await rest(server, "POST", "/v1/connectors", { name: "up2", type: "mcp_http", url: upstream.url, headers: { Authorization: secrets.header } })).status).toBe(201);
    expect(storedKeyIds(server.dbPath)).toEqual([report.key_id]);
    const before = upstream.receivedHeaders.length;
    await stop();
    stop = undefined;
    server = await restartTestServer(server);
    await eventually(() => upstream.receivedHeaders.slice(before).some((headers) => headers.authorization === secrets.header), "the restarted server to reach the upstream with its header");
    expect((await send(server.app, "/v1/connectors/tool", { headers: { "x-api-key": server.adminKey } })).body.health.healthy).toBe(true);
  });
});
