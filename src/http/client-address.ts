/**
 * The client's address, which keys the per-address rate limit before authentication. It is the TCP
 * peer's, unless the peer is one of the operator's `trusted_proxies`: then the right-most hop of
 * `X-Forwarded-For` (or, without it, of `Forwarded: for=`) that is not itself a trusted proxy. Hops left
 * of that one are whatever the client wrote and are never read, so a forged header changes nothing.
 */

/** node:net, loaded at first use: a server without trusted proxies never needs it (the cold-start target). */
const net = (): typeof import("node:net") => require("node:net");

/** The operator's trusted proxies, parsed once. */
export interface TrustedProxies {
  /** Whether `address` (IPv4, IPv6 or IPv4-mapped IPv6) is one of them. */
  has(address: string): boolean;
}

/** Why an entry of `trusted_proxies` is unusable, or undefined when it is an address or a CIDR. */
export function trustedProxyProblem(entry: string): string | undefined {
  const [address = "", prefix, ...rest] = entry.split("/");
  const family = net().isIP(address);
  if (family === 0 || rest.length > 0) return `"${entry}" is not an IP address or a CIDR (e.g. 10.0.0.0/8, fd00::/8)`;
  if (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128))) return `"${entry}" has an invalid prefix length`;
  return undefined;
}

/** Parses `trusted_proxies` (entries already checked with `trustedProxyProblem`). */
export function parseTrustedProxies(entries: readonly string[]): TrustedProxies {
  if (entries.length === 0) return { has: () => false };
  const list = new (net().BlockList)();
  for (const entry of entries) {
    const [address = "", prefix] = entry.split("/");
    const type = net().isIP(address) === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return {
    has: (address) => {
      const family = net().isIP(address);
      return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6");
    },
  };
}

/** `::ffff:192.0.2.1` (a dual-stack socket's view of an IPv4 peer) as `192.0.2.1`, so one client has one bucket. */
function canonical(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address.toLowerCase();
}

/** One hop of a forwarding header as a bare address: quotes, `[…]` around IPv6 and a port removed; undefined if it is none. */
function hopAddress(raw: string): string | undefined {
  let hop = raw.trim().replace(/^"(.*)"$/, "$1");
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed) hop = bracketed[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(hop)) hop = hop.slice(0, hop.indexOf(":"));
  return net().isIP(hop) === 0 ? undefined : canonical(hop);
}

/** The hops a request names, nearest last: `X-Forwarded-For` if present, else the `for=` of each `Forwarded` element (RFC 7239). */
function forwardedHops(headers: Headers): string[] {
  const xff = headers.get("x-forwarded-for");
  if (xff !== null) return xff.split(",");
  const forwarded = headers.get("forwarded");
  if (forwarded === null) return [];
  // A quoted value cannot hold a comma or a semicolon in a `for=` (an address, `unknown` or an `_obfuscated` name).
  return forwarded.split(",").map((element) => element.split(";").map((pair) => pair.trim()).find((pair) => /^for=/i.test(pair))?.slice(4) ?? "");
}

/**
 * The client address of a request whose TCP peer is `peer` (undefined in-process): the peer, or behind
 * trusted proxies the right-most forwarded hop that is not one of them. A hop that is no address (`unknown`,
 * an obfuscated name, garbage) ends the walk: the nearest trusted address seen stands for the client.
 */
export function clientAddressOf(peer: string | undefined, headers: Headers, trusted: TrustedProxies): string | undefined {
  if (peer === undefined) return undefined;
  let address = canonical(peer);
  if (!trusted.has(address)) return address;
  const hops = forwardedHops(headers);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hopAddress(hops[i]!);
    if (hop === undefined) break;
    address = hop;
    if (!trusted.has(hop)) break;
  }
  return address;
}
