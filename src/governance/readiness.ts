/**
 * Governance readiness: a scored checklist of what a tenant's set-up leaves open, each gap with the
 * exact fix (a REST route with its body, or the `invoke` command). Every check asks the mechanism
 * enforcement uses: the one policy evaluator, the ledger's chain verifier, the access gate's limits,
 * the `Origin` policy, the stored keys, users and tool pins.
 *
 * An item fails when the gap lets through what governance should stop, and warns when the set-up is safe
 * but not deliberate (e.g. an implicit deny) or only partly closed. Score: pass counts 1, warn 0.5,
 * fail 0; the score is their mean × 100, rounded. A check with nothing to look at (e.g. no connector
 * tools) passes, and its detail says so.
 */
import { Type, type Static } from "@sinclair/typebox";
import { kindOf } from "../connectors/model.ts";
import type { ConnectorSpec } from "../connectors/model.ts";
import { originPolicy } from "./origins.ts";
import type { CompiledPolicy } from "../policy/compile.ts";
import type { Effect } from "../policy/model.ts";
import type { ApprovalService } from "../approvals/service.ts";
import type { ServerConfig } from "../config.ts";
import type { ConnectorRepository } from "../connectors/repository.ts";
import type { ConnectorService } from "../connectors/service.ts";
import type { PolicyAsker, PolicyService } from "../policy/service.ts";
import type { ExecutionLedger } from "../records/ledger.ts";
import type { VerifyReport } from "../records/model.ts";
import type { AccessGate } from "./access.ts";
import type { RateLimiter } from "./rate-limit.ts";
import type { DirectoryRepository } from "./repository.ts";
import { toolNameMatcher } from "./authorize.ts";
import { classify, type ProductionTool } from "../tools/model.ts";
import { roleAtLeast, ROLES, type Role } from "./caller.ts";
import { PROFILES, type RateLimit } from "./profiles.ts";
import type { StoredKey, StoredUser } from "./repository.ts";

const Status = Type.Union([Type.Literal("pass"), Type.Literal("warn"), Type.Literal("fail")]);

/** One item of the checklist. */
export const ReadinessItemSchema = Type.Object({
  id: Type.String({ description: "Stable identifier of the check, e.g. four_eyes." }),
  status: Status,
  detail: Type.String({ description: "What was found." }),
  fix: Type.Union([Type.String(), Type.Null()], { description: "Exactly what to do (REST route and body, or the invoke command); null when the item passes." }),
});
export type ReadinessItem = Static<typeof ReadinessItemSchema>;

/** The report. */
export const ReadinessReportSchema = Type.Object({
  score: Type.Integer({ minimum: 0, maximum: 100, description: "pass = 1, warn = 0.5, fail = 0; the mean over the checklist × 100, rounded." }),
  checklist: Type.Array(ReadinessItemSchema),
});
export type ReadinessReport = Static<typeof ReadinessReportSchema>;

const DAY_MS = 86_400_000;
/** A key not used for this long should go. */
const STALE_AFTER_DAYS = 90;
/** Replacement keys are suggested with this lifetime. */
const SUGGESTED_KEY_DAYS = 90;
/** A rate limit admitting more than this many requests a minute (10 a second) is as good as none. */
const MAX_REQUESTS_PER_MINUTE = 600;
/** Statements that must never run through an agent. */
const DESTRUCTIVE_SQL = ["drop table invoices", "truncate table invoices", "delete from invoices"];
/** A rule denying destructive SQL, like the default pack's, as one line of YAML. */
const DENY_DESTRUCTIVE_SQL = "{id: deny-destructive-sql, effect: deny, reason: Destructive SQL never runs through agents., when: [{field: sql.destructive, equals: true}]}";
/** Origins of pages an attacker controls: an allow-list admitting any of them is open. */
const FOREIGN_ORIGINS = ["https://attacker.example", "http://attacker.example", "https://attacker", "null"];
/** How many offenders a detail or fix names before it says how many more there are. */
const NAMED = 5;

/** A key that can still authenticate, with its owner. */
type LiveKey = StoredKey & { email: string; role: Role };

