/**
 * What on the host a connector may touch. The instance operator (config file, the CLI on the local
 * database) owns the host: connectors it defines may use any file, command or address, except Invoke's
 * own store. Connectors a tenant admin adds over the network may use only what the operator listed in
 * `tenant_connectors` (paths, commands, URLs and networks; empty by default), and never anything in the
 * store's folder. Checked when a connector is added and again every time one is started, so narrowing
 * the config takes effect at the next start.
 */
import { existsSync, realpathSync } from "node:fs";
import { addressRanges, ipFamily, rangeProblem, type AddressRanges } from "../address-ranges.ts";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { Type, type Static } from "@sinclair/typebox";
import { InvokeError, StartupError } from "../errors.ts";
import { kindOf } from "./model.ts";
import type { ConnectorSpec } from "./model.ts";


/** Who defined a connector: the config file, the operator's CLI (and `--demo`), or a tenant admin over REST. */
export type ConnectorOrigin = "config" | "operator" | "api";

const Strings = (description: string) => Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description }));

/** A command tenant admins may run as an `mcp_stdio` connector. */
const CommandRule = Type.Object(
  {
    command: Type.String({ minLength: 1, description: "The command exactly as the connector must name it (e.g. /usr/bin/npx)." }),
    args: Strings('Globs, one per argument, that the arguments must match in order; a last "**" matches any further arguments. Omitted: no arguments.'),
    env: Strings("Environment variables the connector may set (names); others are refused."),
  },
  { additionalProperties: false },
);
type CommandRule = Static<typeof CommandRule>;

/** The config file's `tenant_connectors`: what connectors added by tenant admins may reach. */
export const TenantConnectorsSchema = Type.Object(
  {
    paths: Strings("Globs over real (symlink-resolved) paths: SQLite files and stdio working folders, e.g. /srv/invoke/tenants/{tenant}/*.sqlite ({tenant}: the tenant's name)."),
    commands: Type.Optional(Type.Array(CommandRule, { description: "Commands mcp_stdio connectors may run." })),
    urls: Strings("URLs mcp_http and PostgreSQL connectors may reach: scheme, host (a leading *. matches subdomains), port, and a path glob, e.g. https://*.example.com/mcp/**."),
    networks: Strings("CIDR ranges (10.20.0.0/16, fd00::/8): a URL whose host is, or resolves only to, addresses inside them is allowed."),
  },
  { additionalProperties: false },
);
export type TenantConnectors = Static<typeof TenantConnectorsSchema>;

/** A connector the host access rules refuse (403: the operator decides, not the tenant). */
export class HostAccessDenied extends InvokeError {
  constructor(message: string) {
    super(403, "host_access_denied", message);
  }
}

/** The check every connector passes before it is stored and before it starts. */
export class HostAccess {
  private readonly storeFolder: string;
  private readonly storeFile: string;
  private readonly networks?: AddressRanges;

  private readonly secrets: string[];

  constructor(
    storePath: string,
    private readonly tenant: TenantConnectors = {},
    /** Other files no connector may use (the key file). */
    secretFiles: string[] = [],
  ) {
    this.secrets = secretFiles.map(realOrResolved);
    this.storeFile = realOrResolved(storePath);
    this.storeFolder = dirname(this.storeFile);
    if (tenant.networks?.length) {
      for (const cidr of tenant.networks) if (rangeProblem(cidr)) throw new StartupError(`config tenant_connectors.networks: ${cidr} is not a CIDR range`);
      this.networks = addressRanges(tenant.networks);
    }
  }

  /**
   * Refuses (HostAccessDenied) a connector its origin may not define; resolves to the spec to run,
   * with its paths made real, so what was checked is what is opened.
   */
  check(spec: ConnectorSpec, origin: ConnectorOrigin, tenantName = ""): Promise<ConnectorSpec> {
    const tenant = origin === "api";
    const entries = (list: string[] | undefined) => tenantEntries(list, tenantName);
    return kindOf(spec).checkHost(spec, {
      tenant,
      path: (path, what) => this.checkPath(path, tenant, what, entries),
      url: (url) => this.checkUrl(url, entries),
      headers: (names) => checkHeaders(names),
      command: (command, args, env) => this.checkCommand(command, args, env, entries),
      refuse: (message) => {
        throw new HostAccessDenied(message);
      },
    });
  }

  /** The real path of `path`, refused when it is Invoke's store (any spelling) or, for tenants, outside `paths` or in the store's folder. */
  private checkPath(path: string, tenant: boolean, what: string, entries: Entries): string {
    // SQLite reads `file:` names as URIs (which can name another file or open options): never accept one.
    if (/^file:/i.test(path)) throw new HostAccessDenied(`a ${what} is a plain path, not a file: URI`);
    if (tenant && !isAbsolute(path)) throw new HostAccessDenied(`a ${what} must be an absolute path`);
    const real = realOrResolved(path);
    if (real === this.storeFile || (real.startsWith(this.storeFile) && /^-(wal|shm|journal)$/.test(real.slice(this.storeFile.length)))) {
      throw new HostAccessDenied(`${path} is Invoke's own store: no connector may use it`);
    }
    if (this.secrets.includes(real)) throw new HostAccessDenied(`${path} is Invoke's key file: no connector may use it`);
    if (!tenant) return real;
    if (isInside(real, this.storeFolder)) throw new HostAccessDenied(`${path} is in Invoke's data folder, which connectors added by tenants may not use`);
    if (!entries(this.tenant.paths).some((glob) => new Bun.Glob(glob).match(real))) {
      throw new HostAccessDenied(`${what} ${path} is not allowed by the operator (config tenant_connectors.paths)`);
    }
    return real;
  }

