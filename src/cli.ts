#!/usr/bin/env bun
/**
 * The `invoke` command line. Exit codes: 0 ok, 1 failure (one-line reason on stderr), 2 bad usage.
 */
import { StartupError } from "./errors.ts";
import { logError } from "./log.ts";
import { VERSION } from "./version.ts";
import { CommandFailure, commandHelp, parseCommandArgs, UsageError, type Command } from "./cli/command.ts";

const versionCommand: Command = {
  name: "version",
  summary: "Print the version of invoke.",
  flags: {},
  run() {
    console.log(`invoke ${VERSION}`);
    return 0;
  },
};

/**
 * Every command by name, in help order. A command's module is loaded only when it runs (or for help), so
 * `serve` starts without the other commands' code and libraries (the cold-start target).
 */
const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import("./cli/serve.ts")).serveCommand,
  init: async () => (await import("./cli/init.ts")).initCommand,
  mcp: async () => (await import("./cli/mcp.ts")).mcpCommand,
  smoke: async () => (await import("./cli/smoke.ts")).smokeCommand,
  tenants: async () => (await import("./cli/directory.ts")).tenantsCommand,
  users: async () => (await import("./cli/directory.ts")).usersCommand,
  keys: async () => (await import("./cli/directory.ts")).keysCommand,
  groups: async () => (await import("./cli/groups.ts")).groupsCommand,
  brain: async () => (await import("./cli/brain.ts")).brainCommand,
  policy: async () => (await import("./cli/policy.ts")).policyCommand,
  connectors: async () => (await import("./cli/connectors.ts")).connectorsCommand,
  approvals: async () => (await import("./cli/approvals.ts")).approvalsCommand,
  executions: async () => (await import("./cli/executions.ts")).executionsCommand,
  backup: async () => (await import("./cli/backup.ts")).backupCommand,
  restore: async () => (await import("./cli/backup.ts")).restoreCommand,
  version: async () => versionCommand,
};

/** The command named `name`, or undefined for an unknown name. */
function findCommand(name: string): Promise<Command> | undefined {
  return Object.hasOwn(commands, name) ? commands[name]!() : undefined;
}

async function mainHelp(): Promise<string> {
  const all = await Promise.all(Object.values(commands).map((load) => load()));
  const width = Math.max(...all.map((command) => command.name.length));
  return [
    `invoke ${VERSION}: the governed execution layer between AI agents and production systems.`,
    "",
    "Usage: invoke <command> [options]",
    "",
    "Commands:",
    ...all.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    "",
    "Run 'invoke <command> --help' for a command's options. Every flag also reads an INVOKE_* environment variable.",
  ].join("\n");
}

/** Runs the CLI on `argv` (without the executable) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    // Without a command this is a usage error: help goes to stderr so a script's stdout stays clean.
    if (name === undefined) {
      console.error(await mainHelp());
      return 2;
    }
    console.log(await mainHelp());
    return 0;
  }
  if (name === "--version" || name === "-v") return versionCommand.run({}, []);
  const command = await findCommand(name);
  try {
    if (command === undefined) throw new UsageError(`unknown command "${name}"`);
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help) {
      console.log(commandHelp(command));
      return 0;
    }
    return await command.run(values, positionals);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`invoke: ${error.message}\nRun 'invoke ${command ? `${command.name} ` : ""}--help' for usage.`);
      return 2;
    }
    if (error instanceof CommandFailure || error instanceof StartupError) {
      console.error(`invoke: ${error.message}`);
      return 1;
    }
    logError("unexpected failure", error);
    return 1;
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
