/**
 * The SQL migrations of `drizzle/`, embedded at build time so the compiled binary carries them.
 * Imports are static on purpose: a computed `import()` path does not survive `bun build --compile`.
 * When `bun run db:generate` adds a migration, add its import here (a test checks the two agree).
 */
import journal from "../../../drizzle/meta/_journal.json";
import m0000 from "../../../drizzle/0000_init.sql" with { type: "text" };
import m0001 from "../../../drizzle/0001_policy_versions.sql" with { type: "text" };
import m0002 from "../../../drizzle/0002_company_brain.sql" with { type: "text" };
import m0003 from "../../../drizzle/0003_company_brain_fts.sql" with { type: "text" };
import m0004 from "../../../drizzle/0004_brain_batch_index.sql" with { type: "text" };
import m0005 from "../../../drizzle/0005_execution_layer.sql" with { type: "text" };
import m0006 from "../../../drizzle/0006_records_without_id_index.sql" with { type: "text" };
import m0007 from "../../../drizzle/0007_execution_rollups.sql" with { type: "text" };
import m0008 from "../../../drizzle/0008_approver_groups.sql" with { type: "text" };
import m0009 from "../../../drizzle/0009_record_checkpoints.sql" with { type: "text" };
import m0010 from "../../../drizzle/0010_user_lifecycle.sql" with { type: "text" };

/** One migration: its drizzle-kit tag and the SQL statements it runs, in order. */
export interface Migration {
  tag: string;
  statements: string[];
}

const sqlByTag: Record<string, string> = {
  "0000_init": m0000,
  "0001_policy_versions": m0001,
  "0002_company_brain": m0002,
  "0003_company_brain_fts": m0003,
  "0004_brain_batch_index": m0004,
  "0005_execution_layer": m0005,
  "0006_records_without_id_index": m0006,
  "0007_execution_rollups": m0007,
  "0008_approver_groups": m0008,
  "0009_record_checkpoints": m0009,
  "0010_user_lifecycle": m0010,
};

/** The journal's tags, for the consistency test. */
export const journalTags: string[] = journal.entries.map((entry) => entry.tag);

/** The embedded migrations in journal order. */
export const migrations: Migration[] = journal.entries.map((entry) => {
  const sql = sqlByTag[entry.tag];
  if (sql === undefined) throw new Error(`migration ${entry.tag} is in drizzle/meta/_journal.json but not embedded in src/storage/sqlite/migrations.ts`);
  return {
    tag: entry.tag,
    statements: sql
      .split("--> statement-breakpoint")
      .map((statement) => statement.trim())
      .filter((statement) => statement.length > 0),
  };
});
