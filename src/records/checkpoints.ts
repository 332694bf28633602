/**
 * Signed checkpoints of every tenant's chain head: what shows that the newest records were deleted, which
 * the chain alone cannot (`chain.ts`). A checkpoint names a tenant's last seq and hash and is signed
 * (Ed25519) with the key in the instance's key file, outside the database.
 *
 * The checkpoint log is a JSON Lines file, appended to and never rewritten. Its lines are numbered and
 * each names the digest of the line before (`prev`), so a line removed, reordered or edited shows; the
 * store notes the last line it wrote (its checkpoint memo), so a file replaced by an older copy or cut
 * short shows too. A serving process checkpoints the heads that moved every `interval_seconds`, after a
 * burst of records and at shutdown; every checkpoint written also goes to the configured witnesses.
 *
 * What stays possible for someone who can write the database, the checkpoint file and the store's memo
 * alike: rolling all three back to an older consistent state. Only a witness (or an export kept
 * elsewhere) shows that.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { appendFileSync, closeSync, existsSync, fstatSync, fsyncSync, openSync, readFileSync, readSync } from "node:fs";
import { resolve } from "node:path";
import type { CheckpointConfig } from "../config.ts";
import type { InstanceKeys } from "../governance/key-file.ts";
import type { DirectoryRepository } from "../governance/repository.ts";
import { canonicalJson, digestOf } from "./canonical.ts";
import { GENESIS_HASH } from "./chain.ts";
import type { ExecutionLedger } from "./ledger.ts";
import type { CheckpointMemo, Head, TenantHead } from "./repository.ts";
import { every } from "../every.ts";

/** One line of the checkpoint log: a tenant's chain head, signed. */
export interface SignedCheckpoint {
  type: "invoke.checkpoint";
  v: 1;
  /** 1, 2, 3… over the whole log. */
  line: number;
  /** The digest (`digestOf`) of the line before, or 64 zeros for the first. */
  prev: string;
  /** ISO 8601. */
  at: string;
  tenant_id: string;
  tenant: string;
  /** The chain's last seq; also its number of records (seqs are gapless from 1). */
  seq: number;
  hash: string;
  records: number;
  /** `keyId` of the public key that verifies `sig`. */
  key: string;
  /** Ed25519 over the canonical JSON of every other field, base64. */
  sig: string;
}

/** Where the checkpoint log is: config `checkpoints.file`, else beside the database. */
export function checkpointFilePath(config: Pick<CheckpointConfig, "file">, dbPath: string): string {
  return resolve(config.file ?? `${dbPath}.checkpoints.jsonl`);
}

/** A short name for a public key: the first 16 hex digits of the SHA-256 of its DER (SPKI) form. */
export function keyId(publicKey: KeyObject): string {
  return createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex").slice(0, 16);
}

/** `statement` with `key` and `sig` added: signed over the canonical JSON of everything else. */
export function signStatement<T extends object>(statement: T, signingKey: KeyObject): T & { key: string; sig: string } {
  const unsigned = { ...statement, key: keyId(createPublicKey(signingKey)) };
  const sig = sign(null, Buffer.from(canonicalJson(unsigned)!), signingKey).toString("base64");
  return { ...unsigned, sig };
}

/** Whether `statement.sig` is a valid signature of its other fields by `publicKey`. */
export function verifyStatement(statement: { sig?: unknown }, publicKey: KeyObject): boolean {
  if (typeof statement.sig !== "string") return false;
  const { sig, ...unsigned } = statement;
  try {
    return verify(null, Buffer.from(canonicalJson(unsigned)!), publicKey, Buffer.from(sig, "base64"));
  } catch {
    return false;
  }
}

/** Why a statement does not verify: signed by another key, or edited after signing. */
export function signatureFault(statement: { key?: unknown }, publicKey: KeyObject): string {
  return typeof statement.key === "string" && statement.key !== keyId(publicKey) ? `signed by another key (${statement.key}, not ${keyId(publicKey)})` : "edited after signing";
}

/** One physical line of the log file, parsed where it could be. */
export interface LogEntry {
  /** 1-based line of the file. */
  fileLine: number;
  checkpoint?: SignedCheckpoint;
}

