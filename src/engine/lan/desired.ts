// DHCPServer, RouterAdvertisement and DNSResolver objects → the LAN services as the engine runs
// them, every default filled in: the router itself as DNS server (and search domain) where the
// resolver serves the interface's zone, 12 h leases, SLAAC on, the O flag where DHCP serves.
import type { LoadedObject } from "../../api/load";
import type { ConfigObject } from "../../api/kinds";
import { contains, formatPrefix, network, parseIp, parsePrefix } from "../../api/ip";
import { raOtherConfig, type DHCPServerT, type DNSResolverT, type RouterAdvertisementT } from "../../api/schema/services";
import { zoneClaims } from "../../api/zone-claims";
import { parseDuration } from "../../base/duration";
import type { DesireContext } from "../links/kinds/kind";
import type { DesiredDhcpServer, DesiredLan, DesiredResolver, DesiredRouterAdvertisement } from "./model";

const DEFAULT_LEASE_SECONDS = 12 * 3600;
export const DEFAULT_LOCAL_DOMAIN = "home.arpa";
const seconds = (text: string | undefined) => (text === undefined ? DEFAULT_LEASE_SECONDS : Math.round(parseDuration(text)! / 1000));

export function desiredLan(objects: LoadedObject<ConfigObject>[], ctx: DesireContext): DesiredLan {
  const of = <T extends ConfigObject>(kind: string) => objects.filter((o) => o.value.kind === kind) as LoadedObject<T>[];
  const ifnameOf = (ref: string) => ctx.refName(ref);
  const resolver = of<DNSResolverT>("DNSResolver")[0];
  const claims = resolver ? zoneClaims(objects, ctx.idx) : [];
  const servedIfnames = resolver ? [...new Set(claims.filter((c) => c.iface && resolver.value.spec.zones.includes(c.zone)).map((c) => ctx.ifname(c.iface!)))].sort() : [];
  const resolves = (ifname: string) => servedIfnames.includes(ifname);
  const localDomain = resolver?.value.spec.localDomain ?? DEFAULT_LOCAL_DOMAIN;

  const dhcpServers = of<DHCPServerT>("DHCPServer");
  const dhcp: DesiredDhcpServer[] = dhcpServers.map((o) => {
    const s = o.value.spec;
    const ifname = ifnameOf(s.interface);
    const subnets = (ctx.idx.resolve(s.interface)!.obj.value.spec.addresses ?? []).flatMap((a) => {
      const p = parsePrefix(a);
      return p?.family === 4 ? [p] : [];
    });
    return {
      ref: o.ref,
      ifname,
      pools: (s.pools ?? []).map((p) => ({ ...p, prefixLength: subnets.find((n) => contains(n, parseIp(p.start)!))?.len ?? 24 })),
      subnets: subnets.map((n) => formatPrefix(network(n))),
      leaseSeconds: seconds(s.leaseTime),
      gateway: s.gateway ?? null,
      dnsServers: s.dnsServers ?? (resolves(ifname) ? ["router"] : []),
      domain: s.domain ?? (resolves(ifname) ? localDomain : null),
      staticLeases: (s.staticLeases ?? []).map((l) => ({ ...l, mac: l.mac.toLowerCase() })),
      options: s.options ?? [],
      v6: s.v6 ? { pools: s.v6.pools, leaseSeconds: seconds(s.v6.leaseTime) } : null,
    };
  });

  const ra: DesiredRouterAdvertisement[] = of<RouterAdvertisementT>("RouterAdvertisement").map((o) => {
    const s = o.value.spec;
    const ifname = ifnameOf(s.interface);
    const dhcpHere = dhcp.some((d) => d.ifname === ifname);
    return {
      ref: o.ref,
      ifname,
      slaac: s.slaac ?? true,
      managed: s.managed ?? false,
      otherConfig: raOtherConfig(s, dhcpHere),
      dnsServers: s.dnsServers ?? (resolves(ifname) ? ["router"] : []),
      searchDomains: s.searchDomains ?? (resolves(ifname) ? [localDomain] : []),
      mtu: s.mtu ?? null,
      routerLifetime: s.routerLifetime ?? 1800,
      preference: s.preference ?? "medium",
      interval: s.interval ?? 600,
    };
  });

  const dns: DesiredResolver | null = resolver
    ? {
        ref: resolver.ref,
        ifnames: servedIfnames,
        forwarders: resolver.value.spec.forwarders ?? [],
        dnssec: resolver.value.spec.dnssec ?? false,
        localDomain,
        hosts: resolver.value.spec.hosts ?? [],
        cacheSize: resolver.value.spec.cacheSize ?? 10_000,
      }
    : null;
  return { dhcp, ra, dns };
}
