/** `invoke executions …`: verify, list and export a tenant's execution records on the local database. */
import { closeSync, openSync, writeSync } from "node:fs";
import { BadRequest } from "../errors.ts";
import type { ExecutionLedger, ExecutionRecord, RecordFilters } from "../records/ledger.ts";
import { parseRecordFilters } from "../records/model.ts";
import { CommandFailure, UsageError, type Command } from "./command.ts";
import { dbFlag, jsonFlag, output, tenantFlag, withServices } from "./shared.ts";

type Values = Record<string, string | boolean | undefined>;

/** Exported lines are written in chunks of about this many characters. */
const WRITE_CHUNK = 64 * 1024;

/** The filter flags as ledger filters; bad values are usage errors. */
function filtersOf(values: Values): RecordFilters {
  const text = (name: string) => values[name] as string | undefined;
  try {
    return parseRecordFilters({
      tool: text("tool"),
      agent_id: text("agent"),
      decision: text("decision"),
      status: text("status"),
      kind: text("kind"),
      since: text("since"),
      until: text("until"),
      limit: text("limit"),
      cursor: text("cursor"),
    });
  } catch (error) {
    // The messages start with the parameter's name, which is also the flag's.
    if (error instanceof BadRequest) throw new UsageError(`--${error.message}`);
    throw error;
  }
}

/** Runs `work` with the ledger of the local store and the id of the tenant named by `--tenant`. */
function withLedger<T>(values: Values, work: (ledger: ExecutionLedger, tenantId: string) => T | Promise<T>): Promise<T> {
  return withServices(values, (services, scope) => work(services.records, scope.tenantId));
}

function describe(record: ExecutionRecord): string {
  return [String(record.seq).padStart(6), record.at, record.kind.padEnd(18), record.tool, record.decision ?? "-", record.status, `${record.latency_ms}ms`, record.id].join("  ");
}

/** Writes `lines` to the file descriptor, newline-terminated, a chunk at a time. */
function writeLines(fd: number, lines: Iterable<string>): number {
  let count = 0;
  let chunk = "";
  for (const line of lines) {
    chunk += `${line}\n`;
    count++;
    if (chunk.length >= WRITE_CHUNK) {
      writeAll(fd, chunk);
      chunk = "";
    }
  }
  writeAll(fd, chunk);
  return count;
}

/** Writes all of `text`: a write to a pipe may take only part of it. */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset);
}

const SUBCOMMANDS = ["verify", "list", "export"];

export const executionsCommand: Command = {
  name: "executions",
  summary: "Verify, list and export the tamper-evident execution records.",
  args: `<${SUBCOMMANDS.join("|")}>`,
  flags: {
    db: dbFlag,
    tenant: tenantFlag,
    tool: { type: "string", value: "TOOL", help: "Only records of this tool or admin route (list, export)." },
    agent: { type: "string", value: "ID", help: "Only records of this agent (list, export)." },
    decision: { type: "string", value: "DECISION", help: "allow, deny or require_approval (list, export)." },
    status: { type: "string", value: "STATUS", help: "e.g. ok, error, denied (list, export)." },
    kind: { type: "string", value: "KIND", help: "tool_call, approval_vote, approval_execution or admin_mutation (list, export)." },
    since: { type: "string", value: "TIME", help: "Records at or after this time: ISO 8601 or epoch ms (list, export)." },
    until: { type: "string", value: "TIME", help: "Records before this time: ISO 8601 or epoch ms (list, export)." },
    limit: { type: "string", value: "N", help: "Records per page, 1 to 500 (list; default 50)." },
    cursor: { type: "string", value: "CURSOR", help: "The next page, as the previous page printed it (list)." },
    out: { type: "string", value: "FILE", help: "Write the export to FILE instead of stdout (export)." },
    json: jsonFlag,
  },
  details: [
    "  invoke executions verify            recompute the hash chain; exit 1 naming the first broken record",
    "  invoke executions list [filters]    newest first",
    "  invoke executions export [filters] [--out FILE]   JSON Lines, oldest first",
  ].join("\n"),
  run(values, positionals) {
    const [sub] = positionals;
    switch (sub) {
      case "verify":
        return withLedger(values, (ledger, tenantId) => {
          const report = ledger.verify(tenantId);
          if (values.json) {
            console.log(JSON.stringify(report));
            return report.ok ? 0 : 1;
          }
          if (!report.ok) throw new CommandFailure(`the execution record chain is broken: ${report.first_broken!.reason} (${report.records} records)`);
          console.log(`The execution record chain is intact: ${report.records} records verified.`);
          return 0;
        });
      case "list": {
        const filters = filtersOf(values);
        return withLedger(values, (ledger, tenantId) => {
          const page = ledger.list(tenantId, filters);
          return output(values, page, () => {
            const lines = page.records.map(describe);
            if (page.next_cursor) lines.push(`More: --cursor ${page.next_cursor}`);
            return lines.length > 0 ? lines.join("\n") : "No execution records.";
          });
        });
      }
      case "export": {
        const { limit: _limit, cursor: _cursor, ...filters } = filtersOf(values);
        const out = values.out as string | undefined;
        return withLedger(values, (ledger, tenantId) => {
          let fd = 1;
          if (out !== undefined) {
            try {
              fd = openSync(out, "w");
            } catch (error) {
              throw new CommandFailure(`cannot write ${out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
            }
          }
          try {
            const count = writeLines(fd, ledger.exportLines(tenantId, filters));
            if (out !== undefined) console.error(`Exported ${count} execution records to ${out}.`);
          } finally {
            if (fd !== 1) closeSync(fd);
          }
          return 0;
        });
      }
    }
    throw new UsageError(`expected one of: ${SUBCOMMANDS.join(", ")}`);
  },
};
