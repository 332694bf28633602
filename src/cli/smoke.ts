/**
 * `invoke smoke --url URL`: seed 000's production smoke test — GET /v1/mcp, initialize, tools/list,
 * tools/call invoke.policy.simulate — with the key in INVOKE_API_KEY. Mutates nothing.
 */
import { LATEST_LEGACY_VERSION } from "../protocol/versions.ts";
import { VERSION } from "../version.ts";
import { CommandFailure, UsageError, type Command } from "./command.ts";

type Step = { name: string; run(): Promise<string> };

async function rpc(endpoint: string, key: string, id: number, method: string, params: Record<string, unknown>): Promise<any> {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", "X-API-Key": key, "MCP-Protocol-Version": LATEST_LEGACY_VERSION },
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
  const body = JSON.parse(text);
  if (body.error) throw new Error(`JSON-RPC error ${body.error.code}: ${body.error.message}`);
  return body.result;
}

export const smokeCommand: Command = {
  name: "smoke",
  summary: "Smoke-test a running Invoke (seed 000): discovery, initialize, tools/list, policy simulation. Mutates nothing.",
  flags: { url: { type: "string", env: "INVOKE_BASE_URL", value: "URL", help: "Base URL of the server, e.g. https://invoke.example.com." } },
  details: "The key comes from INVOKE_API_KEY (an mcp_readonly key is enough). Exit 0 only if every step passes.",
  async run(values) {
    const base = values.url as string | undefined;
    if (!base) throw new UsageError("--url is required");
    let endpoint: string;
    try {
      endpoint = new URL("/v1/mcp", base).href;
    } catch {
      throw new UsageError(`--url is not a URL: ${base}`);
    }
    const key = process.env.INVOKE_API_KEY;
    if (!key) throw new CommandFailure("INVOKE_API_KEY is not set");

    const steps: Step[] = [
      {
        name: "GET /v1/mcp",
        run: async () => {
          const response = await fetch(endpoint, { headers: { Accept: "application/json" }, signal: AbortSignal.timeout(10_000) });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          const discovery = (await response.json()) as { name?: string; version?: string; protocol_versions?: string[] };
          if (!Array.isArray(discovery.protocol_versions)) throw new Error("no protocol_versions in the discovery document");
          return `${discovery.name} ${discovery.version}, protocols ${discovery.protocol_versions.join(", ")}`;
        },
      },
      {
        name: "initialize",
        run: async () => {
          const result = await rpc(endpoint, key, 1, "initialize", { protocolVersion: LATEST_LEGACY_VERSION, capabilities: {}, clientInfo: { name: "invoke-smoke", version: VERSION } });
          return `protocol ${result.protocolVersion}, server ${result.serverInfo?.name} ${result.serverInfo?.version}`;
        },
      },
      {
        name: "tools/list",
        run: async () => {
          const result = await rpc(endpoint, key, 2, "tools/list", {});
          const names: string[] = result.tools.map((tool: { name: string }) => tool.name);
          if (!names.includes("invoke.policy.simulate")) throw new Error(`invoke.policy.simulate is not listed for this key (listed: ${names.join(", ") || "none"})`);
          return `${names.length} tools`;
        },
      },
      {
        name: "tools/call invoke.policy.simulate",
        run: async () => {
          const result = await rpc(endpoint, key, 3, "tools/call", {
            name: "invoke.policy.simulate",
            arguments: { agent_id: "finance_agent", action: "database.execute", params: { sql: "drop table invoices" } },
          });
          if (result.isError) throw new Error(result.content?.[0]?.text ?? "the tool failed");
          const decision = result.structuredContent?.decision;
          if (decision !== "deny") throw new Error(`expected "drop table invoices" to be denied, got ${decision}`);
          return `drop table invoices → ${decision} (${result.structuredContent.matched_rules.map((rule: { id: string }) => rule.id).join(", ")})`;
        },
      },
    ];

    let failed = 0;
    for (const step of steps) {
      const started = performance.now();
      try {
        const detail = await step.run();
        console.log(`ok    ${step.name} (${Math.round(performance.now() - started)} ms): ${detail}`);
      } catch (error) {
        failed++;
        console.log(`FAIL  ${step.name} (${Math.round(performance.now() - started)} ms): ${(error as Error).message}`);
      }
    }
    if (failed > 0) throw new CommandFailure(`${failed} of ${steps.length} smoke steps failed against ${endpoint}`);
    console.log(`All ${steps.length} smoke steps passed against ${endpoint}.`);
    return 0;
  },
};
