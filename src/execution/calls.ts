/**
 * The one governed call path: resolve → authorise → validate → policy (Invoke's own tools skip it) →
 * run or queue → record. Every entry uses it: MCP `tools/call` over HTTP and stdio in both protocol
 * eras (`call`); approved actions (`runApproved`, exactly once: resolved and asked of policy again,
 * authorised and validated when they were requested); and — up to the policy step, nothing executed —
 * simulate, preflight and tools.search (`ask`, and preflight's `argumentErrors`).
 */
import { ConnectorError } from "../connectors/connector.ts";
import { InvokeError } from "../errors.ts";
import { authorizeTool } from "../governance/authorize.ts";
import type { Caller } from "../governance/caller.ts";
import type { Metrics } from "../observability/metrics.ts";
import { inSpan, type SpanHandle, type Tracing } from "../observability/tracing.ts";
import { analyzeAction } from "../policy/analyzers/index.ts";
import type { Effect } from "../policy/model.ts";
import type { IntendedAction, PolicyActor, PolicyAnswer, PolicyAsker, PolicyQuestion } from "../policy/service.ts";
import type { ApprovalService } from "../approvals/service.ts";
import type { ExecutionLedger } from "../records/ledger.ts";
import type { RecordInput } from "../records/model.ts";
import type { ToolCatalog } from "../tools/catalog.ts";
import { classify, shownToolName, type ArgumentError, type Tool } from "../tools/model.ts";
import { ToolError } from "../tools/tool.ts";

/** Who is acting, beyond the key: the agent's own name for itself and its MCP client. */
export interface ActingAgent {
  agentId: string;
  clientName: string | null;
}