/** The log file's lines, or undefined when there is no file. */
export function readCheckpointLog(path: string): LogEntry[] | undefined {
  if (!existsSync(path)) return undefined;
  const entries: LogEntry[] = [];
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((text, index) => {
      if (text.trim() === "") return;
      entries.push({ fileLine: index + 1, checkpoint: parseCheckpoint(text) });
    });
  return entries;
}

function parseCheckpoint(text: string): SignedCheckpoint | undefined {
  try {
    const value = JSON.parse(text) as SignedCheckpoint;
    const valid =
      value?.type === "invoke.checkpoint" &&
      Number.isInteger(value.line) &&
      typeof value.prev === "string" &&
      typeof value.tenant_id === "string" &&
      Number.isInteger(value.seq) &&
      typeof value.hash === "string";
    return valid ? value : undefined;
  } catch {
    return undefined;
  }
}

/** What the log's own checks found: the lines that can be trusted, in order, and what is wrong with the file. */
export interface LogCheck {
  trusted: SignedCheckpoint[];
  problems: string[];
  /** The highest checkpoint number a line of the file claims. */
  lastLine: number;
}

/** At most this many lines with a bad signature are named one by one; the rest are counted. */
const NAMED_BAD_LINES = 5;

/** Checks every line's signature and the links between lines. */
export function checkLog(path: string, entries: LogEntry[], publicKey: KeyObject): LogCheck {
  const trusted: SignedCheckpoint[] = [];
  const problems: string[] = [];
  let badSignatures = 0;
  let previous: SignedCheckpoint | undefined;
  // After a line that is reported already (bad signature), the link to it says nothing new.
  let previousTrusted = true;
  let lastLine = 0;
  for (const { fileLine, checkpoint } of entries) {
    if (!checkpoint) {
      problems.push(`checkpoint file ${path} line ${fileLine} is not a checkpoint: the file was edited`);
      previous = undefined;
      previousTrusted = false;
      continue;
    }
    lastLine = Math.max(lastLine, checkpoint.line);
    if (!verifyStatement(checkpoint, publicKey)) {
      if (++badSignatures <= NAMED_BAD_LINES) {
        problems.push(`checkpoint file replaced or edited: line ${fileLine} (checkpoint ${checkpoint.line} of ${checkpoint.at}) has an invalid signature: ${signatureFault(checkpoint, publicKey)}`);
      }
      previous = checkpoint;
      previousTrusted = false;
      continue;
    }
    if (!previousTrusted) {
      // Already reported: the line before could not be trusted.
    } else if (previous === undefined && (checkpoint.line !== 1 || checkpoint.prev !== GENESIS_HASH)) {
      problems.push(`checkpoint file ${path} starts at checkpoint ${checkpoint.line}: checkpoints 1–${checkpoint.line - 1} were removed`);
    } else if (previous !== undefined && (checkpoint.line !== previous.line + 1 || checkpoint.prev !== digestOf(previous))) {
      const gap = checkpoint.line > previous.line + 1 ? `checkpoints ${previous.line + 1}–${checkpoint.line - 1} were removed` : "a checkpoint was replaced or reordered";
      problems.push(`checkpoint file ${path} line ${fileLine}: checkpoint ${checkpoint.line} does not follow checkpoint ${previous.line}: ${gap}`);
    }
    trusted.push(checkpoint);
    previous = checkpoint;
    previousTrusted = true;
  }
  if (badSignatures > NAMED_BAD_LINES) problems.push(`checkpoint file ${path}: ${badSignatures - NAMED_BAD_LINES} more lines have an invalid signature`);
  return { trusted, problems, lastLine };
}

/** Compares the log with the store's note of what it wrote: a missing, older or replaced file. */
export function checkMemo(path: string, entries: LogEntry[] | undefined, check: LogCheck | undefined, memo: CheckpointMemo | undefined): string[] {
  if (!memo) return [];
  const wrote = `this store wrote checkpoints 1–${memo.line} to it, the last at ${new Date(memo.at).toISOString()}`;
  if (!entries || entries.length === 0) return [`checkpoint file ${path} is missing or empty: ${wrote}`];
  if (check!.lastLine < memo.line) return [`checkpoint file ${path} ends at checkpoint ${check!.lastLine}: ${wrote}; the file was replaced by an older copy or cut short`];
  const noted = entries.find((entry) => entry.checkpoint?.line === memo.line);
  if (noted?.checkpoint && digestOf(noted.checkpoint) !== memo.digest) return [`checkpoint file ${path} was replaced: its checkpoint ${memo.line} is not the one this store wrote`];
  return [];
}

