/**
 * What Invoke's own tools may use besides the caller. Each tool declares the ports it uses (`uses` in
 * its definition) and is handed those alone, so its signature says what it depends on.
 */
import type { ApprovalService } from "../approvals/service.ts";
import type { BrainService } from "../brain/service.ts";
import type { AccessGate } from "../governance/access.ts";
import type { ReadinessReport } from "../governance/readiness.ts";
import type { ObservabilitySummary } from "../observability/summary.ts";
import type { PolicyAsker, PolicyService } from "../policy/service.ts";
import type { ExecutionLedger } from "../records/ledger.ts";
import type { ArgumentError, ConnectorTool, Tool } from "./model.ts";

/** Every port a built-in tool may ask for. */
export interface ToolPorts {
  /** The tenant's approval requests, as the caller may see them. */
  approvals: Pick<ApprovalService, "get" | "list">;
  brain: Pick<BrainService, "query">;
  /** The execution records. */
  records: Pick<ExecutionLedger, "get" | "list">;
  summary: Pick<ObservabilitySummary, "summarize">;
  /** The tenant's governance readiness report. */
  readiness(tenantId: string): Promise<ReadinessReport>;
  /** The governed call path's steps short of running anything: policy questions and argument checks. */
  calls: PolicyAsker & { argumentErrors(tool: Tool, args: unknown): ArgumentError[] | undefined };
  catalog: {
    resolve(tenantId: string, name: string): Tool | undefined;
    productionTools(tenantId: string): ConnectorTool[];
  };
  policy: Pick<PolicyService, "active">;
  /** Rate-limit headroom. */
  gate: Pick<AccessGate, "headroom">;
}
