// dnsmasq's lease file as fos1 reports it (`fos1 leases`, `fos1 status`, /metrics): one lease a
// line, IPv4 ones as "<expiry> <mac> <address> <hostname|*> <client-id|*>", then, after a
// "duid <server DUID>" line, IPv6 ones as "<expiry> <iaid> <address> <hostname|*> <client DUID>".
// An expiry of 0 is a lease that never ends. Pure: the interface a lease belongs to is found by
// the caller, from the network its address is in.
import { contains, parseIp, parsePrefix } from "../../api/ip";

export interface Lease {
  family: 4 | 6;
  address: string;
  /** The client's MAC (IPv4) or DUID (IPv6). */
  client: string;
  hostname: string | null;
  /** ISO time, or null for a lease that does not expire. */
  expires: string | null;
  /** The served interface whose network holds the address, when known. */
  interface: string | null;
}

export function parseLeases(text: string): Lease[] {
  const out: Lease[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[0] === "duid") continue;
    const [expiry, id, address, host, clientId] = f as [string, string, string, string, string | undefined];
    const family = address.includes(":") ? 6 : 4;
    out.push({
      family,
      address,
      client: family === 4 ? id : (clientId ?? id),
      hostname: host === "*" ? null : host,
      expires: Number(expiry) === 0 ? null : new Date(Number(expiry) * 1000).toISOString(),
      interface: null,
    });
  }
  return out;
}

/** Each lease with the interface whose network (one of its CIDRs, as the kernel has them) holds its address. */
export function placeLeases(leases: Lease[], interfaces: { name: string; cidrs: string[] }[]): Lease[] {
  const nets = interfaces.flatMap((i) => i.cidrs.flatMap((c) => (parsePrefix(c) ? [{ name: i.name, net: parsePrefix(c)! }] : [])));
  return leases.map((l) => {
    const ip = parseIp(l.address);
    const found = ip ? nets.filter((n) => contains(n.net, ip)).sort((a, b) => b.net.len - a.net.len)[0] : undefined;
    return { ...l, interface: found?.name ?? null };
  });
}