/** What the checks share. */
/** What readiness reads: each room's own answers, never the store. */
export interface ReadinessPorts {
  config: Pick<ServerConfig, "allowedOrigins">;
  now(): number;
  directory: Pick<DirectoryRepository, "listTenants" | "listUsers" | "listKeys">;
  policy: Pick<PolicyService, "active">;
  /** Policy questions as enforcement asks them. */
  calls: PolicyAsker;
  connectors: Pick<ConnectorService, "list" | "sqlWriteActions" | "healthAll">;
  /** The tenant's stored connectors and tool pins. */
  connectorStore: Pick<ConnectorRepository, "list" | "quarantined">;
  approvals: Pick<ApprovalService, "approverRole">;
  records: Pick<ExecutionLedger, "verify" | "toolCallsByKey">;
  gate: Pick<AccessGate, "rateLimitFor">;
  limiter: Pick<RateLimiter, "defaultLimit">;
}

interface Context {
  ports: ReadinessPorts;
  tenantId: string;
  now: number;
  tenantName: string;
  /** The tenant's users that are not removed. */
  users: StoredUser[];
  keys: LiveKey[];
  /** The policy in force, read once: every check judges the same version. */
  active: { version: number; policy: CompiledPolicy };
  /** The tenant's record chain, verified. */
  chain: VerifyReport;
}

const pass = (id: string, detail: string): ReadinessItem => ({ id, status: "pass", detail, fix: null });
const gap = (id: string, status: "warn" | "fail", detail: string, fix: string): ReadinessItem => ({ id, status, detail, fix });

/** `a, b, c` — at most NAMED of them, then how many more. */
function listed(items: string[]): string {
  const shown = items.slice(0, NAMED).join(", ");
  return items.length > NAMED ? `${shown} and ${items.length - NAMED} more` : shown;
}

/** A shell word: as is when safe, single-quoted otherwise. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** An `invoke` command line for this tenant. */
function cli(context: Context, ...words: string[]): string {
  const tenant = context.tenantName === "default" ? [] : ["--tenant", context.tenantName];
  return ["invoke", ...[...words, ...tenant].map(shellWord)].join(" ");
}

/** A REST call as the fix shows it. */
function route(method: string, path: string, body?: unknown): string {
  return body === undefined ? `${method} ${path}` : `${method} ${path} ${JSON.stringify(body)}`;
}

/** `1 key`, `2 keys`. */
const counted = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

const describeKey = (key: LiveKey) => `${key.id} ("${key.name}", ${key.profile}, ${key.email})`;

/** The REST call and command that revoke `key`. */
const revokeKey = (context: Context, key: LiveKey) => `${route("DELETE", `/v1/beta/users/${key.userId}/keys/${key.id}`)} (CLI: ${cli(context, "keys", "revoke", key.id)})`;

/** The REST call and command that issue a key of `profile` for `userId` expiring in SUGGESTED_KEY_DAYS. */
function issueKey(context: Context, userId: string, name: string, profile: string): string {
  const expiresAt = new Date(context.now + SUGGESTED_KEY_DAYS * DAY_MS).toISOString();
  return `${route("POST", `/v1/beta/users/${userId}/keys`, { name, profile, expires_at: expiresAt })} (CLI: ${cli(context, "keys", "create", "--user", userId, "--name", name, "--profile", profile, "--expires-at", expiresAt)})`;
}

/** The steps of a policy change: copy the active policy, make `change` in it, publish it. */
function editPolicy(context: Context, change: string): string {
  const copy = `${cli(context, "policy", "show")} > policy.yaml (REST: GET /v1/policies/active, its "source")`;
  const publish = `${cli(context, "policy", "publish", "policy.yaml")} (REST: ${route("POST", "/v1/policies", { source: "<policy.yaml>", publish: true })})`;
  return `Copy the active policy: ${copy}; in it ${change}; publish it: ${publish}.`;
}

function defaultDecision(context: Context): ReadinessItem {
  const id = "default_deny";
  const { version, policy } = context.active;
  // As compilePolicy resolves them: an unstated default is deny.
  const mutating = policy.document.defaults?.mutating ?? "deny";
  const readOnly = policy.document.defaults?.read_only ?? "deny";
  const found = `Policy version ${version} decides ${mutating} for mutating and ${readOnly} for read-only production tools no rule covers.`;
  if (mutating === "deny" && readOnly === "deny") return pass(id, found);
  const fix = editPolicy(context, "set defaults: {read_only: deny, mutating: deny} and allow what agents need with rules");
  return gap(id, mutating === "deny" ? "warn" : "fail", found, fix);
}

