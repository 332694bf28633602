/**
 * The MCP specification's JSON Schema as a test oracle: every JSON-RPC message the tests receive is
 * validated against it, with the result type that belongs to the request's method.
 */
import Ajv2020 from "ajv/dist/2020.js";
import schema2025 from "../fixtures/mcp-schema/2025-11-25.json";

const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
ajv.addSchema(schema2025, "mcp-2025-11-25");

const RESULT_TYPES: Record<string, string> = {
  initialize: "InitializeResult",
  ping: "EmptyResult",
  "tools/list": "ListToolsResult",
  "tools/call": "CallToolResult",
};

/** Throws if `value` does not match `$defs/<definition>` of the 2025-11-25 schema. */
export function assertMatches2025(definition: string, value: unknown): void {
  const validate = ajv.getSchema(`mcp-2025-11-25#/$defs/${definition}`);
  if (!validate) throw new Error(`no definition ${definition} in the 2025-11-25 schema`);
  if (!validate(value)) {
    throw new Error(`not a valid ${definition} (MCP 2025-11-25): ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`);
  }
}

/** Validates one JSON-RPC response; `method` (when known) selects the result type to check. */
export function assertValidResponse(response: unknown, method?: string): void {
  const message = response as { result?: unknown; error?: unknown };
  if ("error" in message) return assertMatches2025("JSONRPCErrorResponse", message);
  assertMatches2025("JSONRPCResultResponse", message);
  const resultType = method && RESULT_TYPES[method];
  if (resultType) assertMatches2025(resultType, message.result);
}
