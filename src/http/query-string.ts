/**
 * Query strings arrive as text. A route's query schema (TypeBox, declared on the route and validated
 * by Elysia) names which parameters are numbers; those are read as numbers first, so a schema says
 * `Type.Integer()` and the answer to `?limit=abc` says `/limit: Expected integer`. A parameter given
 * empty (`?tool=`) is as if absent, as the filters have always read it.
 */
import type { TObject, TSchema } from "@sinclair/typebox";

const NUMBER = /^-?\d+(\.\d+)?$/;

/** The parameters `schema` declares numbers or integers (read once, when a route is declared). */
export function numberParams(schema: TObject | undefined): string[] {
  return Object.entries<TSchema>(schema?.properties ?? {})
    .filter(([, property]) => property.type === "integer" || property.type === "number")
    .map(([name]) => name);
}

/** Reads `query` in place before it is validated: empty parameters dropped, each of `numbers` that reads as a number made one. */
export function readQuery(numbers: readonly string[], query: Record<string, unknown>): void {
  for (const name in query) if (query[name] === "") delete query[name];
  for (const name of numbers) {
    const value = query[name];
    if (typeof value === "string" && NUMBER.test(value)) query[name] = Number(value);
  }
}
