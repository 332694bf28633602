/**
 * The MCP method dispatcher, shared by every transport. It takes decoded JSON (one message or a batch)
 * from an already authenticated caller and returns the JSON-RPC response(s), or nothing for
 * notifications. Every message takes its own rate-limit token here, so a batch costs what its messages
 * would cost one by one. Transports add no protocol behaviour; they only map outcomes onto their medium.
 */
import { authorizeTool } from "../governance/authorize.ts";
import type { RequestInfo } from "../observability/requests.ts";
import { parseTraceparent, type SpanHandle } from "../observability/tracing.ts";
import type { MessageTokens } from "../governance/access.ts";
import type { Caller } from "../governance/caller.ts";
import type { Services } from "../services.ts";
import { callProductionTool, type ActingAgent, type GovernedOutcome } from "../execution/governed-call.ts";
import type { ProductionTool } from "../tools/catalog.ts";
import { ToolError } from "../tools/tool.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { InvokeError } from "../errors.ts";
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
  services: Services;
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

/** Dispatches MCP JSON-RPC messages to the registry. */
export class McpDispatcher {
  private readonly services: Services;
  private readonly pageSize: number;
  private readonly logError: (message: string, error: unknown) => void;
  private readonly methods: Record<string, MethodHandler>;
  private readonly modernMethods: Record<string, MethodHandler>;
  /** Approval requests as MCP tasks (modern clients with the tasks extension). */
  private readonly tasks: ApprovalTasks;

