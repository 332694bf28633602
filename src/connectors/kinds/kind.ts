/**
 * What a connector kind is: everything Invoke knows about one kind of production system, in one
 * module (`kinds/<kind>.ts`) — its configuration (one TypeBox schema, the TypeScript type derived
 * from it), how it is created, how its tools are classified, what policy analysis needs to know about
 * them, what on the host it may touch, and which of its fields are secret. `kinds/index.ts` is the
 * closed list of kinds.
 */
import { Type, type Static, type TLiteral, type TObject, type TProperties } from "@sinclair/typebox";
import type { SqlDialect } from "../../policy/analyzers/sql.ts";
import type { Connector } from "../connector.ts";

/** The default call timeout. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** Properties every kind's configuration shares. */
export const Timeout = Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, description: "How long a call may take, in ms (default 30,000)." }));

/** What creating a connector is given besides its configuration. */
export interface CreateOptions {
  /** Where the connector's log lines go. */
  log: (line: string) => void;
}

/**
 * The checks host access offers a kind (host-access.ts): each refuses (HostAccessDenied) what the
 * connector's origin may not use. `tenant`: the connector was added by a tenant admin over the network.
 */
export interface HostChecks {
  readonly tenant: boolean;
  /** The real path of a file or folder the connector opens (`what` names it in refusals). */
  path(path: string, what: string): string;
  /** A URL the connector reaches. */
  url(url: string): Promise<void>;
  /** The names of the HTTP headers the connector sends with every request to that URL. */
  headers(names: readonly string[]): void;
  /** A command the connector runs, with its arguments and the environment variables it sets. */
  command(command: string, args: readonly string[], env: readonly string[]): void;
  /** Refuses the connector with `message`. */
  refuse(message: string): never;
}

/** A kind's configuration schema: an object whose `type` literal names the kind. */
export type KindSchema = TObject<TProperties & { type: TLiteral<string> }>;

/** One kind of connector: `S` is its configuration's schema, `Spec` the configurations it takes. */
export interface ConnectorKind<S extends KindSchema = KindSchema, Spec = Static<S>> {
  /** The configuration, without the connector's name. */
  readonly schema: S;
  /** Why a configuration the schema accepts still cannot work (a missing field its variant needs), if it cannot. */
  invalid?(spec: Spec): string | undefined;
  /** A new, not yet started connector; its client library is loaded on first use, not at start-up. */
  create(name: string, spec: Spec, options: CreateOptions): Promise<Connector>;
  /** Invoke's classification of a tool, from the configuration alone (never the upstream's hints). */
  isReadOnly(spec: Spec, tool: string): boolean;
  /** For a kind whose tools run SQL: how policy analysis reads it (the dialect, the functions a read may call). */
  sql?(spec: Spec): { dialect: SqlDialect; readFunctions: readonly string[] };
  /**
   * The tools the kind declares itself and that run SQL as written by the agent, writes included:
   * readiness checks the policy denies destructive statements on them.
   */
  readonly sqlWriteTools: readonly string[];
  /**
   * How declared tools become callable: undefined when the kind declares Invoke's own tools (nothing
   * to pin); else the globs over upstream tools enabled (and pinned) when first seen.
   */
  autoEnabledTools?(spec: Spec): string[];
  /** Refuses what the connector may not touch on the host; resolves to the configuration to run (paths made real). */
  checkHost(spec: Spec, checks: HostChecks): Promise<Spec>;
  /** A copy with `map` applied to each secret field (named `url`, `headers.<name>`, `env.<name>`): sealed at rest, redacted everywhere. */
  mapSecrets(spec: Spec, map: (value: string, field: string) => string): Spec;
}

/** Declares a kind, checking it against its own schema's type. */
export const defineKind = <S extends KindSchema>(kind: ConnectorKind<S>): ConnectorKind<S> => kind;

/** A record's values mapped, keyed as before. */
export const mapRecord = (record: Record<string, string>, map: (value: string, key: string) => string) =>
  Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value, key)]));
