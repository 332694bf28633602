/**
 * The MCP method dispatcher, shared by every transport. It takes decoded JSON (one message or a batch)
 * from an already authenticated caller and returns the JSON-RPC response(s), or nothing for
 * notifications. Transports add no protocol behaviour; they only map outcomes onto their medium.
 */
import { authorizeTool } from "../governance/authorize.ts";
import type { Caller } from "../governance/caller.ts";
import type { Services } from "../services.ts";
import type { RegisteredTool } from "../tools/registry.ts";
import { ToolError } from "../tools/tool.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { InvokeError } from "../errors.ts";
import { PRODUCT_NAME, PRODUCT_TITLE, VERSION } from "../version.ts";
import {
  classifyMessage,
  errorResponse,
  JsonRpcError,
  JsonRpcErrorCode,
  resultResponse,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type RequestId,
} from "./jsonrpc.ts";
import { allowsBatches, negotiateVersion } from "./versions.ts";

/** Per-request facts a transport supplies. */
export interface DispatchContext {
  caller: Caller;
  /** The protocol version the client speaks (header, or negotiated on stdio). */
  protocolVersion: string;
  /** Called when an `initialize` succeeds, so a stateful transport (stdio) can remember the version. */
  onInitialized?(version: string): void;
}

/** Settings of the dispatcher. */
export interface DispatcherOptions {
  services: Services;
  /** Page size of `tools/list`. */
  pageSize?: number;
  /** Logs unexpected handler failures (never sent to the client). */
  logError?(message: string, error: unknown): void;
}

type MethodHandler = (request: JsonRpcRequest & { id: RequestId }, context: DispatchContext) => Promise<Record<string, unknown>> | Record<string, unknown>;

const INSTRUCTIONS =
  "Invoke governs what agents may do in production. Call invoke.whoami to see who you are and what your key allows.";

/** Dispatches MCP JSON-RPC messages to the registry. */
export class McpDispatcher {
  private readonly services: Services;
  private readonly pageSize: number;
  private readonly logError: (message: string, error: unknown) => void;
  private readonly methods: Record<string, MethodHandler>;

  constructor(options: DispatcherOptions) {
    this.services = options.services;
    this.pageSize = options.pageSize ?? 100;
    this.logError = options.logError ?? ((message, error) => console.error(message, error));
    this.methods = {
      initialize: (request, context) => this.initialize(request, context),
      ping: () => ({}),
      "tools/list": (request, context) => this.listTools(request, context),
      "tools/call": (request, context) => this.callTool(request, context),
    };
  }

