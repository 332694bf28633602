/**
 * The MCP method dispatcher, shared by every transport. It takes decoded JSON (one message or a batch)
 * from an already authenticated caller and returns the JSON-RPC response(s), or nothing for
 * notifications. Every message takes its own rate-limit token here, so a batch costs what its messages
 * would cost one by one. Transports add no protocol behaviour; they only map outcomes onto their medium.
 */
import { authorizeTool } from "../governance/authorize.ts";
import type { RequestInfo } from "../observability/requests.ts";
import { parseTraceparent } from "../observability/tracing.ts";
import type { MessageTokens } from "../governance/access.ts";
import type { Caller } from "../governance/caller.ts";
import type { ApprovalService } from "../approvals/service.ts";
import type { ToolCatalog } from "../tools/catalog.ts";
import { shownToolName } from "../tools/model.ts";
import { CallRefused, type GovernedCalls } from "../execution/calls.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { PRODUCT_NAME, PRODUCT_TITLE, VERSION } from "../version.ts";
import {
  classifyMessage,
  errorResponse,
  JsonRpcError,
  JsonRpcErrorCode,
  quotedMethod,
  refusalResponse,
  resultResponse,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
} from "./jsonrpc.ts";
import { checkEnvelope, isModernRequest, modernResult, requireTasksExtension, TASKS_EXTENSION, type ModernRequest } from "./modern.ts";
import { checkParamHeaders } from "./param-headers.ts";
import { ApprovalTasks } from "./tasks.ts";
import { allowsBatches, negotiateVersion, SUPPORTED_VERSIONS } from "./versions.ts";

/** Per-request facts a transport supplies. */
export interface DispatchContext {
  caller: Caller;
  /** The caller's rate-limit tokens for this payload's messages (the gate's `messageTokens`). */
  tokens: MessageTokens;
  /** The protocol version the client speaks (header, or negotiated on stdio). */
  protocolVersion: string;
  /** Called when an `initialize` succeeds, so a stateful transport (stdio) can remember the version and client. */
  onInitialized?(version: string, clientName: string | null): void;
  /** The acting agent as the transport knows it (an `agent_id` in the call's `_meta` overrides; default: the key's name). */
  agent?: { agentId?: string; clientName?: string | null };
  /** The request being answered (id, span; the log line's fields are filled in here). */
  request?: RequestInfo;
  /** The request's HTTP headers (HTTP only: a modern tools/call's `Mcp-Param-*` headers are checked against its arguments). */
  headers?: Headers;
}

/** Settings of the dispatcher. */
export interface DispatcherOptions {
  /** What the dispatcher uses: the call path, the catalog `tools/list` shows, approvals as tasks, the clock. */
  services: { calls: GovernedCalls; catalog: ToolCatalog; approvals: ApprovalService; now: () => number };
  /** Page size of `tools/list`. */
  pageSize?: number;
  /** Logs unexpected handler failures (never sent to the client). */
  logError?(message: string, error: unknown): void;
}

/** A modern request's checked envelope, or undefined in the legacy era. */
type MethodHandler = (
  request: JsonRpcRequest & { id: RequestId },
  context: DispatchContext,
  modern: ModernRequest | undefined,
) => Promise<Record<string, unknown>> | Record<string, unknown>;

/**
 * A protocol era as a codec around the one set of handlers: how a request's envelope is checked,
 * which methods the era has, and how a result goes out.
 */
interface Era {
  /** The modern era checks `_meta` (version, capabilities, client); the legacy era has nothing to check. */
  open(request: JsonRpcRequest): ModernRequest | undefined;
  methods: Record<string, MethodHandler>;
  encode(result: Record<string, unknown>): Record<string, unknown>;
  /** The HTTP status of an unknown method: the modern era answers 404 (streamable-http: protocol version header). */
  unknownMethodStatus: number;
}

/** What a payload got: the response(s) (none for notifications) and the HTTP status they go out with. */
export interface Dispatched {
  response: JsonRpcResponse | JsonRpcResponse[] | undefined;
  status: number;
}

/** How long a modern client may keep `tools/list` (the list changes when connectors or pins change). */
const TOOLS_LIST_TTL_MS = 60_000;
/** How long a modern client may keep `server/discover` (it changes only with a new Invoke version). */
const DISCOVER_TTL_MS = 3_600_000;

const INSTRUCTIONS =
  "Invoke governs what agents may do in production. Call invoke.whoami to see who you are and what your key allows.";

/** Dispatches MCP JSON-RPC messages: each era a codec around the same handlers; tools/call goes to the governed call path. */
export class McpDispatcher {
  private readonly services: DispatcherOptions["services"];
  private readonly pageSize: number;
  private readonly logError: (message: string, error: unknown) => void;
  private readonly legacy: Era;
  private readonly modern: Era;
  /** Approval requests as MCP tasks (modern clients with the tasks extension). */
  private readonly tasks: ApprovalTasks;

