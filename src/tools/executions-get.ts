/** `invoke.executions.get`: one execution record of the tenant, with its place in the hash chain. */
import { Type } from "@sinclair/typebox";
import { ExecutionRecordSchema } from "../records/model.ts";
import { defineTool, ToolError } from "./tool.ts";

export const executionsGetTool = defineTool({
  name: "invoke.executions.get",
  title: "Get an execution record",
  description:
    "Fetch one execution record of your tenant by id (exe_…): who called which tool with which (redacted) arguments, the policy decision and matched rules, the approval, status, latency, error, the result's digest, and the record's seq and hashes in the tenant's tamper-evident chain.",
  scope: "traces:read",
  readOnly: true,
  touchesCompanyData: false,
  input: Type.Object({ id: Type.String({ minLength: 1, maxLength: 100, description: "The record's id, e.g. exe_…" }) }, { additionalProperties: false }),
  output: ExecutionRecordSchema,
  uses: ["records"],
  handler: async ({ id }, { caller, records }) => {
    const record = await records.get(caller.tenantId, id);
    if (!record) throw new ToolError(`No execution record ${id} in this tenant.`);
    return record;
  },
});
