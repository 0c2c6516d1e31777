// The firewall and NAT as fos1 enforces them in nftables: zones resolved to kernel interface
// names, rules in evaluation order, VLAN policies as interface pairs, NAT per policy.
import type { LoadedObject } from "../api/load";
import type { ConfigObject } from "../api/kinds";
import { NetworkIndex } from "../api/network-index";
import { canonicalIp, formatPrefix, network, parsePrefix } from "../api/ip";
import { serviceRules } from "./services";
import { CLUSTER_DEVICES, TUNNEL_PORT } from "../api/cluster-devices";
import type { FirewallRuleT, FirewallZoneT, NATPolicyT, VLANPolicyT } from "../api/schema/security";

export type Policy = "accept" | "drop" | "reject";
export type Protocol = "tcp" | "udp" | "icmp" | "icmpv6" | "any";
export type PortRange = [number, number];

export interface FwZone {
  name: string;
  /** Kernel interface names; a cluster zone's are patterns (CLUSTER_DEVICES). */
  interfaces: string[];
  input: Policy;
  forward: Policy;
  management: boolean;
  cluster?: FwCluster;
}

export interface FwCluster {
  podCIDRs: string[];
  serviceCIDRs: string[];
  nodes: string[];
  /** The tunnel's UDP port between nodes, if any. */
  tunnelPort?: number;
}

export interface FwRule {
  ref: string;
  name: string;
  from: string;
  /** A zone name, or "host" for the router itself. */
  to: string;
  protocol: Protocol;
  ports: PortRange[];
  sources: string[];
  destinations: string[];
  action: "allow" | "deny" | "reject";
  log: boolean;
  rateLimit?: { rate: number; per: "second" | "minute" | "hour"; burst?: number };
  /**
   * A UDP service of the router's own that answers in one datagram (DNS): its queries and the
   * answers skip connection tracking. Each query from a stub resolver comes from a new port, so
   * tracked it would cost a new conntrack entry, held for 30 s, per query.
   */
  untracked?: boolean;
}

export interface FwVlanPolicy {
  ref: string;
  name: string;
  fromVlan: number;
  toVlan: number;
  fromInterfaces: string[];
  toInterfaces: string[];
  allowAll: boolean;
  rules: { protocol: Protocol; ports: PortRange[]; allow: boolean }[];
}

export interface FwPortForward {
  protocol: "tcp" | "udp";
  ports: PortRange;
  to: string;
  toPort: number;
  hairpin: boolean;
}

export interface FwNat {
  ref: string;
  name: string;
  type: "masquerade" | "snat" | "dnat" | "nptv6";
  interface: string;
  sources: string[];
  toAddress?: string;
  ipv6: boolean;
  internalPrefix?: string;
  externalPrefix?: string;
  externalAddress?: string;
  forwards: FwPortForward[];
}

export interface DesiredFirewall {
  zones: FwZone[];
  rules: FwRule[];
  vlanPolicies: FwVlanPolicy[];
  nat: FwNat[];
}

/** Ports the management zone always reaches on the router (Talos apid, trustd, kube-apiserver, kubelet, etcd). */
export const MANAGEMENT_PORTS: PortRange[] = [[50000, 50000], [50001, 50001], [6443, 6443], [10250, 10250], [2379, 2380]];

export const parsePort = (p: number | string): PortRange => {
  if (typeof p === "number") return [p, p];
  const [a, b] = p.split("-").map(Number) as [number, number];
  return [a, b];
};

const DEFAULT_PRIORITY = 1000;

