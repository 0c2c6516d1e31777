// What Cilium can know of fos1's zones and VLANs: a zone's pods carry the label
// fos1.io/zone=<zone> (a VLAN's, fos1.io/vlan=<id>), and its hosts are the networks of its
// interfaces' addresses and of the routes through it; the zone that holds a default route (a
// DHCP client or a static default) is also "the internet": everything no other zone claims.
// A network inside another zone's is that zone's (longest prefix wins), so zones never overlap.
import { network, parseIp, parsePrefix, type Family, type Prefix } from "../../api/ip";
import type { LoadedObject } from "../../api/load";
import type { ConfigObject } from "../../api/kinds";
import { NetworkIndex, type InterfaceInfo } from "../../api/network-index";
import { desiredFirewall, type DesiredFirewall, type Policy } from "../../policy/model";
import { cidrSet, subtract, within } from "./cidr-set";
import type { Peer, Selector } from "./peer";

export const ZONE_LABEL = "fos1.io/zone";
export const VLAN_LABEL = "fos1.io/vlan";
/** Host policies select router nodes by a label of fos1's own: Cilium drops kubernetes.io keys from the host endpoint's labels. */
export const ROLE_LABEL = "fos1.io/role";
export const ROUTER_ROLE = "router";

export interface Zone {
  name: string;
  ref: string;
  input: Policy;
  forward: Policy;
  management: boolean;
  interfaces: InterfaceInfo[];
  /** The zone's own networks (addresses, routes), not the internet part. */
  networks: Prefix[];
  /** Families for which this zone holds the default route. */
  internet: Family[];
  region: Peer;
}

export interface Vlan {
  id: number;
  /** The NetworkInterface that declares it (the first by name), owner of its policy. */
  owner: string;
  region: Peer;
}

export interface Topology {
  fw: DesiredFirewall;
  zones: Zone[];
  /** VLANs that a VLANPolicy names, by id. */
  vlans: Map<number, Vlan>;
  dhcp: { v4: boolean; v6: boolean };
  /** Remarks on objects ("Kind/name" → sentences) for their status. */
  notes: Map<string, string[]>;
}

/**
 * A pod sets its own labels, so its zone or VLAN label counts only in a namespace an admin has
 * labelled `fos1.io/pod-zones: "true"` (namespaces' labels are the admin's to set). Cilium gives
 * every endpoint its namespace's labels under this prefix.
 */
export const POD_ZONES_NAMESPACE_LABEL = "fos1.io/pod-zones";
export const ZONES_ALLOWED: Record<string, string> = { [`k8s:io.cilium.k8s.namespace.labels.${POD_ZONES_NAMESPACE_LABEL}`]: "true" };

export const zoneSelector = (zone: string, policiedVlans: number[]): Selector => ({
  matchLabels: { [ZONE_LABEL]: zone, ...ZONES_ALLOWED },
  ...(policiedVlans.length ? { matchExpressions: [{ key: VLAN_LABEL, operator: "NotIn" as const, values: policiedVlans.map(String) }] } : {}),
});
export const vlanSelector = (id: number): Selector => ({ matchLabels: { [VLAN_LABEL]: String(id), ...ZONES_ALLOWED } });
/** The cluster's own workloads: pods placed in no zone and no VLAN (kube-dns, operators, …). */
export const UNZONED: Selector = { matchExpressions: [{ key: ZONE_LABEL, operator: "DoesNotExist" }, { key: VLAN_LABEL, operator: "DoesNotExist" }] };

const INTERNET: Record<Family, Prefix> = { 4: parsePrefix("0.0.0.0/0")!, 6: parsePrefix("::/0")! };

