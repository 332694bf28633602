/**
 * The request log: one line per request, JSON Lines (or a short human line on a terminal), with the
 * request id, tenant, key id (never the secret), method, tool, decision, status and latency; anything
 * secret-shaped in the path (a token in a query string) is redacted. Lines are
 * buffered and written once per turn of the event loop, so a busy server makes one write() per turn,
 * not one per request.
 */
import type { LogLevel } from "../config.ts";
import { redactText } from "../records/redact.ts";
import type { RequestInfo } from "./requests.ts";

export interface RequestLogger {
  /** Logs a finished request (at level info; warn for 5xx). */
  request(info: RequestInfo, status: number, latencyMs: number): void;
}

interface Sink {
  write(text: string): void;
  isTTY?: boolean;
}

const RANK: Record<LogLevel, number> = { info: 0, warn: 1, error: 2, off: 3 };

/** A logger writing to `sink` (stdout when serving HTTP; stderr for stdio, whose stdout is the protocol). */
export function createRequestLogger(options: { level: LogLevel; format: "auto" | "json" | "pretty"; sink?: Sink }): RequestLogger {
  // stdout's stream is made, and lines are formatted, at the first flush: after the answers went out
  // (the first one is the cold-start target).
  let sink: Sink | undefined;
  let pretty: boolean | undefined;
  const threshold = RANK[options.level];
  let pending: Entry[] = [];
  const flush = () => {
    const entries = pending;
    pending = [];
    sink ??= options.sink ?? process.stdout;
    pretty ??= options.format === "pretty" || (options.format === "auto" && sink.isTTY === true);
    sink.write(entries.map((entry) => (pretty ? prettyLine(entry) : jsonLine(entry))).join(""));
  };
  return {
    request(info, status, latencyMs) {
      const level: LogLevel = status >= 500 ? "warn" : "info";
      if (RANK[level] < threshold) return;
      if (pending.push({ level, info, status, latencyMs, at: Date.now() }) === 1) setImmediate(flush);
    },
  };
}

/** A finished request waiting for the next flush. */
interface Entry {
  level: LogLevel;
  info: RequestInfo;
  status: number;
  latencyMs: number;
  /** When it finished (ms since the epoch). */
  at: number;
}

/** The last value and its result: consecutive log lines mostly share their millisecond and their path. */
function lastOf<T extends string | number>(compute: (value: T) => string): (value: T) => string {
  let last: T | undefined;
  let result = "";
  return (value) => {
    if (value !== last) {
      result = compute(value);
      last = value;
    }
    return result;
  };
}

const isoTime = lastOf((at: number) => new Date(at).toISOString());
const shownPath = lastOf((path: string) => redactText(path));

function jsonLine({ level, info, status, latencyMs, at }: Entry): string {
  return `${JSON.stringify({
    time: isoTime(at),
    level,
    msg: "request",
    request_id: info.id,
    tenant_id: info.tenantId ?? null,
    key_id: info.keyId ?? null,
    method: info.method,
    path: shownPath(info.path),
    rpc_method: info.rpcMethod ?? null,
    tool: info.tool ?? null,
    decision: info.decision ?? null,
    outcome: info.outcome ?? null,
    status,
    latency_ms: Math.round(latencyMs * 1000) / 1000,
  })}\n`;
}

function prettyLine({ info, status, latencyMs, at }: Entry): string {
  const what = [info.rpcMethod, info.tool, info.decision, info.outcome].filter(Boolean).join(" ");
  return `${isoTime(at).slice(11, 23)} ${status} ${info.method} ${shownPath(info.path)}${what ? ` ${what}` : ""} ${latencyMs.toFixed(1)}ms ${info.id}${info.keyId ? ` key ${info.keyId}` : ""}\n`;
}
