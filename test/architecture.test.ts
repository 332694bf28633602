/**
 * The rooms keep to themselves: no import circle anywhere in src/ (type imports included: a circle
 * of types is still code nobody can read one part of alone), and Invoke's own store is reached only
 * through the repositories — `bun:sqlite`, drizzle and the SQLite schema are imported by the SQLite
 * store's folder alone (and by the connectors that open tenants' own database files).
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(import.meta.dir, "../src");

/** Every TypeScript file under src/, relative to it. */
function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [relative(SRC, path)] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)"|(?:^|\n)\s*import\s+"([^"]+)"/g;

/** The modules a file imports statically (`import`, `export … from`), as written. */
function importsOf(file: string): string[] {
  return [...readFileSync(join(SRC, file), "utf8").matchAll(IMPORT)].map((match) => match[1] ?? match[2]!);
}

/** A relative specifier as a path under src/; undefined for packages. */
function local(file: string, specifier: string): string | undefined {
  return specifier.startsWith(".") ? relative(SRC, resolve(SRC, dirname(file), specifier)) : undefined;
}

/** Strongly connected components of more than one file (Tarjan). */
function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (file: string) => {
    index.set(file, next);
    low.set(file, next++);
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) low.set(file, Math.min(low.get(file)!, index.get(target)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1) found.push(component.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

const files = sourceFiles();
const graph = new Map(files.map((file) => [file, importsOf(file).flatMap((specifier) => local(file, specifier) ?? [])]));

describe("architecture", () => {
  test("the import graph finds every file's imports (the check below can fail)", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(graph.get("services.ts")).toContain("execution/calls.ts");
    // A planted circle is found.
    expect(circles(new Map([["a.ts", ["b.ts"]], ["b.ts", ["c.ts"]], ["c.ts", ["a.ts"]], ["d.ts", ["a.ts"]]]))).toEqual([["a.ts", "b.ts", "c.ts"]]);
  });

  test("no import circle in src/, type imports included", () => {
    expect(circles(graph)).toEqual([]);
  });

  test("only the SQLite store's folder imports bun:sqlite, drizzle or the store's schema", () => {
    // Connectors open tenants' own database files (the database connector's engine): not Invoke's store.
    const tenantDatabases = new Set(["connectors/sqlite-engine.ts", "connectors/sqlite-worker.ts", "connectors/demo-database.ts"]);
    const offenders = files.flatMap((file) => {
      if (file.startsWith("storage/sqlite/")) return [];
      return importsOf(file)
        .filter((specifier) => {
          const path = local(file, specifier);
          if (specifier === "bun:sqlite") return !tenantDatabases.has(file);
          return specifier.startsWith("drizzle-orm") || path === "storage/sqlite/schema.ts";
        })
        .map((specifier) => `${file} imports ${specifier}`);
    });
    expect(offenders).toEqual([]);
  });

  test("rooms reach the store through their repositories: only the composition root and the command line open it", () => {
    const composition = (file: string) => file === "services.ts" || file === "background.ts" || file.startsWith("cli/") || file === "cli.ts" || file.startsWith("storage/");
    const offenders = files.flatMap((file) =>
      composition(file)
        ? []
        : importsOf(file)
            .filter((specifier) => local(file, specifier)?.startsWith("storage/sqlite/"))
            .map((specifier) => `${file} imports ${specifier}`),
    );
    expect(offenders).toEqual([]);
  });
});