/** The newest trusted checkpoint of each tenant. */
export function newestByTenant(trusted: SignedCheckpoint[]): Map<string, SignedCheckpoint> {
  const newest = new Map<string, SignedCheckpoint>();
  for (const checkpoint of trusted) {
    const known = newest.get(checkpoint.tenant_id);
    if (!known || checkpoint.seq >= known.seq) newest.set(checkpoint.tenant_id, checkpoint);
  }
  return newest;
}

/** What the writer needs. */
export interface CheckpointPorts {
  /** The chain heads, and the store's memo of the log with its exclusive turn. */
  records: ExecutionLedger;
  /** Tenants' names, written into each checkpoint. */
  directory: Pick<DirectoryRepository, "listTenants">;
  keys: InstanceKeys;
  path: string;
  now: () => number;
  /** A head that went backwards or was rewritten: logged, never checkpointed. */
  onRefused(message: string): void;
}

/**
 * Appends checkpoints of the heads that moved. The log's last line is read, the lines appended (and
 * synced) and the store's memo updated in one turn of the store's exclusive transaction, so processes
 * sharing a store take turns.
 */
export class CheckpointWriter {
  /** Per tenant, the newest head checkpointed: read from the log at start, then what this process wrote. */
  private readonly checkpointed = new Map<string, Head>();
  private readonly refusals = new Set<string>();

  private constructor(
    private readonly ports: CheckpointPorts,
    private readonly publicKey: KeyObject,
    trusted: SignedCheckpoint[],
    /** What was wrong with the log when this writer started (it keeps appending: the damage stays visible). */
    readonly startupProblems: string[],
  ) {
    for (const [tenantId, checkpoint] of newestByTenant(trusted)) this.checkpointed.set(tenantId, { seq: checkpoint.seq, hash: checkpoint.hash });
  }

  /** A writer of the log at `ports.path`, which is checked first: its lines, and against the store's memo. */
  static async open(ports: CheckpointPorts): Promise<CheckpointWriter> {
    const entries = readCheckpointLog(ports.path) ?? [];
    const publicKey = createPublicKey(ports.keys.signingKey);
    const check = checkLog(ports.path, entries, publicKey);
    const problems = [...check.problems, ...checkMemo(ports.path, entries, check, await ports.records.checkpointMemo())];
    return new CheckpointWriter(ports, publicKey, check.trusted, problems);
  }

  /**
   * Checkpoints every head that moved since; returns the checkpoints written. The heads are read before
   * the transaction: a head another process checkpoints meanwhile is at most checkpointed again, never
   * signed wrong (a checkpoint states a head the chain had).
   */
  async checkpoint(): Promise<SignedCheckpoint[]> {
    const moved: TenantHead[] = [];
    for (const head of await this.ports.records.heads()) {
      const known = this.checkpointed.get(head.tenant_id);
      if (known && known.seq === head.seq && known.hash === head.hash) continue;
      if (known && !(await this.follows(head, known))) continue;
      moved.push(head);
    }
    if (moved.length === 0) return [];
    const written = await this.write(moved);
    for (const checkpoint of written) this.checkpointed.set(checkpoint.tenant_id, { seq: checkpoint.seq, hash: checkpoint.hash });
    return written;
  }

  /** Signs `heads` after the log's last line and appends them, in one turn of the store's exclusive transaction. */
  private async write(heads: readonly TenantHead[]): Promise<SignedCheckpoint[]> {
    // Read after the heads: every head's tenant is named.
    const tenantNames = new Map((await this.ports.directory.listTenants()).map(({ id, name }) => [id, name]));
    const written: SignedCheckpoint[] = [];
    await this.ports.records.takeCheckpointTurn((memo) => {
      let line = memo?.line ?? 0;
      let prev = memo?.digest ?? GENESIS_HASH;
      // A process killed after appending but before its COMMIT left lines the memo lacks: continue after them.
      const tail = lastCheckpoint(this.ports.path);
      if (tail && tail.line > line && verifyStatement(tail, this.publicKey)) {
        line = tail.line;
        prev = digestOf(tail);
      }
      const at = this.ports.now();
      for (const head of heads) {
        const checkpoint = signStatement(
          {
            type: "invoke.checkpoint" as const,
            v: 1 as const,
            line: ++line,
            prev,
            at: new Date(at).toISOString(),
            tenant_id: head.tenant_id,
            tenant: tenantNames.get(head.tenant_id) ?? head.tenant_id,
            seq: head.seq,
            hash: head.hash,
            records: head.seq,
          },
          this.ports.keys.signingKey,
        );
        prev = digestOf(checkpoint);
        written.push(checkpoint);
      }
      appendSynced(this.ports.path, written.map((checkpoint) => `${canonicalJson(checkpoint)}\n`).join(""));
      return { line, digest: prev, at };
    });
    return written;
  }

