/**
 * The sweeper of approved actions: a request approved from another process (the CLI) is run by the
 * serving process, exactly once, through the governed call path; due requests expire.
 */
import { every } from "../every.ts";
import type { ApprovalService } from "../approvals/service.ts";
import type { GovernedCalls } from "./calls.ts";

/** Every `intervalMs`: expires due requests and runs approved ones nobody has taken. Returns the stop function. */
export function startApprovalSweeper(
  approvals: Pick<ApprovalService, "expireDue" | "unclaimed">,
  calls: Pick<GovernedCalls, "runApproved">,
  intervalMs = 1000,
  logError: (message: string, error: unknown) => void = () => {},
): () => void {
  return every(
    intervalMs,
    async () => {
      await approvals.expireDue();
      for (const { tenantId, id } of await approvals.unclaimed()) await calls.runApproved(tenantId, id);
    },
    (error) => logError("approval sweeper failed", error),
  );
}
