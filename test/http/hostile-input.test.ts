/**
 * Hostile input through the public surface: YAML bombs and malformed policies, deep JSON, bodies that
 * probe a route's schema without a key, a forged Host header, and a busy port. Every client mistake is
 * a 4xx with a small body; nothing answers 5xx.
 */
import { describe, expect, it } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { MCP_PATHS } from "../../src/http/app.ts";
import { request, rest, rpc, send, startTestServer, tempDir, type Answer, type TestServer } from "../support/harness.ts";
import { CLI, initDatabase, runCli, startServer } from "../support/process.ts";

/** The largest error answer any hostile request may get. */
const MAX_ERROR_BYTES = 16 * 1024;

/** A server whose limiter never gets in the way of a long run of requests. */
function unlimitedServer(): TestServer {
  const unlimited = { requests: 1_000_000, per_seconds: 1 };
  return startTestServer({ config: { rateLimit: unlimited, profileRateLimits: { admin: unlimited, operator: unlimited, mcp_readonly: unlimited } } });
}

/** An alias bomb: nine aliases per level, `levels` levels (9^levels strings once expanded). */
function billionLaughs(levels = 9): string {
  const lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let level = 1; level <= levels; level++) lines.push(`l${level}: &l${level} [${Array(9).fill(`*l${level - 1}`).join(",")}]`);
  return `${lines.join("\n")}\nversion: 1\nrules: []\n`;
}

const YAML_ATTACKS: Record<string, string> = {
  "an alias bomb": billionLaughs(),
  "an undefined alias": "version: 1\nrules: *nowhere\n",
  "a merge key": "base: &base {id: r1, effect: allow, catch_all: true}\nversion: 1\nrules:\n  - <<: *base\n    reason: merged\n",
  "a merge of an alias bomb": `${billionLaughs(6)}x:\n  <<: *l6\n`,
  "deep flow nesting": `rules: ${"[".repeat(20_000)}`,
  "deep block nesting": `${Array.from({ length: 300 }, (_, depth) => `${" ".repeat(depth)}k${depth}:`).join("\n")} 1\n`,
  "thousands of YAML errors": `rules:\n${"\t- x\n".repeat(12_000)}`,
  "a 250 KiB policy": `version: 1\nrules:\n${"  - {id: r, effect: maybe}\n".repeat(10_000)}`,
  "hundreds of invalid rules with long ids": `version: 1\nrules:\n${Array.from({ length: 500 }, (_, index) => `  - id: ${"x".repeat(2000)}${index}\n    effect: maybe\n`).join("")}`,
};

/** Routes that take a policy source, and a body carrying `source` for each. */
const POLICY_ROUTES: [string, (source: string) => unknown][] = [
  ["/v1/policies", (source) => ({ source })],
  ["/v1/policies/check", (source) => ({ source })],
  ["/v1/policies/backtest", (source) => ({ source })],
  ["/v1/policies/simulate", (source) => ({ agent_id: "agent", action: "database.execute", params: { sql: source } , source })],
];

function expectBoundedClientError(answer: Answer): void {
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(answer.status).toBeLessThan(500);
  expect(Buffer.byteLength(answer.text)).toBeLessThan(MAX_ERROR_BYTES);
  expect(answer.body.error.code).toMatch(/^[a-z_]+$/);
}