function toolCoverage(context: Context): ReadinessItem {
  const id = "tool_coverage";
  const tools = context.ports.connectors.list(context.tenantId);
  if (tools.length === 0) return pass(id, "No connector tools are configured; there is nothing to cover.");
  const { version, policy } = context.active;
  // A rule without match.action concerns every action of its kinds; one deciding on sql.* facts, only SQL tools.
  const covers = (tool: ProductionTool) =>
    policy.document.rules.some((rule) => {
      const action = rule.match?.action;
      const kinds: readonly string[] = rule.match?.connector_kind ?? [tool.target.kind];
      const readsSql = (rule.when ?? []).some((condition) => condition.field.startsWith("sql."));
      return (action === undefined || toolNameMatcher(Array.isArray(action) ? action : [action])(tool.name)) && kinds.includes(tool.target.kind) && (!readsSql || tool.target.sql !== undefined);
    });
  // The built-in pack's defaults were not chosen by the tenant; a published policy's stated ones were.
  const stated = version > 0 ? (policy.document.defaults ?? {}) : {};
  const uncovered = tools.filter((tool) => !covers(tool) && stated[classify(tool)] === undefined);
  if (uncovered.length === 0) return pass(id, `Every connector tool (${counted(tools.length, "tool")}) is covered by a rule or a stated default of policy version ${version}.`);
  const decisionOf = (readOnly: boolean): Effect => (readOnly ? policy.document.defaults?.read_only : policy.document.defaults?.mutating) ?? "deny";
  const names = uncovered.map((tool) => `${tool.name} (falls to ${decisionOf(tool.readOnly)})`);
  const fix = editPolicy(context, `add rules whose match.action covers ${listed(uncovered.map((tool) => tool.name))}, or state defaults: {read_only: deny, mutating: deny}`);
  const risky = uncovered.some((tool) => decisionOf(tool.readOnly) !== "deny");
  return gap(id, risky ? "fail" : "warn", `No rule of policy version ${version} covers ${listed(names)}, and no default was chosen for them.`, fix);
}

async function destructiveSql(context: Context): Promise<ReadinessItem> {
  const id = "destructive_sql_denied";
  const { ports, tenantId } = context;
  const actions = [...new Set(["database.execute", ...(await ports.connectors.sqlWriteActions(tenantId))])];
  // Every profile with every role that may hold it: a rule may single out any of them.
  const callers = PROFILES.flatMap((profile) => ROLES.filter((role) => roleAtLeast(role, profile.min_role)).map((role) => ({ profile: profile.name, role })));
  const leaks = new Map<string, string[]>();
  let worst: Effect = "deny";
  for (const action of actions) {
    for (const sql of DESTRUCTIVE_SQL) {
      for (const caller of callers) {
        const answer = await ports.calls.ask({ tenantId, ...caller }, { agentId: "readiness_probe", action, params: { sql } }, { offline: true, version: context.active.version });
        if (answer.decision === "deny") continue;
        if (answer.decision === "allow" || worst === "deny") worst = answer.decision;
        const leak = `"${sql}" on ${action} is ${answer.decision}`;
        leaks.set(leak, [...(leaks.get(leak) ?? []), `${caller.profile}/${caller.role}`]);
      }
    }
  }
  const probes = `${DESTRUCTIVE_SQL.length} destructive statements on ${actions.join(", ")}`;
  if (leaks.size === 0) return pass(id, `The policy denies ${probes} for every key profile and role.`);
  const fix = editPolicy(context, `add the rule ${DENY_DESTRUCTIVE_SQL}; deny outranks every allow`);
  const found = [...leaks].map(([leak, callers]) => `${leak} for ${callers.join(", ")}`);
  return gap(id, worst === "allow" ? "fail" : "warn", `Not denied: ${listed(found)}.`, fix);
}

function fourEyes(context: Context): ReadinessItem {
  const id = "four_eyes";
  const approverRole = context.ports.approvals.approverRole;
  const people = context.users.filter((user) => user.disabledAt === null && roleAtLeast(user.role, approverRole));
  const found = `${people.length === 1 ? "1 person has" : `${people.length} people have`} the approver role (${approverRole} or above)${people.length ? `: ${listed(people.map((user) => user.email))}` : ""}.`;
  if (people.length >= 2) return pass(id, found);
  const needed = 2 - people.length;
  const fix = `Add ${needed === 1 ? "a second person" : "two people"} with role ${approverRole}: ${route("POST", "/v1/beta/users", { email: "EMAIL", role: approverRole })} (CLI: ${cli(context, "users", "create", "EMAIL", "--role", approverRole)}), EMAIL being a real person's address.`;
  return gap(id, "fail", `${found} A rule needing two approvers could never be satisfied, and one admin approves alone.`, fix);
}

