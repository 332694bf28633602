/**
 * The operator owns the host: what a hostile tenant admin can make Invoke open, run or reach over REST.
 * By default nothing; with the operator's `tenant_connectors` allow-lists only what they name, and never
 * Invoke's own store or its folder, however the path is spelled. `/readyz` tells anonymous callers only
 * whether Invoke is ready, and an admin only about its own tenant.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { createTenant } from "../../src/governance/bootstrap.ts";
import { rest, restartTestServer, rpc, request, send, startTestServer, type TestServer } from "../support/harness.ts";
import { installDemo } from "../../src/demo.ts";
import { sqliteRepositories } from "../../src/storage/sqlite/index.ts";

const servers: TestServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server[Symbol.asyncDispose]();
});

function serve(config: Parameters<typeof startTestServer>[0] = {}): TestServer {
  const server = startTestServer(config);
  servers.push(server);
  return server;
}

/** A SQLite file with one table, where the test says. */
function companyDatabase(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { create: true });
  db.run("CREATE TABLE IF NOT EXISTS invoices (id INTEGER PRIMARY KEY, amount INTEGER)");
  db.close();
  return path;
}

/** A second tenant with its own admin key. */
async function secondTenant(server: TestServer, name = "acme"): Promise<{ tenantId: string; adminKey: string }> {
  const created = await createTenant(server.services.directory, name, `admin@${name}.example`);
  return { tenantId: created.tenant_id, adminKey: created.admin_key };
}

const sqlite = (name: string, path: string) => ({ name, type: "database", dialect: "sqlite", path });

describe("by default a tenant admin reaches nothing on the host", () => {
  it("refuses every kind of connector over REST, stores nothing and starts nothing", async () => {
    const server = serve({ config: { tenantConnectors: {} } });
    const marker = join(server.filesDir, "ran");
    const attempts = [
      sqlite("db", companyDatabase(join(server.filesDir, "company.sqlite"))),
      { name: "sh", type: "mcp_stdio", command: "/bin/sh", args: ["-c", `touch ${marker}`] },
      { name: "web", type: "mcp_http", url: "http://127.0.0.1:9/mcp" },
      { name: "pg", type: "database", dialect: "postgres", url: "postgres://invoke@127.0.0.1:5432/invoke" },
    ];
    for (const body of attempts) {
      const answer = await rest(server, "POST", "/v1/connectors", body);
      expect(answer.status).toBe(403);
      expect(answer.body.error.code).toBe("host_access_denied");
      expect(answer.body.error.message).toContain("not allowed by the operator");
    }
    expect((await rest(server, "GET", "/v1/connectors")).body.connectors).toEqual([]);
    await Bun.sleep(200);
    expect(existsSync(marker)).toBe(false);
  });
});

describe("the store and its folder are never a tenant connector's target", () => {
  it("refuses Invoke's store however the path is spelled, even when the allow-list would match", async () => {
    // An operator allow-list as wide as it gets: every path on the host.
    const server = serve({ config: { tenantConnectors: { paths: ["/**"], commands: [{ command: process.execPath, args: ["**"] }] } } });
    const store = server.dbPath;
    const link = join(server.filesDir, "innocent.sqlite");
    symlinkSync(store, link);
    const folderLink = join(server.filesDir, "data");
    symlinkSync(dirname(store), folderLink);
    const spellings = [
      store,
      `${store}-wal`,
      `${store}-shm`,
      join(server.filesDir, "..", "store", "invoke.db"),
      join(server.filesDir, ".", "..", "store", ".", "invoke.db"),
      link,
      join(folderLink, "invoke.db"),
      `file:${store}`,
      `FILE:${store}?mode=ro`,
      `file://localhost${store}`,
      relative(process.cwd(), store),
      dirname(store),
    ];
    for (const path of spellings) {
      const answer = await rest(server, "POST", "/v1/connectors", sqlite("steal", path));
      expect({ path, status: answer.status, code: answer.body.error?.code }).toEqual({ path, status: 403, code: "host_access_denied" });
    }
    // Files beside the store (another tenant's demo database, backups) are off limits to tenants too.
    const beside = companyDatabase(join(dirname(store), "invoke.db.demo-company.sqlite"));
    expect((await rest(server, "POST", "/v1/connectors", sqlite("demo", beside))).status).toBe(403);
    expect((await rest(server, "POST", "/v1/connectors", { name: "sh", type: "mcp_stdio", command: process.execPath, args: ["-e", "1"], cwd: dirname(store) })).status).toBe(403);
    expect((await rest(server, "GET", "/v1/connectors")).body.connectors).toEqual([]);
  });

  it("lets tenant B reach neither the store nor tenant A's demo database, so B cannot mint keys for A", async () => {
    const server = serve({ config: { tenantConnectors: { paths: ["/**"] } } });
    const demo = await installDemo({ ...server.services, connectorStore: sqliteRepositories(server.store).connectors, storePath: server.store.path }, { tenantId: server.tenantId });
    const tenantB = await secondTenant(server);
    for (const path of [server.dbPath, demo.database]) {
      const answer = await rest(server, "POST", "/v1/connectors", sqlite("loot", path), tenantB.adminKey);
      expect(answer.status).toBe(403);
    }
    // Tenant A's demo connector is A's alone: B's agent cannot call it.
    const call = await rpc(server, request(1, "tools/call", { name: "database.query", arguments: { sql: "select count(*) from invoices" } }), { key: tenantB.adminKey });
    expect(call.body.error?.code ?? call.body.result?.isError).toBeTruthy();
  });
});

