/**
 * What a tool is: one file declares its schemas (TypeBox, the single source for validation, the
 * TypeScript types and the `tools/list` JSON Schema), its scope, Invoke's own classification of it, and
 * its handler. The registry (`registry.ts`) turns definitions into what goes on the wire.
 */
import type { Static, TObject } from "@sinclair/typebox";
import type { Caller } from "../governance/caller.ts";
import type { Scope } from "../governance/caller.ts";
import type { Services } from "../services.ts";

/** What a handler may use: the authenticated caller (its tenant is the only tenant) and the services. */
export interface ToolContext {
  caller: Caller;
  services: Services;
}

/** What the catalog hands a handler besides the caller. */
export type ToolPorts = Omit<ToolContext, "caller">;

/** A tool as declared. `O` is the output schema when the result is structured. */
export interface ToolDefinition<I extends TObject = TObject, O extends TObject = TObject> {
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
  handler(args: Static<I>, context: ToolContext): Static<O> | Promise<Static<O>>;
}

/** Declares a tool with its types inferred from its schemas. */
export function defineTool<I extends TObject, O extends TObject>(definition: ToolDefinition<I, O>): ToolDefinition {
  return definition as unknown as ToolDefinition;
}

/** A failure the tool reports to the agent as an `isError` result with this readable text. */
export class ToolError extends Error {
  override name = "ToolError";
}
