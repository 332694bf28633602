/**
 * The closed list of connector kinds. Adding a kind is one module in this folder and one line here;
 * the configuration schemas and `kindOf` (`model.ts`), creation, classification, host access, secrets and
 * readiness all follow from the list.
 */
import { database } from "./database.ts";
import { mcpHttp } from "./mcp-http.ts";
import { mcpStdio } from "./mcp-stdio.ts";

/** Every kind. */
export const KINDS = [mcpStdio, mcpHttp, database] as const;

/** The kinds' names, their configurations' `type`. */
export type KindName = (typeof KINDS)[number]["schema"]["properties"]["type"]["const"];
export const KIND_NAMES: readonly KindName[] = KINDS.map((kind) => kind.schema.properties.type.const);
/** The kinds whose tools run SQL, which policy analyses. */
export const SQL_KIND_NAMES: readonly KindName[] = KINDS.filter((kind) => "sql" in kind).map((kind) => kind.schema.properties.type.const);
