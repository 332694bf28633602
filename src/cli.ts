#!/usr/bin/env bun
/**
 * The `invoke` command line. Exit codes: 0 ok, 1 failure (one-line reason on stderr), 2 bad usage.
 */
import { StartupError } from "./errors.ts";
import { logError } from "./log.ts";
import { VERSION } from "./version.ts";
import { CommandFailure, commandHelp, parseCommandArgs, UsageError, type Command } from "./cli/command.ts";
import { approvalsCommand } from "./cli/approvals.ts";
import { backupCommand, restoreCommand } from "./cli/backup.ts";
import { connectorsCommand } from "./cli/connectors.ts";
import { brainCommand } from "./cli/brain.ts";
import { keysCommand, tenantsCommand, usersCommand } from "./cli/directory.ts";
import { executionsCommand } from "./cli/executions.ts";
import { groupsCommand } from "./cli/groups.ts";
import { initCommand } from "./cli/init.ts";
import { mcpCommand } from "./cli/mcp.ts";
import { policyCommand } from "./cli/policy.ts";
import { serveCommand } from "./cli/serve.ts";
import { smokeCommand } from "./cli/smoke.ts";

const versionCommand: Command = {
  name: "version",
  summary: "Print the version of invoke.",
  flags: {},
  run() {
    console.log(`invoke ${VERSION}`);
    return 0;
  },
};

/** Every command, in help order. */
const commands: Command[] = [serveCommand, initCommand, mcpCommand, smokeCommand, tenantsCommand, usersCommand, keysCommand, groupsCommand, brainCommand, policyCommand, connectorsCommand, approvalsCommand, executionsCommand, backupCommand, restoreCommand, versionCommand];

function mainHelp(): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    `invoke ${VERSION}: the governed execution layer between AI agents and production systems.`,
    "",
    "Usage: invoke <command> [options]",
    "",
    "Commands:",
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
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
      console.error(mainHelp());
      return 2;
    }
    console.log(mainHelp());
    return 0;
  }
  if (name === "--version" || name === "-v") return versionCommand.run({}, []);
  const command = commands.find((candidate) => candidate.name === name);
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