describe("the operator's allow-lists", () => {
  it("admits a SQLite file under an allowed path, and only that", async () => {
    const server = serve();
    const allowed = companyDatabase(join(server.filesDir, "tenant", "company.sqlite"));
    const outside = companyDatabase(join(dirname(server.filesDir), "elsewhere.sqlite"));
    expect((await rest(server, "POST", "/v1/connectors", sqlite("company", allowed))).status).toBe(201);
    const refused = await rest(server, "POST", "/v1/connectors", sqlite("other", outside));
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain("tenant_connectors.paths");
    const rows = await rpc(server, request(1, "tools/call", { name: "company.query", arguments: { sql: "select count(*) as n from invoices" } }));
    expect(rows.body.result.structuredContent.rows).toEqual([{ n: 0 }]);
  });

  it("gives each tenant its own folder with {tenant}, and no other tenant's", async () => {
    const server = serve({ config: { tenantConnectors: { paths: ["/**/tenants/{tenant}/*.sqlite"] } } });
    const acme = await secondTenant(server, "acme");
    const ours = companyDatabase(join(server.filesDir, "tenants", "default", "books.sqlite"));
    const theirs = companyDatabase(join(server.filesDir, "tenants", "acme", "books.sqlite"));
    expect((await rest(server, "POST", "/v1/connectors", sqlite("books", ours))).status).toBe(201);
    expect((await rest(server, "POST", "/v1/connectors", sqlite("books", theirs))).status).toBe(403);
    expect((await rest(server, "POST", "/v1/connectors", sqlite("books", theirs), acme.adminKey)).status).toBe(201);
    expect((await rest(server, "POST", "/v1/connectors", sqlite("loot", ours), acme.adminKey)).status).toBe(403);
  });

  it("matches a stdio command with its arguments and environment exactly as the operator listed them", async () => {
    const script = "/srv/mcp/server.js";
    const node = "/opt/invoke-test/no-such-node";
    const server = serve({ config: { tenantConnectors: { commands: [{ command: node, args: [script, "--root", "/srv/share/*"], env: ["LOG_LEVEL"] }] } } });
    const add = (body: Record<string, unknown>) => rest(server, "POST", "/v1/connectors", { name: "fs", type: "mcp_stdio", command: node, ...body });
    expect((await add({ args: [script, "--root", "/"] })).status).toBe(403);
    expect((await add({ args: [script, "--root", "/srv/share/a", "--eval"] })).status).toBe(403);
    expect((await add({ args: ["-e", "require('child_process')"] })).status).toBe(403);
    expect((await add({ command: `${node}js`, args: [script, "--root", "/srv/share/a"] })).status).toBe(403);
    const env = await add({ args: [script, "--root", "/srv/share/a"], env: { NODE_OPTIONS: "--require /tmp/x.js" } });
    expect(env.status).toBe(403);
    expect(env.body.error.message).toContain("NODE_OPTIONS");
    // The listed form is admitted (it fails to start here: the command does not exist on this machine).
    expect((await add({ args: [script, "--root", "/srv/share/a"], env: { LOG_LEVEL: "debug" } })).status).toBe(201);
  });

  // Only loopback addresses are ever contacted here: refused URLs are refused before any connection.
  it("admits URLs by scheme, host, port and path", async () => {
    const server = serve({ config: { tenantConnectors: { urls: ["http://*.example.com/mcp/**", "http://localhost:9/mcp/**", "postgres://localhost:9/**"] } } });
    const http = (name: string, url: string) => rest(server, "POST", "/v1/connectors", { name, type: "mcp_http", url });
    const pg = (name: string, url: string) => rest(server, "POST", "/v1/connectors", { name, type: "database", dialect: "postgres", url });
    const refusals = [
      await http("a", "http://example.com.evil.net/mcp/x"),
      await http("b", "https://api.example.com/mcp/x"),
      await http("c", "http://api.example.com:8443/mcp/x"),
      await http("d", "http://api.example.com/admin"),
      await http("e", "http://localhost:9/admin/../../etc"),
      await http("f", "http://localhost:10/mcp/x"),
      await http("g", "http://127.0.0.1:9/mcp/x"),
      await pg("h", "postgres://u:p@localhost:6432/app"),
      await pg("i", "postgres://u:p@localhost.evil.net:9/app"),
      // Options that would take the client elsewhere than the URL's host.
      await pg("m", "postgres://u:p@localhost:9/app?host=/var/run/postgresql"),
      await pg("n", "postgres://u:p@localhost:9/app?hostaddr=10.0.0.5"),
      await pg("o", "postgres://u:p@localhost:9/app?sslrootcert=/etc/shadow"),
      await pg("p", "postgres://u:p@localhost:9,evil:5432/app"),
    ];
    expect(refusals.map((answer) => answer.status)).toEqual(refusals.map(() => 403));
    const admitted = [await http("j", "http://localhost:9/mcp/v1"), await pg("k", "postgres://u:p@localhost:9/app")];
    expect(admitted.map((answer) => answer.status)).toEqual([201, 201]);
    // The password never comes back.
    expect(JSON.stringify((await rest(server, "GET", "/v1/connectors")).body)).not.toContain("u:p@");
  });

  it("admits a URL whose host is inside an allowed network, and no other", async () => {
    const server = serve({ config: { tenantConnectors: { networks: ["127.0.0.0/8"] } } });
    const http = (name: string, url: string) => rest(server, "POST", "/v1/connectors", { name, type: "mcp_http", url });
    for (const url of ["http://169.254.169.254/latest/meta-data", "http://[::1]:9/mcp", "http://0.0.0.0:9/", "http://[fd00::1]/mcp"]) {
      expect({ url, status: (await http("x", url)).status }).toEqual({ url, status: 403 });
    }
    expect((await http("loop", "http://127.0.0.2:9/mcp")).status).toBe(201);
  });

  it("checks again at every start: a connector the operator no longer allows stays stopped", async () => {
    const server = serve();
    const path = companyDatabase(join(server.filesDir, "company.sqlite"));
    expect((await rest(server, "POST", "/v1/connectors", sqlite("company", path))).status).toBe(201);
    servers.pop();
    const narrowed = await restartTestServer(server, { config: { tenantConnectors: {} } });
    servers.push(narrowed);
    const view = (await rest(narrowed, "GET", "/v1/connectors/company")).body;
    expect(view.health).toMatchObject({ healthy: false, detail: expect.stringContaining("refused") });
    const call = await rpc(narrowed, request(1, "tools/call", { name: "company.query", arguments: { sql: "select 1" } }));
    expect(call.body.error.code).toBe(-32602);
  });
});

