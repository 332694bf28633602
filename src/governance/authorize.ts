/**
 * The one function that decides whether a caller may use a tool. `tools/list` shows exactly the tools
 * it allows and `tools/call` refuses exactly the ones it refuses, so the two can never disagree.
 */
import type { ToolDefinition } from "../tools/tool.ts";
import type { Caller } from "./caller.ts";

/** Why a tool is refused: the rule, and a sentence for the agent. */
export interface ToolRefusal {
  rule: string;
  message: string;
}

/**
 * Returns the refusal, or undefined when `caller` may use `tool`.
 * Every authenticated key may use every registered tool until scoped profiles exist (access issue).
 */
export function authorizeTool(_caller: Caller, _tool: ToolDefinition): ToolRefusal | undefined {
  return undefined;
}