describe("policy YAML attacks", () => {
  for (const [attack, source] of Object.entries(YAML_ATTACKS)) {
    for (const [path, body] of POLICY_ROUTES) {
      it(`answers ${attack} on POST ${path} with a small 4xx`, async () => {
        using server = unlimitedServer();
        expectBoundedClientError(await rest(server, "POST", path, body(source)));
      });
    }
  }

  it("says why an alias bomb, an undefined alias and a merge key are refused", async () => {
    using server = unlimitedServer();
    const check = async (source: string) => (await rest(server, "POST", "/v1/policies/check", { source })).body.error;
    expect((await check(YAML_ATTACKS["an alias bomb"]!)).message).toContain("alias");
    expect((await check(YAML_ATTACKS["an undefined alias"]!)).message).toContain("nowhere");
    expect((await check(YAML_ATTACKS["a merge key"]!)).message).toContain("merge keys (<<) are not supported");
  });

  it("lists the first problems of a malformed policy and counts the rest", async () => {
    using server = unlimitedServer();
    const answer = await rest(server, "POST", "/v1/policies/check", { source: YAML_ATTACKS["thousands of YAML errors"] });
    expect(answer.body.error.code).toBe("invalid_policy");
    expect(answer.body.error.details.issues).toHaveLength(20);
    expect(answer.body.error.details.more).toBeGreaterThan(1000);
    expect(answer.body.error.message).toMatch(/; and \d+ more$/);
  });

  it("refuses a policy over the size limit, naming the limit", async () => {
    using server = unlimitedServer();
    const answer = await rest(server, "POST", "/v1/policies/check", { source: `# ${"x".repeat(70_000)}\nversion: 1\n` });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toContain("the limit is 65536");
  });

  it("still stores a policy that uses anchors and aliases within the limits", async () => {
    using server = unlimitedServer();
    const source = [
      "version: 1",
      "rules:",
      "  - id: reads",
      "    effect: allow",
      "    reason: reads are fine",
      "    match: {action: &reads [\"database.query\", \"fs.read_file\"]}",
      "  - id: reads-again",
      "    effect: require_approval",
      "    reason: but not for this agent",
      "    match: {action: *reads, agent: finance_agent}",
    ].join("\n");
    const answer = await rest(server, "POST", "/v1/policies", { source });
    expect(answer.status).toBe(201);
  });
});