  /**
   * Handles one decoded payload. Returns the response (an array for a batch), or undefined when
   * nothing is to be answered (notifications and client responses).
   */
  async handlePayload(payload: unknown, context: DispatchContext): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
    if (!Array.isArray(payload)) return this.handleMessage(payload, context, false);
    if (!allowsBatches(context.protocolVersion)) {
      return errorResponse(undefined, JsonRpcErrorCode.InvalidRequest, `JSON-RPC batches are not supported in protocol version ${context.protocolVersion}`);
    }
    if (payload.length === 0) return errorResponse(undefined, JsonRpcErrorCode.InvalidRequest, "a batch must not be empty");
    const responses = await Promise.all(payload.map((message) => this.handleMessage(message, context, true)));
    const answered = responses.filter((response): response is JsonRpcResponse => response !== undefined);
    return answered.length > 0 ? answered : undefined;
  }

  private async handleMessage(value: unknown, context: DispatchContext, inBatch: boolean): Promise<JsonRpcResponse | undefined> {
    const incoming = classifyMessage(value);
    switch (incoming.kind) {
      case "invalid":
        return errorResponse(incoming.id, JsonRpcErrorCode.InvalidRequest, `Invalid Request: ${incoming.reason}`);
      case "notification":
      case "response":
        return undefined;
      case "request":
        break;
    }
    const request = incoming.message;
    if (inBatch && request.method === "initialize") {
      return errorResponse(request.id, JsonRpcErrorCode.InvalidRequest, "initialize must not be part of a batch");
    }
    const handler = Object.hasOwn(this.methods, request.method) ? this.methods[request.method] : undefined;
    if (handler === undefined) return errorResponse(request.id, JsonRpcErrorCode.MethodNotFound, `Method not found: ${request.method}`);
    try {
      return resultResponse(request.id, await handler(request, context));
    } catch (error) {
      if (error instanceof JsonRpcError) return errorResponse(request.id, error.code, error.message, error.data);
      this.logError(`${request.method} failed`, error);
      return errorResponse(request.id, JsonRpcErrorCode.InternalError, "Internal error");
    }
  }

  private initialize(request: JsonRpcRequest, context: DispatchContext): Record<string, unknown> {
    const protocolVersion = negotiateVersion(request.params?.protocolVersion);
    context.onInitialized?.(protocolVersion);
    return {
      protocolVersion,
      capabilities: { tools: { listChanged: false } },
      serverInfo: { name: PRODUCT_NAME, title: PRODUCT_TITLE, version: VERSION },
      instructions: INSTRUCTIONS,
    };
  }

  /** The tools this caller may call: one authorisation function decides both listing and calling. */
  private visibleTools(caller: Caller): RegisteredTool[] {
    return this.services.registry.tools.filter((tool) => authorizeTool(caller, tool.definition) === undefined);
  }

  private listTools(request: JsonRpcRequest, context: DispatchContext): Record<string, unknown> {
    const offset = decodeCursor(request.params?.cursor);
    // Cursors are opaque to clients; anything we did not issue is invalid params.
    if (offset === undefined) throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, "Invalid cursor");
    const visible = this.visibleTools(context.caller);
    const page = visible.slice(offset, offset + this.pageSize);
    const next = offset + page.length;
    return next < visible.length
      ? { tools: page.map((tool) => tool.wire), nextCursor: encodeCursor(next) }
      : { tools: page.map((tool) => tool.wire) };
  }

  private async callTool(request: JsonRpcRequest, context: DispatchContext): Promise<Record<string, unknown>> {
    const params = request.params ?? {};
    if (typeof params.name !== "string") throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, "tools/call needs params.name (a string)");
    const args = params.arguments ?? {};
    if (typeof args !== "object" || args === null || Array.isArray(args)) {
      throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, "params.arguments must be an object");
    }
    const tool = this.services.registry.get(params.name);
    if (tool === undefined) throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, `Unknown tool: ${params.name}`);
    const refusal = authorizeTool(context.caller, tool.definition);
    if (refusal !== undefined) {
      throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, `Tool ${params.name} is not available to this key: ${refusal.message}`, {
        tool: params.name,
        rule: refusal.rule,
      });
    }
    const errors = tool.checkArguments(args);
    if (errors.length > 0) {
      throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, `Invalid arguments for tool ${params.name}`, { tool: params.name, errors });
    }
    try {
      const output = await tool.definition.handler(args as Record<string, unknown>, { caller: context.caller, services: this.services });
      return toolResult(output, tool.definition.output !== undefined);
    } catch (error) {
      if (error instanceof ToolError || error instanceof InvokeError) return toolFailure(error.message);
      this.logError(`tool ${params.name} failed`, error);
      return toolFailure(`Tool ${params.name} failed with an internal error; the details are in the server log.`);
    }
  }
}

function toolResult(output: unknown, structured: boolean): Record<string, unknown> {
  const text = typeof output === "string" ? output : JSON.stringify(output);
  return structured ? { content: [{ type: "text", text }], structuredContent: output } : { content: [{ type: "text", text }] };
}

function toolFailure(message: string): Record<string, unknown> {
  return { content: [{ type: "text", text: message }], isError: true };
}
