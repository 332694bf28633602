/**
 * `invoke executions …`: verify every tenant's execution records against their signed checkpoints, list
 * and export them on the local database, verify a signed export offline, print the public key.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import type { ServerConfig } from "../config.ts";
import { BadRequest } from "../errors.ts";
import { tenantIdByName } from "../governance/directory.ts";
import { sqliteRepositories } from "../storage/sqlite/index.ts";
import { loadInstanceKeys } from "../governance/key-file.ts";
import { auditExport, auditStore, newestCheckpoint, signedExportLines, type StoreAudit } from "../records/audit.ts";
import { checkpointFilePath } from "../records/checkpoints.ts";
import { ExecutionLedger, type ExecutionRecord, type RecordFilters } from "../records/ledger.ts";
import { parseRecordFilters } from "../records/model.ts";
import type { Store } from "../storage/sqlite/db.ts";
import { CommandFailure, UsageError, type Command } from "./command.ts";
import { configFlag, dbFlag, jsonFlag, loadConfig, output, tenantFlag, withServices, withStore } from "./shared.ts";

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

/** Runs `work` with the ledger of the local store and the id of the tenant named by `--tenant` (default `default`). */
function withLedger<T>(values: Values, work: (ledger: ExecutionLedger, tenantId: string) => T | Promise<T>): Promise<T> {
  return withServices({ ...values, tenant: values.tenant ?? "default" }, (services, { tenantId }) => work(services.records, tenantId));
}

/** Runs `work` on the local store named by the config and flags, with its ledger. */
async function withConfiguredStore<T>(values: Values, work: (config: ServerConfig, store: Store, ledger: ExecutionLedger, dbPath: string) => T | Promise<T>): Promise<T> {
  const config = await loadConfig(values);
  return withStore({ ...values, db: config.db }, (store, path) => work(config, store, new ExecutionLedger(sqliteRepositories(store).records), path));
}

/** The key that verifies checkpoints: `--public-key FILE`, else the key file's when it exists (never created here). */
function verifyingKey(values: Values, keyFile: string | undefined): KeyObject | undefined {
  const file = values["public-key"] as string | undefined;
  if (file !== undefined) return readPublicKey(file);
  if (keyFile !== undefined && existsSync(keyFile)) return createPublicKey(loadInstanceKeys(keyFile).publicKeyPem);
  return undefined;
}

function readPublicKey(file: string): KeyObject {
  try {
    return createPublicKey(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CommandFailure(`cannot read the public key ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** `verify`: every tenant (or `--tenant`) against the checkpoints; one line per problem on stderr, exit 1. */
function verifyStoreCommand(values: Values): Promise<number> {
  return withConfiguredStore(values, async (config, store, records, dbPath) => {
    const publicKey = verifyingKey(values, config.keyFile);
    const checkpointPath = (values.checkpoints as string | undefined) ?? checkpointFilePath(config.checkpoints, dbPath);
    if (!publicKey && existsSync(checkpointPath)) {
      throw new UsageError(`the checkpoints in ${checkpointPath} need the key to be checked, and there is no key file at ${config.keyFile}: give the server's --config or --public-key FILE`);
    }
    const { directory } = sqliteRepositories(store);
    const report = await auditStore({
      records,
      directory,
      checkpointPath,
      publicKey,
      tenantIds: values.tenant === undefined ? undefined : [await tenantIdByName(directory, values.tenant as string)],
    });
    if (values.json) {
      console.log(JSON.stringify({ ...report, public_key: publicKey?.export({ type: "spki", format: "pem" }).toString() ?? null }));
      return report.ok ? 0 : 1;
    }
    if (!report.ok) {
      for (const problem of report.problems) console.error(`invoke: ${problem}`);
      return 1;
    }
    console.log(describeIntact(report));
    return 0;
  });
}

function describeIntact(report: StoreAudit): string {
  const count = report.tenants.length;
  const lines = [`The execution records are intact: ${report.records} records in ${count} tenant${count === 1 ? "" : "s"} verified.`];
  for (const tenant of report.tenants) {
    const checkpoint = tenant.checkpoint ? `checkpointed up to seq ${tenant.checkpoint.seq} at ${tenant.checkpoint.at}` : "no checkpoint yet";
    lines.push(`  tenant ${tenant.tenant}: ${tenant.records} records, ${checkpoint}`);
  }
  return lines.join("\n");
}

