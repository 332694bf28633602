/**
 * In-process test harness: a fresh app on a temporary SQLite file per test, and a JSON-RPC helper that
 * validates every response it receives against the MCP schema.
 */
import type { RequestLogger } from "../../src/observability/logger.ts";
import type { Tracing } from "../../src/observability/tracing.ts";
import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DEFAULT_CONFIG, type ServerConfig } from "../../src/config.ts";
import { newTenant } from "../../src/governance/bootstrap.ts";
import { createApp } from "../../src/http/app.ts";
import type { RateLimiter } from "../../src/governance/rate-limit.ts";
import { createServices, type Services } from "../../src/services.ts";
import { openStore, type Store } from "../../src/storage/sqlite/db.ts";
import { sqliteRepositories } from "../../src/storage/sqlite/index.ts";
import type { ToolRegistry } from "../../src/tools/registry.ts";
import { assertValidResponse } from "./spec.ts";

/** A temporary folder removed by `using`. */
export function tempDir(): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), "invoke-test-"));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** What a test gets: the app, its store, the bootstrap admin's ids and key. */
export interface TestServer {
  app: ReturnType<typeof createApp>;
  services: Services;
  store: Store;
  dbPath: string;
  /** A folder outside the store's, where tests put the files their connectors use (the store's folder is off limits). */
  filesDir: string;
  tenantId: string;
  userId: string;
  adminKey: string;
  [Symbol.dispose](): void;
  /** Stops connectors (children reaped) and commits the last records before closing: for tests with connectors. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** What a test server is built with. */
type TestServerOptions = {
  config?: Partial<ServerConfig>;
  registry?: ToolRegistry;
  pageSize?: number;
  limiter?: RateLimiter;
  now?: () => number;
  /** Where request log lines go (default: none, the config's level is off in tests). */
  logger?: RequestLogger;
  tracing?: Tracing;
};

/** A fresh, bootstrapped app on its own database file. */
export function startTestServer(options: TestServerOptions = {}): TestServer {
  const dir = tempDir();
  mkdirSync(join(dir.path, "store"));
  mkdirSync(join(dir.path, "files"));
  const dbPath = join(dir.path, "store", "invoke.db");
  const store = openStore(dbPath);
  const { stored, result } = newTenant("default", "admin@localhost");
  settledNow(sqliteRepositories(store).directory.createTenant(stored));
  return serveStore(store, dbPath, result, options, () => dir[Symbol.dispose]());
}

/**
 * The value of a settled promise, at once. The SQLite repositories do their work before they return,
 * which keeps `startTestServer` synchronous (as every test calls it).
 */
function settledNow<T>(promise: Promise<T>): T {
  if (Bun.peek.status(promise) === "pending") throw new Error("the store answered asynchronously; startTestServer needs an answer at once");
  const value = Bun.peek(promise);
  if (Bun.peek.status(promise) === "rejected") throw value;
  return value as T;
}

/**
 * Stops `server` as a process exit would (connectors closed, records committed, store closed) and
 * starts a new one on the same database, its connectors started from the store as at boot.
 */
export async function restartTestServer(server: TestServer, options: TestServerOptions = {}): Promise<TestServer> {
  await server.services.connectors.close();
  await server.services.records.flush();
  server.store.close();
  const restarted = serveStore(openStore(server.dbPath), server.dbPath, { tenant_id: server.tenantId, user_id: server.userId, admin_key: server.adminKey }, options, () =>
    rmSync(dirname(dirname(server.dbPath)), { recursive: true, force: true }),
  );
  await restarted.services.connectors.reconcile();
  return restarted;
}

/**
 * What the tests' operator lets tenant admins' connectors reach: files in the test's own folder, the
 * test runtime running fixtures, loopback upstreams. (The product's default is nothing.)
 */
export function testTenantConnectors(filesDir: string): ServerConfig["tenantConnectors"] {
  return {
    paths: [`${realpathSync(filesDir)}/**`],
    commands: [{ command: process.execPath, args: ["**"], env: ["UPSTREAM_TOKEN", "BAD_HEADER_TOOLS", "SHADOW_TOOLS"] }],
    networks: ["127.0.0.0/8", "::1/128"],
  };
}

function serveStore(store: Store, dbPath: string, boot: { tenant_id: string; user_id: string; admin_key: string }, options: TestServerOptions, removeFiles: () => void): TestServer {
  const filesDir = join(dirname(dirname(dbPath)), "files");
  const services = createServices({
    store,
    config: { ...DEFAULT_CONFIG, db: dbPath, logLevel: "off", tenantConnectors: testTenantConnectors(filesDir), ...options.config },
    registry: options.registry,
    limiter: options.limiter,
    now: options.now,
    tracing: options.tracing,
  });
  const app = createApp({ services, pageSize: options.pageSize, logger: options.logger });
  return {
    app,
    services,
    store,
    dbPath,
    filesDir,
    tenantId: boot.tenant_id,
    userId: boot.user_id,
    adminKey: boot.admin_key,
    [Symbol.dispose]() {
      store.close();
      removeFiles();
    },
    async [Symbol.asyncDispose]() {
      await services.connectors.close();
      await services.records.flush();
      this[Symbol.dispose]();
    },
  };
}

/**
 * Writes to the server's database through a second connection, as another process (the CLI) would,
 * then waits out the 20 ms within which the server notices other processes' commits.
 */
export async function writeFromAnotherProcess(server: Pick<TestServer, "dbPath">, sql: string, params: (string | number)[] = []): Promise<void> {
  const other = new Database(server.dbPath);
  try {
    other.run("PRAGMA busy_timeout = 5000");
    other.run(sql, params);
  } finally {
    other.close();
  }
  await Bun.sleep(25);
}

/** A parsed HTTP answer. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The JSON body, or undefined when the body is empty. */
  body: any;
}