async function adminKeysOffMcp(context: Context): Promise<ReadinessItem> {
  const id = "admin_keys_not_used_from_mcp";
  const admins = context.keys.filter((key) => key.profile === "admin");
  if (admins.length === 0) return pass(id, "No live admin key exists.");
  // Tool calls are what MCP clients (HTTP or stdio) make; REST and the CLI record admin mutations.
  const used = await context.ports.records.toolCallsByKey(context.tenantId, admins.map((key) => key.id), "admin");
  if (used.length === 0) return pass(id, `No live admin key (${counted(admins.length, "key")}) has made an MCP tool call.`);
  const offenders = used.map((row) => ({ key: admins.find((key) => key.id === row.keyId)!, calls: row.calls, last: row.last ?? 0 }));
  const detail = offenders.map(({ key, calls, last }) => `${describeKey(key)}: ${counted(calls, "MCP tool call")}, last at ${new Date(last).toISOString()}`);
  const fixes = offenders
    .slice(0, NAMED)
    .map(({ key }) => `give that MCP client its own key: ${issueKey(context, key.userId, `${key.name} (MCP)`, "operator")}, then revoke ${key.id}: ${revokeKey(context, key)}`);
  return gap(id, "fail", `Admin keys used from MCP clients: ${listed(detail)}.`, `For each: ${fixes.join("; ")}. Keep admin keys for REST and scripts.`);
}

function keysExpire(context: Context): ReadinessItem {
  const id = "keys_expire";
  if (context.keys.length === 0) return pass(id, "No live key exists.");
  const forever = context.keys.filter((key) => key.expiresAt === null);
  if (forever.length === 0) return pass(id, `Every live key (${counted(context.keys.length, "key")}) expires.`);
  const fixes = forever.slice(0, NAMED).map((key) => `replace ${key.id}: ${issueKey(context, key.userId, key.name, key.profile)}, then ${revokeKey(context, key)}`);
  return gap(id, "fail", `${forever.length} of ${context.keys.length} live keys never expire: ${listed(forever.map(describeKey))}.`, `Issue replacements that expire, hand them out, and revoke the old keys: ${fixes.join("; ")}.`);
}

function staleKeys(context: Context): ReadinessItem {
  const id = "no_stale_keys";
  if (context.keys.length === 0) return pass(id, "No live key exists.");
  const cutoff = context.now - STALE_AFTER_DAYS * DAY_MS;
  const stale = context.keys.filter((key) => (key.lastUsedAt ?? key.createdAt) <= cutoff);
  if (stale.length === 0) return pass(id, `Every live key (${counted(context.keys.length, "key")}) was created or used in the last ${STALE_AFTER_DAYS} days.`);
  const since = (key: LiveKey) => `${describeKey(key)} ${key.lastUsedAt === null ? "never used, created" : "last used"} ${new Date(key.lastUsedAt ?? key.createdAt).toISOString()}`;
  const fixes = stale.slice(0, NAMED).map((key) => revokeKey(context, key));
  return gap(id, "fail", `${counted(stale.length, "live key")} not used for ${STALE_AFTER_DAYS} days: ${listed(stale.map(since))}.`, `Revoke them: ${fixes.join("; ")}.`);
}

function readOnlyKeys(context: Context): ReadinessItem {
  const id = "readonly_keys_exist";
  // The MCP endpoint admits editors and admins only, so a viewer's read-only key serves no assistant.
  const usable = context.keys.filter((key) => key.profile === "mcp_readonly" && roleAtLeast(key.role, "editor"));
  if (usable.length > 0) return pass(id, `${counted(usable.length, "live mcp_readonly key")} for assistants: ${listed(usable.map(describeKey))}.`);
  const fix = `Issue assistants (Claude Desktop, IDEs) an mcp_readonly key for an editor or admin: ${issueKey(context, "USER_ID", "Claude desktop MCP", "mcp_readonly")}, USER_ID being that person's user id (GET /v1/beta/users).`;
  return gap(id, "fail", "No live mcp_readonly key usable on the MCP endpoint exists, so assistants hold keys that may call production tools.", fix);
}

