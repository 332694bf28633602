/**
 * Approval requests as MCP tasks (the tasks extension of MCP 2026-07-28, SEP-2663). When a modern
 * client that declared the extension makes a call that policy sends to approval, it gets a task
 * handle instead of the `pending_approval` result; the task is the approval request itself, so it is
 * as durable as the request (it survives restarts) and its id is the request's unguessable id. Only
 * the key that made the request finds its task.
 *
 * Status: pending, approved and running are `working`; executed is `completed` with the tool's result
 * (a tool error is a result with isError, as the extension says); a rejection or an expiry is `failed`
 * with the refusal as a JSON-RPC error; a withdrawn request (`tasks/cancel`) is `cancelled`.
 */
import type { StoredApproval } from "../approvals/repository.ts";
import type { ApprovalService } from "../approvals/service.ts";
import type { Caller } from "../governance/caller.ts";
import { JsonRpcError, JsonRpcErrorCode } from "./jsonrpc.ts";

/** How often a client should poll: people decide in minutes, not milliseconds. */
const POLL_INTERVAL_MS = 5_000;

type Task = Record<string, unknown>;

export class ApprovalTasks {
  constructor(
    private readonly approvals: ApprovalService,
    private readonly now: () => number = Date.now,
  ) {}

  /** The CreateTaskResult for a request just made (it is stored before the call is answered). */
  async created(caller: Caller, approvalId: string): Promise<Task> {
    return { ...this.task(await this.find(caller, approvalId)), resultType: "task" };
  }

  /** tasks/get: the task's state; terminal ones carry the result or the error. */
  async get(caller: Caller, taskId: unknown): Promise<Task> {
    return this.task(await this.find(caller, taskId));
  }

  /** tasks/cancel: withdraws the request if it still waits for people; an acknowledgement either way. */
  async cancel(caller: Caller, taskId: unknown, clientName: string | null = null): Promise<Task> {
    const row = await this.find(caller, taskId);
    await this.approvals.withdraw(caller, row.id, clientName);
    return {};
  }

  private async find(caller: Caller, taskId: unknown): Promise<StoredApproval> {
    if (typeof taskId !== "string" || taskId === "") throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, "Invalid params: params.taskId must be a string");
    const row = await this.approvals.ofRequester(caller, taskId);
    if (row === undefined) throw new JsonRpcError(JsonRpcErrorCode.InvalidParams, "Failed to retrieve task: Task not found");
    return row;
  }

  private task(row: StoredApproval): Task {
    const base = {
      taskId: row.id,
      createdAt: new Date(row.createdAt).toISOString(),
      lastUpdatedAt: new Date(row.decidedAt ?? row.createdAt).toISOString(),
      // Requests are kept for good (they are part of the record), so the task is never discarded.
      ttlMs: null,
      pollIntervalMs: POLL_INTERVAL_MS,
    };
    const expired = row.status === "expired" || (row.status === "pending" && row.expiresAt <= this.now());
    if (expired) {
      const at = new Date(row.expiresAt).toISOString();
      return { ...base, lastUpdatedAt: at, ...refusal(row, "approval_expired", `Nobody decided before ${at}: the approval request expired and the action never ran.`) };
    }
    switch (row.status) {
      case "pending":
        return { ...base, status: "working", statusMessage: `Waiting for approval by ${row.approvalsRequired} ${row.approvalsRequired === 1 ? "person" : "people"} (approval ${row.id}, expires ${new Date(row.expiresAt).toISOString()}).` };
      case "approved":
      case "executing":
        return { ...base, status: "working", statusMessage: "Approved; the action is running." };
      case "rejected":
        return { ...base, ...refusal(row, "approval_rejected", "The approvers rejected this action; it never ran.") };
      case "withdrawn":
        return { ...base, status: "cancelled", statusMessage: "Withdrawn by the requester before a decision; the action never ran." };
      default: {
        // executed, or failed when run: what the call would have answered had it run at once.
        const result = "outcome" in row ? row.outcome : { content: [{ type: "text", text: row.error ?? "The approved action failed." }], isError: true };
        return { ...base, status: "completed", statusMessage: row.status === "executed" ? "Approved and executed." : "Approved; the action ran and failed.", result };
      }
    }
  }
}

/** A `failed` task: people (or the clock) refused the action. */
function refusal(row: StoredApproval, reason: string, message: string): Task {
  return { status: "failed", statusMessage: message, error: { code: JsonRpcErrorCode.Forbidden, message, data: { reason, approval_id: row.id } } };
}