export function topology(objects: LoadedObject<ConfigObject>[]): Topology {
  const idx = new NetworkIndex(objects);
  const notes = new Map<string, string[]>();
  const note = (ref: string, text: string) => notes.set(ref, [...(notes.get(ref) ?? []), text]);
  // The cluster zone is Cilium's own ground (its pods, its devices): Cilium's policies already
  // decide there, so it and the rules naming it stay in nftables only.
  const all = desiredFirewall(objects);
  const cluster = all.zones.find((z) => z.cluster)?.name;
  const fw: DesiredFirewall = { ...all, zones: all.zones.filter((z) => z.name !== cluster), rules: all.rules.filter((r) => r.from !== cluster && r.to !== cluster) };
  if (cluster) {
    note(`FirewallZone/${cluster}`, "the cluster's own devices and pods: Cilium's policies and host firewall decide there, so nothing is translated for it (nftables admits its traffic)");
    for (const r of all.rules) if (r.from === cluster || r.to === cluster) note(r.ref, `it names the cluster zone ${cluster}: enforced in nftables only (Cilium's own policies govern the pods)`);
  }
  const ifname = (i: InterfaceInfo) => i.ifname ?? `mac:${i.obj.value.spec.mac!.toLowerCase()}`;
  const connected = (i: InterfaceInfo) => (i.obj.value.spec.addresses ?? []).map((a) => network(parsePrefix(a)!));

  const zones: Zone[] = fw.zones.map((z) => {
    const interfaces = idx.interfaces.filter((i) => z.interfaces.includes(ifname(i)));
    const ref = `FirewallZone/${z.name}`;
    const internet = new Set<Family>();
    for (const i of interfaces) {
      const d = i.obj.value.spec.dhcp;
      if (d && (d.v4 ?? true)) internet.add(4);
      if (d && (d.v6 || d.prefixDelegation)) internet.add(6);
    }
    return { name: z.name, ref, input: z.input, forward: z.forward, management: z.management, interfaces, networks: interfaces.flatMap(connected), internet: [...internet], region: { all: false, selectors: [], cidrs: [], entities: [] } };
  });
  const zoneOfAddress = (text: string) => {
    const ip = parseIp(text);
    return ip && zones.find((z) => z.networks.some((n) => n.family === ip.family && within({ family: ip.family, addr: ip.addr, len: n.family === 4 ? 32 : 128 }, n)));
  };
  for (const r of idx.routes) {
    const s = r.value.spec;
    const via = s.interface ? zones.find((z) => z.interfaces.some((i) => i === idx.resolve(s.interface!))) : s.gateway ? zoneOfAddress(s.gateway) : undefined;
    if (!via) continue;
    const dst = s.destination === "default" ? INTERNET[parseIp(s.gateway!)!.family] : network(parsePrefix(s.destination)!);
    if (dst.len === 0) via.internet = [...new Set([...via.internet, dst.family])];
    else via.networks.push(dst);
  }

  const delegated = idx.interfaces.filter((i) => i.obj.value.spec.delegatedPrefix).map((i) => i.name);
  const policiedVlans = [...new Set(fw.vlanPolicies.flatMap((v) => [v.fromVlan, v.toVlan]))].sort((a, b) => a - b);
  for (const z of zones) {
    const others = zones.filter((o) => o !== z).flatMap((o) => o.networks);
    let internet = z.internet;
    if (internet.includes(6) && delegated.length) {
      internet = internet.filter((f) => f !== 6);
      note(z.ref, `IPv6 prefixes delegated at run time (to ${delegated.join(", ")}) cannot be told apart from the internet here, so the zone's IPv6 internet part is left out of Cilium's rules (stricter: pods reach IPv6 hosts there only by rules naming destinations)`);
    }
    // Another zone's network inside this zone's (or inside the internet) belongs to that zone.
    const claimed = others.filter((o) => internet.includes(o.family) || z.networks.some((n) => within(o, n) && o.len > n.len));
    const cidrs = subtract(cidrSet([...z.networks, ...internet.map((f) => INTERNET[f])]), cidrSet(claimed));
    z.region = { all: false, selectors: [zoneSelector(z.name, policiedVlans)], cidrs, entities: [] };
    if (!cidrs.length) note(z.ref, `no addresses of the zone are known (no static address, route or DHCP client): in Cilium it is its pods only (label ${ZONE_LABEL}=${z.name})`);
  }

  const vlans = new Map<number, Vlan>();
  for (const id of policiedVlans) {
    const ifs = idx.interfaces.filter((i) => i.type === "vlan" && i.obj.value.spec.vlan?.id === id).sort((a, b) => a.name.localeCompare(b.name));
    vlans.set(id, { id, owner: ifs[0]!.obj.ref, region: { all: false, selectors: [vlanSelector(id)], cidrs: cidrSet(ifs.flatMap(connected)), entities: [] } });
  }

  const clients = idx.interfaces.map((i) => i.obj.value.spec.dhcp).filter((d) => d !== undefined);
  const dhcp = { v4: clients.some((d) => d.v4 ?? true), v6: clients.some((d) => d.v6 || d.prefixDelegation) };
  return { fw, zones, vlans, dhcp, notes };
}