function recordChain(context: Context): ReadinessItem {
  const id = "record_chain";
  const report = context.chain;
  if (report.ok) return pass(id, `The execution record chain verifies: ${counted(report.records, "record")}.`);
  const broken = report.first_broken!;
  const verify = cli(context, "executions", "verify", "--db", "BACKUP");
  const fix = `Records cannot be repaired in place: stop invoke serve, copy over the database file the latest backup on which this exits 0 (CLI: ${verify}), start it again, and find out who could write to the file.`;
  return gap(id, "fail", `The chain breaks at record ${broken.seq}${broken.id ? ` (${broken.id})` : ""}: ${broken.reason}.`, fix);
}

/** The most a limit admits in a minute: the bucket, or its refill when that is faster. */
const perMinute = (limit: RateLimit) => Math.max(limit.requests, (limit.requests * 60) / limit.per_seconds);

function rateLimits(context: Context): ReadinessItem {
  const id = "rate_limits";
  const { gate, limiter } = context.ports;
  const limits: [string, RateLimit][] = [["rate_limit", limiter.defaultLimit], ...PROFILES.map((profile): [string, RateLimit] => [profile.name, gate.rateLimitFor({ profile: profile.name })])];
  const loose = limits.filter(([, limit]) => perMinute(limit) > MAX_REQUESTS_PER_MINUTE);
  const shown = (entries: [string, RateLimit][]) => entries.map(([name, limit]) => `${name} ${limit.requests}/${limit.per_seconds} s`).join(", ");
  if (loose.length === 0) return pass(id, `Every limit admits at most ${MAX_REQUESTS_PER_MINUTE} requests a minute: ${shown(limits)}.`);
  // A profile without a limit of its own shares the server-wide one (the same object): fixing that fixes it.
  const own = loose.filter(([name, limit]) => name === "rate_limit" || limit !== limiter.defaultLimit);
  const lines = own.map(([name]) => (name === "rate_limit" ? "rate_limit: {requests: 60, per_seconds: 60}" : `profile_rate_limits: {${name}: {requests: 60, per_seconds: 60}}`));
  return gap(
    id,
    "fail",
    `Limits above ${MAX_REQUESTS_PER_MINUTE} requests a minute are as good as none: ${shown(loose)}.`,
    `In the config file (invoke serve --config FILE) set ${lines.join(" and ")} (or any limit of at most ${MAX_REQUESTS_PER_MINUTE} a minute), then restart invoke serve.`,
  );
}

function originAllowList(context: Context): ReadinessItem {
  const id = "origin_allow_list";
  const origins = context.ports.config.allowedOrigins;
  const admitsForeign = (patterns: string[]) => FOREIGN_ORIGINS.some((origin) => originPolicy(patterns)(origin));
  if (!admitsForeign(origins)) return pass(id, `The Origin allow-list admits only: ${origins.join(", ")}.`);
  const open = origins.filter((origin) => admitsForeign([origin]));
  const kept = origins.filter((origin) => !open.includes(origin));
  const setting = kept.length === 0 ? "remove allowed_origins (loopback origins are the default) or list your browser clients' exact origins" : `set allowed_origins: ${JSON.stringify(kept)}`;
  return gap(id, "fail", `The Origin allow-list is open: ${open.join(", ")} admit${open.length === 1 ? "s" : ""} any web page.`, `In the config file (invoke serve --config FILE) ${setting}, then restart invoke serve.`);
}

async function toolPinning(context: Context): Promise<ReadinessItem> {
  const id = "tool_pinning";
  const rows = await context.ports.connectorStore.list(context.tenantId);
  const autoEnabled = (config: string) => {
    const spec = JSON.parse(config) as ConnectorSpec;
    return kindOf(spec).autoEnabledTools?.(spec) ?? [];
  };
  const unreviewed = rows.filter((row) => autoEnabled(row.config).some((glob) => /^\*+$/.test(glob)));
  if (unreviewed.length === 0) return pass(id, rows.length === 0 ? "No connectors are configured." : "Every upstream tool is pinned only after an admin enabled it by name or a narrow glob.");
  const fixes = unreviewed.map((row) => {
    const drop =
      row.origin === "config"
        ? `delete enable_tools from connector ${row.name} in the config file and restart invoke serve`
        : `remove connector ${row.name} (${route("DELETE", `/v1/connectors/${row.name}`)}; CLI: ${cli(context, "connectors", "remove", row.name)}) and add it again with the same definition minus enable_tools (POST /v1/connectors; CLI: ${cli(context, "connectors", "add", "--file", `${row.name}.yaml`)})`;
    return `${drop}, then pin each tool of ${row.name} you reviewed: ${route("POST", `/v1/connectors/${row.name}/tools/enable`, { tools: ["TOOL"] })} (CLI: ${cli(context, "connectors", "enable", row.name, "TOOL")})`;
  });
  return gap(id, "warn", `enable_tools "*" pins every tool ${listed(unreviewed.map((row) => row.name))} declares, unreviewed, when first seen.`, `${fixes.join("; ")}.`);
}

