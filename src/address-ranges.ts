/**
 * Sets of IP addresses and CIDR ranges — the operator's trusted proxies, the networks tenant
 * connectors may reach: one parser and one membership test for both. node:net loads at first use,
 * so a server configured with neither never loads it (the cold-start target).
 */
const net = (): typeof import("node:net") => require("node:net");

/** The IP family of `text`: 4, 6, or 0 when it is no address. */
export function ipFamily(text: string): number {
  return net().isIP(text);
}

/** Why `entry` is neither an IP address nor a CIDR range, or undefined when it is one. */
export function rangeProblem(entry: string): string | undefined {
  const [address = "", prefix, ...rest] = entry.split("/");
  const family = ipFamily(address);
  if (family === 0 || rest.length > 0) return `"${entry}" is not an IP address or a CIDR (e.g. 10.0.0.0/8, fd00::/8)`;
  if (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128))) return `"${entry}" has an invalid prefix length`;
  return undefined;
}

/** A set of addresses and ranges. */
export interface AddressRanges {
  /** Whether `address` (IPv4 or IPv6) is inside one of the ranges. */
  has(address: string): boolean;
}

/** The set of `entries`, each an address or a CIDR range that `rangeProblem` accepts. */
export function addressRanges(entries: readonly string[]): AddressRanges {
  if (entries.length === 0) return { has: () => false };
  const list = new (net().BlockList)();
  for (const entry of entries) {
    const [address = "", prefix] = entry.split("/");
    const family = ipFamily(address);
    list.addSubnet(address, prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix), family === 4 ? "ipv4" : "ipv6");
  }
  return {
    has: (address) => {
      const family = ipFamily(address);
      return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6");
    },
  };
}