  constructor(options: DispatcherOptions) {
    this.services = options.services;
    this.pageSize = options.pageSize ?? 100;
    this.logError = options.logError ?? ((message, error) => console.error(message, error));
    this.tasks = new ApprovalTasks(this.services.approvals, this.services.now);
    const callTool: MethodHandler = (request, context, modern) => this.callTool(request, context, modern);
    this.legacy = {
      open: () => undefined,
      methods: {
        initialize: (request, context) => this.initialize(request, context),
        ping: () => ({}),
        "tools/list": (request, context) => this.listTools(request, context),
        "tools/call": callTool,
      },
      encode: (result) => result,
      unknownMethodStatus: 200,
    };
    /** A tasks/* method: only for clients that declared the extension (-32021 otherwise). */
    const task =
      (run: (caller: Caller, taskId: unknown, modern: ModernRequest) => Promise<Record<string, unknown>>): MethodHandler =>
      (request, context, modern) => {
        requireTasksExtension(modern!);
        return run(context.caller, request.params?.taskId, modern!);
      };
    // The modern era has no initialize or ping; tools/list is cacheable (per key, as the list varies by key).
    this.modern = {
      open: checkEnvelope,
      methods: {
        "server/discover": () => this.discover(),
        "tools/list": (request, context) => ({ ...this.listTools(request, context), ttlMs: TOOLS_LIST_TTL_MS, cacheScope: "private" }),
        "tools/call": callTool,
        "tasks/get": task((caller, taskId) => this.tasks.get(caller, taskId)),
        "tasks/cancel": task((caller, taskId, modern) => this.tasks.cancel(caller, taskId, modern.clientName)),
        // Invoke's tasks never ask for input: responses to a known task are acknowledged and ignored, as the extension allows.
        "tasks/update": task(async (caller, taskId) => (await this.tasks.get(caller, taskId), {})),
      },
      encode: modernResult,
      unknownMethodStatus: 404,
    };
  }

  /**
   * Handles one decoded payload. Returns the response (an array for a batch), or none when nothing is
   * to be answered (notifications and client responses), with the HTTP status it goes out with.
   */
  async handlePayload(payload: unknown, context: DispatchContext): Promise<Dispatched> {
    if (!Array.isArray(payload)) return this.handleMessage(payload, context, false);
    if (!allowsBatches(context.protocolVersion)) {
      return { response: errorResponse(undefined, JsonRpcErrorCode.InvalidRequest, `JSON-RPC batches are not supported in protocol version ${context.protocolVersion}`), status: 400 };
    }
    if (payload.length === 0) return { response: errorResponse(undefined, JsonRpcErrorCode.InvalidRequest, "a batch must not be empty"), status: 400 };
    const outcomes = await Promise.all(payload.map((message) => this.handleMessage(message, context, true)));
    const answered = outcomes.map((outcome) => outcome.response).filter((response): response is JsonRpcResponse => response !== undefined && !Array.isArray(response));
    return { response: answered.length > 0 ? answered : undefined, status: 200 };
  }

  private async handleMessage(value: unknown, context: DispatchContext, inBatch: boolean): Promise<Dispatched> {
    const incoming = classifyMessage(value);
    // Taken before anything else (synchronously, so concurrent payloads cannot overdraw the bucket): every
    // message pays, whatever its kind, id or era; one refused message of a batch is answered alone.
    const limited = context.tokens.take();
    if (limited) {
      const id = incoming.kind === "request" ? incoming.message.id : incoming.kind === "invalid" ? incoming.id : undefined;
      return { response: incoming.kind === "request" || incoming.kind === "invalid" ? refusalResponse(id, limited) : undefined, status: limited.status };
    }
    switch (incoming.kind) {
      case "invalid":
        return { response: errorResponse(incoming.id, JsonRpcErrorCode.InvalidRequest, `Invalid Request: ${incoming.reason}`), status: 400 };
      case "notification":
      case "response":
        return { response: undefined, status: 202 };
      case "request":
        break;
    }
    const request = incoming.message;
    if (context.request) context.request.rpcMethod = request.method;
    if (inBatch && request.method === "initialize") {
      return { response: errorResponse(request.id, JsonRpcErrorCode.InvalidRequest, "initialize must not be part of a batch"), status: 400 };
    }
    const era = isModernRequest(request, context.protocolVersion) ? this.modern : this.legacy;
    try {
      const envelope = era.open(request);
      const handler = Object.hasOwn(era.methods, request.method) ? era.methods[request.method] : undefined;
      if (handler === undefined) throw new JsonRpcError(JsonRpcErrorCode.MethodNotFound, `Method not found: ${quotedMethod(request.method)}`, undefined, era.unknownMethodStatus);
      const result = await handler(request, envelope?.clientName ? { ...context, agent: { ...context.agent, clientName: envelope.clientName } } : context, envelope);
      return { response: resultResponse(request.id, era.encode(result)), status: 200 };
    } catch (error) {
      if (error instanceof JsonRpcError) return { response: errorResponse(request.id, error.code, error.message, error.data), status: error.httpStatus ?? 200 };
      this.logError(`${request.method} failed`, error);
      return { response: errorResponse(request.id, JsonRpcErrorCode.InternalError, "Internal error"), status: 200 };
    }
  }

