/**
 * Header values of the modern era's Streamable HTTP transport (streamable-http: standard request
 * headers, custom headers from tool parameters): the Base64 sentinel encoding, and the `x-mcp-header`
 * annotations that mirror tool arguments into `Mcp-Param-{Name}` headers. A load balancer may route on
 * such a header, so the server checks that it says what the body says. Upstream tool definitions
 * whose annotations break the rules are refused, as the spec requires of clients.
 */
import { JsonRpcError, JsonRpcErrorCode } from "./jsonrpc.ts";

/** A tool argument mirrored into the `Mcp-Param-{header}` header. */
export interface HeaderParam {
  header: string;
  /** The chain of `properties` keys from the schema root to the argument. */
  path: string[];
}

const BASE64_SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;
/** RFC 9110 field-name token (`1*tchar`). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 9110 field value characters: visible ASCII, space, horizontal tab. */
const FIELD_VALUE = /^[\x20-\x7E\t]*$/;
const PRIMITIVE_TYPES = new Set(["string", "integer", "boolean"]);
/** Keywords holding subschemas off the `properties` chain: an annotation under them makes the tool invalid. */
const OFF_CHAIN_KEYWORDS = [
  "items",
  "prefixItems",
  "contains",
  "additionalProperties",
  "unevaluatedProperties",
  "unevaluatedItems",
  "propertyNames",
  "patternProperties",
  "dependentSchemas",
  "oneOf",
  "anyOf",
  "allOf",
  "not",
  "if",
  "then",
  "else",
  "$defs",
  "definitions",
];
/** Of those, the ones whose value maps names to subschemas. */
const NAMED_SUBSCHEMAS = new Set(["patternProperties", "dependentSchemas", "$defs", "definitions"]);

/**
 * A header value as the client meant it: trimmed, and decoded when it uses the Base64 sentinel; null
 * when it holds characters a field value may not, or its Base64 is broken.
 */
export function headerValue(raw: string): string | null {
  if (!FIELD_VALUE.test(raw)) return null;
  const value = raw.trim();
  // Only the whole sentinel marks Base64; a value with just one of its ends is taken literally.
  if (!value.startsWith("=?base64?") || !value.endsWith("?=")) return value;
  const encoded = BASE64_SENTINEL.exec(value)?.[1];
  return encoded === undefined || encoded.length % 4 !== 0 ? null : Buffer.from(encoded, "base64").toString("utf8");
}

/** Thrown for a tool definition whose `x-mcp-header` annotations break the rules. */
export class InvalidHeaderAnnotation extends Error {
  override name = "InvalidHeaderAnnotation";
}

/**
 * The arguments an input schema mirrors into headers. Throws InvalidHeaderAnnotation when an annotation
 * is empty or not a token, repeats another (case-insensitively), sits on a non-primitive or `number`
 * property, or is not statically reachable from the root through `properties` alone.
 */
export function headerParams(inputSchema: Record<string, unknown>): HeaderParam[] {
  const params: HeaderParam[] = [];
  const seen = new Set<string>();
  /** path: the `properties` chain to this schema, or null once the walk left it (items, oneOf, $defs…). */
  const visit = (schema: unknown, path: string[] | null): void => {
    if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return;
    const node = schema as Record<string, unknown>;
    if (Object.hasOwn(node, "x-mcp-header")) params.push(annotation(node, node["x-mcp-header"], path, seen));
    const properties = node.properties;
    if (typeof properties === "object" && properties !== null && !Array.isArray(properties)) {
      for (const [property, child] of Object.entries(properties)) visit(child, path === null ? null : [...path, property]);
    }
    for (const keyword of OFF_CHAIN_KEYWORDS) {
      const sub = node[keyword];
      if (typeof sub !== "object" || sub === null) continue;
      const branches = Array.isArray(sub) ? sub : NAMED_SUBSCHEMAS.has(keyword) ? Object.values(sub) : [sub];
      for (const branch of branches) visit(branch, null);
    }
  };
  visit(inputSchema, []);
  return params;
}

function annotation(schema: Record<string, unknown>, header: unknown, path: string[] | null, seen: Set<string>): HeaderParam {
  if (path === null || path.length === 0) {
    throw new InvalidHeaderAnnotation("x-mcp-header must sit on a property reachable from the schema root through properties alone");
  }
  const where = `property ${path.join(".")}`;
  if (typeof header !== "string" || !TOKEN.test(header)) {
    throw new InvalidHeaderAnnotation(`x-mcp-header of ${where} must be a non-empty HTTP token, not ${JSON.stringify(header)}`);
  }
  if (typeof schema.type !== "string" || !PRIMITIVE_TYPES.has(schema.type)) {
    throw new InvalidHeaderAnnotation(`x-mcp-header of ${where} needs type string, integer or boolean, not ${JSON.stringify(schema.type ?? null)}`);
  }
  const folded = header.toLowerCase();
  if (seen.has(folded)) throw new InvalidHeaderAnnotation(`x-mcp-header ${JSON.stringify(header)} is used twice (header names ignore case)`);
  seen.add(folded);
  return { header, path };
}

/** The argument at a `properties` path, or undefined. */
function argumentAt(args: Record<string, unknown>, path: string[]): unknown {
  let value: unknown = args;
  for (const key of path) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Whether a decoded header value says what the body's value says (integers compared as numbers). */
function sameValue(header: string, body: unknown): boolean {
  switch (typeof body) {
    case "string":
      return header === body;
    case "boolean":
      return header === String(body);
    case "number":
      return /^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(header) && Number(header) === body && Math.abs(body) <= Number.MAX_SAFE_INTEGER;
    default:
      return header === JSON.stringify(body);
  }
}

/**
 * Checks a tools/call's `Mcp-Param-*` headers against its arguments; throws -32020 (HTTP 400) when one
 * is malformed, disagrees with the body, is missing while the body has the value, or is sent while the
 * body has none.
 */
export function checkParamHeaders(params: readonly HeaderParam[], args: Record<string, unknown>, headers: Headers): void {
  for (const param of params) {
    const name = `Mcp-Param-${param.header}`;
    const raw = headers.get(name);
    const body = argumentAt(args, param.path);
    const present = body !== undefined && body !== null;
    if (raw === null) {
      if (present) throw mismatch(`the ${name} header is required, as arguments.${param.path.join(".")} is set`);
      continue;
    }
    const value = headerValue(raw);
    if (value === null) throw mismatch(`the ${name} header has invalid characters or a malformed Base64 value`);
    if (!present) throw mismatch(`the ${name} header is set, but arguments.${param.path.join(".")} is not`);
    if (!sameValue(value, body)) throw mismatch(`${name} header value '${value}' does not match body value '${typeof body === "string" ? body : JSON.stringify(body)}'`);
  }
}

function mismatch(detail: string): JsonRpcError {
  return new JsonRpcError(JsonRpcErrorCode.HeaderMismatch, `Header mismatch: ${detail}`, undefined, 400);
}