  private checkCommand(command: string, args: readonly string[], env: readonly string[], entries: Entries): void {
    const rule = (this.tenant.commands ?? [])
      .map((candidate) => ({ ...candidate, args: entries(candidate.args) }))
      .find((candidate) => candidate.command === command && argsMatch(candidate, args));
    if (rule === undefined) {
      throw new HostAccessDenied(`command ${JSON.stringify([command, ...args].join(" "))} is not allowed by the operator (config tenant_connectors.commands)`);
    }
    const refused = env.filter((name) => !(rule.env ?? []).includes(name));
    if (refused.length > 0) throw new HostAccessDenied(`environment variable${refused.length === 1 ? "" : "s"} ${refused.join(", ")} may not be set for ${command} (config tenant_connectors.commands[].env)`);
  }

  private async checkUrl(text: string, entries: Entries): Promise<void> {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new HostAccessDenied("the connector's URL is not a valid URL");
    }
    const shown = `${url.protocol}//${url.host}${url.pathname}`;
    if (entries(this.tenant.urls).some((allowed) => urlMatches(allowed, url))) return;
    if (this.networks !== undefined && (await this.resolvesInside(url.hostname))) return;
    throw new HostAccessDenied(`${shown} is not allowed by the operator (config tenant_connectors.urls or networks)`);
  }

  /** Whether `host` is, or resolves only to, addresses inside the allowed networks. */
  private async resolvesInside(host: string): Promise<boolean> {
    const bare = host.replace(/^\[|\]$/g, "");
    let addresses: { address: string; family: number }[];
    if (ipFamily(bare) !== 0) addresses = [{ address: bare, family: ipFamily(bare) }];
    else {
      try {
        addresses = await (await import("node:dns/promises")).lookup(bare, { all: true });
      } catch {
        return false;
      }
    }
    return addresses.length > 0 && addresses.every(({ address }) => this.networks!.has(address));
  }
}

/**
 * Headers that choose where a request goes, or how it is framed, rather than what it says: set by a
 * tenant's connector, `Host` would reach another virtual host behind the allowed address, the
 * forwarding headers would speak for a proxy, and the framing ones would split or smuggle requests.
 */
const ROUTING_HEADERS = new Set(["host", "forwarded", "connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade", "proxy-authorization", "proxy-connection", "via"]);

/** Refuses headers a tenant's connector may not send (ROUTING_HEADERS, and the proxies' `X-Forwarded-*`, `X-Real-*`, `X-Original-*`, `X-Rewrite-*`). */
function checkHeaders(names: readonly string[]): void {
  const refused = names.filter((name) => ROUTING_HEADERS.has(name.trim().toLowerCase()) || /^\s*x-(forwarded|real|original|rewrite)-/i.test(name));
  if (refused.length > 0) throw new HostAccessDenied(`header${refused.length === 1 ? "" : "s"} ${refused.join(", ")} may not be set by a connector added by a tenant: they choose where a request goes, not what it says`);
}

/** Allow-list entries as they apply to one tenant. */
type Entries = (list: string[] | undefined) => string[];

/**
 * Allow-list entries with `{tenant}` replaced by the tenant's name, so one config can give each tenant
 * its own folder or URL. A name that is not a plain path segment drops such entries.
 */
function tenantEntries(list: string[] | undefined, tenantName: string): string[] {
  const plain = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(tenantName) && tenantName !== "..";
  return (list ?? []).flatMap((entry) => (!entry.includes("{tenant}") ? [entry] : plain ? [entry.replaceAll("{tenant}", tenantName)] : []));
}

/** The real path of `path` when it exists (symlinks and `..` resolved), else its absolute form. */
function realOrResolved(path: string): string {
  const absolute = resolve(path);
  if (existsSync(absolute)) return realpathSync(absolute);
  // A file not made yet: resolve its folder, so a symlinked folder still names the real place.
  const folder = dirname(absolute);
  return existsSync(folder) ? resolve(realpathSync(folder), absolute.slice(folder.length + 1)) : absolute;
}

function isInside(path: string, folder: string): boolean {
  const rest = relative(folder, path);
  return rest === "" || (!rest.startsWith(`..${sep}`) && rest !== ".." && !isAbsolute(rest));
}

function argsMatch(rule: CommandRule, args: readonly string[]): boolean {
  const globs = rule.args ?? [];
  const open = globs.at(-1) === "**";
  const fixed = open ? globs.slice(0, -1) : globs;
  if (open ? args.length < fixed.length : args.length !== fixed.length) return false;
  return fixed.every((glob, index) => new Bun.Glob(glob).match(args[index]!));
}

/** Whether `url` is allowed by the entry `allowed`: same scheme and port, host equal (or under a `*.` suffix), path matching its glob (`/**`: any). */
function urlMatches(allowed: string, url: URL): boolean {
  const wildcardHost = /^([a-z][a-z0-9+.-]*:\/\/)\*\./i.exec(allowed);
  let entry: URL;
  try {
    entry = new URL(wildcardHost ? allowed.replace("*.", "wildcard.") : allowed);
  } catch {
    return false;
  }
  if (entry.protocol !== url.protocol || entry.port !== url.port) return false;
  const host = url.hostname.toLowerCase();
  const hostOk = wildcardHost ? host.endsWith(`.${entry.hostname.slice("wildcard.".length)}`) : host === entry.hostname;
  if (!hostOk) return false;
  try {
    return new Bun.Glob(decodeURI(entry.pathname)).match(decodeURI(url.pathname));
  } catch {
    return false;
  }
}
