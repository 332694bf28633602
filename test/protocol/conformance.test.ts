/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, server mode) against the
 * compiled binary, in both protocol eras: the scenarios MCP 2026-07-28 requires, and those of
 * 2025-11-25. The suite runs on Node 22 (the `node` package pins it). It cannot send an API key, so a
 * small proxy in this process adds one. The binary serves a stdio upstream with an `x-mcp-header` tool,
 * so the custom-header scenarios have something to check.
 *
 * What may fail is listed, with the reason for each, in `test/protocol/conformance/<version>.yml` (the suite's
 * expected-failures format): the suite's own fixture tools (`test_*`, `greet`…), and features Invoke
 * does not offer (prompts, resources, completions, logging, sampling and elicitation). Any other
 * failure or warning fails the test, in every scenario that ran (the suite's own exit code leaves out
 * scenarios it does not score, such as the pending custom-header ones); so does a listed one that now
 * passes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { BUILD_TIMEOUT_MS, compiledBinary } from "../support/binary.ts";
import { tempDir } from "../support/harness.ts";
import { initDatabase, listeningUrl, REPO_ROOT, runProcess, spawnProcess, waitForHealthy, type RunningProcess } from "../support/process.ts";

const NODE = join(REPO_ROOT, "node_modules", "node", "bin", "node");
const SUITE = join(REPO_ROOT, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js");
const UPSTREAM = join(REPO_ROOT, "test", "fixtures", "upstream-stdio.ts");
const SUITE_TIMEOUT_MS = 120_000;

let site: ReturnType<typeof tempDir>;
let server: RunningProcess;
let proxy: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  const binary = await compiledBinary();
  site = tempDir();
  // The suite sends hundreds of requests in a few seconds, more than the default limit allows; the
  // operator lets the tenant admin run the upstream fixture.
  const config = { rate_limit: { requests: 1_000_000, per_seconds: 60 }, tenant_connectors: { commands: [{ command: process.execPath, args: [UPSTREAM] }] } };
  writeFileSync(join(site.path, "invoke.yaml"), JSON.stringify(config));
  const admin = await initDatabase([binary], ["--db", "./invoke.db"], { cwd: site.path });
  server = spawnProcess([binary, "serve", "--port", "0", "--db", "./invoke.db", "--config", "./invoke.yaml"], { cwd: site.path });
  const url = await listeningUrl(server);
  await waitForHealthy(url);

  const asAdmin = (path: string, body: unknown) =>
    fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-api-key": admin.admin_key }, body: JSON.stringify(body) });
  const connector = await asAdmin("/v1/connectors", {
    name: "up",
    type: "mcp_stdio",
    command: process.execPath,
    args: [UPSTREAM],
    read_only_tools: ["route"],
    enable_tools: ["route"],
  });
  expect(connector.status).toBe(201);
  const user = (await (await asAdmin("/v1/beta/users", { email: "agent@example.com", role: "editor" })).json()) as { id: string };
  const key = (await (await asAdmin(`/v1/beta/users/${user.id}/keys`, { name: "conformance", profile: "operator" })).json()) as { key: string };

  // The suite's client cannot send X-API-Key: the proxy adds it and passes the rest on as it came (but
  // Host, which fetch sets for the server).
  proxy = Bun.serve({
    port: 0,
    async fetch(request) {
      const headers = new Headers(request.headers);
      headers.set("x-api-key", key.key);
      headers.delete("host");
      const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
      return fetch(`${url}/v1/mcp`, { method: request.method, headers, body, redirect: "manual" });
    },
  });
}, BUILD_TIMEOUT_MS + 30_000);

afterAll(async () => {
  await proxy?.stop(true);
  await server?.[Symbol.asyncDispose]();
  site?.[Symbol.dispose]();
});

interface Check {
  id: string;
  status: string;
  errorMessage?: string;
}

/** The checks of every scenario the suite ran, by scenario name (from its result folders, `server-<scenario>-<time>`). */
function results(outputDir: string): Map<string, Check[]> {
  const scenarios = new Map<string, Check[]>();
  for (const folder of readdirSync(outputDir)) {
    const scenario = folder.replace(/^server-/, "").replace(/-\d{4}-\d{2}-\d{2}T.*$/, "");
    scenarios.set(scenario, JSON.parse(readFileSync(join(outputDir, folder, "checks.json"), "utf8")) as Check[]);
  }
  return scenarios;
}

const failing = (check: Check) => check.status === "FAILURE" || check.status === "WARNING";

/**
 * Compares a run with the listed failures. Every scenario that ran counts, also those the suite does
 * not score for the revision (pending and extension scenarios): a failure not listed, and a listed
 * failure that now passes or never ran, are both reported.
 */
function compare(scenarios: Map<string, Check[]>, listed: string[]): { unexpected: string[]; stale: string[] } {
  const unexpected: string[] = [];
  const stale: string[] = [];
  const wholeScenarios = new Set(listed.filter((entry) => !entry.includes(":")));
  const listedChecks = new Set(listed.filter((entry) => entry.includes(":")));
  for (const [scenario, checks] of scenarios) {
    if (wholeScenarios.has(scenario)) {
      if (!checks.some(failing)) stale.push(scenario);
      continue;
    }
    for (const check of checks.filter(failing)) {
      if (!listedChecks.has(`${scenario}:${check.id}`)) unexpected.push(`${scenario}:${check.id} (${check.status}): ${check.errorMessage ?? ""}`);
    }
  }
  for (const entry of listedChecks) {
    const [scenario, id] = entry.split(":") as [string, string];
    if (!scenarios.get(scenario)?.some((check) => check.id === id && failing(check))) stale.push(entry);
  }
  for (const scenario of wholeScenarios) if (!scenarios.has(scenario)) stale.push(scenario);
  return { unexpected, stale };
}

describe.each([
  ["2026-07-28", ["--requirements", "2026-07-28"]],
  ["2025-11-25", ["--spec-version", "2025-11-25"]],
])("the conformance suite, MCP %s", (version, selection) => {
  test(
    "passes every scenario except the listed ones",
    async () => {
      using output = tempDir();
      const run = await runProcess([NODE, SUITE, "server", "--url", `http://localhost:${proxy.port}/mcp`, ...selection, "-o", output.path], { timeoutMs: SUITE_TIMEOUT_MS });
      const scenarios = results(output.path);
      if (scenarios.size === 0) throw new Error(`the conformance suite ran no scenario (exit ${run.exitCode}):\n${run.stdout}\n${run.stderr}`);
      const checks = [...scenarios.values()].flat();
      const listed = (parse(readFileSync(join(import.meta.dir, "conformance", `${version}.yml`), "utf8")) as { server: string[] }).server;
      console.log(
        `conformance ${version}: ${scenarios.size} scenarios, ${checks.filter((check) => check.status === "SUCCESS").length} checks passed, ` +
          `${checks.filter(failing).length} failed or warned (${listed.length} entries in test/protocol/conformance/${version}.yml)`,
      );
      const { unexpected, stale } = compare(scenarios, listed);
      expect({ unexpected, stale }).toEqual({ unexpected: [], stale: [] });
    },
    SUITE_TIMEOUT_MS + 10_000,
  );
});