  /** server/discover: the versions, capabilities and identity of this server, the same for every caller. */
  private discover(): Record<string, unknown> {
    return {
      supportedVersions: SUPPORTED_VERSIONS,
      capabilities: { tools: { listChanged: false }, extensions: { [TASKS_EXTENSION]: {} } },
      instructions: INSTRUCTIONS,
      ttlMs: DISCOVER_TTL_MS,
      cacheScope: "public",
    };
  }

  private initialize(request: JsonRpcRequest, context: DispatchContext): Record<string, unknown> {
    const protocolVersion = negotiateVersion(request.params?.protocolVersion);
    const clientInfo = request.params?.clientInfo as { name?: unknown } | undefined;
    context.onInitialized?.(protocolVersion, typeof clientInfo?.name === "string" ? clientInfo.name.slice(0, 200) : null);
    return {
      protocolVersion,
      capabilities: { tools: { listChanged: false } },
      serverInfo: { name: PRODUCT_NAME, title: PRODUCT_TITLE, version: VERSION },
      instructions: INSTRUCTIONS,
    };
  }

  /** The tools this caller may call: the authoriser the call path uses decides the listing too. */
  private visibleTools(caller: Caller): object[] {
    return this.services.catalog
      .list(caller.tenantId)
      .filter((tool) => authorizeTool(caller, tool) === undefined)
      .map((tool) => tool.wire);
  }

  private listTools(request: JsonRpcRequest, context: DispatchContext): Record<string, unknown> {
    const offset = decodeCursor(request.params?.cursor);
    // Cursors are opaque to clients; anything we did not issue is invalid params.
    if (offset === undefined) throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, "Invalid cursor");
    const visible = this.visibleTools(context.caller);
    const page = visible.slice(offset, offset + this.pageSize);
    const next = offset + page.length;
    return next < visible.length ? { tools: page, nextCursor: encodeCursor(next) } : { tools: page };
  }

  /** A `tools/call` through the governed call path; its refusals become invalid-params errors. */
  private async callTool(request: JsonRpcRequest, context: DispatchContext, modern: ModernRequest | undefined): Promise<Record<string, unknown>> {
    const params = request.params ?? {};
    const meta = params._meta as Record<string, unknown> | undefined;
    const info = context.request;
    const name = typeof params.name === "string" ? params.name : "";
    const headers = modern ? context.headers : undefined;
    const logged = (decision: string | null, outcome: string) => info && Object.assign(info, { tool: shownToolName(name) || "(none)", decision, outcome });
    try {
      const outcome = await this.services.calls.call({
        caller: context.caller,
        name: params.name,
        args: params.arguments ?? {},
        agent: {
          agentId: typeof meta?.agent_id === "string" && meta.agent_id !== "" ? meta.agent_id.slice(0, 200) : (context.agent?.agentId ?? context.caller.keyName),
          clientName: context.agent?.clientName ?? null,
        },
        requestId: info?.id ?? null,
        // A traceparent in the call's _meta continues the caller's trace; otherwise the call is part of the request's.
        parentSpan: parseTraceparent(meta?.traceparent) ? (meta!.traceparent as string) : (info?.span ?? info?.traceparent),
        checkTransport: headers && ((tool, args) => tool.headerParams.length > 0 && asRefusal(() => checkParamHeaders(tool.headerParams, args, headers))),
      });
      logged(outcome.decision, outcome.status);
      // A modern client that declared the tasks extension gets an approval-gated call as a task to poll.
      if (modern?.tasks && outcome.status === "pending_approval" && outcome.approvalId !== null) return this.tasks.created(context.caller, outcome.approvalId);
      return outcome.result;
    } catch (error) {
      if (!(error instanceof CallRefused)) {
        logged(null, "error");
        throw error;
      }
      logged(null, "refused");
      throw new JsonRpcError(error.code ?? JsonRpcErrorCode.InvalidParams, error.message, error.data, error.httpStatus);
    }
  }
}

/** A transport check's JSON-RPC error as a refusal of the call (recorded like any other). */
function asRefusal(check: () => void): void {
  try {
    check();
  } catch (error) {
    if (error instanceof JsonRpcError) throw new CallRefused(error.message, error.data as Record<string, unknown> | undefined, error.code, error.httpStatus);
    throw error;
  }
}
