/**
 * MCP over stdio: newline-delimited JSON-RPC on stdin/stdout (MCP transports spec). stdout carries
 * only MCP messages; anything else goes to stderr. The caller is fixed for the process (the key in
 * INVOKE_API_KEY); the version negotiated by `initialize` is remembered, as a stdio session has one.
 */
import { newRequestId, type RequestInfo } from "../observability/requests.ts";
import type { RequestLogger } from "../observability/logger.ts";
import type { AccessGate } from "../governance/access.ts";
import type { Caller } from "../governance/caller.ts";
import type { McpDispatcher } from "../protocol/dispatcher.ts";
import { errorResponse, JsonRpcErrorCode } from "../protocol/jsonrpc.ts";
import { DEFAULT_HTTP_VERSION } from "../protocol/versions.ts";

/** Where messages come from and go to. */
export interface StdioOptions {
  dispatcher: McpDispatcher;
  caller: Caller;
  gate: AccessGate;
  input: ReadableStream<Uint8Array>;
  write(line: string): void;
  /** One line per message (stdout is the protocol's, so the CLI logs to stderr). */
  logger?: RequestLogger;
}

/** Serves until the input ends; resolves once every started request has been answered. */
export async function serveStdio({ dispatcher, caller, gate, input, write, logger }: StdioOptions): Promise<void> {
  let protocolVersion = DEFAULT_HTTP_VERSION;
  let clientName: string | null = null;
  const pending = new Set<Promise<void>>();

  const handleLine = async (line: string) => {
    let payload: unknown;
    try {
      payload = JSON.parse(line);
    } catch {
      write(JSON.stringify(errorResponse(undefined, JsonRpcErrorCode.ParseError, "Parse error: the line is not valid JSON.")));
      return;
    }
    const limited = gate.limitCaller(caller);
    if (limited) {
      const id = (payload as { id?: unknown } | null)?.id;
      // Notifications are dropped silently when limited: they have no answer to carry the refusal.
      if (typeof id === "string" || typeof id === "number") {
        write(JSON.stringify(errorResponse(id, JsonRpcErrorCode.RateLimited, limited.message, { reason: limited.reason })));
      }
      return;
    }
    // Each message is a request of its own: an id for its records and its log line.
    const request: RequestInfo = { id: newRequestId(), started: performance.now(), method: "STDIO", path: "stdio", tenantId: caller.tenantId, keyId: caller.keyId };
    const { response, status } = await dispatcher.handlePayload(payload, {
      caller,
      protocolVersion,
      onInitialized: (version, name) => {
        protocolVersion = version;
        clientName = name;
      },
      agent: { clientName },
      request,
    });
    if (response !== undefined) write(JSON.stringify(response));
    logger?.request(request, status, performance.now() - request.started);
  };

  const decoder = new TextDecoder();
  let buffered = "";
  const flushLines = (final: boolean) => {
    const lines = buffered.split("\n");
    buffered = final ? "" : lines.pop()!;
    for (const raw of lines) {
      const line = raw.trim();
      if (line.length === 0) continue;
      // Requests run concurrently, so a slow tool call does not hold up a ping.
      const task = handleLine(line).finally(() => pending.delete(task));
      pending.add(task);
    }
  };
  for await (const chunk of input) {
    buffered += decoder.decode(chunk, { stream: true });
    flushLines(false);
  }
  buffered += decoder.decode();
  flushLines(true);
  await Promise.all(pending);
}