  /** Whether `head` continues the chain `known` checkpointed; a checkpoint never goes backwards. */
  private async follows(head: TenantHead, known: Head): Promise<boolean> {
    let refusal: string | undefined;
    if (head.seq < known.seq) refusal = `the chain ends at seq ${head.seq} but seq ${known.seq} was checkpointed: records were deleted`;
    else if ((await this.ports.records.hashAt(head.tenant_id, known.seq)) !== known.hash) refusal = `seq ${known.seq} no longer has the checkpointed hash: records were rewritten`;
    if (refusal === undefined) return true;
    const message = `not checkpointing tenant ${head.tenant_id}: ${refusal}; run invoke executions verify`;
    if (!this.refusals.has(message)) {
      this.refusals.add(message);
      this.ports.onRefused(message);
    }
    return false;
  }
}

/** What the background checkpointing needs. */
export interface CheckpointingOptions {
  /** The store's database file: the log is beside it unless the config names one. */
  dbPath: string;
  records: ExecutionLedger;
  directory: Pick<DirectoryRepository, "listTenants">;
  keys: InstanceKeys;
  config: CheckpointConfig;
  now: () => number;
  log: (message: string) => void;
  logError: (message: string, error: unknown) => void;
}

/** How often the timer looks whether a checkpoint is due (the interval passed, or a burst of records). */
const TICK_MS = 1000;

/**
 * Starts checkpointing in a serving process: once now, then whenever `interval_seconds` passed or
 * `burst_records` were appended (read from the ledger's counters: no work per call), each new
 * checkpoint sent to the witnesses. Returns the stop function, which writes a last checkpoint (call it
 * after the last records were committed) and gives the witnesses a last chance to receive it.
 */
export async function startCheckpointing(options: CheckpointingOptions): Promise<() => Promise<void>> {
  const { records, config } = options;
  const path = checkpointFilePath(config, options.dbPath);
  const writer = await CheckpointWriter.open({ ...options, path, onRefused: (message) => options.log(message) });
  for (const problem of writer.startupProblems) options.log(`${problem}; run invoke executions verify`);
  // The witnesses' network clients load only when one is configured (the cold-start target).
  const witnesses = config.witnessUrl || config.syslog ? new (await import("./witness.ts")).Witnesses(config, options.log) : undefined;
  let appended = records.stats().records;
  let lastAt = Date.now();
  const checkpoint = async () => {
    appended = records.stats().records;
    lastAt = Date.now();
    const written = await writer.checkpoint();
    witnesses?.send(written);
  };
  await checkpoint();
  const stop = every(
    Math.min(TICK_MS, config.intervalMs),
    () => {
      if (Date.now() - lastAt >= config.intervalMs || records.stats().records - appended >= config.burstRecords) return checkpoint();
    },
    (error) => options.logError("checkpointing the execution records failed", error),
  );
  return async () => {
    stop();
    try {
      await checkpoint();
    } catch (error) {
      options.logError("the last checkpoint of the execution records failed", error);
    }
    await witnesses?.close();
  };
}

/** The log's last line, read from the end of the file. */
function lastCheckpoint(path: string): SignedCheckpoint | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const lines = buffer.toString("utf8").trimEnd().split("\n");
    return lines.length > 0 ? parseCheckpoint(lines.at(-1)!) : undefined;
  } finally {
    closeSync(fd);
  }
}

/** How much of the log's end is read to find its last line (a line is well under 1 KiB). */
const TAIL_BYTES = 16 * 1024;

/** Appends `text` to the file and syncs it to disk before returning. */
function appendSynced(path: string, text: string): void {
  const fd = openSync(path, "a", 0o644);
  try {
    appendFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
