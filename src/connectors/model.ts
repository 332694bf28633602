/**
 * How a connector is configured, in the config file (`connectors:`) and over REST/CLI: the union of
 * every kind's schema (`kinds/`), each closed to anything else, with the connector's name.
 */
import { Type, type Static, type TObject, type TProperties } from "@sinclair/typebox";
import type { ActionTarget } from "../policy/analyzers/index.ts";
import { KINDS } from "./kinds/index.ts";
import type { ConnectorKind, KindSchema } from "./kinds/kind.ts";

const Name = Type.String({ pattern: "^[a-z][a-z0-9_-]{0,62}$", description: "The connector's name: its tools are called `<name>.<tool>`." });

/** Each kind's configuration object with the properties `P` added. */
type Variants<T extends readonly unknown[], P extends TProperties> = { -readonly [I in keyof T]: T[I] extends ConnectorKind<infer S extends KindSchema> ? TObject<P & S["properties"]> : never };

/** Every kind's schema with `extra` properties, closed to anything else. */
function variants<P extends TProperties>(extra: P) {
  const closed = { additionalProperties: false } as const;
  const objects = KINDS.map((kind) => Type.Object({ ...extra, ...kind.schema.properties }, closed));
  return Type.Union(objects as unknown as Variants<typeof KINDS, P>);
}

/** A connector's configuration, without its name. */
export const ConnectorSpec = variants({});
export type ConnectorSpec = Static<typeof ConnectorSpec>;

/** A connector as the config file lists it: named, for a tenant (by name; default `default`). */
export const ConfigConnector = variants({ name: Name, tenant: Type.Optional(Type.String({ minLength: 1 })) });
export type ConfigConnector = Static<typeof ConfigConnector>;

/** A connector as REST and the CLI add it. */
export const NewConnector = variants({ name: Name });
export type NewConnector = Static<typeof NewConnector>;

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
