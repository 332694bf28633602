/**
 * The `database` kind: a SQLite file or a PostgreSQL server behind Invoke's own two tools, `query`
 * (read-only) and `execute` (mutating). Policy analyses their SQL in the connector's dialect.
 */
import { Type, type Static } from "@sinclair/typebox";
import { defineKind, Timeout, type HostChecks } from "./kind.ts";

const DatabaseSpec = Type.Object({
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
});
/** How a `database` connector is configured. */
export type DatabaseSpec = Static<typeof DatabaseSpec>;

/** Connection options a tenant's PostgreSQL URL may carry: none of them can point the connection elsewhere. */
const SAFE_POSTGRES_OPTIONS = new Set(["sslmode", "connect_timeout", "application_name"]);

export const database = defineKind({
  schema: DatabaseSpec,
  invalid: (spec) => (spec.dialect === "sqlite" ? (spec.path ? undefined : "a sqlite database connector needs path") : spec.url ? undefined : "a postgres database connector needs url"),
  async create(name, spec) {
    const { DatabaseConnector } = await import("../database.ts");
    return new DatabaseConnector(name, spec);
  },
  isReadOnly: (_spec, tool) => tool === "query",
  sql: (spec) => ({ dialect: spec.dialect === "postgres" ? "postgresql" : "sqlite", readFunctions: spec.read_functions ?? [] }),
  sqlWriteTools: ["execute"],
  async checkHost(spec, checks) {
    if (spec.dialect === "postgres") {
      if (checks.tenant && spec.url !== undefined) {
        checkPostgresOptions(spec.url, checks);
        await checks.url(spec.url);
      }
      return spec;
    }
    return spec.path === undefined ? spec : { ...spec, path: checks.path(spec.path, "SQLite database") };
  },
  // The URL whole: a password or token may sit in its userinfo or query.
  mapSecrets: (spec, map) => (spec.url === undefined ? spec : { ...spec, url: map(spec.url, "url") }),
});

/** Refuses query options (`host=`, `hostaddr=`, `port=`, `sslrootcert=` …) that would take the client to another address or host file than the URL names. */
function checkPostgresOptions(text: string, checks: HostChecks): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    checks.refuse("the connector's URL is not a valid URL");
  }
  const refused = [...url.searchParams.keys()].filter((name) => !SAFE_POSTGRES_OPTIONS.has(name.toLowerCase()));
  if (refused.length > 0) checks.refuse(`PostgreSQL URL options ${refused.join(", ")} are not allowed in a connector added by a tenant (only ${[...SAFE_POSTGRES_OPTIONS].join(", ")})`);
  // A host list (`h1,h2`) or an empty host would reach other servers than the one checked.
  if (url.hostname === "" || url.host.includes(",")) checks.refuse("a tenant's PostgreSQL URL names exactly one host");
}
