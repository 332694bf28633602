/**
 * The one function that decides whether a caller may use a tool. `tools/list` shows exactly the tools
 * it allows and `tools/call` refuses exactly the ones it refuses, so the two can never disagree.
 */
import { globMatcher } from "../text.ts";
import { roleAtLeast, type Caller, type Scope } from "./caller.ts";

/** Why something is refused: the rule, and a sentence for the agent. */
export interface Refusal {
  rule: string;
  message: string;
}

const matchers = new Map<string, (name: string) => boolean>();
/** Lists compiled at most before the cache starts over: the lists in use are few, admins may send many. */
const MAX_MATCHERS = 1000;

/** A predicate over tool names for a list of globs (`*` matches any run of characters), compiled once per list. */
export function toolNameMatcher(globs: readonly string[]): (name: string) => boolean {
  const cacheKey = globs.join("\n");
  let matcher = matchers.get(cacheKey);
  if (matcher === undefined) {
    const patterns = globs.map(globMatcher);
    matcher = (name) => patterns.some((matches) => matches(name));
    if (matchers.size >= MAX_MATCHERS) matchers.clear();
    matchers.set(cacheKey, matcher);
  }
  return matcher;
}

/** What the authoriser looks at in a tool. */
export interface Authorizable {
  name: string;
  /** The scope a key needs. */
  scope: Scope;
  /** Invoke's classification: a read-only key may use only read-only tools. */
  readOnly: boolean;
  /** Tools that touch company data or production systems are also gated by the key's `allowed_tools`. */
  touchesCompanyData: boolean;
}

/** Returns the refusal, or undefined when `caller` may use `tool`. */
export function authorizeTool(caller: Caller, tool: Authorizable): Refusal | undefined {
  if (!caller.scopes.has(tool.scope)) {
    return { rule: "scope", message: `the key's scopes do not include ${tool.scope}` };
  }
  if (tool.touchesCompanyData && !toolNameMatcher(caller.allowedTools)(tool.name)) {
    return { rule: "allowed_tools", message: `the key's allowed_tools (${caller.allowedTools.join(", ")}) do not include ${tool.name}` };
  }
  if (caller.readOnly && !tool.readOnly) {
    return { rule: "read_only", message: `the key is read-only and Invoke classifies ${tool.name} as mutating` };
  }
  return undefined;
}

/** The MCP endpoint serves agents holding server credentials: role editor or admin (seed 003). */
export function authorizeMcpAccess(caller: Caller): Refusal | undefined {
  return roleAtLeast(caller.role, "editor")
    ? undefined
    : { rule: "role", message: `the MCP endpoint needs role editor or admin; ${caller.email} has role ${caller.role}` };
}
