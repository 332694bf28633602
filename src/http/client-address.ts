/**
 * The client's address, which keys the per-address rate limit before authentication. It is the TCP
 * peer's, unless the peer is one of the operator's `trusted_proxies`: then the right-most hop of
 * `X-Forwarded-For` (or, without it, of `Forwarded: for=`) that is not itself a trusted proxy. Hops left
 * of that one are whatever the client wrote and are never read, so a forged header changes nothing.
 */

import { ipFamily, type AddressRanges } from "../address-ranges.ts";

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
  return ipFamily(hop) === 0 ? undefined : canonical(hop);
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
export function clientAddressOf(peer: string | undefined, headers: Headers, trusted: AddressRanges): string | undefined {
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
