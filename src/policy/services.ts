// What the router's LAN services need of the firewall, as rules of their own toward the router
// from the zones they serve: DHCPv4 (udp/67) where a DHCPServer hands out addresses, DHCPv6
// (udp/547) where a router advertisement sends clients to it, DNS (udp and tcp/53) from the
// resolver's zones, over UDP untracked (FwRule.untracked). Router solicitations and neighbour
// discovery are admitted everywhere already (IPv6 essentials). Being rules, they reach the
// nftables of the node and Cilium's host policy alike, and they open nothing on a zone that is
// not served.
import type { LoadedObject } from "../api/load";
import type { ConfigObject } from "../api/kinds";
import { raUsesDhcpv6, type DHCPServerT, type DNSResolverT, type RouterAdvertisementT } from "../api/schema/services";
import type { FwRule } from "./model";

export function serviceRules(objects: LoadedObject<ConfigObject>[], zoneOf: (interfaceRef: string) => string | undefined, ifname: (interfaceRef: string) => string): FwRule[] {
  const of = <T extends ConfigObject>(kind: string) => objects.filter((o) => o.value.kind === kind) as LoadedObject<T>[];
  const out: FwRule[] = [];
  const allow = (o: LoadedObject, name: string, zone: string | undefined, protocol: "udp" | "tcp", port: number, untracked = false) => {
    if (zone && !out.some((r) => r.from === zone && r.protocol === protocol && r.ports[0]![0] === port))
      out.push({ ref: o.ref, name, from: zone, to: "host", protocol, ports: [[port, port]], sources: [], destinations: [], action: "allow", log: false, ...(untracked ? { untracked } : {}) });
  };
  const dhcp = of<DHCPServerT>("DHCPServer");
  for (const d of dhcp) if (d.value.spec.pools?.length || d.value.spec.staticLeases?.length) allow(d, "dhcp-server", zoneOf(d.value.spec.interface), "udp", 67);
  for (const r of of<RouterAdvertisementT>("RouterAdvertisement")) {
    const served = dhcp.some((d) => ifname(d.value.spec.interface) === ifname(r.value.spec.interface));
    if (raUsesDhcpv6(r.value.spec, served)) allow(r, "dhcpv6-server", zoneOf(r.value.spec.interface), "udp", 547);
  }
  for (const resolver of of<DNSResolverT>("DNSResolver"))
    for (const zone of resolver.value.spec.zones) {
      allow(resolver, "dns", zone, "udp", 53, true);
      allow(resolver, "dns", zone, "tcp", 53);
    }
  return out;
}
