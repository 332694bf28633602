/**
 * The MCP specification's JSON Schemas as test oracles: every JSON-RPC message the tests receive is
 * validated against the schema of its era (2025-11-25 for legacy answers, 2026-07-28 for modern
 * ones), with the result type that belongs to the request's method.
 */
import Ajv2020 from "ajv/dist/2020.js";
import schema2025 from "../fixtures/mcp-schema/2025-11-25.json";
import schema2026 from "../fixtures/mcp-schema/2026-07-28.json";

const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
ajv.addSchema(schema2025, "mcp-2025-11-25");
ajv.addSchema(schema2026, "mcp-2026-07-28");

export type SchemaVersion = "2025-11-25" | "2026-07-28";

const RESULT_TYPES: Record<SchemaVersion, Record<string, string>> = {
  "2025-11-25": {
    initialize: "InitializeResult",
    ping: "EmptyResult",
    "tools/list": "ListToolsResult",
    "tools/call": "CallToolResult",
  },
  "2026-07-28": {
    "server/discover": "DiscoverResult",
    "tools/list": "ListToolsResult",
    "tools/call": "CallToolResult",
    // The tasks extension's shapes are not in the core schema: its results are checked as Results.
    "tasks/get": "Result",
    "tasks/cancel": "Result",
    "tasks/update": "Result",
  },
};

/** Modern error codes with their own definition in the 2026-07-28 schema: of the whole response, or of its error member. */
const MODERN_ERRORS: Record<number, [definition: string, of: "response" | "error"]> = {
  [-32020]: ["HeaderMismatchError", "response"],
  [-32021]: ["MissingRequiredClientCapabilityError", "response"],
  [-32022]: ["UnsupportedProtocolVersionError", "response"],
  [-32601]: ["MethodNotFoundError", "error"],
  [-32602]: ["InvalidParamsError", "error"],
};

/** Throws if `value` does not match `$defs/<definition>` of the schema of `version`. */
export function assertMatches(version: SchemaVersion, definition: string, value: unknown): void {
  const validate = ajv.getSchema(`mcp-${version}#/$defs/${definition}`);
  if (!validate) throw new Error(`no definition ${definition} in the ${version} schema`);
  if (!validate(value)) {
    throw new Error(`not a valid ${definition} (MCP ${version}): ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`);
  }
}

/** Throws if `value` does not match `$defs/<definition>` of the 2025-11-25 schema. */
export function assertMatches2025(definition: string, value: unknown): void {
  assertMatches("2025-11-25", definition, value);
}

/** Validates one JSON-RPC response of `version`'s era; `method` (when known) selects the result type to check. */
export function assertValidResponse(response: unknown, method?: string, version: SchemaVersion = "2025-11-25"): void {
  const message = response as { result?: Record<string, unknown>; error?: { code: number } };
  if ("error" in message) {
    assertMatches(version, "JSONRPCErrorResponse", message);
    const specific = version === "2026-07-28" ? MODERN_ERRORS[message.error!.code] : undefined;
    if (specific) assertMatches(version, specific[0], specific[1] === "response" ? message : message.error);
    return;
  }
  assertMatches(version, "JSONRPCResultResponse", message);
  // A task handle replaces the method's result (tasks extension): it is a Result, not a CallToolResult.
  const resultType = method && (message.result?.resultType === "task" ? "Result" : RESULT_TYPES[version][method]);
  if (resultType) assertMatches(version, resultType, message.result);
}
