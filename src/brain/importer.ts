/**
 * Reading brain exports: JSON Lines (entities and relations) and CSV (one entity type per file,
 * relations by key columns). A file is validated completely before anything is applied, then applied
 * in one transaction: a bad line is reported with its number and nothing of the file lands.
 */
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { parse as parseCsv } from "csv-parse/sync";
import { BadRequest } from "../errors.ts";
import { EntityInput, RelationInput } from "./model.ts";
import type { BrainService } from "./service.ts";

const checkEntity = TypeCompiler.Compile(EntityInput);
const checkRelation = TypeCompiler.Compile(RelationInput);

/** A CSV relation: the entity of `type` keyed by `column` —`relation`→ the row's entity. */
export interface CsvRelation {
  column: string;
  type: string;
  relation: string;
}

/** What a file holds once read. */
export interface ParsedExport {
  entities: EntityInput[];
  relations: RelationInput[];
  skipped: { line: number; reason: string }[];
}

/** The problems of a file that was refused, each with its line. */
export class ImportRefused extends BadRequest {
  constructor(
    file: string,
    readonly problems: { line: number; message: string }[],
  ) {
    super(`${file}: ${problems.length} bad line${problems.length === 1 ? "" : "s"}, nothing imported: ${problems.slice(0, 5).map((problem) => `${problem.line ? `line ${problem.line}: ` : ""}${problem.message}`).join("; ")}`, { problems }, "import_refused");
  }
}

/** Adds an entity; an earlier line with the same type and key is reported as superseded (the later one wins). */
function addEntity(parsed: ParsedExport, lines: Map<string, number>, entity: EntityInput, line: number) {
  const id = `${entity.type}\u0000${entity.key}`;
  const earlier = lines.get(id);
  if (earlier !== undefined) parsed.skipped.push({ line: earlier, reason: `superseded by line ${line} (same type and key)` });
  lines.set(id, line);
  parsed.entities.push(entity);
}

function firstError(check: typeof checkEntity | typeof checkRelation, value: unknown): string {
  const error = check.Errors(value).First();
  return error ? `${error.path || "/"}: ${error.message}` : "invalid";
}

/** Parses JSON Lines: `{"type","key","name","attributes"?}` entities and `{"from","relation","to"}` relations; blank lines are skipped. */
export function parseJsonLines(text: string, file: string): ParsedExport {
  const parsed: ParsedExport = { entities: [], relations: [], skipped: [] };
  const entityLines = new Map<string, number>();
  const problems: { line: number; message: string }[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      problems.push({ line, message: "not valid JSON" });
      return;
    }
    if (value !== null && typeof value === "object" && "relation" in value) {
      if (checkRelation.Check(value)) parsed.relations.push(value);
      else problems.push({ line, message: `relation ${firstError(checkRelation, value)}` });
    } else if (checkEntity.Check(value)) {
      addEntity(parsed, entityLines, value, line);
    } else {
      problems.push({ line, message: `entity ${firstError(checkEntity, value)}` });
    }
  });
  if (problems.length > 0) throw new ImportRefused(file, problems);
  return parsed;
}

/** Parses a CSV of one entity type: columns `key` and `name`, the rest become attributes (empty cells are left out). */
export function parseCsvExport(text: string, file: string, type: string, relations: CsvRelation[] = []): ParsedExport {
  let rows: Record<string, string>[];
  try {
    rows = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
  } catch (error) {
    const line = (error as { lines?: number }).lines ?? 0;
    throw new ImportRefused(file, [{ line, message: (error as Error).message.split("\n")[0]! }]);
  }
  const parsed: ParsedExport = { entities: [], relations: [], skipped: [] };
  const entityLines = new Map<string, number>();
  const problems: { line: number; message: string }[] = [];
  const linkColumns = new Set(relations.map((relation) => relation.column));
  rows.forEach((row, index) => {
    const line = index + 2; // the header is line 1
    const attributes = Object.fromEntries(Object.entries(row).filter(([column, value]) => column !== "key" && column !== "name" && !linkColumns.has(column) && value !== ""));
    const entity = { type, key: row.key ?? "", name: row.name ?? "", attributes };
    if (!checkEntity.Check(entity)) {
      problems.push({ line, message: firstError(checkEntity, entity) });
      return;
    }
    addEntity(parsed, entityLines, entity, line);
    for (const relation of relations) {
      const key = row[relation.column];
      if (key === undefined) problems.push({ line, message: `no column ${relation.column}` });
      else if (key === "") parsed.skipped.push({ line, reason: `empty ${relation.column}: no ${relation.relation} relation` });
      else parsed.relations.push({ from: { type: relation.type, key }, relation: relation.relation, to: { type, key: entity.key } });
    }
  });
  if (problems.length > 0) throw new ImportRefused(file, problems);
  return parsed;
}

/** Applies a parsed file in one transaction (see BrainService.write); a missing entity refuses the whole file. */
export async function applyExport(brain: BrainService, tenantId: string, parsed: ParsedExport, file: string, onProgress?: (done: number, total: number) => void) {
  try {
    return { ...(await brain.write(tenantId, parsed, onProgress)), skipped: parsed.skipped };
  } catch (error) {
    if (error instanceof BadRequest) throw new ImportRefused(file, [{ line: 0, message: error.message }]);
    throw error;
  }
}
