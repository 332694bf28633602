/**
 * Upstream MCP servers as connectors, with the official SDK's client: over stdio (one long-lived child
 * process per connector) or over Streamable HTTP. One implementation of the client side
 * (`McpConnector`) keeps a single connection, restarts or reconnects it with exponential backoff when
 * it is lost, maps every failure to a ConnectorError, and tells the connector service when the tool
 * list may have changed. The two transports differ only in how a connection is opened.
 *
 * Child processes: the SDK's StdioClientTransport signals only the direct child (an `npx` or shell
 * wrapper would leave the real server running), so stdio uses `ChildProcessTransport` below: the child
 * leads its own process group; stopping it closes its stdin (the MCP stdio shutdown), then sends
 * SIGTERM and finally SIGKILL to the whole group, and awaits the child's exit, which reaps it. Killed
 * descendants are orphans that init reaps. Should Invoke itself be killed, the child sees its stdin
 * close, which ends a well-behaved MCP server.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  CallToolResultSchema,
  ErrorCode,
  ListToolsResultSchema,
  McpError,
  ToolListChangedNotificationSchema,
  type JSONRPCMessage,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { Subprocess } from "bun";
import { logInfo } from "../log.ts";
import { PRODUCT_NAME, VERSION } from "../version.ts";
import { DEFAULT_TIMEOUT_MS } from "./kinds/kind.ts";
import type { McpHttpSpec } from "./kinds/mcp-http.ts";
import type { McpStdioSpec } from "./kinds/mcp-stdio.ts";
import { ConnectorError, type Connector, type ConnectorHealth, type UpstreamResult, type UpstreamTool } from "./connector.ts";

/** How long to wait between restarts: doubling from `initialMs` up to `maxMs`. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** After this long connected, the next loss starts again from `initialMs` (default 30 s). */
  stableMs?: number;
}

/** Options shared by both kinds of MCP connector. */
export interface McpConnectorOptions {
  /** Where log lines go (default: Invoke's stderr log). */
  log?: (line: string) => void;
  backoff?: Backoff;
  /** stdio: how long the child gets after its stdin closes, and again after SIGTERM (default 2 s). */
  shutdownGraceMs?: number;
}

const DEFAULT_BACKOFF: Required<Backoff> = { initialMs: 200, maxMs: 30_000, stableMs: 30_000 };
const DEFAULT_SHUTDOWN_GRACE_MS = 2_000;
/** How long a liveness ping may take after a transport error before the connection is dropped. */
const PING_TIMEOUT_MS = 5_000;
/** Longer upstream stderr lines and error messages are cut, so one upstream cannot flood the log. */
const MAX_LINE_LENGTH = 2_000;

/** One live connection: the SDK client and the transport under it. */
interface Connection<T extends Transport> {
  client: Client;
  transport: T;
}

/**
 * The client side of an upstream MCP server, whatever the transport: one connection at a time,
 * re-opened with backoff when lost, until `close()`.
 */
abstract class McpConnector<T extends Transport> implements Connector {
  onToolsChanged?: () => void;
  protected readonly log: (line: string) => void;
  private readonly backoff: Required<Backoff>;
  private readonly timeoutMs: number;
  private connection?: Connection<T>;
  /** The transport being opened, so `close()` can interrupt a handshake. */
  private opening?: T;
  private connecting?: Promise<Connection<T>>;
  private retryTimer?: Timer;
  private stableTimer?: Timer;
  private pinging = false;
  /** Consecutive losses without a stable period: the backoff exponent. */
  private failures = 0;
  private restarts = 0;
  private started = false;
  private closed = false;
  /** Why there is no connection. */
  private problem = "not started";

  constructor(
    readonly name: string,
    config: { timeout_ms?: number },
    options: McpConnectorOptions,
  ) {
    this.log = options.log ?? logInfo;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.timeoutMs = config.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  }