async function quarantinedTools(context: Context): Promise<ReadinessItem> {
  const id = "no_quarantined_tools";
  const quarantined = await context.ports.connectorStore.quarantined(context.tenantId);
  if (quarantined.length === 0) return pass(id, "No upstream tool is quarantined.");
  const fixes = quarantined
    .slice(0, NAMED)
    .map(({ connector, tool }) => `review the new definition of ${connector}.${tool} (GET /v1/connectors/${connector}), then approve it: ${route("POST", `/v1/connectors/${connector}/tools/enable`, { tools: [tool] })} (CLI: ${cli(context, "connectors", "enable", connector, tool)})`);
  return gap(
    id,
    "fail",
    `Quarantined because the upstream changed their definition: ${listed(quarantined.map(({ connector, tool }) => `${connector}.${tool}`))}. Agents cannot call them.`,
    `${fixes.join("; ")}. If a change is not trusted, remove its connector instead: ${[...new Set(quarantined.map(({ connector }) => route("DELETE", `/v1/connectors/${connector}`)))].join(", ")}.`,
  );
}

function connectorPrivileges(context: Context): ReadinessItem {
  const id = "connector_privileges";
  const mine = context.ports.connectors.healthAll().filter((item) => item.tenantId === context.tenantId);
  const flagged = mine.filter((item) => item.warnings !== undefined);
  if (flagged.length === 0) return pass(id, mine.length === 0 ? "No connectors are configured." : `No connector (${counted(mine.length, "connector")}) reports a privileged database role.`);
  return gap(
    id,
    "fail",
    `${listed(flagged.map((item) => `${item.name}: ${item.warnings!.join("; ")}`))}. The database cannot refuse what such a role is let through.`,
    `Connect ${listed(flagged.map((item) => item.name))} as a role that is neither a superuser nor the owner of the schema or its tables, granted only what agents need (e.g. GRANT SELECT, INSERT, UPDATE ON the tables), and change the connector's URL (config file, or ${route("DELETE", "/v1/connectors/NAME")} then ${route("POST", "/v1/connectors", { name: "NAME", type: "database", dialect: "postgres", url: "postgres://ROLE@HOST/DB" })}).`,
  );
}

/** The checks, in the order the checklist lists them. */
const CHECKS: ((context: Context) => ReadinessItem | Promise<ReadinessItem>)[] = [
  defaultDecision,
  toolCoverage,
  destructiveSql,
  connectorPrivileges,
  fourEyes,
  adminKeysOffMcp,
  keysExpire,
  staleKeys,
  readOnlyKeys,
  recordChain,
  rateLimits,
  originAllowList,
  toolPinning,
  quarantinedTools,
];

const POINTS = { pass: 1, warn: 0.5, fail: 0 } as const;

/** Runs every check for the tenant and scores the result. Reads only. */
export async function assessReadiness(ports: ReadinessPorts, tenantId: string): Promise<ReadinessReport> {
  const now = ports.now();
  const { directory } = ports;
  const tenantName = (await directory.listTenants()).find((tenant) => tenant.id === tenantId)?.name ?? "default";
  const users = await directory.listUsers(tenantId);
  const owners = new Map(users.map((user) => [user.id, user]));
  // A removed user's keys were revoked with it: every live key's owner is listed.
  const keys = (await directory.listKeys(tenantId))
    .filter((key) => key.revokedAt === null && (key.expiresAt === null || key.expiresAt > now) && owners.has(key.userId))
    .map((key) => ({ ...key, email: owners.get(key.userId)!.email, role: owners.get(key.userId)!.role }));
  const context: Context = { ports, tenantId, now, tenantName, users, keys, active: await ports.policy.active(tenantId), chain: await ports.records.verify(tenantId) };
  const checklist = await Promise.all(CHECKS.map((check) => check(context)));
  const points = checklist.reduce((sum, item) => sum + POINTS[item.status], 0);
  return { score: Math.round((100 * points) / checklist.length), checklist };
}
