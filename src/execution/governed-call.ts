/**
 * A governed call of a production tool: the one policy evaluator decides; `deny` answers with the
 * rules and reasons, `require_approval` queues the action (nothing runs), `allow` forwards it to the
 * connector and returns the upstream's result as it came. Approved actions run here too, once.
 */
import { ConnectorError, type UpstreamResult } from "../connectors/connector.ts";
import type { Caller } from "../governance/caller.ts";
import { askPolicy } from "../policy/ask.ts";
import type { Effect } from "../policy/model.ts";
import type { PolicyAnswer } from "../policy/service.ts";
import type { Services } from "../services.ts";
import type { ProductionTool } from "../tools/catalog.ts";
import { DISABLED_TRACING, inSpan, type SpanHandle, type Tracing } from "../observability/tracing.ts";

/** Who is acting, beyond the key: the agent's own name for itself and its MCP client. */
export interface ActingAgent {
  agentId: string;
  clientName: string | null;
}

/** What happened, for the tool result and the execution record. */
export interface GovernedOutcome {
  result: Record<string, unknown>;
  /** The policy's decision; null for Invoke's own tools, which policy does not govern. */
  decision: Effect | null;
  matchedRules: string[];
  approvalId: string | null;
  status: "ok" | "error" | "denied" | "pending_approval";
  error: string | null;
}

const text = (value: string) => ({ type: "text", text: value });

function denial(tool: string, answer: PolicyAnswer): Record<string, unknown> {
  const detail = { decision: answer.decision, policy_version: answer.policy_version, matched_rules: answer.matched_rules, reasons: answer.reasons };
  return { content: [text(`Policy denies ${tool}: ${answer.reasons.join(" ")}`), text(JSON.stringify(detail))], isError: true };
}

/** Forwards a call (a `connector.call` span under `trace`); a connector failure becomes an isError result naming it. */
export async function forward(
  tool: ProductionTool,
  args: Record<string, unknown>,
  tracing: Tracing = DISABLED_TRACING,
  trace?: SpanHandle,
): Promise<{ result: Record<string, unknown>; error: string | null }> {
  const span = tracing.startSpan("connector.call", { parent: trace, kind: "client", attributes: { "invoke.tool": tool.name, "invoke.connector": tool.connector } });
  try {
    const result: UpstreamResult = await tool.call(args);
    if (result.isError) span?.setError("the tool reported an error");
    return { result, error: result.isError ? "the tool reported an error" : null };
  } catch (error) {
    if (!(error instanceof ConnectorError)) throw error;
    const message = `${tool.name} could not be run: ${error.message}`;
    span?.setError(message);
    return { result: { content: [text(message)], isError: true }, error: message };
  } finally {
    span?.end();
  }
}

/** Evaluates and, as policy says, denies, queues or runs a production tool call. */
export async function callProductionTool(
  services: Services,
  caller: Caller,
  tool: ProductionTool,
  args: Record<string, unknown>,
  agent: ActingAgent,
  trace?: SpanHandle,
): Promise<GovernedOutcome> {
  const answer = await inSpan(services.tracing, "policy.evaluate", trace, undefined, async (span) => {
    const answer = await askPolicy(services, caller, { agentId: agent.agentId, action: tool.name, params: args });
    span?.setAttribute("invoke.decision", answer.decision);
    return answer;
  });
  const matchedRules = answer.matched_rules.map((rule) => rule.id);
  if (answer.decision === "deny") {
    return { result: denial(tool.name, answer), decision: "deny", matchedRules, approvalId: null, status: "denied", error: answer.reasons.join(" ") };
  }
  if (answer.decision === "require_approval") {
    const notice = await services.approvals.request({ caller, tool: tool.name, args, agentId: agent.agentId, clientName: agent.clientName, answer });
    const summary = `${tool.name} needs ${notice.approvals_required} approval${notice.approvals_required === 1 ? "" : "s"} before it runs; nothing was executed. Approval ${notice.approval_id} expires at ${notice.expires_at}; follow it with invoke.approvals.get.`;
    return {
      result: { content: [text(summary)], structuredContent: notice },
      decision: "require_approval",
      matchedRules,
      approvalId: notice.approval_id,
      status: "pending_approval",
      error: null,
    };
  }
  const { result, error } = await forward(tool, args, services.tracing, trace);
  return { result, decision: "allow", matchedRules, approvalId: null, status: error === null ? "ok" : "error", error };
}