export function desiredFirewall(objects: LoadedObject<ConfigObject>[], idx = new NetworkIndex(objects)): DesiredFirewall {
  const ifname = (ref: string) => {
    const i = idx.resolve(ref);
    return i ? (i.ifname ?? `mac:${i.obj.value.spec.mac!.toLowerCase()}`) : ref;
  };
  const of = <T extends ConfigObject>(kind: string) => objects.filter((o) => o.value.kind === kind) as LoadedObject<T>[];

  const zones: FwZone[] = of<FirewallZoneT>("FirewallZone").map((z) => {
    const name = z.value.metadata.name;
    const members = new Set((z.value.spec.interfaces ?? []).map(ifname));
    const selector = z.value.spec.interfaceSelector?.matchLabels;
    for (const i of idx.interfaces) {
      const labels = i.obj.value.metadata.labels ?? {};
      if (i.obj.value.spec.zone === name || (selector && Object.entries(selector).every(([k, v]) => labels[k] === v))) members.add(ifname(i.name));
    }
    const c = z.value.spec.cluster;
    // The cluster's flows are Cilium's to police (its host firewall, its policies): fos1 only admits them.
    const open: Policy = c ? "accept" : "drop";
    const zone: FwZone = {
      name,
      interfaces: c ? [...CLUSTER_DEVICES] : [...members].sort(),
      input: z.value.spec.input ?? open,
      forward: z.value.spec.forward ?? open,
      management: z.value.spec.management ?? false,
    };
    if (c) {
      const tunnelPort = TUNNEL_PORT[c.tunnel ?? "vxlan"];
      zone.cluster = { podCIDRs: c.podCIDRs.map(canonicalNet), serviceCIDRs: (c.serviceCIDRs ?? []).map(canonicalNet), nodes: (c.nodes ?? []).map(canonicalNet), ...(tunnelPort ? { tunnelPort } : {}) };
    }
    return zone;
  });

  // The router's own LAN services come first: what a DHCPServer, RouterAdvertisement or
  // DNSResolver serves, its zone reaches, before any rule of the operator's.
  const zoneOf = (ref: string) => zones.find((z) => z.interfaces.includes(ifname(ref)))?.name;
  const rules: FwRule[] = [...serviceRules(objects, zoneOf, ifname), ...userRules(of<FirewallRuleT>("FirewallRule"))];

  const vlanInterfaces = (id: number) => idx.interfaces.filter((i) => i.type === "vlan" && i.obj.value.spec.vlan?.id === id).map((i) => i.name).sort();
  const vlanPolicies: FwVlanPolicy[] = of<VLANPolicyT>("VLANPolicy").map((v) => ({
    ref: v.ref,
    name: v.value.metadata.name,
    fromVlan: v.value.spec.fromVLAN,
    toVlan: v.value.spec.toVLAN,
    fromInterfaces: vlanInterfaces(v.value.spec.fromVLAN),
    toInterfaces: vlanInterfaces(v.value.spec.toVLAN),
    allowAll: v.value.spec.allowAll ?? false,
    rules: (v.value.spec.rules ?? []).map((r) => ({ protocol: r.protocol, ports: r.port !== undefined ? [parsePort(r.port)] : [], allow: r.allow })),
  }));

  const nat: FwNat[] = of<NATPolicyT>("NATPolicy").map((n) => {
    const s = n.value.spec;
    const out: FwNat = {
      ref: n.ref,
      name: n.value.metadata.name,
      type: s.type,
      interface: ifname(s.interface),
      sources: (s.sources ?? []).map(canonicalNet),
      ipv6: s.ipv6 ?? false,
      forwards: (s.forwards ?? []).map((f) => {
        const ports = parsePort(f.port);
        return { protocol: f.protocol, ports, to: canonicalIp(f.to)!, toPort: f.toPort ?? ports[0], hairpin: f.hairpin ?? true };
      }),
    };
    if (s.toAddress) out.toAddress = canonicalIp(s.toAddress)!;
    if (s.internalPrefix) out.internalPrefix = canonicalNet(s.internalPrefix);
    if (s.externalPrefix) out.externalPrefix = canonicalNet(s.externalPrefix);
    if (s.externalAddress) out.externalAddress = canonicalIp(s.externalAddress)!;
    return out;
  });

  return { zones, rules, vlanPolicies, nat };
}

const canonicalNet = (cidr: string) => formatPrefix(network(parsePrefix(cidr)!));

/** The networks of the management zones' interfaces (their static addresses): where the operator manages the box from. */
export function managementNetworks(objects: LoadedObject<ConfigObject>[]): string[] {
  const idx = new NetworkIndex(objects);
  const zones = desiredFirewall(objects, idx).zones.filter((z) => z.management);
  const nets = idx.interfaces.filter((i) => zones.some((z) => z.interfaces.includes(i.ifname ?? ""))).flatMap((i) => (i.obj.value.spec.addresses ?? []).map(canonicalNet));
  return [...new Set(nets)].sort();
}

/** FirewallRule objects in evaluation order: by priority, then as written. */
function userRules(objects: LoadedObject<FirewallRuleT>[]): FwRule[] {
  return objects
    .map((r, order) => ({ r, order }))
    .sort((a, b) => (a.r.value.spec.priority ?? DEFAULT_PRIORITY) - (b.r.value.spec.priority ?? DEFAULT_PRIORITY) || a.order - b.order)
    .map(({ r }) => {
      const s = r.value.spec;
      const rule: FwRule = {
        ref: r.ref,
        name: r.value.metadata.name,
        from: s.fromZone,
        to: s.toZone,
        protocol: s.protocol ?? "any",
        ports: (s.ports ?? []).map(parsePort),
        sources: (s.sources ?? []).map(canonicalNet),
        destinations: (s.destinations ?? []).map(canonicalNet),
        action: s.action,
        log: s.log ?? false,
      };
      if (s.rateLimit) rule.rateLimit = { rate: s.rateLimit.rate, per: s.rateLimit.per ?? "second", ...(s.rateLimit.burst ? { burst: s.rateLimit.burst } : {}) };
      return rule;
    });
}
