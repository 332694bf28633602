/** `invoke.executions.list`: the tenant's execution records, newest first, filtered and paged. */
import { Type } from "@sinclair/typebox";
import { ExecutionRecordSchema, parseTime, RecordFiltersInput } from "../records/model.ts";
import { defineTool } from "./tool.ts";

export const executionsListTool = defineTool({
  name: "invoke.executions.list",
  title: "List execution records",
  description:
    "List what Invoke has recorded for your tenant, newest first: tool calls, approval votes, approved executions and admin changes, each with the caller, the redacted arguments, the policy decision and matched rules, the status, latency and error. Filter by tool, agent_id, decision, status, kind or time (since/until, ISO 8601); page with next_cursor.",
  scope: "traces:read",
  readOnly: true,
  touchesCompanyData: false,
  input: Type.Object(RecordFiltersInput, { additionalProperties: false }),
  output: Type.Object({
    records: Type.Array(ExecutionRecordSchema),
    next_cursor: Type.Optional(Type.String()),
  }),
  uses: ["records"],
  handler: ({ since, until, ...filters }, { caller, records }) =>
    records.list(caller.tenantId, {
      ...filters,
      since: since === undefined ? undefined : parseTime(since, "since"),
      until: until === undefined ? undefined : parseTime(until, "until"),
    }),
});