  /** A new, unstarted transport to the upstream. */
  protected abstract openTransport(): T;
  /** What a live connection is connected to, for health(). */
  protected abstract describe(transport: T): string;
  /** Why the transport closed, when it knows (a child's exit status). */
  protected abstract closeReason(transport: T): string | undefined;
  /** Lets the upstream release what the connection held, before a final close. */
  protected async release(_transport: T): Promise<void> {}
  /** Whether a failed request means the upstream forgot the session (it was not processed; a new session may retry it). */
  protected sessionExpired(_error: unknown): boolean {
    return false;
  }
  /** How the log names a new attempt: a child is restarted, a server reconnected. */
  protected readonly retryVerb: string = "reconnecting";

  async start(): Promise<void> {
    if (this.started) throw new Error(`connector ${this.name} was already started`);
    this.started = true;
    this.problem = "starting";
    try {
      await this.connect();
    } catch (error) {
      this.scheduleReconnect(`could not start: ${this.problem}`);
      throw new ConnectorError(`upstream ${this.name} could not be started: ${this.problem}`, { cause: error });
    }
  }

  async listTools(): Promise<UpstreamTool[]> {
    const tools: UpstreamTool[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await this.request("tools/list", this.timeoutMs, (client, timeout) =>
        client.request({ method: "tools/list", params: cursor === undefined ? {} : { cursor } }, ListToolsResultSchema, { timeout }),
      );
      tools.push(...page.tools.map(toUpstreamTool));
      cursor = page.nextCursor;
      // A cursor seen before would loop forever.
      if (cursor !== undefined && seen.has(cursor)) throw new ConnectorError(`upstream ${this.name} repeated the tools/list cursor ${JSON.stringify(cursor)}`);
      if (cursor !== undefined) seen.add(cursor);
    } while (cursor !== undefined);
    return tools;
  }

  callTool(name: string, args: Record<string, unknown>, options: { timeoutMs: number }): Promise<UpstreamResult> {
    // client.request, not client.callTool: the result goes back as it came, without the SDK's own
    // outputSchema checks (the agent sees what the upstream answered).
    return this.request(`tools/call ${JSON.stringify(name)}`, options.timeoutMs, (client, timeout) =>
      client.request({ method: "tools/call", params: { name, arguments: args } }, CallToolResultSchema, { timeout }),
    ) as Promise<UpstreamResult>;
  }

  health(): ConnectorHealth {
    const connection = this.connection;
    if (connection !== undefined) return { healthy: true, detail: this.describe(connection.transport), restarts: this.restarts };
    return { healthy: false, detail: this.problem, restarts: this.restarts };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.problem = "closed";
    clearTimeout(this.retryTimer);
    clearTimeout(this.stableTimer);
    const connection = this.connection;
    this.connection = undefined;
    if (connection !== undefined) await this.release(connection.transport).catch(() => undefined);
    await Promise.all([this.opening?.close(), connection?.client.close()]);
    await this.connecting?.catch(() => undefined);
  }

  /** Opens a connection, or joins the attempt in progress. */
  private connect(): Promise<Connection<T>> {
    this.connecting ??= this.openConnection().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async openConnection(): Promise<Connection<T>> {
    const transport = this.openTransport();
    const client = new Client({ name: PRODUCT_NAME, version: VERSION }, { capabilities: {} });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => this.toolsChanged());
    client.onclose = () => this.connectionLost(client, this.closeReason(transport) ?? "closed the connection");
    client.onerror = (error) => this.transportError(client, error);
    this.opening = transport;
    try {
      await client.connect(transport, { timeout: this.timeoutMs });
    } catch (error) {
      await transport.close().catch(() => undefined);
      this.problem = this.closeReason(transport) ?? failureText(error, this.timeoutMs);
      throw error;
    } finally {
      this.opening = undefined;
    }
    if (this.closed) {
      await transport.close();
      throw new ConnectorError(`upstream ${this.name} is closed`);
    }
    this.connection = { client, transport };
    this.problem = "";
    this.stableTimer = setTimeout(() => (this.failures = 0), this.backoff.stableMs);
    this.stableTimer.unref();
    return this.connection;
  }