describe("/readyz", () => {
  it("tells an anonymous caller only whether Invoke is ready", async () => {
    const server = serve();
    await rest(server, "POST", "/v1/connectors", sqlite("company", companyDatabase(join(server.filesDir, "company.sqlite"))));
    const anonymous = await send(server.app, "/readyz");
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toEqual({ status: "ready" });
    expect(anonymous.text).not.toContain(server.filesDir);
    expect(anonymous.text).not.toContain(server.tenantId);
  });

  it("shows an admin its own tenant's connectors only, and refuses other keys", async () => {
    const server = serve();
    await rest(server, "POST", "/v1/connectors", sqlite("company", companyDatabase(join(server.filesDir, "company.sqlite"))));
    const tenantB = await secondTenant(server);
    await rest(server, "POST", "/v1/connectors", sqlite("bees", companyDatabase(join(server.filesDir, "b.sqlite"))), tenantB.adminKey);
    const forA = await send(server.app, "/readyz", { headers: { "x-api-key": server.adminKey } });
    expect(forA.body.checks.connectors.items.map((item: { name: string }) => item.name)).toEqual(["company"]);
    const forB = await send(server.app, "/readyz", { headers: { "x-api-key": tenantB.adminKey } });
    expect(forB.body.checks.connectors.items.map((item: { name: string }) => item.name)).toEqual(["bees"]);
    expect(forB.text).not.toContain(server.tenantId);
    expect((await send(server.app, "/readyz", { headers: { "x-api-key": "inv_live_wrong" } })).status).toBe(401);
    const users = await rest(server, "POST", "/v1/beta/users", { email: "viewer@example.com", role: "viewer" });
    const viewerKey = (await rest(server, "POST", `/v1/beta/users/${users.body.id}/keys`, { name: "v", profile: "mcp_readonly" })).body.key;
    expect((await send(server.app, "/readyz", { headers: { "x-api-key": viewerKey } })).status).toBe(403);
  });
});