/** Sends a request through `app.handle` and reads the answer. */
export async function send(app: TestServer["app"], path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await app.handle(new Request(`http://localhost${path}`, init));
  const text = await response.text();
  const isJson = /json/.test(response.headers.get("content-type") ?? "application/json");
  return { status: response.status, headers: response.headers, text, body: text.length > 0 && isJson ? JSON.parse(text) : undefined };
}

/** Calls a REST route with a JSON body (when given) and an API key (the bootstrap admin's by default). */
export function rest(server: Pick<TestServer, "app" | "adminKey">, method: string, path: string, body?: unknown, key = server.adminKey): Promise<Answer> {
  return send(server.app, path, {
    method,
    headers: { "content-type": "application/json", "x-api-key": key },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** POSTs a JSON-RPC payload (object, array, or raw string) to the MCP endpoint, validating every response against the MCP schema. */
export async function rpc(
  server: Pick<TestServer, "app" | "adminKey">,
  payload: unknown,
  options: { key?: string | null; headers?: Record<string, string>; path?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": "application/json", ...options.headers };
  const key = options.key === undefined ? server.adminKey : options.key;
  if (key !== null) headers["x-api-key"] = key;
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const answer = await send(server.app, options.path ?? "/v1/mcp", { method: "POST", headers, body });
  if (answer.body !== undefined && answer.headers.get("content-type")?.startsWith("application/json")) {
    const methods = new Map<unknown, string>();
    for (const message of Array.isArray(payload) ? payload : [payload]) {
      if (message && typeof message === "object" && "id" in message) methods.set(message.id, (message as { method?: string }).method ?? "");
    }
    const version = isModernPayload(payload, headers["mcp-protocol-version"]) ? "2026-07-28" : "2025-11-25";
    for (const response of Array.isArray(answer.body) ? answer.body : [answer.body]) assertValidResponse(response, methods.get(response.id), version);
  }
  return answer;
}

/** Whether a payload is a modern-era request: its _meta names a protocol version, or the header names 2026-07-28. */
function isModernPayload(payload: unknown, header: string | undefined): boolean {
  const meta = (payload as { params?: { _meta?: Record<string, unknown> } } | null)?.params?._meta;
  return header === "2026-07-28" || (typeof payload === "object" && meta?.["io.modelcontextprotocol/protocolVersion"] !== undefined);
}

/** A JSON-RPC request object. */
export function request(id: number | string, method: string, params?: Record<string, unknown>) {
  return params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params };
}

/** Creates (or reuses) the user `email` with `role` and a new key of `profile` for it; returns the secret. */
export async function keyFor(server: Pick<TestServer, "app" | "adminKey">, role: string, profile: string, email = `${role}-${profile}@example.com`): Promise<string> {
  const users = await rest(server, "GET", "/v1/beta/users");
  let user = users.body.users.find((candidate: { email: string }) => candidate.email === email);
  if (!user) user = (await rest(server, "POST", "/v1/beta/users", { email, role })).body;
  const key = await rest(server, "POST", `/v1/beta/users/${user.id}/keys`, { name: `${role} ${profile}`, profile });
  if (key.status !== 201) throw new Error(`cannot issue a ${profile} key for ${email}: ${key.text}`);
  return key.body.key;
}

/** Polls `condition` every `intervalMs` until it holds; fails naming `what` after `timeoutMs`. */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, { timeoutMs = 5000, intervalMs = 10 } = {}): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`not after ${timeoutMs} ms: ${what}`);
    await Bun.sleep(intervalMs);
  }
}