describe("deep JSON", () => {
  const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

  it.each(["/v1/policies/simulate", "/v1/policies/check", "/v1/brain/query", "/v1/beta/users", "/v1/connectors"])("answers a 20,000-deep body on POST %s with 400 json_too_deep", async (path) => {
    using server = unlimitedServer();
    const answer = await send(server.app, path, { method: "POST", headers: { "content-type": "application/json", "x-api-key": server.adminKey }, body: deep(20_000) });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("json_too_deep");
  });

  it("accepts nesting up to the limit inside a valid body", async () => {
    using server = unlimitedServer();
    const params = JSON.parse(`{"sql":"select 1","nested":${deep(60)}}`);
    const answer = await rest(server, "POST", "/v1/policies/simulate", { agent_id: "agent", action: "database.query", params });
    expect(answer.status).toBe(200);
  });

  it.each(MCP_PATHS)("answers a 20,000-deep JSON-RPC body on %s with -32700 and HTTP 400", async (path) => {
    using server = unlimitedServer();
    const payload = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"invoke.policy.simulate","arguments":{"agent_id":"a","action":"b","params":${deep(20_000)}}}}`;
    const answer = await rpc(server, payload, { path });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe(-32700);
    expect(answer.body.error.message).toContain("deeper than 64 levels");
  });

  it("answers a deep array batch on the MCP endpoint with -32700", async () => {
    using server = unlimitedServer();
    const answer = await rpc(server, `${"[".repeat(5000)}${"]".repeat(5000)}`);
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe(-32700);
  });
});

describe("a tool name of any length", () => {
  it("is cut to a bounded one in the refusal, the record and the request log", async () => {
    const lines: string[] = [];
    using server = startTestServer({ logger: { request: (info) => lines.push(JSON.stringify(info)) } });
    const name = `database.${"x".repeat(500_000)}`;
    const answer = await rpc(server, request(1, "tools/call", { name, arguments: {} }));
    expect(answer.body.error.message).toContain("Unknown tool: database.xxx");
    expect(answer.body.error.message).toContain("(500009 characters)");
    expect(answer.text.length).toBeLessThan(2_000);
    const [record] = (await server.services.records.list(server.tenantId)).records;
    expect(record!.tool.length + (record!.error ?? "").length).toBeLessThan(1_000);
    expect(record).toMatchObject({ status: "refused", tool: expect.stringContaining("(500009 characters)") });
    expect(lines.join("").length).toBeLessThan(2_000);
  });
});

describe("globs a tenant admin enables", () => {
  it("are bounded in number and length", async () => {
    using server = startTestServer();
    for (const tools of [Array.from({ length: 501 }, (_, index) => `tool_${index}`), ["x".repeat(201)]]) {
      const answer = await rest(server, "POST", "/v1/connectors/any/tools/enable", { tools });
      expect({ items: tools.length, status: answer.status, code: answer.body.error.code }).toEqual({ items: tools.length, status: 400, code: "invalid_request" });
    }
  });
});

/** Every REST route the app serves, with its path parameters filled in. */
function restRoutes(server: TestServer): { method: string; path: string }[] {
  const open = new Set<string>([...MCP_PATHS, "/v1/mcp/key-profiles"]);
  return server.app.routes
    .filter((route) => route.path.startsWith("/v1/") && !open.has(route.path) && route.method !== "HEAD" && route.method !== "OPTIONS")
    .map((route) => ({ method: route.method, path: route.path.replace(/:[A-Za-z]+/g, "not-a-number") }));
}

describe("REST authenticates before it validates", () => {
  it("finds the REST routes to check", () => {
    using server = startTestServer();
    const routes = restRoutes(server).map((route) => `${route.method} ${route.path}`);
    expect(routes.length).toBeGreaterThan(25);
    expect(routes).toContain("POST /v1/policies/simulate");
    expect(routes).toContain("GET /v1/policies/not-a-number");
  });

  const probes: Record<string, { body?: string; contentType?: string }> = {
    "no body": {},
    "invalid JSON": { body: "{not json", contentType: "application/json" },
    "a body of the wrong type": { body: '{"source": 5, "unknown": [1,2], "entities": "x"}', contentType: "application/json" },
    "deep JSON": { body: "[".repeat(10_000), contentType: "application/json" },
    "a form body": { body: "a=1&b=2", contentType: "application/x-www-form-urlencoded" },
  };
  for (const [probe, { body, contentType }] of Object.entries(probes)) {
    it(`answers 401 to ${probe} without a key, on every REST route`, async () => {
      using server = unlimitedServer();
      const wrong: string[] = [];
      for (const { method, path } of restRoutes(server)) {
        const withBody = method !== "GET" && body !== undefined;
        const answer = await send(server.app, `${path}?limit=abc&from=x`, {
          method,
          headers: withBody && contentType ? { "content-type": contentType } : {},
          body: withBody ? body : undefined,
        });
        if (answer.status !== 401 || answer.body?.error?.code === undefined) wrong.push(`${method} ${path}: ${answer.status} ${answer.text.slice(0, 120)}`);
      }
      expect(wrong).toEqual([]);
    });
  }

  it("answers 403, not a schema error, to a key without the route's scope", async () => {
    using server = unlimitedServer();
    const { keyFor } = await import("../support/harness.ts");
    const readonlyKey = await keyFor(server, "viewer", "mcp_readonly");
    const answer = await send(server.app, "/v1/beta/users", { method: "POST", headers: { "content-type": "application/json", "x-api-key": readonlyKey }, body: '{"bad": true}' });
    expect(answer.status).toBe(403);
  });

  it("still validates an authenticated request, listing a bounded number of problems", async () => {
    using server = unlimitedServer();
    const entities = Array.from({ length: 5000 }, () => 7);
    const answer = await rest(server, "POST", "/v1/brain/entities", { entities });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("invalid_request");
    expect(answer.body.error.details).toHaveLength(20);
    expect(answer.body.error.message).toMatch(/and (at least )?\d+ more$/);
    expect(Buffer.byteLength(answer.text)).toBeLessThan(MAX_ERROR_BYTES);
  });
});

describe("a small fuzz run", () => {
  /** A deterministic generator of hostile bodies. */
  function* hostileBodies(count: number): Generator<string | Uint8Array> {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const shapes: (() => string | Uint8Array)[] = [
      () => `${"[".repeat(100 + Math.floor(random() * 5000))}`,
      () => `${'{"a":'.repeat(65)}1${"}".repeat(65)}`,
      () => JSON.stringify({ source: billionLaughs(4 + Math.floor(random() * 6)) }),
      () => JSON.stringify({ source: `rules: ${"{".repeat(Math.floor(random() * 3000))}` }),
      () => JSON.stringify({ source: "x".repeat(Math.floor(random() * 200_000)) }),
      () => JSON.stringify({ agent_id: 1, action: [], params: "x", entities: {}, relations: 5, email: null, role: {}, name: [], tools: "a" }),
      () => Uint8Array.from({ length: 1 + Math.floor(random() * 4000) }, () => Math.floor(random() * 256)),
      () => new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]),
      () => JSON.stringify({ entities: Array.from({ length: 2000 }, () => ({ type: "BAD TYPE", key: "" })) }),
      () => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"${"n".repeat(5000)}","arguments":${"[".repeat(70)}${"]".repeat(70)}}}`,
      () => JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "invoke.policy.simulate", arguments: { agent_id: "a".repeat(300), action: 5, params: [] } } }]),
    ];
    for (let index = 0; index < count; index++) yield shapes[index % shapes.length]!();
  }

  it("answers 400 hostile bodies across every route with no 5xx and small answers", async () => {
    using server = unlimitedServer();
    const targets = [...restRoutes(server).filter((route) => route.method !== "GET"), { method: "POST", path: "/v1/mcp" }];
    const failures: string[] = [];
    let sent = 0;
    for (const body of hostileBodies(400)) {
      const { method, path } = targets[sent % targets.length]!;
      sent++;
      const response = await server.app.handle(
        new Request(`http://localhost${path}`, { method, headers: { "content-type": "application/json", "x-api-key": server.adminKey }, body }),
      );
      const text = await response.text();
      if (response.status >= 500 || Buffer.byteLength(text) >= MAX_ERROR_BYTES) failures.push(`${method} ${path}: ${response.status}, ${text.length} characters: ${text.slice(0, 160)}`);
    }
    expect(sent).toBe(400);
    expect(failures).toEqual([]);
  });
});

