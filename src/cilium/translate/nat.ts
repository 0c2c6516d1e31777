// NATPolicy → CiliumEgressGatewayPolicy where it applies. Cilium translates pod traffic only:
// a masquerade or IPv4 SNAT whose sources hold a zone's networks also covers that zone's pods,
// which an egress gateway policy sends out through the router's WAN interface (masquerade) or
// with the SNAT address, wherever in the cluster they run. The LAN hosts themselves, IPv6
// (NAT66, NPTv6: Cilium's egress gateway is IPv4 only) and port forwards stay in the node's
// nftables, and the status says which part went where.
import { formatPrefix, parseIp, parsePrefix } from "../../api/ip";
import type { FwNat } from "../../policy/model";
import { within } from "./cidr-set";
import { POD_ZONES_NAMESPACE_LABEL, ROLE_LABEL, ROUTER_ROLE, ZONE_LABEL, type Topology } from "./topology";

export interface NatTranslation {
  ref: string;
  /** The CiliumEgressGatewayPolicy spec, when some of the policy is Cilium's. */
  egressGateway?: Record<string, unknown>;
  /** Zones whose pods the egress gateway policy covers. */
  zones: string[];
  nftables: string;
  notes: string[];
}

export function translateNat(n: FwNat, topo: Topology): NatTranslation {
  const base = { ref: n.ref, zones: [] as string[], notes: [] as string[] };
  if (n.type === "dnat") return { ...base, nftables: "port forwards to LAN hosts (DNAT, hairpin): Cilium does not translate traffic for hosts that are not pods" };
  if (n.type === "nptv6") return { ...base, nftables: "NPTv6 prefix translation: Cilium's egress gateway is IPv4 only" };
  const v6 = n.type === "masquerade" ? n.ipv6 : parseIp(n.toAddress!)!.family === 6;
  const lanHosts = `${n.type === "masquerade" ? "masquerade" : `SNAT to ${n.toAddress}`} of ${n.sources.join(", ")} out of ${n.interface}`;
  if (v6) return { ...base, nftables: `${lanHosts}: Cilium's egress gateway is IPv4 only` };

  const sources = n.sources.map((s) => parsePrefix(s)!);
  const zones = [...topo.zones].sort((a, b) => a.name.localeCompare(b.name)).filter((z) => {
    const v4 = z.networks.filter((p) => p.family === 4);
    return v4.length > 0 && v4.every((net) => sources.some((s) => within(net, s)));
  });
  if (!zones.length) return { ...base, nftables: lanHosts, notes: [`no zone's IPv4 networks lie within ${n.sources.join(", ")}, so no pods are translated: nothing for Cilium`] };
  if (n.interface.startsWith("mac:"))
    return { ...base, nftables: lanHosts, notes: ["its interface is matched by MAC, so its kernel name is known only on the node: the egress gateway for pods is left to nftables' masquerade on the router (pods on other nodes are not covered)"] };

  const internal = topo.zones.flatMap((z) => z.networks.filter((p) => p.family === 4)).map(formatPrefix);
  const egressGateway = {
    selectors: zones.map((z) => ({ podSelector: { matchLabels: { [ZONE_LABEL]: z.name } }, namespaceSelector: { matchLabels: { [POD_ZONES_NAMESPACE_LABEL]: "true" } } })),
    destinationCIDRs: ["0.0.0.0/0"],
    ...(internal.length ? { excludedCIDRs: [...new Set(internal)].sort() } : {}),
    egressGateway: { nodeSelector: { matchLabels: { [ROLE_LABEL]: ROUTER_ROLE } }, ...(n.type === "snat" ? { egressIP: n.toAddress! } : { interface: n.interface }) },
  };
  return { ...base, zones: zones.map((z) => z.name), egressGateway, nftables: lanHosts };
}
