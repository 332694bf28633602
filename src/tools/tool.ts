/**
 * What a tool is: one file declares its schemas (TypeBox, the single source for validation, the
 * TypeScript types and the `tools/list` JSON Schema), its scope, Invoke's own classification of it, and
 * its handler. The registry (`registry.ts`) turns definitions into what goes on the wire.
 */
import type { Static, TObject } from "@sinclair/typebox";
import type { Caller, Scope } from "../governance/caller.ts";
import type { ToolPorts } from "./ports.ts";

/** What a handler is given: the authenticated caller (its tenant is the only tenant) and the ports its tool declared. */
export type ToolContext<U extends keyof ToolPorts = keyof ToolPorts> = Pick<ToolPorts, U> & { caller: Caller };

/** A tool as declared. `O` is the output schema when the result is structured. */
export interface ToolDefinition<I extends TObject = TObject, O extends TObject = TObject, U extends keyof ToolPorts = keyof ToolPorts> {
  name: string;
  title: string;
  description: string;
  /** The scope a key needs to see and call it. */
  scope: Scope;
  /** Invoke's own classification: true only when the tool changes nothing anywhere. */
  readOnly: boolean;
  /** True for tools that read company data or act on production systems (gated by `allowed_tools`). */
  touchesCompanyData: boolean;
  input: I;
  output?: O;
  /** The ports the handler uses (none when absent): it is handed these and the caller, nothing else. */
  uses?: readonly U[];
  handler(args: Static<I>, context: ToolContext<U>): Static<O> | Promise<Static<O>>;
}

/** Declares a tool with its types inferred from its schemas. */
export function defineTool<I extends TObject, O extends TObject, U extends keyof ToolPorts = never>(definition: ToolDefinition<I, O, U>): ToolDefinition {
  return definition as unknown as ToolDefinition;
}

/** A failure the tool reports to the agent as an `isError` result with this readable text. */
export class ToolError extends Error {
  override name = "ToolError";
}
