/** `invoke.governance.readiness`: a scored checklist of the tenant's governance gaps, each with its exact fix. */
import { Type } from "@sinclair/typebox";
import { assessReadiness, ReadinessReportSchema } from "../governance/readiness.ts";
import { defineTool } from "./tool.ts";

export const governanceReadinessTool = defineTool({
  name: "invoke.governance.readiness",
  title: "Governance readiness",
  description:
    "Score this tenant's governance from 0 to 100 (pass 1, warn 0.5, fail 0, averaged) with a checklist: deny by default, every connector tool covered by policy, destructive SQL denied, four eyes possible, no admin key used from MCP clients, keys that expire and are in use, read-only keys for assistants, an intact record chain, rate limits, a closed Origin allow-list, tool pinning without quarantined tools. Each gap comes with the exact REST call or invoke command that fixes it. Needs scope governance:read. Changes nothing.",
  scope: "governance:read",
  readOnly: true,
  touchesCompanyData: false,
  input: Type.Object({}, { additionalProperties: false }),
  output: ReadinessReportSchema,
  handler: (_args, { caller, services }) => assessReadiness(services, caller.tenantId),
});
