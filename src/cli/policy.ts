/** `invoke policy …`: check, draft, publish, list, show, diff, roll back, simulate and backtest policies on the local database. */
import { readFileSync } from "node:fs";
import { isRole } from "../governance/caller.ts";
import { findProfile } from "../governance/profiles.ts";
import { runBacktest, targetOf } from "../policy/ask.ts";
import { compilePolicy, formatIssue, PolicyInvalid } from "../policy/compile.ts";
import type { PolicyService } from "../policy/service.ts";
import type { Services } from "../services.ts";
import type { TenantScope } from "../storage/sqlite/tenant-scope.ts";
import { CommandFailure, UsageError, type Command } from "./command.ts";
import { dbFlag, jsonFlag, output, recordedChange, tenantFlag, withServices } from "./shared.ts";

type Values = Record<string, string | boolean | undefined>;

function readSource(path: string | undefined): string {
  if (!path) throw new UsageError("a policy FILE is needed");
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new CommandFailure(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function versionFlag(values: Values, name = "version"): number | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^\d+$/.test(value)) throw new UsageError(`--${name} must be a version number`);
  return Number(value);
}

/** Runs `work` with the local services on the tenant named by `--tenant`; an invalid policy lists its problems. */
function withPolicy<T>(values: Values, work: (policy: PolicyService, scope: TenantScope, services: Services) => T | Promise<T>): Promise<T> {
  return withServices(values, (services, scope) => work(services.policy, scope, services), describePolicyError);
}

/** Lists every problem of an invalid policy, one per line. */
function describePolicyError(error: unknown): unknown {
  if (error instanceof PolicyInvalid) return new CommandFailure(`the policy is invalid:\n${error.issues.map((issue) => `  ${formatIssue(issue)}`).join("\n")}`);
  return error;
}

const SUBCOMMANDS = ["check", "draft", "publish", "list", "show", "diff", "rollback", "simulate", "backtest"];