  constructor(options: DispatcherOptions) {
    this.services = options.services;
    this.pageSize = options.pageSize ?? 100;
    this.logError = options.logError ?? ((message, error) => console.error(message, error));
    this.tasks = new ApprovalTasks(this.services.approvals, this.services.now);
    const callTool: MethodHandler = (request, context, modern) => this.callTool(request, context, modern);
    this.methods = {
      initialize: (request, context) => this.initialize(request, context),
      ping: () => ({}),
      "tools/list": (request, context) => this.listTools(request, context),
      "tools/call": callTool,
    };
    /** A tasks/* method: only for clients that declared the extension (-32021 otherwise). */
    const task =
      (run: (caller: Caller, taskId: unknown, modern: ModernRequest) => Promise<Record<string, unknown>>): MethodHandler =>
      (request, context, modern) => {
        requireTasksExtension(modern!);
        return run(context.caller, request.params?.taskId, modern!);
      };
    // The modern era has no initialize or ping; tools/list is cacheable (per key, as the list varies by key).
    this.modernMethods = {
      "server/discover": () => this.discover(),
      "tools/list": (request, context) => ({ ...this.listTools(request, context), ttlMs: TOOLS_LIST_TTL_MS, cacheScope: "private" }),
      "tools/call": callTool,
      "tasks/get": task((caller, taskId) => this.tasks.get(caller, taskId)),
      "tasks/cancel": task((caller, taskId, modern) => this.tasks.cancel(caller, taskId, modern.clientName)),
      // Invoke's tasks never ask for input: responses to a known task are acknowledged and ignored, as the extension allows.
      "tasks/update": task(async (caller, taskId) => (await this.tasks.get(caller, taskId), {})),
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
    const modern = isModernRequest(request, context.protocolVersion);
    const methods = modern ? this.modernMethods : this.methods;
    try {
      const envelope = modern ? checkEnvelope(request) : undefined;
      const handler = Object.hasOwn(methods, request.method) ? methods[request.method] : undefined;
      // The modern era answers an unknown method with HTTP 404 (streamable-http: protocol version header).
      if (handler === undefined) throw new JsonRpcError(JsonRpcErrorCode.MethodNotFound, `Method not found: ${quotedMethod(request.method)}`, undefined, modern ? 404 : 200);
      const result = await handler(request, envelope?.clientName ? { ...context, agent: { ...context.agent, clientName: envelope.clientName } } : context, envelope);
      return { response: resultResponse(request.id, modern ? modernResult(result) : result), status: 200 };
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

  /** The tools this caller may call: one authorisation function decides both listing and calling. */
  private visibleTools(caller: Caller): object[] {
    const builtin = this.services.registry.tools.filter((tool) => authorizeTool(caller, tool.definition) === undefined).map((tool) => tool.wire);
    const production = this.services.connectors
      .list(caller.tenantId)
      .filter((tool) => authorizeTool(caller, asDefinition(tool)) === undefined)
      .map(productionWire);
    return [...builtin, ...production];
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

  /** Every call leaves an execution record before it is answered, refusals included; then it is counted and logged. */
  private async callTool(request: JsonRpcRequest, context: DispatchContext, modern: ModernRequest | undefined): Promise<Record<string, unknown>> {
    const started = performance.now();
    const params = request.params ?? {};
    const name = typeof params.name === "string" ? params.name : "";
    const args = params.arguments ?? {};
    const meta = params._meta as Record<string, unknown> | undefined;
    const agent: ActingAgent = {
      agentId: typeof meta?.agent_id === "string" && meta.agent_id !== "" ? meta.agent_id.slice(0, 200) : (context.agent?.agentId ?? context.caller.keyName),
      clientName: context.agent?.clientName ?? null,
    };
    const caller = context.caller;
    const info = context.request;
    const tracing = this.services.tracing;
    // A traceparent in the call's _meta continues the caller's trace; otherwise the call is part of the request's.
    const span = tracing.enabled
      ? tracing.startSpan("tools/call", { parent: parseTraceparent(meta?.traceparent) ? (meta!.traceparent as string) : (info?.span ?? info?.traceparent), attributes: { "invoke.tool": name } })
      : undefined;
    const base = {
      tenantId: caller.tenantId,
      kind: "tool_call" as const,
      userId: caller.userId,
      keyId: caller.keyId,
      agentId: agent.agentId,
      clientName: agent.clientName,
      profile: caller.profile,
      role: caller.role,
      tool: name || "(none)",
      arguments: args,
      requestId: info?.id ?? null,
    };
    const finish = (tool: string, decision: string | null, status: string) => {
      this.services.metrics.toolCall(tool, decision, status, (performance.now() - started) / 1000);
      if (info) Object.assign(info, { tool: base.tool, decision, outcome: status });
      if (span) {
        if (decision) span.setAttribute("invoke.decision", decision);
        span.setAttribute("invoke.status", status);
        if (status === "error" || status === "refused") span.setError(status);
        span.end();
      }
    };
    let outcome: GovernedOutcome & { classification: "read_only" | "mutating" };
    try {
      outcome = await this.governedCall(name, args, caller, agent, span, modern ? context.headers : undefined);
    } catch (error) {
      if (error instanceof JsonRpcError) {
        await this.services.records.append({ ...base, status: "refused", error: error.message, latencyMs: performance.now() - started });
        // Unknown names are not metric labels: a client must not be able to mint time series.
        finish(this.services.registry.get(name) || this.services.connectors.get(caller.tenantId, name) ? name : "(unknown)", null, "refused");
      } else finish(name, null, "error");
      throw error;
    }
    await this.services.records.append({
      ...base,
      classification: outcome.classification,
      decision: outcome.decision,
      matchedRules: outcome.matchedRules,
      approvalId: outcome.approvalId,
      status: outcome.status,
      error: outcome.error,
      latencyMs: performance.now() - started,
      result: outcome.result,
    });
    finish(name, outcome.decision, outcome.status);
    // A modern client that declared the tasks extension gets an approval-gated call as a task to poll.
    if (modern?.tasks && outcome.status === "pending_approval" && outcome.approvalId !== null) return this.tasks.created(caller, outcome.approvalId);
    return outcome.result;
  }

  /** Authorises and runs a call: a built-in tool directly, a production tool through policy. JSON-RPC errors are thrown. */
  private async governedCall(
    name: string,
    args: unknown,
    caller: Caller,
    agent: ActingAgent,
    span?: SpanHandle,
    headers?: Headers,
  ): Promise<GovernedOutcome & { classification: "read_only" | "mutating" }> {
    if (name === "") throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, "tools/call needs params.name (a string)");
    if (typeof args !== "object" || args === null || Array.isArray(args)) {
      throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, "params.arguments must be an object");
    }
    const builtin = this.services.registry.get(name);
    const production = builtin === undefined ? this.services.connectors.get(caller.tenantId, name) : undefined;
    const tool = builtin ?? production;
    if (tool === undefined) throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, `Unknown tool: ${name}`);
    const refusal = authorizeTool(caller, builtin?.definition ?? asDefinition(production!));
    if (refusal !== undefined) {
      throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, `Tool ${name} is not available to this key: ${refusal.message}`, { tool: name, rule: refusal.rule });
    }
    const errors = tool.checkArguments?.(args) ?? [];
    if (errors.length > 0) throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, `Invalid arguments for tool ${name}`, { tool: name, errors });
    if (headers !== undefined && tool.headerParams?.length) checkParamHeaders(tool.headerParams, args as Record<string, unknown>, headers);
    if (production !== undefined) {
      const outcome = await callProductionTool(this.services, caller, production, args as Record<string, unknown>, agent, span);
      return { ...outcome, classification: production.readOnly ? "read_only" : "mutating" };
    }
    const definition = builtin!.definition;
    const ran = (result: Record<string, unknown>, error: string | null) => ({
      result,
      decision: null,
      matchedRules: [],
      approvalId: null,
      status: error === null ? ("ok" as const) : ("error" as const),
      error,
      classification: definition.readOnly ? ("read_only" as const) : ("mutating" as const),
    });
    try {
      const output = await definition.handler(args as Record<string, unknown>, { caller, services: this.services });
      return ran(toolResult(output, definition.output !== undefined), null);
    } catch (error) {
      if (error instanceof ToolError || error instanceof InvokeError) return ran(toolFailure(error.message), error.message);
      this.logError(`tool ${name} failed`, error);
      const message = `Tool ${name} failed with an internal error; the details are in the server log.`;
      return ran(toolFailure(message), message);
    }
  }
}

/** A production tool as the authoriser sees it: needs tools:call, touches production, Invoke's classification. */
function asDefinition(tool: ProductionTool) {
  return { name: tool.name, scope: "tools:call", readOnly: tool.readOnly, touchesCompanyData: true };
}

/**
 * A production tool on the wire. The upstream's output schema is not re-advertised: a governed call
 * may answer with a pending approval instead of the upstream's output, which would not match it.
 */
function productionWire(tool: ProductionTool): Record<string, unknown> {
  return {
    name: tool.name,
    ...(tool.title !== undefined && { title: tool.title }),
    description: tool.description,
    inputSchema: tool.inputSchema,
    annotations: { readOnlyHint: tool.readOnly, destructiveHint: !tool.readOnly },
  };
}

function toolResult(output: unknown, structured: boolean): Record<string, unknown> {
  const text = typeof output === "string" ? output : JSON.stringify(output);
  return structured ? { content: [{ type: "text", text }], structuredContent: output } : { content: [{ type: "text", text }] };
}

function toolFailure(message: string): Record<string, unknown> {
  return { content: [{ type: "text", text: message }], isError: true };
}
