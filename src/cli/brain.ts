/** `invoke brain import FILE`: load a JSON Lines or CSV export into a tenant's company brain, all or nothing per file. */
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { applyExport, ImportRefused, parseCsvExport, parseJsonLines, type CsvRelation } from "../brain/importer.ts";
import { CommandFailure, UsageError, type Command } from "./command.ts";
import { dbFlag, jsonFlag, output, recordedChange, tenantFlag, withServices } from "./shared.ts";

function parseRelations(spec: string | undefined): CsvRelation[] {
  if (!spec) return [];
  return spec.split(",").map((part) => {
    const match = /^([^=]+)=([a-z][a-z0-9_]*):([a-z][a-z0-9_]*)$/.exec(part.trim());
    if (!match) throw new UsageError(`--relations entries look like COLUMN=TYPE:RELATION, not "${part}"`);
    return { column: match[1]!, type: match[2]!, relation: match[3]! };
  });
}

/** A progress line on a terminal's stderr, nothing elsewhere. */
function progress(file: string): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (done, total) => {
    const width = 30;
    const filled = Math.round((done / Math.max(total, 1)) * width);
    process.stderr.write(`\r${file} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done.toLocaleString("en")}/${total.toLocaleString("en")}${done === total ? "\n" : ""}`);
  };
}

export const brainCommand: Command = {
  name: "brain",
  summary: "Import company data (JSON Lines or CSV) into a tenant's company brain.",
  args: "import FILE",
  flags: {
    db: dbFlag,
    tenant: tenantFlag,
    type: { type: "string", value: "TYPE", help: "The entity type of a CSV file's rows (CSV only)." },
    relations: { type: "string", value: "SPEC", help: "CSV key columns as relations: COLUMN=TYPE:RELATION[,…]; the entity of TYPE with that key —RELATION→ the row." },
    json: jsonFlag,
  },
  details: [
    'JSON Lines: one object per line, {"type","key","name","attributes"?} for an entity or {"from":{"type","key"},"relation","to":{"type","key"}} for a relation.',
    "CSV: a header with key and name; other columns become attributes. Example: invoices.csv --type invoice --relations customer_key=customer:billed_by.",
    "Re-importing the same file changes nothing. A bad line refuses the whole file (exit 1) and names its line.",
  ].join("\n"),
  run(values, positionals) {
    const [sub, file] = positionals;
    if (sub !== "import" || !file) throw new UsageError("usage: invoke brain import FILE");
    const isCsv = extname(file).toLowerCase() === ".csv";
    if (isCsv && !values.type) throw new UsageError("a CSV file needs --type (one entity type per file)");
    const relations = parseRelations(values.relations as string | undefined);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new CommandFailure(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    return withServices(
      values,
      async (services, scope) => {
        const parsed = isCsv ? parseCsvExport(text, file, values.type as string, relations) : parseJsonLines(text, file);
        const started = performance.now();
        // Recorded as an admin change, as a change of the brain over REST is.
        const change = { client: "invoke brain (cli)", route: "invoke brain import", params: { file, type: values.type ?? null }, body: null };
        const summary = await recordedChange(services, scope, change, () => applyExport(services.brain, scope.tenantId, parsed, file, progress(file)));
        const seconds = (performance.now() - started) / 1000;
        const report = { file, ...summary, seconds: Math.round(seconds * 1000) / 1000 };
        const { entities, relations: added, skipped } = summary;
        return output(values, report, () =>
          [
            `${file}: ${entities.inserted} inserted, ${entities.updated} updated, ${entities.unchanged} unchanged entities; ${added.added} new relations; ${skipped.length} skipped (${seconds.toFixed(2)} s).`,
            ...skipped.slice(0, 20).map((skip) => `  skipped line ${skip.line}: ${skip.reason}`),
          ].join("\n"),
        );
      },
      (error) => (error instanceof ImportRefused ? new CommandFailure(error.message) : error),
    );
  },
};
