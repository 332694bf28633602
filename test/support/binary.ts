/**
 * The compiled executable, built once per test run (`bun build --compile` with the release's BUILD_ARGS, as `npm run build`)
 * into a temporary folder that holds nothing else and is removed when the run ends. Every test file
 * that spawns the binary shares the one build.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUILD_ARGS } from "../../scripts/release.ts";
import { runProcess } from "./process.ts";

/** How long one build may take (a cold `--compile` on a small CI machine). */
export const BUILD_TIMEOUT_MS = 90_000;

let built: Promise<string> | undefined;

/** The path of the compiled `invoke`, building it on first use. */
export function compiledBinary(): Promise<string> {
  built ??= build();
  return built;
}

async function build(): Promise<string> {
  const folder = mkdtempSync(join(tmpdir(), "invoke-binary-"));
  process.once("exit", () => rmSync(folder, { recursive: true, force: true }));
  const binary = join(folder, "invoke");
  const result = await runProcess(
    [process.execPath, ...BUILD_ARGS, "--outfile", binary],
    { timeoutMs: BUILD_TIMEOUT_MS },
  );
  if (result.exitCode !== 0) throw new Error(`bun build --compile failed (exit ${result.exitCode}):\n${result.stderr}`);
  return binary;
}