describe("the discovery document", () => {
  it.each(MCP_PATHS)("never echoes a forged Host header on GET %s", async (path) => {
    using server = startTestServer();
    const response = await server.app.handle(new Request(`http://attacker.example${path}`, { headers: { host: "attacker.example", "x-forwarded-host": "attacker.example" } }));
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text).not.toContain("attacker");
    const body = JSON.parse(text);
    expect(body.endpoint).toBe(path);
    expect(body.key_profiles_url).toBe("/v1/mcp/key-profiles");
  });

  it("names the endpoint from the configured public URL", async () => {
    using server = startTestServer({ config: { publicUrl: "https://invoke.example.com/gateway/" } });
    const answer = await send(server.app, "/v1/mcp", { headers: { host: "attacker.example" } });
    expect(answer.body.endpoint).toBe("https://invoke.example.com/gateway/v1/mcp");
    expect(answer.body.key_profiles_url).toBe("https://invoke.example.com/gateway/v1/mcp/key-profiles");
  });

  it("serves public_url from the config file and refuses one that is not an http(s) URL", async () => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    const good = join(dir.path, "good.yaml");
    writeFileSync(good, "port: 0\npublic_url: https://gateway.example.com\n");
    {
      await using server = await startServer([...CLI, "serve", "--config", good, "--db", db]);
      const body = (await (await fetch(`${server.url}/v1/mcp`, { headers: { host: "attacker.example" } })).json()) as { endpoint: string };
      expect(body.endpoint).toBe("https://gateway.example.com/v1/mcp");
    }
    const bad = join(dir.path, "bad.yaml");
    writeFileSync(bad, "port: 0\npublic_url: javascript:alert(1)\n");
    const result = await runCli(["serve", "--config", bad, "--db", db]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("public_url");
  });
});

describe("binding the port", () => {
  /** Asserts a serve that failed to bind: exit 1, one line on stderr containing `fragment`. */
  function expectOneLineBindFailure(result: { exitCode: number | null; stderr: string }, fragment: string): void {
    expect(result.exitCode).toBe(1);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(fragment);
    expect(lines[0]).not.toContain("    at ");
  }

  it("refuses a port another Invoke already serves, and leaves that one serving", async () => {
    using dir = tempDir();
    const first = join(dir.path, "first.db");
    const second = join(dir.path, "second.db");
    await initDatabase(CLI, ["--db", first]);
    await initDatabase(CLI, ["--db", second]);
    await using server = await startServer([...CLI, "serve", "--port", "0", "--db", first]);
    const port = new URL(server.url).port;
    const result = await runCli(["serve", "--port", port, "--db", second]);
    expectOneLineBindFailure(result, "already in use");
    expect(result.stderr).toContain(port);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it.each([
    ["a host name that does not resolve", "no-such-host.invalid", "does not resolve"],
    ["an address that is not on this machine", "192.0.2.1", "not an address of this machine"],
  ])("reports %s on one line", async (_, host, fragment) => {
    using dir = tempDir();
    const db = join(dir.path, "invoke.db");
    await initDatabase(CLI, ["--db", db]);
    expectOneLineBindFailure(await runCli(["serve", "--host", host, "--port", "0", "--db", db]), fragment);
  });
});

describe("JSON-RPC over hostile bodies", () => {
  it("keeps answering well-formed requests after a run of hostile ones", async () => {
    using server = unlimitedServer();
    for (let index = 0; index < 20; index++) await rpc(server, "[".repeat(100 + index));
    const answer = await rpc(server, request(1, "ping"));
    expect(answer.status).toBe(200);
    expect(answer.body.result).toEqual({});
  });
});
