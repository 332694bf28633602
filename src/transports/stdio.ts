/**
 * MCP over stdio: newline-delimited JSON-RPC on stdin/stdout (MCP transports spec). stdout carries
 * only MCP messages; anything else goes to stderr. The credential is fixed for the process (the key in
 * INVOKE_API_KEY), but every line is admitted by the access gate as an HTTP request is: the key's
 * current row (revoked, expired, its user's role now) and a rate-limit token, then one more token per
 * further message of a batch. The version negotiated by `initialize` is remembered, as a stdio session
 * has one.
 */
import { parseJsonBody } from "../http/request-body.ts";
import { newRequestId, type RequestInfo } from "../observability/requests.ts";
import type { RequestLogger } from "../observability/logger.ts";
import { isRefusal, type AccessGate, type AccessRefusal, type PresentedCredential } from "../governance/access.ts";
import { authorizeMcpAccess } from "../governance/authorize.ts";
import type { McpDispatcher } from "../protocol/dispatcher.ts";
import { errorResponse, isValidId, JsonRpcErrorCode, refusalResponse, type JsonRpcResponse, type RequestId } from "../protocol/jsonrpc.ts";
import { DEFAULT_HTTP_VERSION } from "../protocol/versions.ts";

/** Where messages come from and go to. */
export interface StdioOptions {
  dispatcher: McpDispatcher;
  /** The key every message is admitted with. */
  credential: PresentedCredential;
  gate: AccessGate;
  input: ReadableStream<Uint8Array>;
  write(line: string): void;
  /** One line per message (stdout is the protocol's, so the CLI logs to stderr). */
  logger?: RequestLogger;
  /** Told once each time the key goes from admitted to refused for a new reason (revoked, expired, role lowered). */
  onKeyRefused?(message: string): void;
}

/** Stands in for the client address of the gate's keyless limiter: a stdio session has one peer. */
const STDIO_PEER = () => "stdio";

/**
 * Serves until the input ends; resolves once every started request has been answered. A refused key
 * does not end the session: the client owns a stdio server's life (MCP lifecycle: the client closes
 * stdin), and each refused request gets an error with its id saying why, where an exit would leave
 * every pending request with a closed pipe and no reason; a role raised again is admitted again.
 */
export async function serveStdio({ dispatcher, credential, gate, input, write, logger, onKeyRefused }: StdioOptions): Promise<void> {
  let protocolVersion = DEFAULT_HTTP_VERSION;
  let clientName: string | null = null;
  let refusedFor: string | null = null;
  const pending = new Set<Promise<void>>();

  /** Answers every request of a refused line with the same error, each with its own id; notifications get nothing. */
  const refuseLine = (payload: unknown, parsed: boolean, answer: (id: RequestId | undefined) => JsonRpcResponse) => {
    if (!parsed) return write(JSON.stringify(answer(undefined)));
    const ids = (Array.isArray(payload) ? payload : [payload]).map(requestIdOf).filter((id) => id !== undefined);
    if (ids.length === 0) return;
    const answers = ids.map(answer);
    write(JSON.stringify(Array.isArray(payload) ? answers : answers[0]));
  };

  /** Tells the operator when the key stops being admitted, once per reason (a rate limit says nothing about the key). */
  const noteAdmission = (refusal?: AccessRefusal) => {
    if (refusal?.status === 429) return;
    const reason = refusal?.reason ?? null;
    if (refusal !== undefined && reason !== refusedFor) onKeyRefused?.(refusal.message);
    refusedFor = reason;
  };

  const handleLine = async (line: string): Promise<void> => {
    // Bounded in depth as HTTP bodies are: a line nested too deep is a parse error, never a stack overflow.
    const body = parseJsonBody(line);
    const parsed = body.ok;
    const payload: unknown = body.ok ? body.value : undefined;
    // Each line is a request of its own: an id for its records and its log line.
    const request: RequestInfo = { id: newRequestId(), started: performance.now(), method: "STDIO", path: "stdio" };
    const refuse = (refusal: AccessRefusal, answer: (id: RequestId | undefined) => JsonRpcResponse) => {
      noteAdmission(refusal);
      refuseLine(payload, parsed, answer);
      logger?.request(request, refusal.status, performance.now() - request.started);
      return undefined;
    };
    // Admitted in arrival order (a known key's line is admitted before the next line is read), so a burst cannot overdraw the bucket.
    const caller = await gate.admit(credential, STDIO_PEER);
    if (isRefusal(caller)) return refuse(caller, (id) => refusalResponse(id, caller));
    const roleRefusal = authorizeMcpAccess(caller);
    if (roleRefusal) {
      const message = `Forbidden: ${roleRefusal.message}.`;
      const data = { reason: "role_too_low", rule: roleRefusal.rule };
      return refuse({ status: 403, reason: data.reason, message, headers: {} }, (id) => errorResponse(id, JsonRpcErrorCode.Forbidden, message, data));
    }
    noteAdmission();
    Object.assign(request, { tenantId: caller.tenantId, keyId: caller.keyId });
    if (!parsed) {
      write(JSON.stringify(errorResponse(undefined, JsonRpcErrorCode.ParseError, "Parse error: the line is not valid JSON.")));
      return undefined;
    }
    return dispatcher
      .handlePayload(payload, {
        caller,
        tokens: gate.messageTokens(caller),
        protocolVersion,
        onInitialized: (version, name) => {
          protocolVersion = version;
          clientName = name;
        },
        agent: { clientName },
        request,
      })
      .then(({ response, status }) => {
        if (response !== undefined) write(JSON.stringify(response));
        logger?.request(request, status, performance.now() - request.started);
      });
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

/** The id of a message that expects an answer (a request), if it has a valid one. */
function requestIdOf(message: unknown): RequestId | undefined {
  if (typeof message !== "object" || message === null || !("method" in message)) return undefined;
  const id = (message as { id?: unknown }).id;
  return isValidId(id) ? id : undefined;
}
