/**
 * How a connector is configured, in the config file (`connectors:`) and over REST/CLI: one TypeBox
 * schema per kind. Invoke classifies tools from this configuration alone: database `query` is
 * read-only, `execute` mutating; an upstream MCP tool is read-only only when `read_only_tools` names it.
 */
import { Type, type Static, type TProperties } from "@sinclair/typebox";

const Name = Type.String({ pattern: "^[a-z][a-z0-9_-]{0,62}$", description: "The connector's name: its tools are called `<name>.<tool>`." });
const Timeout = Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, description: "How long a call may take, in ms (default 30,000)." }));
const ReadOnlyTools = Type.Optional(
  Type.Array(Type.String({ minLength: 1 }), { description: "Globs over the upstream's tool names that Invoke treats as read-only; every other tool is mutating." }),
);
const EnableTools = Type.Optional(
  Type.Array(Type.String({ minLength: 1 }), { description: "Globs over upstream tools to enable (and pin) when first seen; others wait for an admin." }),
);

const stdio = {
  type: Type.Literal("mcp_stdio"),
  command: Type.String({ minLength: 1 }),
  args: Type.Optional(Type.Array(Type.String())),
  env: Type.Optional(Type.Record(Type.String(), Type.String())),
  cwd: Type.Optional(Type.String({ minLength: 1 })),
  timeout_ms: Timeout,
  read_only_tools: ReadOnlyTools,
  enable_tools: EnableTools,
};

const http = {
  type: Type.Literal("mcp_http"),
  url: Type.String({ pattern: "^https?://" }),
  headers: Type.Optional(Type.Record(Type.String(), Type.String(), { description: "The upstream's own credentials; the agent's Invoke key is never forwarded." })),
  timeout_ms: Timeout,
  read_only_tools: ReadOnlyTools,
  enable_tools: EnableTools,
};

const database = {
  type: Type.Literal("database"),
  dialect: Type.Union([Type.Literal("sqlite"), Type.Literal("postgres")]),
  path: Type.Optional(Type.String({ minLength: 1, description: "SQLite: the database file (must exist)." })),
  url: Type.Optional(Type.String({ pattern: "^postgres(ql)?://", description: "PostgreSQL: the connection URL." })),
  max_rows: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  timeout_ms: Timeout,
  read_functions: Type.Optional(
    Type.Array(Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_$.]*$" }), {
      description: "PostgreSQL: functions (beyond Invoke's built-in list of side-effect-free ones) that a read may call, e.g. a schema's own pure functions.",
    }),
  ),
};

/** The three kinds, each with `extra` properties, closed to anything else. */
function kinds<P extends TProperties>(extra: P) {
  const closed = { additionalProperties: false } as const;
  return Type.Union([Type.Object({ ...extra, ...stdio }, closed), Type.Object({ ...extra, ...http }, closed), Type.Object({ ...extra, ...database }, closed)]);
}

/** A connector's configuration, without its name. */
export const ConnectorSpec = kinds({});
export type ConnectorSpec = Static<typeof ConnectorSpec>;

/** A connector as the config file lists it: named, for a tenant (by name; default `default`). */
export const ConfigConnector = kinds({ name: Name, tenant: Type.Optional(Type.String({ minLength: 1 })) });
export type ConfigConnector = Static<typeof ConfigConnector>;

/** A connector as REST and the CLI add it. */
export const NewConnector = kinds({ name: Name });
export type NewConnector = Static<typeof NewConnector>;

/** The default call timeout. */
export const DEFAULT_TIMEOUT_MS = 30_000;
