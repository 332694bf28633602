/**
 * Request bodies within bounds: size, JSON nesting depth, and a schema check whose answer lists a
 * bounded number of problems. A body nested deeper than any real request would overflow the stack of
 * every recursive walker downstream (schema checks, redaction, canonical JSON), so it is refused
 * before it is parsed; a body with thousands of problems is answered with the first few and a count.
 */
import type { Static, TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { BadRequest, InvokeError } from "../errors.ts";

/** The deepest nesting of arrays and objects a JSON body may have. */
export const MAX_JSON_DEPTH = 64;
/** How many problems an answer lists; the rest are counted. */
export const MAX_LISTED_ISSUES = 20;
/** How many characters of a client-supplied path or message an answer repeats. */
const MAX_ISSUE_CHARS = 200;
/** How far problems are counted past the listed ones (counting is a walk over the body). */
const MAX_COUNTED_ISSUES = 10_000;

/**
 * Whether `text` nests arrays and objects deeper than `limit`. One pass over the characters; brackets
 * inside strings do not count. Text that is not JSON may give either answer: the parser reports it.
 */
export function jsonNestsDeeperThan(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 0x5c) index++; // a backslash escapes the next character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b || code === 0x7b) {
      if (++depth > limit) return true;
    } else if (code === 0x5d || code === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** Parses a JSON body within the depth bound: the value, or why not. */
export function parseJsonBody(text: string, limit = MAX_JSON_DEPTH): { ok: true; value: unknown } | { ok: false; problem: "invalid_json" | "too_deep" } {
  if (jsonNestsDeeperThan(text, limit)) return { ok: false, problem: "too_deep" };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, problem: "invalid_json" };
  }
}

/** The message of a body nested too deep, for REST and JSON-RPC answers alike. */
export const TOO_DEEP_MESSAGE = `The request body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels.`;

/** Whether a text of `length` UTF-16 units exceeds `maxBytes` as UTF-8 (bytes are counted only when it could). */
export function exceedsBytes(text: string, maxBytes: number): boolean {
  return text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes;
}

/**
 * Reads a REST body as JSON within `maxBytes` and the depth bound, whatever its Content-Type (`curl -d`
 * sends a form type). An empty body reads as absent.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const tooLarge = () => new InvokeError(413, "payload_too_large", `The request body exceeds ${maxBytes} bytes.`);
  if (Number(request.headers.get("content-length") ?? 0) > maxBytes) {
    // Unread, Bun would keep buffering the body for as long as the request lives.
    await request.body?.cancel();
    throw tooLarge();
  }
  const text = await request.text();
  if (exceedsBytes(text, maxBytes)) throw tooLarge();
  if (text.trim().length === 0) return undefined;
  const parsed = parseJsonBody(text);
  if (parsed.ok) return parsed.value;
  if (parsed.problem === "too_deep") throw new BadRequest(TOO_DEEP_MESSAGE, undefined, "json_too_deep");
  throw new BadRequest("The request body is not valid JSON.", undefined, "invalid_json");
}

/** `text` cut to `limit` characters, saying so. */
export function truncate(text: string, limit = MAX_ISSUE_CHARS): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}… (${text.length - limit} more characters)`;
}

/** A problem in a request body: where, and what. */
export interface BodyIssue {
  path: string;
  message: string;
}

/** `listed` problems and how many more there are, as one sentence. */
export function issueSummary(listed: string[], more: number, atLeast = false): string {
  return `${listed.join("; ")}${more > 0 ? `; and ${atLeast ? "at least " : ""}${more} more` : ""}`;
}

const checkers = new WeakMap<TSchema, TypeCheck<TSchema>>();

/** The body, checked against `schema`; otherwise a 400 listing the first problems and counting the rest. */
export function validBody<T extends TSchema>(schema: T, body: unknown): Static<T> {
  let checker = checkers.get(schema);
  if (checker === undefined) checkers.set(schema, (checker = TypeCompiler.Compile(schema)));
  if (checker.Check(body)) return body as Static<T>;
  const issues: BodyIssue[] = [];
  let total = 0;
  for (const error of checker.Errors(body)) {
    if (++total <= MAX_LISTED_ISSUES) issues.push({ path: truncate(error.path || "/"), message: truncate(error.message) });
    if (total >= MAX_COUNTED_ISSUES) break;
  }
  const summary = issueSummary(issues.map((issue) => `${issue.path}: ${issue.message}`), total - issues.length, total >= MAX_COUNTED_ISSUES);
  throw new BadRequest(`Invalid request body: ${summary}`, issues, "invalid_request");
}
