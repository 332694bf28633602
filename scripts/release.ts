/**
 * `npm run release`: the single binary for every supported platform, built like `npm run build` (same
 * entrypoints and flags) with `--target`, into dist/release/ with a SHA256SUMS file (`sha256sum -c` format).
 * Bun fetches each target's runtime from the npm registry (`@oven/bun-<os>-<arch>`) on first use and caches it.
 * `bun scripts/release.ts [TARGET…]` builds only the targets named (e.g. linux-arm64).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Release name → Bun compile target. */
export const RELEASE_TARGETS: Record<string, string> = {
  "linux-x64": "bun-linux-x64",
  "linux-arm64": "bun-linux-arm64",
  "linux-x64-musl": "bun-linux-x64-musl",
  "linux-arm64-musl": "bun-linux-arm64-musl",
  "darwin-arm64": "bun-darwin-arm64",
};

const ROOT = join(import.meta.dir, "..");

/**
 * The arguments of `bun build` shared by `npm run build`, the release and the tests' binary: both
 * entrypoints (the CLI and the SQLite worker it embeds) and the flags. `--bytecode` (which needs
 * `--format=esm` for the CLI's top-level await) precompiles every module, so start-up skips parsing;
 * `--compile-jit-policy=16` keeps run-once start-up code out of the JIT until a serving command calls
 * `startupDone()` (src/cli/shared.ts). Both serve the cold-start target.
 */
export const BUILD_ARGS = ["build", "src/cli.ts", "src/connectors/sqlite-worker.ts", "--compile", "--bytecode", "--format=esm", "--compile-jit-policy=16", "--minify", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig"];

/** Builds `names` into `outDir` (emptied first) and writes SHA256SUMS; returns the file names built. */
export async function buildRelease(names: string[], outDir: string, report: (line: string) => void = console.log): Promise<string[]> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const sums: string[] = [];
  for (const name of names) {
    const target = RELEASE_TARGETS[name];
    if (target === undefined) throw new Error(`unknown target ${name}; known: ${Object.keys(RELEASE_TARGETS).join(", ")}`);
    const file = `invoke-${name}`;
    const build = Bun.spawnSync({
      cmd: [process.execPath, ...BUILD_ARGS, `--target=${target}`, "--outfile", join(outDir, file)],
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    if (build.exitCode !== 0) throw new Error(`building ${file} (${target}) failed:\n${build.stderr.toString()}`);
    sums.push(`${createHash("sha256").update(readFileSync(join(outDir, file))).digest("hex")}  ${file}`);
    report(`built ${file} (${target})`);
  }
  writeFileSync(join(outDir, "SHA256SUMS"), `${sums.join("\n")}\n`);
  return names.map((name) => `invoke-${name}`);
}

if (import.meta.main) {
  const names = process.argv.slice(2);
  try {
    await buildRelease(names.length > 0 ? names : Object.keys(RELEASE_TARGETS), join(ROOT, "dist", "release"));
  } catch (error) {
    console.error(`release: ${(error as Error).message}`);
    process.exit(1);
  }
}
