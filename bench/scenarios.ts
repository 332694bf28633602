// Benchmark scenarios: the JSON-RPC request each target receives under load, plus a check of
// one sample response. Every target gets the byte-identical body. Add entries to SCENARIOS
// to benchmark more request kinds (each scenario runs against every target).

/** One request kind to put under load. */
export interface Scenario {
  /** Stable id used in the JSON results. */
  id: string;
  /** Human-readable title for the printed table. */
  title: string;
  /** Exact HTTP request body (a JSON-RPC request). */
  body: string;
  /** Returns a problem description if a sample JSON-RPC response is not a success, else null. */
  check(response: unknown): string | null;
}

/** Returns a problem description unless `response` is a JSON-RPC success with a non-error tool result. */
function checkToolResult(response: unknown): string | null {
  const rpc = response as { result?: { isError?: boolean }; error?: unknown } | null;
  if (!rpc || typeof rpc !== "object") return "response is not a JSON object";
  if (rpc.error !== undefined) return `JSON-RPC error: ${JSON.stringify(rpc.error)}`;
  if (!rpc.result) return "response has no result";
  if (rpc.result.isError) return `tool returned isError: ${JSON.stringify(rpc.result)}`;
  return null;
}

/** All scenarios, run in this order. */
export const SCENARIOS: Scenario[] = [
  {
    id: "tools-call-whoami",
    title: "tools/call invoke.whoami",
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "invoke.whoami", arguments: {} },
    }),
    check: checkToolResult,
  },
];
