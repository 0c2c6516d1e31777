// Talos's own ingress firewall (table inet talos) as the backstop under fos1's: its default is
// block (talos-patches/firewall.yaml), so with fos1's table missing — a boot before the agent
// runs, an agent that cannot load anything — only these ports are open, and only from where
// the config expects them. A packet dropped by either table is dropped, so every port fos1's
// config opens toward the router is admitted here too, from the same networks: the management
// ports from the management zones, the cluster's node ports from its nodes, DHCP client
// replies, the LAN services and the operator's rules toward the router. Talos itself admits
// ICMP (rate-limited), loopback and the pod and service subnets in block mode. Pure: the fos1
// config in, NetworkRuleConfig documents out.
import { formatPrefix, network, parsePrefix } from "../../src/api/ip";
import type { LoadedObject } from "../../src/api/load";
import type { ConfigObject } from "../../src/api/kinds";
import { NetworkIndex } from "../../src/api/network-index";
import { NODE_TCP_PORTS } from "../../src/api/cluster-devices";
import { desiredFirewall, MANAGEMENT_PORTS, type FwZone, type PortRange } from "../../src/policy/model";
import type { Doc } from "./config-set";

const ANY = { 4: "0.0.0.0/0", 6: "::/0" } as const;
const LINK_LOCAL = "fe80::/10";

type TalosPort = number | string;
const talosPort = ([a, b]: PortRange): TalosPort => (a === b ? a : `${a}-${b}`);
const ALL_PORTS: PortRange[] = [[1, 65535]];

function rule(name: string, protocol: "tcp" | "udp", ports: PortRange[], subnets: string[]): Doc {
  return { apiVersion: "v1alpha1", kind: "NetworkRuleConfig", name, portSelector: { ports: ports.map(talosPort), protocol }, ingress: [...new Set(subnets)].map((subnet) => ({ subnet })) };
}

export function talosIngressRules(objects: LoadedObject<ConfigObject>[]): Doc[] {
  const idx = new NetworkIndex(objects);
  const fw = desiredFirewall(objects, idx);
  // Where a zone's traffic comes from: its interfaces' networks; any address of a family whose
  // addresses come at run time (a DHCP client, a delegated prefix) — fos1's table still holds
  // such traffic to its interfaces.
  const networksOf = (z: FwZone): string[] =>
    idx.interfaces
      .filter((i) => z.interfaces.includes(i.ifname ?? ""))
      .flatMap((i) => {
        const s = i.obj.value.spec;
        const nets = (s.addresses ?? []).map((a) => formatPrefix(network(parsePrefix(a)!)));
        if (s.dhcp && (s.dhcp.v4 ?? true)) nets.push(ANY[4]);
        if ((s.dhcp && (s.dhcp.v6 || s.dhcp.prefixDelegation)) || s.delegatedPrefix) nets.push(ANY[6]);
        return nets;
      });
  const docs: Doc[] = [];
  const management = fw.zones.filter((z) => z.management).flatMap(networksOf);
  if (management.length) docs.push(rule("fos1-management", "tcp", MANAGEMENT_PORTS, management));
  for (const z of fw.zones) {
    const c = z.cluster;
    if (!c?.nodes.length) continue;
    docs.push(rule("fos1-cluster-nodes", "tcp", [...MANAGEMENT_PORTS, ...NODE_TCP_PORTS.map((p): PortRange => [p, p])], c.nodes));
    if (c.tunnelPort) docs.push(rule("fos1-cluster-tunnel", "udp", [[c.tunnelPort, c.tunnelPort]], c.nodes));
  }
  const clients = idx.interfaces.map((i) => i.obj.value.spec.dhcp).filter((d) => d !== undefined);
  if (clients.some((d) => d.v4 ?? true)) docs.push(rule("fos1-dhcp-client", "udp", [[68, 68]], [ANY[4]]));
  if (clients.some((d) => d.v6 || d.prefixDelegation)) docs.push(rule("fos1-dhcpv6-client", "udp", [[546, 546]], [LINK_LOCAL]));

  const zones = new Map(fw.zones.map((z) => [z.name, z]));
  const used = new Set(docs.map((d) => String(d.name)));
  for (const r of fw.rules) {
    const zone = zones.get(r.from);
    if (r.to !== "host" || r.action !== "allow" || !zone || zone.cluster) continue;
    if (r.protocol !== "tcp" && r.protocol !== "udp" && r.protocol !== "any") continue; // ICMP: Talos admits it itself
    // DHCP clients ask before they have an address; DHCPv6 clients from their link-local one.
    const port = r.ports.length === 1 ? r.ports[0]![0] : undefined;
    const from = r.protocol === "udp" && port === 67 ? [ANY[4]] : r.protocol === "udp" && port === 547 ? [LINK_LOCAL] : r.sources.length ? r.sources : networksOf(zone);
    if (!from.length) continue;
    for (const protocol of r.protocol === "any" ? (["tcp", "udp"] as const) : [r.protocol]) {
      let name = `fos1-${zone.name}-${r.name}-${protocol}`;
      for (let n = 2; used.has(name); n++) name = `fos1-${zone.name}-${r.name}-${protocol}-${n}`;
      used.add(name);
      docs.push(rule(name, protocol, r.ports.length ? r.ports : ALL_PORTS, from));
    }
  }
  return docs;
}
