// The LAN services as the engine runs them: what the DHCP server, the router advertisements
// and the resolver are to do, resolved to kernel interface names and the router's own
// addresses, with every default filled in. One dnsmasq serves all of it (README: why dnsmasq).
import { parseIp } from "../../api/ip";

export interface DesiredDhcpServer {
  ref: string;
  ifname: string;
  /** IPv4 pools, with the prefix length of the subnet they are in. */
  pools: { start: string; end: string; prefixLength: number }[];
  /** The interface's IPv4 subnets ("192.168.10.0/24"): a static lease is served only in one dnsmasq has a range for. */
  subnets: string[];
  leaseSeconds: number;
  /** Told to clients as their router; null: the router's own address on the interface. */
  gateway: string | null;
  /** "router": the router's own address on the interface; empty: no DNS server is told. */
  dnsServers: (string | "router")[];
  domain: string | null;
  staticLeases: { mac: string; address: string; hostname?: string }[];
  options: { name: string; value: string }[];
  /** Stateful DHCPv6: interface identifiers in every /64 of the interface. */
  v6: { pools: { start: string; end: string }[]; leaseSeconds: number } | null;
}

export interface DesiredRouterAdvertisement {
  ref: string;
  ifname: string;
  slaac: boolean;
  managed: boolean;
  otherConfig: boolean;
  /** RDNSS; "router": the router's own address on the interface. */
  dnsServers: (string | "router")[];
  searchDomains: string[];
  mtu: number | null;
  routerLifetime: number;
  preference: "low" | "medium" | "high";
  interval: number;
}

export interface DesiredResolver {
  ref: string;
  /**
   * The interfaces of the served zones. The firewall admits DNS only from them; dnsmasq itself
   * answers on every interface it serves (DHCP and RA included), as it has no DHCP-only mode.
   */
  ifnames: string[];
  /** Upstream resolvers; empty: those the uplinks' DHCP leases name. */
  forwarders: string[];
  dnssec: boolean;
  localDomain: string;
  hosts: { name: string; addresses: string[] }[];
  cacheSize: number;
}

export interface DesiredLan {
  dhcp: DesiredDhcpServer[];
  ra: DesiredRouterAdvertisement[];
  dns: DesiredResolver | null;
}

export const NO_LAN: DesiredLan = { dhcp: [], ra: [], dns: null };

/** Served interface → the IPv4 addresses in its pools. */
export function poolSizes(lan: DesiredLan | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of lan?.dhcp ?? []) {
    const size = d.pools.reduce((n, p) => n + Number(parseIp(p.end)!.addr - parseIp(p.start)!.addr) + 1, 0);
    out.set(d.ifname, (out.get(d.ifname) ?? 0) + size);
  }
  return out;
}
export const isEmptyLan = (l: DesiredLan) => !l.dhcp.length && !l.ra.length && !l.dns;
