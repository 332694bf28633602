/**
 * Witnesses: places outside this host that receive every signed checkpoint as it is written, so that
 * rolling back the database and the checkpoint file together still shows somewhere. An HTTP(S) endpoint
 * gets each checkpoint as a JSON POST; syslog gets it as an RFC 5424 message over UDP or TCP (RFC 6587
 * octet counting). Delivery runs beside requests: a failure is logged and retried with backoff, and a
 * witness that stays down costs at most a bounded queue.
 */
import { createSocket } from "node:dgram";
import { hostname } from "node:os";
import { connect } from "node:net";
import { canonicalJson } from "./canonical.ts";

/** Checkpoints kept for a witness that is down; the oldest are dropped (and counted in the log) beyond this. */
const MAX_QUEUED = 10_000;
/** A delivery attempt gives up after this long. */
const ATTEMPT_TIMEOUT_MS = 5000;
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;
/** RFC 5424 PRI of facility local0 (16), severity informational (6). */
const SYSLOG_PRI = 16 * 8 + 6;

/** What a witness receives: a signed checkpoint (the log's line), stamped with its time. */
export interface Witnessed {
  at: string;
}

/** Sends a batch of checkpoints somewhere; rejects when they did not all arrive. */
type Deliver = (checkpoints: Witnessed[]) => Promise<void>;

/** One witness: a queue, delivered in order, retried with backoff. */
class WitnessQueue {
  private queue: Witnessed[] = [];
  private sending: Promise<void> | undefined;
  private retryTimer: Timer | undefined;
  private retryMs = FIRST_RETRY_MS;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly deliver: Deliver,
    private readonly log: (message: string) => void,
  ) {}

  add(checkpoints: Witnessed[]): void {
    this.queue.push(...checkpoints);
    if (this.queue.length > MAX_QUEUED) {
      const dropped = this.queue.splice(0, this.queue.length - MAX_QUEUED).length;
      this.log(`checkpoint witness ${this.name}: ${dropped} undelivered checkpoints dropped (queue full)`);
    }
    // While a retry waits, new checkpoints wait with it: the backoff holds.
    if (this.retryTimer === undefined) void this.drain();
  }

  /** Delivers what is queued now; settles when done (or failed). */
  drain(): Promise<void> {
    if (this.sending || this.queue.length === 0) return this.sending ?? Promise.resolve();
    const batch = this.queue.slice();
    this.sending = this.deliver(batch).then(
      () => {
        this.queue.splice(0, batch.length);
        this.retryMs = FIRST_RETRY_MS;
      },
      (error: unknown) => {
        this.log(`checkpoint witness ${this.name} failed (${(error as Error).message ?? error}); retrying in ${this.retryMs / 1000} s`);
        this.scheduleRetry();
      },
    );
    return this.sending.finally(() => {
      this.sending = undefined;
      if (this.queue.length > 0 && this.retryTimer === undefined && !this.closed) this.drain();
    });
  }

  /** Tries once more to deliver what is left, then stops retrying. */
  async close(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.sending;
    await this.drain();
    this.closed = true;
    clearTimeout(this.retryTimer);
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.drain();
    }, this.retryMs);
    this.retryTimer.unref?.();
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }
}

/** The configured witnesses. */
export class Witnesses {
  private readonly queues: WitnessQueue[] = [];

  constructor(config: { witnessUrl?: string; syslog?: string }, log: (message: string) => void) {
    if (config.witnessUrl) this.queues.push(new WitnessQueue(config.witnessUrl, httpDelivery(config.witnessUrl), log));
    if (config.syslog) this.queues.push(new WitnessQueue(config.syslog, syslogDelivery(config.syslog), log));
  }

  /** Queues checkpoints for every witness; never waits. */
  send(checkpoints: Witnessed[]): void {
    if (checkpoints.length === 0) return;
    for (const queue of this.queues) queue.add(checkpoints);
  }

  /** One last delivery attempt of everything queued (at shutdown). */
  async close(): Promise<void> {
    await Promise.all(this.queues.map((queue) => queue.close()));
  }
}

/** POSTs each checkpoint, in order, as its JSON. */
function httpDelivery(url: string): Deliver {
  return async (checkpoints) => {
    for (const checkpoint of checkpoints) {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: canonicalJson(checkpoint),
        redirect: "error",
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
    }
  };
}

/** The RFC 5424 message of a checkpoint: its JSON as MSG, MSGID "checkpoint". */
export function syslogMessage(checkpoint: Witnessed): string {
  return `<${SYSLOG_PRI}>1 ${checkpoint.at} ${hostname() || "-"} invoke ${process.pid} checkpoint - ${canonicalJson(checkpoint)}`;
}

/** Sends the checkpoints to `udp://HOST:PORT` (a datagram each) or `tcp://HOST:PORT` (octet-counted frames on one connection). */
function syslogDelivery(address: string): Deliver {
  const url = new URL(address);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (url.protocol === "tcp:" ? 601 : 514));
  if (url.protocol === "udp:") {
    return (checkpoints) =>
      new Promise((resolve, reject) => {
        const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
        let pending = checkpoints.length;
        const done = (error?: Error | null) => {
          if (error) {
            socket.close();
            return reject(error);
          }
          if (--pending === 0) {
            socket.close();
            resolve();
          }
        };
        for (const checkpoint of checkpoints) socket.send(syslogMessage(checkpoint), port, host, done);
      });
  }
  return (checkpoints) =>
    new Promise((resolve, reject) => {
      const frames = checkpoints.map((checkpoint) => {
        const message = Buffer.from(syslogMessage(checkpoint));
        return `${message.length} ${message.toString()}`;
      });
      const socket = connect({ host, port }, () => socket.end(frames.join("")));
      socket.setTimeout(ATTEMPT_TIMEOUT_MS, () => socket.destroy(new Error("timed out")));
      socket.on("error", reject);
      socket.on("close", (hadError) => {
        if (!hadError) resolve();
      });
    });
}
