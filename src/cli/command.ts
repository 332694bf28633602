/**
 * The shape of a CLI command and the one argument parser they share: `node:util` parseArgs, with every
 * flag falling back to an `INVOKE_*` environment variable, `--help` on every command, and usage errors
 * (exit 2) kept apart from failures (exit 1).
 */
import { parseArgs } from "node:util";

/** A flag: its type, environment variable, default and one line of help. */
export interface FlagSpec {
  type: "string" | "boolean";
  env?: string;
  default?: string;
  short?: string;
  help: string;
  /** Shown in help as the value's name, e.g. PATH. */
  value?: string;
}

/** A command of `invoke`. */
export interface Command {
  name: string;
  summary: string;
  /** Positional arguments in help, e.g. "NAME". */
  args?: string;
  flags: Record<string, FlagSpec>;
  /** Extra help text after the flags. */
  details?: string;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number> | number;
}

/** Bad usage: printed with a hint to `--help`, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure with a one-line reason: printed to stderr, exit 1. */
export class CommandFailure extends Error {
  override name = "CommandFailure";
}

/** Parses argv for `command`; flags not given fall back to their environment variable, then their default. */
export function parseCommandArgs(command: Command, argv: string[], env: Record<string, string | undefined> = process.env) {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { help: { type: "boolean", short: "h" } };
  for (const [name, spec] of Object.entries(command.flags)) options[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values: Record<string, string | boolean | undefined> = { ...(parsed.values as Record<string, string | boolean | undefined>) };
  for (const [name, spec] of Object.entries(command.flags)) {
    if (values[name] !== undefined) continue;
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== "") values[name] = spec.type === "boolean" ? !/^(0|false|no|off)$/i.test(fromEnv) : fromEnv;
    else if (spec.default !== undefined) values[name] = spec.default;
  }
  return { values, positionals: parsed.positionals };
}

/** The help text of one command. */
export function commandHelp(command: Command): string {
  const lines = [`Usage: invoke ${command.name}${command.args ? ` ${command.args}` : ""}${Object.keys(command.flags).length ? " [options]" : ""}`, "", command.summary, ""];
  const rows = Object.entries(command.flags).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ""}--${name}${spec.type === "string" ? ` ${spec.value ?? "VALUE"}` : ""}`;
    const notes = [spec.env && `env ${spec.env}`, spec.default !== undefined && `default ${spec.default}`].filter(Boolean).join("; ");
    return [flag, `${spec.help}${notes ? ` (${notes})` : ""}`] as const;
  });
  rows.push(["-h, --help", "Show this help."]);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  lines.push("Options:", ...rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`));
  if (command.details) lines.push("", command.details);
  return lines.join("\n");
}

/** Parses a port number, or throws a usage error. */
export function parsePort(value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = typeof value === "string" && /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`--port must be an integer from 0 to 65535, not "${value}"`);
  return port;
}
