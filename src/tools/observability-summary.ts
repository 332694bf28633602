/** `invoke.observability.summary`: what agents did over the last hour, day or week, per tool or per agent. */
import { Type } from "@sinclair/typebox";
import { SummarySchema } from "../observability/summary.ts";
import { defineTool } from "./tool.ts";

export const observabilitySummaryTool = defineTool({
  name: "invoke.observability.summary",
  title: "Observability summary",
  description:
    "Summarize what agents did in your tenant over a window (1h, 24h or 7d, whole minutes), per tool or per agent: calls, errors, policy denials, calls sent to approval, approval requests by outcome (pending, approved, rejected, expired), rate-limit refusals, and latency p50/p95/p99. Computed from the execution records.",
  scope: "traces:read",
  readOnly: true,
  touchesCompanyData: false,
  input: Type.Object(
    {
      window: Type.Optional(Type.Union([Type.Literal("1h"), Type.Literal("24h"), Type.Literal("7d")], { description: "Default 24h." })),
      group_by: Type.Optional(Type.Union([Type.Literal("tool"), Type.Literal("agent")], { description: "Default tool." })),
    },
    { additionalProperties: false },
  ),
  output: SummarySchema,
  uses: ["summary"],
  handler: ({ window, group_by }, { caller, summary }) => summary.summarize(caller.tenantId, window, group_by),
});