  /** Sends one request on the live connection (or the one being opened) and maps failures to ConnectorError. */
  private async request<R>(what: string, timeoutMs: number, send: (client: Client, timeout: number) => Promise<R>): Promise<R> {
    const started = performance.now();
    const left = () => Math.max(1, Math.round(timeoutMs - (performance.now() - started)));
    for (let renewed = false; ; renewed = true) {
      const { client } = await this.liveConnection(what, timeoutMs, left());
      try {
        return await send(client, left());
      } catch (error) {
        if (!renewed && this.sessionExpired(error)) {
          // Streamable HTTP: a 404 for a session means "start a new one"; the request was not processed.
          this.renewSession(client);
          continue;
        }
        if (!(error instanceof McpError)) this.checkAlive(client);
        throw this.requestFailure(what, timeoutMs, error);
      }
    }
  }

  /** The live connection, or the one being opened if it opens within `waitMs`. */
  private async liveConnection(what: string, timeoutMs: number, waitMs: number): Promise<Connection<T>> {
    if (this.closed) throw new ConnectorError(`upstream ${this.name} is closed`);
    if (this.connection !== undefined) return this.connection;
    if (this.connecting === undefined) throw new ConnectorError(`upstream ${this.name} is unavailable: ${this.problem}`);
    let timer: Timer | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ConnectorError(`upstream ${this.name}: ${what} timed out after ${timeoutMs} ms`)), waitMs);
    });
    try {
      return await Promise.race([this.connecting, deadline]);
    } catch (error) {
      if (error instanceof ConnectorError) throw error;
      throw new ConnectorError(`upstream ${this.name} is unavailable: ${this.problem}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  private requestFailure(what: string, timeoutMs: number, error: unknown): ConnectorError {
    if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
      return new ConnectorError(`upstream ${this.name}: ${what} timed out after ${timeoutMs} ms`, { cause: error });
    }
    if (error instanceof McpError && error.code === ErrorCode.ConnectionClosed) {
      return new ConnectorError(`upstream ${this.name} ${this.problem || "closed the connection"} during ${what}`, { cause: error });
    }
    if (error instanceof McpError) return new ConnectorError(`upstream ${this.name} answered ${what} with an error: ${error.message}`, { cause: error });
    return new ConnectorError(`upstream ${this.name}: ${what} failed: ${failureText(error, timeoutMs)}`, { cause: error });
  }

  /** The transport reported an error: logged, then the upstream must answer a ping or the connection is dropped. */
  private transportError(client: Client, error: Error): void {
    if (client !== this.connection?.client) return;
    this.log(`${this.name}: ${truncate(error.message)}`);
    this.checkAlive(client);
  }

  private checkAlive(client: Client): void {
    if (this.pinging || client !== this.connection?.client) return;
    this.pinging = true;
    client
      .ping({ timeout: PING_TIMEOUT_MS })
      .catch((error: unknown) => {
        // Any JSON-RPC answer, even an error, proves the upstream is there.
        if (error instanceof McpError && error.code !== ErrorCode.RequestTimeout && error.code !== ErrorCode.ConnectionClosed) return;
        this.dropConnection(client, `is not answering: ${failureText(error, PING_TIMEOUT_MS)}`);
      })
      .finally(() => (this.pinging = false));
  }

  /** Gives up a connection that no longer works; it is re-opened with backoff. */
  private dropConnection(client: Client, reason: string): void {
    this.connectionLost(client, reason);
    void client.close().catch(() => undefined);
  }

  private connectionLost(client: Client, reason: string): void {
    if (!this.forget(client, reason)) return;
    this.scheduleReconnect(`upstream ${reason}`);
  }

  /** Replaces a connection whose session the upstream forgot, at once rather than after a backoff. */
  private renewSession(client: Client): void {
    if (!this.forget(client, "ended the session")) return;
    this.log(`${this.name}: upstream ended the session; ${this.retryVerb}`);
    void client.close().catch(() => undefined);
    void this.reconnect();
  }

  /** Lets go of the current connection, if it is `client`'s; false when it was already replaced. */
  private forget(client: Client, reason: string): boolean {
    if (this.closed || client !== this.connection?.client) return false;
    this.connection = undefined;
    clearTimeout(this.stableTimer);
    this.problem = reason;
    return true;
  }

  private scheduleReconnect(reason: string): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = Math.min(this.backoff.initialMs * 2 ** this.failures, this.backoff.maxMs);
    this.failures += 1;
    this.log(`${this.name}: ${reason}; ${this.retryVerb} in ${delay} ms`);
    this.retryTimer = setTimeout(() => void this.reconnect(), delay);
    this.retryTimer.unref();
  }

  /** One attempt to re-open the connection; `restarts` counts every attempt. */
  private async reconnect(): Promise<void> {
    this.retryTimer = undefined;
    if (this.closed) return;
    this.restarts += 1;
    try {
      await this.connect();
    } catch {
      if (!this.closed) this.scheduleReconnect(`${this.retryVerb} failed: ${this.problem}`);
      return;
    }
    this.log(`${this.name}: connected again (${this.describe(this.connection!.transport)})`);
    // A restarted upstream may declare different tools.
    this.toolsChanged();
  }

  private toolsChanged(): void {
    try {
      this.onToolsChanged?.();
    } catch (error) {
      this.log(`${this.name}: tools-changed listener failed: ${failureText(error, 0)}`);
    }
  }
}

/** An upstream MCP server run as a child process: spawned once on start(), restarted with backoff when it dies. */
export class McpStdioConnector extends McpConnector<ChildProcessTransport> {
  protected override readonly retryVerb = "restarting";
  private readonly shutdownGraceMs: number;

  constructor(
    name: string,
    private readonly config: McpStdioSpec,
    options: McpConnectorOptions = {},
  ) {
    super(name, config, options);
    this.shutdownGraceMs = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  }

  protected openTransport(): ChildProcessTransport {
    return new ChildProcessTransport(
      {
        cmd: [this.config.command, ...(this.config.args ?? [])],
        // Only the SDK's short list of safe variables is inherited: never INVOKE_* or other secrets.
        env: { ...getDefaultEnvironment(), ...this.config.env },
        cwd: this.config.cwd,
      },
      (line) => this.log(`[${this.name}] ${truncate(line)}`),
      this.shutdownGraceMs,
    );
  }

  protected describe(transport: ChildProcessTransport): string {
    return `pid ${transport.pid}`;
  }

  protected closeReason(transport: ChildProcessTransport): string | undefined {
    return transport.exitStatus;
  }
}

/** An upstream MCP server over Streamable HTTP, sent only its configured headers; reconnected with backoff on failure. */
export class McpHttpConnector extends McpConnector<StreamableHTTPClientTransport> {
  constructor(
    name: string,
    private readonly config: McpHttpSpec,
    options: McpConnectorOptions = {},
  ) {
    super(name, config, options);
  }

  protected openTransport(): StreamableHTTPClientTransport {
    return new StreamableHTTPClientTransport(new URL(this.config.url), {
      requestInit: { headers: { ...this.config.headers } },
      // The configured URL is what the operator allowed: a redirect must not take the call elsewhere.
      fetch: (url, init) => fetch(url, { ...init, redirect: "error" }),
    });
  }

  protected describe(): string {
    // Origin and path only: a URL may carry credentials in its userinfo or query.
    const url = new URL(this.config.url);
    return `${url.origin}${url.pathname}`;
  }

  protected closeReason(): undefined {
    return undefined;
  }

  protected override sessionExpired(error: unknown): boolean {
    return error instanceof StreamableHTTPError && error.code === 404;
  }

  /** Ends the session on the upstream (an HTTP DELETE), waiting at most a second for it. */
  protected override async release(transport: StreamableHTTPClientTransport): Promise<void> {
    await atMost(transport.terminateSession(), 1_000);
  }
}

/** What to spawn. */
interface ChildCommand {
  cmd: string[];
  env: Record<string, string>;
  cwd?: string;
}

/**
 * The MCP stdio transport (newline-delimited JSON-RPC on stdin/stdout) over a child process that
 * leads its own process group, so that the whole tree can be signalled. `onclose` fires once, after
 * the child has exited and been reaped and its output has been read.
 */
class ChildProcessTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  /** How the child ended ("exited with code 1"), once it has. */
  exitStatus?: string;
  private child?: Subprocess<"pipe", "pipe", "pipe">;
  private ended?: Promise<void>;
  private stopping?: Promise<void>;
  private readonly readBuffer = new ReadBuffer();

  constructor(
    private readonly command: ChildCommand,
    private readonly logStderr: (line: string) => void,
    private readonly shutdownGraceMs: number,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.child !== undefined) throw new Error("the transport was already started");
    const child = Bun.spawn({
      cmd: this.command.cmd,
      env: this.command.env,
      cwd: this.command.cwd,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      // setsid(): the child leads a new process group, which close() signals as a whole.
      detached: true,
    });
    this.child = child;
    const output = Promise.allSettled([this.readMessages(child.stdout), forEachLine(child.stderr, this.logStderr)]);
    this.ended = this.awaitExit(child, output);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const child = this.child;
    if (child === undefined || this.exitStatus !== undefined || child.exitCode !== null || child.signalCode !== null) {
      throw new Error("the upstream process is not running");
    }
    child.stdin.write(serializeMessage(message));
    await child.stdin.flush();
  }

  /** The MCP stdio shutdown: stdin closed, then SIGTERM, then SIGKILL, each after a grace period. */
  close(): Promise<void> {
    this.stopping ??= this.stop();
    return this.stopping;
  }

  private async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.stdin.end();
      } catch {
        // The pipe is already closed: the child is exiting anyway.
      }
      const term = setTimeout(() => signalGroup(child.pid, "SIGTERM"), this.shutdownGraceMs);
      const kill = setTimeout(() => signalGroup(child.pid, "SIGKILL"), 2 * this.shutdownGraceMs);
      await child.exited;
      clearTimeout(term);
      clearTimeout(kill);
    }
    await this.ended;
  }

  private async awaitExit(child: Subprocess<"pipe", "pipe", "pipe">, output: Promise<unknown>): Promise<void> {
    await child.exited;
    // Descendants outliving the leader (a wrapper's server, a background job) go with it.
    signalGroup(child.pid, "SIGKILL");
    // Responses written just before the exit are delivered before onclose; a descendant that escaped
    // the group could hold the pipes open, hence the bound.
    await atMost(output, 1_000);
    this.exitStatus = child.signalCode !== null ? `was killed by ${child.signalCode}` : `exited with code ${child.exitCode}`;
    this.onclose?.();
  }

  private async readMessages(stdout: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of stdout) {
      try {
        this.readBuffer.append(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      } catch (error) {
        this.onerror?.(error as Error);
        continue;
      }
      for (;;) {
        let message: JSONRPCMessage | null;
        try {
          message = this.readBuffer.readMessage();
        } catch (error) {
          // One malformed line (a server printing to stdout) is reported and skipped.
          this.onerror?.(error as Error);
          continue;
        }
        if (message === null) break;
        this.onmessage?.(message);
      }
    }
  }
}

/** Signals every process in the group led by `pid`; a group that is already gone is not an error. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: no process left in the group.
  }
}

/** Waits for `promise`, but no longer than `ms`. */
async function atMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: Timer | undefined;
  try {
    await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Calls `onLine` for each non-empty line of a byte stream. */
async function forEachLine(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let partial = "";
  for await (const chunk of stream) {
    const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
    partial = lines.pop()!;
    // Output that never ends its line is passed on in pieces rather than held without bound.
    if (partial.length > MAX_LINE_LENGTH) {
      lines.push(partial);
      partial = "";
    }
    for (const line of lines) if (line.trim() !== "") onLine(line.trimEnd());
  }
  const last = partial + decoder.decode();
  if (last.trim() !== "") onLine(last.trimEnd());
}

/** A tool as the connector service sees it. */
function toUpstreamTool(tool: Tool): UpstreamTool {
  const upstream: UpstreamTool = { name: tool.name, inputSchema: tool.inputSchema };
  if (tool.title !== undefined) upstream.title = tool.title;
  if (tool.description !== undefined) upstream.description = tool.description;
  if (tool.outputSchema !== undefined) upstream.outputSchema = tool.outputSchema;
  if (tool.annotations !== undefined) upstream.annotations = tool.annotations;
  return upstream;
}

/** A failure as one log-sized line. */
function failureText(error: unknown, timeoutMs: number): string {
  if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) return `timed out after ${timeoutMs} ms`;
  return truncate(error instanceof Error ? error.message : String(error));
}

/** `text`, cut to MAX_LINE_LENGTH. */
function truncate(text: string): string {
  return text.length > MAX_LINE_LENGTH ? `${text.slice(0, MAX_LINE_LENGTH)}…` : text;
}