/** `verify --export FILE --public-key KEY`: the export alone, no database, no key file. */
function verifyExportCommand(values: Values): number {
  const file = values.export as string;
  const keyFile = values["public-key"] as string | undefined;
  if (keyFile === undefined) throw new UsageError("--export needs --public-key FILE (print it with 'invoke executions public-key')");
  const publicKey = readPublicKey(keyFile);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CommandFailure(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const report = auditExport(text.split("\n"), publicKey);
  if (values.json) {
    console.log(JSON.stringify(report));
    return report.ok ? 0 : 1;
  }
  if (!report.ok) {
    for (const problem of report.problems) console.error(`invoke: ${problem}`);
    return 1;
  }
  console.log(`The export is intact: ${report.records} records of tenant ${report.tenant}, up to its signed head.`);
  return 0;
}

/** `export`: JSON Lines; without filters the whole chain and a signed head line (see `signedExportLines`). */
function exportCommand(values: Values): Promise<number> {
  const { limit: _limit, cursor: _cursor, ...filters } = filtersOf(values);
  const out = values.out as string | undefined;
  const tenantName = (values.tenant as string | undefined) ?? "default";
  return withConfiguredStore(values, async (config, store, ledger, dbPath) => {
    const tenantId = await tenantIdByName(sqliteRepositories(store).directory, tenantName);
    let lines: AsyncIterable<string>;
    if (Object.keys(filters).length > 0) lines = ledger.exportLines(tenantId, filters);
    else {
      const keys = loadInstanceKeys(config.keyFile!);
      const checkpoint = newestCheckpoint(checkpointFilePath(config.checkpoints, dbPath), createPublicKey(keys.publicKeyPem), tenantId);
      lines = signedExportLines(ledger, { id: tenantId, name: tenantName }, keys, checkpoint, Date.now);
    }
    let fd = 1;
    if (out !== undefined) {
      try {
        fd = openSync(out, "w");
      } catch (error) {
        throw new CommandFailure(`cannot write ${out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    }
    try {
      const count = await writeLines(fd, lines);
      if (out !== undefined) console.error(`Exported ${Object.keys(filters).length > 0 ? count : count - 1} execution records to ${out}.`);
    } finally {
      if (fd !== 1) closeSync(fd);
    }
    return 0;
  });
}

/** `public-key`: the PEM that verifies checkpoints and signed exports. */
async function publicKeyCommand(values: Values): Promise<number> {
  const config = await loadConfig(values);
  if (config.keyFile === undefined || !existsSync(config.keyFile)) throw new CommandFailure(`no key file at ${config.keyFile}: it is created when Invoke first serves`);
  process.stdout.write(loadInstanceKeys(config.keyFile).publicKeyPem);
  return 0;
}

function describe(record: ExecutionRecord): string {
  return [String(record.seq).padStart(6), record.at, record.kind.padEnd(18), record.tool, record.decision ?? "-", record.status, `${record.latency_ms}ms`, record.id].join("  ");
}

/** Writes `lines` to the file descriptor, newline-terminated, a chunk at a time. */
async function writeLines(fd: number, lines: AsyncIterable<string>): Promise<number> {
  let count = 0;
  let chunk = "";
  for await (const line of lines) {
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

const SUBCOMMANDS = ["verify", "list", "export", "public-key"];

export const executionsCommand: Command = {
  name: "executions",
  summary: "Verify, list and export the tamper-evident execution records; print the key that verifies them.",
  args: `<${SUBCOMMANDS.join("|")}>`,
  flags: {
    db: dbFlag,
    config: configFlag,
    tenant: { ...tenantFlag, default: undefined, help: 'Tenant to act on (list, export: default "default"; verify: every tenant unless given).' },
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
    checkpoints: { type: "string", value: "FILE", help: "The checkpoint log to verify against (verify; default: config checkpoints.file, else <db>.checkpoints.jsonl)." },
    "public-key": { type: "string", value: "FILE", help: "PEM public key that verifies checkpoints and exports (verify; default: the key file's)." },
    export: { type: "string", value: "FILE", help: "Verify this signed export offline instead of the database (verify; needs --public-key)." },
    json: jsonFlag,
  },
  details: [
    "  invoke executions verify [--tenant NAME]   every tenant's hash chain against its newest signed checkpoint;",
    "                                             exit 1 with one line per problem (edited, deleted or missing records)",
    "  invoke executions verify --export FILE --public-key KEY   a signed export, offline",
    "  invoke executions list [filters]    newest first",
    "  invoke executions export [filters] [--out FILE]   JSON Lines, oldest first; without filters ends with a signed head line",
    "  invoke executions public-key        the PEM key that verifies checkpoints and signed exports",
  ].join("\n"),
  run(values, positionals) {
    const [sub] = positionals;
    switch (sub) {
      case "verify":
        return values.export !== undefined ? verifyExportCommand(values) : verifyStoreCommand(values);
      case "public-key":
        return publicKeyCommand(values);
      case "list": {
        const filters = filtersOf(values);
        return withLedger(values, async (ledger, tenantId) => {
          const page = await ledger.list(tenantId, filters);
          return output(values, page, () => {
            const lines = page.records.map(describe);
            if (page.next_cursor) lines.push(`More: --cursor ${page.next_cursor}`);
            return lines.length > 0 ? lines.join("\n") : "No execution records.";
          });
        });
      }
      case "export":
        return exportCommand(values);
    }
    throw new UsageError(`expected one of: ${SUBCOMMANDS.join(", ")}`);
  },
};
