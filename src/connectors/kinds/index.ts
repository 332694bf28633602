/**
 * The closed list of connector kinds. Adding a kind is one module in this folder and one line here;
 * the configuration schemas (`model.ts`), creation, classification, host access, secrets and
 * readiness all follow from the list.
 */
import { database } from "./database.ts";
import type { ActionTarget } from "../../policy/analyzers/index.ts";
import type { ConnectorSpec } from "../model.ts";
import type { ConnectorKind, KindSchema } from "./kind.ts";
import { mcpHttp } from "./mcp-http.ts";
import { mcpStdio } from "./mcp-stdio.ts";

/** Every kind. */
export const KINDS = [mcpStdio, mcpHttp, database] as const;

/** The kinds' names, their configurations' `type`. */
export type KindName = (typeof KINDS)[number]["schema"]["properties"]["type"]["const"];
export const KIND_NAMES: readonly KindName[] = KINDS.map((kind) => kind.schema.properties.type.const);
/** The kinds whose tools run SQL, which policy analyses. */
export const SQL_KIND_NAMES: readonly KindName[] = KINDS.filter((kind) => "sql" in kind).map((kind) => kind.schema.properties.type.const);

/** A kind seen through the union of every kind's configuration. */
type AnyKind = ConnectorKind<KindSchema, ConnectorSpec>;

const byName = new Map<string, AnyKind>(KINDS.map((kind): [string, AnyKind] => [kind.schema.properties.type.const, kind]));

/** The kind of a configuration the schema accepted. */
export const kindOf = (spec: ConnectorSpec): AnyKind => byName.get(spec.type)!;

/** What a connector's tools are to policy analysis: its kind and, when they run SQL, how to read it. */
export function actionTarget(spec: ConnectorSpec): ActionTarget {
  const sql = kindOf(spec).sql?.(spec);
  return { kind: spec.type, ...(sql && { sql }) };
}
