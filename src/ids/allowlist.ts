// Addresses an IDS alert can never block, each with its class (the metrics' label) and reason.
// Alerts can be forged (category.ts): whatever a forged alert names must not cut the router off
// from what it cannot work without, nor lock the operator out.
//   - not_a_host: unspecified, loopback, multicast, broadcast. A DHCP discover comes from
//     0.0.0.0; blocking it would cut every new client off;
//   - link_local: fe80::/10, the neighbours of every IPv6 link (router advertisements, the
//     uplink's gateway as IPv6 routes name it, neighbour discovery);
//   - management: the networks of the management zones (FirewallZone management: true): the
//     networks of their interfaces' addresses and of the routes through them (the translation's
//     topology, src/cilium/translate/topology.ts), and the kernel's global addresses of those
//     interfaces (a DHCP-addressed management port is in no config). A management zone's
//     default route (the internet) is not part of it: that would allow every address;
//   - router: the router's own addresses (configured, and the kernel's);
//   - gateway, dhcp_server: what the uplinks' DHCP leases name;
//   - next_hop: the gateways of fos1's routes (configured, and in the kernel's tables: fos1's
//     Route objects and its DHCP client's routes);
//   - dns: the resolvers the config names (DNSResolver forwarders, the DNS servers DHCP and
//     router advertisements hand out) and those the leases name;
//   - cluster_node: the addresses of the cluster's nodes (with --cluster);
//   - operator: --allow.
// Pure: built from config objects and the host's state as read by host-facts.ts.
import { bits, contains, formatPrefix, network, parseIp, parsePrefix, type Family, type Prefix } from "../api/ip";
import type { LoadedObject } from "../api/load";
import type { ConfigObject } from "../api/kinds";
import { topology } from "../cilium/translate/topology";

export const ALLOW_CLASSES = ["not_a_host", "link_local", "management", "router", "gateway", "dhcp_server", "next_hop", "dns", "cluster_node", "operator"] as const;
export type AllowClass = (typeof ALLOW_CLASSES)[number];

export interface AllowEntry {
  prefix: Prefix;
  class: AllowClass;
  why: string;
}

/** The kernel's addresses of a link, as `ip -json address` gives them (src/engine/observe.ts). */
export interface LinkAddresses {
  name: string;
  mac: string | null;
  addresses: { cidr: string; scope: string }[];
}

/** What a DHCP lease of an uplink names (src/engine/dhcp/lease.ts). */
export interface LeaseFacts {
  ifname: string;
  gateway?: string;
  server?: string;
  dnsServers: string[];
}

/** The host's state the allowlist depends on, read again while the reader runs. */
export interface HostFacts {
  links: LinkAddresses[];
  /** Gateways of fos1's routes in the kernel (every table): its Route objects' and its DHCP client's. */
  nextHops: string[];
  leases: LeaseFacts[];
  /** Addresses of the cluster's nodes. */
  nodes: string[];
}

export const NO_HOST_FACTS: HostFacts = { links: [], nextHops: [], leases: [], nodes: [] };

const BUILT_IN: [string, AllowClass, string][] = [
  ...["0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/4", "255.255.255.255/32", "::/128", "::1/128", "ff00::/8"].map(
    (c): [string, AllowClass, string] => [c, "not_a_host", "not a host's address (unspecified, loopback, multicast or broadcast)"],
  ),
  ["fe80::/10", "link_local", "an IPv6 link-local address (neighbours, router advertisements, gateways)"],
];

const hostPrefix = (p: Prefix): Prefix => ({ ...p, len: bits(p.family) });

export class Allowlist {
  constructor(readonly entries: AllowEntry[]) {}

  /** Why the address may not be blocked, or null when it may. */
  reasonFor(ip: { family: Family; addr: bigint }): { class: AllowClass; why: string } | null {
    const hit = this.entries.find((e) => contains(e.prefix, ip));
    return hit ? { class: hit.class, why: `${hit.why} (${formatPrefix(hit.prefix)})` } : null;
  }

  /** Entries per class, for the metrics. */
  counts(): Record<AllowClass, number> {
    const out = Object.fromEntries(ALLOW_CLASSES.map((c) => [c, 0])) as Record<AllowClass, number>;
    for (const e of this.entries) out[e.class]++;
    return out;
  }
}

/** The operator's --allow CIDRs; throws naming the first one that is not a network. */
export function operatorAllowlist(cidrs: string[]): AllowEntry[] {
  return cidrs.map((text) => {
    const p = parsePrefix(text);
    if (!p) throw new Error(`--allow "${text}" is not a CIDR; give a network like 192.0.2.0/24 or 2001:db8::/48`);
    return { prefix: network(p), class: "operator", why: "allowed by --allow" };
  });
}

export function buildAllowlist(objects: LoadedObject<ConfigObject>[], host: HostFacts, operator: AllowEntry[]): Allowlist {
  const entries: AllowEntry[] = BUILT_IN.map(([c, cls, why]) => ({ prefix: parsePrefix(c)!, class: cls, why }));
  /** One address (a gateway, a resolver …) as a host entry; text that is no address is skipped. */
  const host1 = (text: string | undefined, cls: AllowClass, why: string) => {
    const ip = text === undefined ? null : parseIp(text);
    if (ip) entries.push({ prefix: { ...ip, len: bits(ip.family) }, class: cls, why });
  };
  const global = (l: LinkAddresses) => l.addresses.filter((a) => a.scope === "global").flatMap((a) => parsePrefix(a.cidr) ?? []);

  for (const zone of topology(objects).zones.filter((z) => z.management)) {
    const why = `management zone ${zone.name}`;
    for (const n of zone.networks) entries.push({ prefix: n, class: "management", why });
    for (const i of zone.interfaces) {
      const mac = i.obj.value.spec.mac?.toLowerCase();
      for (const link of host.links.filter((l) => l.name === i.ifname || (mac !== undefined && l.mac === mac)))
        for (const p of global(link)) entries.push({ prefix: network(p), class: "management", why });
    }
  }

  const own = "the router's own address";
  for (const o of objects) {
    const v = o.value;
    if (v.kind === "NetworkInterface")
      for (const a of v.spec.addresses ?? []) {
        const p = parsePrefix(a);
        if (p) entries.push({ prefix: hostPrefix(p), class: "router", why: own });
      }
    if (v.kind === "Route") host1(v.spec.gateway, "next_hop", `the next hop of Route ${v.metadata.name}`);
    if (v.kind === "DNSResolver") for (const f of v.spec.forwarders ?? []) host1(f, "dns", `a forwarder of DNSResolver ${v.metadata.name}`);
    if (v.kind === "DHCPServer" || v.kind === "RouterAdvertisement")
      for (const d of v.spec.dnsServers ?? []) host1(d, "dns", `a DNS server ${v.kind} ${v.metadata.name} hands out`);
  }
  for (const l of host.links) for (const p of global(l)) entries.push({ prefix: hostPrefix(p), class: "router", why: own });
  for (const hop of host.nextHops) host1(hop, "next_hop", "the next hop of a route of fos1's in the kernel");
  for (const lease of host.leases) {
    host1(lease.gateway, "gateway", `the gateway of ${lease.ifname}'s DHCP lease`);
    host1(lease.server, "dhcp_server", `the DHCP server of ${lease.ifname}'s lease`);
    for (const d of lease.dnsServers) host1(d, "dns", `a DNS server of ${lease.ifname}'s DHCP lease`);
  }
  for (const n of host.nodes) host1(n, "cluster_node", "a node of the cluster");
  return new Allowlist([...entries, ...operator]);
}
