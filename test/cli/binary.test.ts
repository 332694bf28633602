/**
 * The compiled executable as an air-gapped site runs it: built once with `bun build --compile`, copied
 * nowhere, started from another empty folder (so it can rely on no file beside it), and driven by the
 * official MCP SDK client over Streamable HTTP. A `.env` and a broken `bunfig.toml` in that folder must
 * not be read.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import pkg from "../../package.json";
import { BUILD_TIMEOUT_MS, compiledBinary } from "../support/binary.ts";
import { tempDir } from "../support/harness.ts";
import { initDatabase, listeningUrl, runProcess, spawnProcess, waitForHealthy, type InitOutput, type RunningProcess } from "../support/process.ts";

/** A sanity bound only: cold start is measured and logged, not benchmarked. */
const COLD_START_LIMIT_MS = 3_000;

let binary: string;

beforeAll(async () => {
  binary = await compiledBinary();
}, BUILD_TIMEOUT_MS + 10_000);

test("the build is a single file", () => {
  expect(readdirSync(dirname(binary))).toEqual(["invoke"]);
});

test("init --json in an empty folder creates ./invoke.db there", async () => {
  using site = tempDir();
  const admin = await initDatabase([binary], [], { cwd: site.path });
  expect(admin.admin_key).toMatch(/^inv_live_[0-9A-Za-z]{40}$/);
  expect(existsSync(join(site.path, "invoke.db"))).toBe(true);
});

describe("serve from a folder holding only its database, a .env and a broken bunfig.toml", () => {
  let site: ReturnType<typeof tempDir>;
  let admin: InitOutput;
  let server: RunningProcess;
  let url: string;
  let coldStartMs: number;

  beforeAll(async () => {
    site = tempDir();
    // If the binary read bunfig.toml, every command would die on a TOML syntax error.
    writeFileSync(join(site.path, "bunfig.toml"), "this is [not toml\n= = =\n");
    admin = await initDatabase([binary], ["--db", "./invoke.db"], { cwd: site.path });
    // If the binary read .env, serve would fail on the missing config file, and mcp would find a key.
    writeFileSync(join(site.path, ".env"), `INVOKE_PORT=1\nINVOKE_CONFIG=./dotenv-was-loaded.yaml\nINVOKE_API_KEY=${admin.admin_key}\n`);

    server = spawnProcess([binary, "serve", "--port", "0", "--db", "./invoke.db"], { cwd: site.path });
    url = await listeningUrl(server);
    await waitForHealthy(url);
    coldStartMs = performance.now() - server.startedAt;
  });

  afterAll(async () => {
    await server?.[Symbol.asyncDispose]();
    site?.[Symbol.dispose]();
  });

  /** An SDK client over Streamable HTTP that sends `key` in X-API-Key; disposing closes it. */
  async function connectHttpClient(key: string) {
    const transport = new StreamableHTTPClientTransport(new URL(`${url}/v1/mcp`), { requestInit: { headers: { "X-API-Key": key } } });
    const client = new Client({ name: "invoke-binary-test", version: "1.0.0" });
    await client.connect(transport);
    return { client, [Symbol.asyncDispose]: () => client.close() };
  }

  test("answers /healthz within a few seconds of being spawned", async () => {
    console.log(`cold start of the compiled binary (spawn to first 200 from /healthz): ${coldStartMs.toFixed(0)} ms`);
    expect(coldStartMs).toBeLessThan(COLD_START_LIMIT_MS);
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ status: "ok", version: pkg.version });
  });

  test("ignores INVOKE_* settings in a .env file", async () => {
    expect(new URL(url).port).not.toBe("1");
    const mcp = await runProcess([binary, "mcp", "--db", "./invoke.db"], { cwd: site.path, stdin: "" });
    expect(mcp.exitCode).toBe(1);
    expect(mcp.stderr).toContain("INVOKE_API_KEY is not set");
  });

  test("ignores a bunfig.toml it cannot parse", async () => {
    const result = await runProcess([binary, "version"], { cwd: site.path });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(`invoke ${pkg.version}\n`);
  });

  test("the SDK client connects with the API key", async () => {
    await using connection = await connectHttpClient(admin.admin_key);
    expect(connection.client.getServerVersion()).toMatchObject({ name: "invoke", version: pkg.version });
  });

  test("the SDK client lists invoke.whoami with its outputSchema", async () => {
    await using connection = await connectHttpClient(admin.admin_key);
    const { tools } = await connection.client.listTools();
    const whoami = tools.find((tool) => tool.name === "invoke.whoami");
    expect(whoami?.outputSchema?.properties).toHaveProperty("user");
  });

  test("the SDK client calls invoke.whoami as admin@localhost", async () => {
    await using connection = await connectHttpClient(admin.admin_key);
    await connection.client.listTools();
    const result = await connection.client.callTool({ name: "invoke.whoami", arguments: {} });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ tenant: { id: admin.tenant_id }, user: { id: admin.user_id, email: "admin@localhost" } });
  });

  test("an SDK client with a wrong key cannot connect (401)", async () => {
    const transport = new StreamableHTTPClientTransport(new URL(`${url}/v1/mcp`), {
      requestInit: { headers: { "X-API-Key": `inv_live_${"0".repeat(40)}` } },
    });
    const client = new Client({ name: "invoke-binary-test", version: "1.0.0" });
    try {
      await expect(client.connect(transport)).rejects.toMatchObject({ code: 401 });
    } finally {
      await client.close();
    }
  });

  test("stops with exit code 0 on SIGTERM", async () => {
    server.kill("SIGTERM");
    expect(await server.waitForExit()).toBe(0);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});

describe("serve --demo from the binary: seed 000's examples answer out of the box", () => {
  test("database.execute: drop table is denied, a SELECT runs, and an UPDATE waits for approval", async () => {
    using site = tempDir();
    const admin = await initDatabase([binary], ["--db", "./invoke.db", "--demo"], { cwd: site.path });
    await using server = spawnProcess([binary, "serve", "--port", "0", "--db", "./invoke.db"], { cwd: site.path });
    const url = await listeningUrl(server);
    const call = async (name: string, args: Record<string, unknown>) => {
      const response = await fetch(`${url}/v1/mcp`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": admin.admin_key },
        body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name, arguments: args } }),
      });
      return ((await response.json()) as { result: Record<string, any> }).result;
    };
    const dropped = await call("database.execute", { sql: "drop table invoices" });
    expect(dropped.isError).toBe(true);
    expect(dropped.content[0].text).toContain("Policy denies");
    const rows = await call("database.query", { sql: "SELECT count(*) AS n FROM invoices" });
    expect(rows.structuredContent.rows[0].n).toBeGreaterThan(0);
    const pending = await call("database.execute", { sql: "UPDATE invoices SET status = 'paid' WHERE key = 'INV-2024-001'" });
    expect(pending.structuredContent).toMatchObject({ status: "pending_approval" });
  });
});