/** A call refused before anything ran: unknown tool, not authorised, invalid arguments (or a transport's own check). */
export class CallRefused extends Error {
  override name = "CallRefused";
  constructor(
    message: string,
    readonly data?: Record<string, unknown>,
    /** A transport's own JSON-RPC code and HTTP status (default: invalid params, 200). */
    readonly code?: number,
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

/** A `tools/call` as a transport hands it over. */
export interface CallRequest {
  caller: Caller;
  name: unknown;
  args: unknown;
  agent: ActingAgent;
  requestId: string | null;
  /** The span or `traceparent` the call's span continues. */
  parentSpan?: SpanHandle | string;
  /** A transport's own check once the tool is known (modern HTTP: `Mcp-Param-*` headers); throws `CallRefused`. */
  checkTransport?(tool: Tool, args: Record<string, unknown>): void;
}

/** What a call came to, as it was recorded. */
export interface CallOutcome {
  result: Record<string, unknown>;
  /** The policy's decision; null for Invoke's own tools, which policy does not govern. */
  decision: Effect | null;
  matchedRules: string[];
  approvalId: string | null;
  status: "ok" | "error" | "denied" | "pending_approval";
  error: string | null;
}

/** Where policy is asked: the tenant's active version, or `version`. */
export interface PolicyDecider {
  evaluate(tenantId: string, question: PolicyQuestion, version?: number): PolicyAnswer | Promise<PolicyAnswer>;
}

/** What the call path is built from. */
export interface CallPorts {
  catalog: ToolCatalog;
  policy: PolicyDecider;
  approvals: Pick<ApprovalService, "request" | "claim" | "finish">;
  records: Pick<ExecutionLedger, "append">;
  metrics: Pick<Metrics, "toolCall">;
  tracing: Tracing;
  /** Logs failures nobody expected (never sent to the agent). */
  logError(message: string, error: unknown): void;
}

const text = (value: string) => ({ type: "text", text: value });
const failure = (message: string) => ({ content: [text(message)], isError: true });

/** The governed call path. */
export class GovernedCalls implements PolicyAsker {
  constructor(private readonly ports: CallPorts) {}

  /** The tool `name` names for the caller's tenant, or a refusal. */
  resolve(tenantId: string, name: string): Tool {
    const tool = this.ports.catalog.resolve(tenantId, name);
    if (tool === undefined) throw new CallRefused(`Unknown tool: ${shownToolName(name)}`);
    return tool;
  }

  /** Whether `caller` may use `tool`: the one authoriser, which `tools/list` also filters by. */
  authorise(caller: Caller, tool: Tool): void {
    const refusal = authorizeTool(caller, tool);
    if (refusal !== undefined) throw new CallRefused(`Tool ${tool.name} is not available to this key: ${refusal.message}`, { tool: tool.name, rule: refusal.rule });
  }

  /** The argument failures against the tool's schema (empty when valid); undefined when its schema is unknown. */
  argumentErrors(tool: Tool, args: unknown): ArgumentError[] | undefined {
    return tool.checkArguments?.(args);
  }

  /**
   * Asks policy about an intended action for `actor` (the active version, or `options.version`): the one
   * place a policy question is built. Runs nothing. The tool's own connector gathers the facts when it
   * can (a database checks SQL with the engine that will run it), unless `options.offline` asks for the
   * analysers alone (readiness probes many statements and runs none).
   */
  async ask(actor: PolicyActor, intended: IntendedAction, options: { version?: number; offline?: boolean } = {}): Promise<PolicyAnswer> {
    return this.askAbout(this.ports.catalog.resolve(actor.tenantId, intended.action), actor, intended, options);
  }

  /** `ask` for a tool already resolved (or none): the call path resolves each call's tool once. */
  private async askAbout(tool: Tool | undefined, actor: PolicyActor, intended: IntendedAction, options: { version?: number; offline?: boolean } = {}): Promise<PolicyAnswer> {
    const target = tool?.target ?? (await this.ports.catalog.targetOf(actor.tenantId, intended.action));
    const gathered = options.offline ? undefined : await tool?.analyze?.(intended.params);
    const analysis = gathered ?? analyzeAction(intended.action, intended.params, target);
    return this.ports.policy.evaluate(
      actor.tenantId,
      { ...intended, profile: actor.profile, role: actor.role, classification: classify(tool), target, analysis },
      options.version,
    );
  }

  /** A `tools/call`: every call leaves an execution record before it is answered, refusals included; then it is counted. */
  async call(request: CallRequest): Promise<CallOutcome> {
    const started = performance.now();
    const { caller, agent } = request;
    const name = typeof request.name === "string" ? request.name : "";
    const shown = shownToolName(name);
    const tracing = this.ports.tracing;
    const span = tracing.enabled ? tracing.startSpan("tools/call", { parent: request.parentSpan, attributes: { "invoke.tool": shown } }) : undefined;
    const base: Omit<RecordInput, "status" | "latencyMs"> = {
      tenantId: caller.tenantId,
      kind: "tool_call",
      userId: caller.userId,
      keyId: caller.keyId,
      agentId: agent.agentId,
      clientName: agent.clientName,
      profile: caller.profile,
      role: caller.role,
      tool: shown || "(none)",
      arguments: request.args,
      requestId: request.requestId,
    };
    const finish = (label: string, decision: string | null, status: string) => {
      this.ports.metrics.toolCall(label, decision, status, (performance.now() - started) / 1000);
      if (span) {
        if (decision) span.setAttribute("invoke.decision", decision);
        span.setAttribute("invoke.status", status);
        if (status === "error" || status === "refused") span.setError(status);
        span.end();
      }
    };
    let tool: Tool | undefined;
    let outcome: CallOutcome;
    try {
      const args = request.args;
      if (name === "") throw new CallRefused("tools/call needs params.name (a string)");
      if (typeof args !== "object" || args === null || Array.isArray(args)) throw new CallRefused("params.arguments must be an object");
      tool = this.resolve(caller.tenantId, name);
      this.authorise(caller, tool);
      const errors = this.argumentErrors(tool, args) ?? [];
      if (errors.length > 0) throw new CallRefused(`Invalid arguments for tool ${name}`, { tool: name, errors });
      request.checkTransport?.(tool, args as Record<string, unknown>);
      outcome = await this.decideAndRun(tool, args as Record<string, unknown>, caller, agent, span);
    } catch (error) {
      if (error instanceof CallRefused) {
        await this.ports.records.append({ ...base, status: "refused", error: error.message, latencyMs: performance.now() - started });
        // Unknown names are not metric labels: a client must not be able to mint time series.
        finish((tool ?? this.ports.catalog.resolve(caller.tenantId, name)) ? name : "(unknown)", null, "refused");
      } else finish(name, null, "error");
      throw error;
    }
    await this.ports.records.append({
      ...base,
      classification: classify(tool),
      decision: outcome.decision,
      matchedRules: outcome.matchedRules,
      approvalId: outcome.approvalId,
      status: outcome.status,
      error: outcome.error,
      latencyMs: performance.now() - started,
      result: outcome.result,
    });
    finish(name, outcome.decision, outcome.status);
    return outcome;
  }

  /**
   * Runs approval `id` if it is approved and nobody has taken it (the store hands it to one taker); policy
   * is asked again, as a version published since the request may now deny it. Otherwise does nothing.
   */
  async runApproved(tenantId: string, id: string): Promise<void> {
    const claimed = await this.ports.approvals.claim(tenantId, id);
    if (claimed === undefined) return;
    const { row, args } = claimed;
    const started = performance.now();
    const found = this.ports.catalog.resolve(tenantId, row.tool);
    // Only a production tool is ever queued; anything else by that name now is not what was approved.
    const tool = found?.governed ? found : undefined;
    let result: Record<string, unknown> | undefined;
    let error: string | null = null;
    let matchedRules: string[] = [];
    // The decision at execution (require_approval is what the approval satisfied); null when the tool is gone and policy was not asked.
    let decision: Effect | null = null;
    if (tool === undefined) {
      error = `${row.tool} is no longer available (connector removed, tool quarantined or not enabled); the approved action did not run`;
    } else {
      const answer = await this.askAbout(tool, { tenantId, profile: row.profile, role: row.role }, { agentId: row.agentId, action: row.tool, params: args }).catch((failure: unknown) => {
        // Taken (executing) and never finished, the request would hang there: it fails closed, recorded.
        this.ports.logError(`asking policy about approved request ${id} failed`, failure);
        return undefined;
      });
      if (answer === undefined) error = `policy could not be asked about ${row.tool}; the approved action did not run (the details are in the server log)`;
      else {
        matchedRules = answer.matched_rules.map((rule) => rule.id);
        decision = answer.decision;
        if (answer.decision === "deny") error = `policy version ${answer.policy_version} now denies ${row.tool}: ${answer.reasons.join(" ")}`;
        else ({ result, error } = await this.run(tool, args, undefined));
      }
    }
    const record = await this.ports.records.append({
      tenantId,
      kind: "approval_execution",
      userId: row.requestedBy,
      keyId: row.requestedKey,
      agentId: row.agentId,
      clientName: row.clientName,
      profile: row.profile,
      role: row.role,
      tool: row.tool,
      classification: classify(tool),
      arguments: args,
      decision,
      matchedRules,
      approvalId: id,
      status: error === null ? "ok" : "error",
      latencyMs: performance.now() - started,
      error,
      result,
    });
    await this.ports.approvals.finish(tenantId, id, { status: error === null ? "executed" : "failed", result, error, recordId: record.id });
  }

  /** Policy decides a production tool's call — deny, queue (nothing runs) or run; Invoke's own tools just run. */
  private async decideAndRun(tool: Tool, args: Record<string, unknown>, caller: Caller, agent: ActingAgent, trace: SpanHandle | undefined): Promise<CallOutcome> {
    if (!tool.governed) {
      const { result, error } = await this.run(tool, args, caller, trace);
      return { result, decision: null, matchedRules: [], approvalId: null, status: error === null ? "ok" : "error", error };
    }
    const answer = await inSpan(this.ports.tracing, "policy.evaluate", trace, undefined, async (span) => {
      const answer = await this.askAbout(tool, caller, { agentId: agent.agentId, action: tool.name, params: args });
      span?.setAttribute("invoke.decision", answer.decision);
      return answer;
    });
    const matchedRules = answer.matched_rules.map((rule) => rule.id);
    if (answer.decision === "deny") {
      const detail = { decision: answer.decision, policy_version: answer.policy_version, matched_rules: answer.matched_rules, reasons: answer.reasons };
      const result = { content: [text(`Policy denies ${tool.name}: ${answer.reasons.join(" ")}`), text(JSON.stringify(detail))], isError: true };
      return { result, decision: "deny", matchedRules, approvalId: null, status: "denied", error: answer.reasons.join(" ") };
    }
    if (answer.decision === "require_approval") {
      const notice = await this.ports.approvals.request({ caller, tool: tool.name, args, agentId: agent.agentId, clientName: agent.clientName, answer });
      const needs = `${notice.approvals_required} approval${notice.approvals_required === 1 ? "" : "s"}`;
      const summary = `${tool.name} needs ${needs} before it runs; nothing was executed. Approval ${notice.approval_id} expires at ${notice.expires_at}; follow it with invoke.approvals.get.`;
      return { result: { content: [text(summary)], structuredContent: notice }, decision: "require_approval", matchedRules, approvalId: notice.approval_id, status: "pending_approval", error: null };
    }
    const { result, error } = await this.run(tool, args, caller, trace);
    return { result, decision: "allow", matchedRules, approvalId: null, status: error === null ? "ok" : "error", error };
  }

  /**
   * Runs a tool (a `connector.call` span for a production tool). What the agent should read comes back
   * as an `isError` result: the tool's own failure, a connector that could not run it, or — details in
   * the server log only — a failure nobody expected.
   */
  private async run(tool: Tool, args: Record<string, unknown>, caller: Caller | undefined, trace?: SpanHandle): Promise<{ result: Record<string, unknown>; error: string | null }> {
    const span = tool.connector === undefined ? undefined : this.ports.tracing.startSpan("connector.call", { parent: trace, kind: "client", attributes: { "invoke.tool": tool.name, "invoke.connector": tool.connector } });
    try {
      const result = await tool.run(args, caller);
      if (result.isError) {
        span?.setError("the tool reported an error");
        return { result, error: "the tool reported an error" };
      }
      return { result, error: null };
    } catch (error) {
      const message =
        error instanceof ConnectorError
          ? `${tool.name} could not be run: ${error.message}`
          : error instanceof ToolError || error instanceof InvokeError
            ? error.message
            : `Tool ${tool.name} failed with an internal error; the details are in the server log.`;
      if (!(error instanceof ConnectorError || error instanceof ToolError || error instanceof InvokeError)) this.ports.logError(`tool ${tool.name} failed`, error);
      span?.setError(message);
      return { result: failure(message), error: message };
    } finally {
      span?.end();
    }
  }
}