export const policyCommand: Command = {
  name: "policy",
  summary: "Check, publish, roll back, diff, simulate and backtest policies.",
  args: `<${SUBCOMMANDS.join("|")}> …`,
  flags: {
    db: dbFlag,
    tenant: tenantFlag,
    comment: { type: "string", value: "TEXT", help: "Why (draft, publish)." },
    version: { type: "string", value: "N", help: "A policy version (show, simulate, backtest); 0 is the built-in default pack." },
    to: { type: "string", value: "N", help: "The version to roll back to (default: the previously active one)." },
    agent: { type: "string", value: "ID", help: "The agent id (simulate)." },
    action: { type: "string", value: "TOOL", help: "The action, e.g. database.execute (simulate)." },
    params: { type: "string", value: "JSON", help: "The action's arguments as JSON (simulate; default {})." },
    profile: { type: "string", value: "PROFILE", default: "operator", help: "The caller's key profile to assume (simulate)." },
    role: { type: "string", value: "ROLE", default: "editor", help: "The caller's role to assume (simulate)." },
    classification: { type: "string", value: "KIND", default: "mutating", help: "read_only or mutating: Invoke's classification of the tool (simulate)." },
    days: { type: "string", value: "N", default: "7", help: "How many days of recorded actions to replay (backtest)." },
    json: jsonFlag,
  },
  details: [
    "  invoke policy check FILE            validate a policy file (exit 1 listing every problem)",
    "  invoke policy draft FILE            store a draft; simulate against it with --version",
    "  invoke policy publish FILE          store and activate a policy",
    "  invoke policy list | show [--version N] | diff FROM [TO]",
    "  invoke policy rollback [--to N]     re-activate an earlier version (as a new version)",
    "  invoke policy simulate --agent A --action X --params JSON [--version N]",
    "  invoke policy backtest [FILE] [--version N] [--days 7]",
  ].join("\n"),
  run(values, positionals) {
    const [sub, ...rest] = positionals;
    if (sub === undefined || !SUBCOMMANDS.includes(sub)) throw new UsageError(`expected one of: ${SUBCOMMANDS.join(", ")}`);
    const options = { comment: values.comment as string | undefined, by: "cli", file: rest[0] };
    switch (sub) {
      case "check": {
        const source = readSource(rest[0]);
        try {
          const policy = compilePolicy(source, rest[0]);
          return output(values, { valid: true, rules: policy.document.rules.length }, `${rest[0]}: valid, ${policy.document.rules.length} rules.`);
        } catch (error) {
          throw describePolicyError(error);
        }
      }
      case "draft":
      case "publish": {
        const source = readSource(rest[0]);
        return withPolicy(values, async (policy, scope, services) => {
          const version = await recordedChange(services, scope, { client: "invoke policy (cli)", route: "POST /v1/policies", params: {}, body: { source, comment: options.comment, publish: sub === "publish" } }, () =>
            sub === "draft" ? policy.createDraft(scope, source, options) : policy.publishSource(scope, source, options),
          );
          return output(values, version, `${sub === "draft" ? "Stored draft" : "Published"} policy version ${version.version} (${version.rules} rules).`);
        });
      }
      case "list":
        return withPolicy(values, (policy, scope) => {
          const versions = policy.list(scope);
          return output(values, { versions }, versions.map((version) => `${String(version.version).padStart(4)}  ${version.status.padEnd(10)}  ${String(version.rules).padStart(4)} rules  ${version.published_at ?? version.created_at ?? ""}  ${version.comment ?? ""}`.trimEnd()).join("\n"));
        });
      case "show":
        return withPolicy(values, (policy, scope) => {
          const version = policy.get(scope, versionFlag(values) ?? policy.active(scope).version);
          return output(values, version, version.source.trimEnd());
        });
      case "diff": {
        if (rest[0] === undefined || !/^\d+$/.test(rest[0]) || (rest[1] !== undefined && !/^\d+$/.test(rest[1]))) throw new UsageError("diff needs FROM [TO] version numbers");
        return withPolicy(values, (policy, scope) => {
          const to = rest[1] === undefined ? policy.active(scope).version : Number(rest[1]);
          const diff = policy.diff(scope, Number(rest[0]), to);
          return output(values, { from: Number(rest[0]), to, diff }, diff.trimEnd());
        });
      }
      case "rollback":
        return withPolicy(values, async (policy, scope, services) => {
          const to = versionFlag(values, "to");
          const version = await recordedChange(services, scope, { client: "invoke policy (cli)", route: "POST /v1/policies/rollback", params: {}, body: { to } }, () => policy.rollback(scope, { to, by: "cli" }));
          return output(values, version, `Published policy version ${version.version} (${version.comment}).`);
        });
      case "simulate": {
        if (!values.agent || !values.action) throw new UsageError("simulate needs --agent and --action");
        let params: unknown;
        try {
          params = JSON.parse((values.params as string | undefined) ?? "{}");
        } catch {
          throw new UsageError("--params must be a JSON object");
        }
        if (typeof params !== "object" || params === null || Array.isArray(params)) throw new UsageError("--params must be a JSON object");
        const { profile, role, classification } = values as Record<string, string>;
        if (!findProfile(profile!)) throw new UsageError(`unknown --profile ${profile}`);
        if (!isRole(role)) throw new UsageError(`--role must be viewer, editor or admin`);
        if (classification !== "read_only" && classification !== "mutating") throw new UsageError("--classification must be read_only or mutating");
        return withPolicy(values, (policy, scope, services) => {
          const action = values.action as string;
          const target = targetOf(services, scope.tenantId, action);
          const answer = policy.evaluate(scope, { agentId: values.agent as string, action, params: params as Record<string, unknown>, profile: profile!, role, classification, target }, versionFlag(values));
          const rules = answer.matched_rules.map((rule) => `  ${rule.effect.padEnd(16)} ${rule.id}: ${rule.reason}`).join("\n");
          return output(values, answer, `${answer.decision} (policy version ${answer.policy_version})\n${rules || `  ${answer.reasons.join(" ")}`}`);
        });
      }
      case "backtest": {
        const days = Number(values.days);
        if (!Number.isInteger(days) || days < 1) throw new UsageError("--days must be a positive whole number");
        const source = rest[0] === undefined ? undefined : readSource(rest[0]);
        return withPolicy(values, async (_policy, scope, services) => {
          const report = await runBacktest(services, scope, { source, file: rest[0], version: versionFlag(values) }, days);
          const lines = [`Replayed ${report.actions} recorded actions of the last ${days} days: ${report.changed} decisions would change.`];
          for (const [change, count] of Object.entries(report.by_change)) lines.push(`  ${change}: ${count}`);
          return output(values, report, lines.join("\n"));
        });
      }
    }
    throw new UsageError(`expected one of: ${SUBCOMMANDS.join(", ")}`);
  },
};
