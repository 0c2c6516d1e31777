// Who each Cilium policy protects and what it allows and denies, before any rendering:
//   - a zone's pods (fos1-zone-<zone>): its rules toward other zones (egress) and the other
//     zones' rules toward it (ingress), each pair resolved in order (pair.ts); the zone's
//     `forward: accept` allows the rest of its egress, another zone's allows its ingress;
//   - a VLAN's pods (fos1-vlan-<id>), for VLANs a VLANPolicy names: only the VLAN policies (a
//     VLAN policy replaces the zone rules for its pair; these pods follow no zone rule — stricter);
//   - the router (fos1-host, a host policy on nodes labelled fos1.io/role=router): every zone's
//     rules toward host, after what nftables accepts before any rule (management ports from
//     management zones, ICMP errors, IPv6 neighbour discovery, DHCP client replies); a zone's
//     `input: accept` allows the rest.
// Every pod policy is default-deny both ways (fos1's stance); the cluster's own traffic (nodes,
// the API server, Cilium's health checks, pods in no zone such as kube-dns) is allowed, since
// the firewall's rules are about zones. The router's own output is not filtered (as in nftables).
import { MANAGEMENT_PORTS, type FwRule } from "../../policy/model";
import { cidrSet, intersect } from "./cidr-set";
import { resolvePair, type Box, type PairProblem, type PairRule } from "./pair";
import { cidrPeer, EVERYONE, intersectPeer, isNobody, NOBODY, peersMeet, type Peer, type Selector } from "./peer";
import { ANY, describeService, icmpTypes, intersectService, isEmptyService, ports, serviceOf, unionService } from "./service";
import { ROLE_LABEL, ROUTER_ROLE, UNZONED, vlanSelector, zoneSelector, type Topology, type Zone } from "./topology";

export interface Direction {
  allows: Box[];
  denies: Box[];
  /** What the allows admit before the denies take their share (narrowDenies). */
  admitted: Box[];
}

export interface Subject {
  /** The Cilium object's name. */
  name: string;
  owner: { kind: string; name: string };
  description: string;
  selector: { endpointSelector: Selector } | { nodeSelector: Selector };
  defaultDeny: { ingress: boolean; egress: boolean };
  ingress: Direction;
  egress: Direction;
  /** The zone whose pods it selects (DPIProfile scoping). */
  zone?: string;
}

export interface Subjects {
  subjects: Subject[];
  problems: PairProblem[];
}

type Note = (ref: string, text: string) => void;

const anyFrom = (peer: Peer, sources: string[]): Box => ({ peer, service: ANY, sources });
const CLUSTER_EGRESS: Box = anyFrom({ ...NOBODY, selectors: [UNZONED], entities: ["host", "remote-node", "kube-apiserver", "health"] }, []);
const CLUSTER_INGRESS: Box = anyFrom({ ...NOBODY, selectors: [UNZONED], entities: ["host", "remote-node", "health"] }, []);
const HOST_CLUSTER_INGRESS: Box = anyFrom({ ...NOBODY, selectors: [UNZONED], entities: ["remote-node", "health"] }, []);

/** What nftables' input chain accepts before any zone rule (src/engine/firewall/compile.ts). */
function hostEssentials(dhcp: { v4: boolean; v6: boolean }): Box[] {
  const v4 = cidrPeer(cidrSet(["0.0.0.0/0"]));
  const v6 = cidrPeer(cidrSet(["::/0"]));
  return [
    { peer: v4, service: icmpTypes(4, [3, 11, 12]), sources: [] }, // destination unreachable, time exceeded, parameter problem
    { peer: v6, service: icmpTypes(6, [1, 2, 3, 4, 130, 133, 134, 135, 136]), sources: [] }, // errors, MLD query, neighbour discovery
    ...(dhcp.v4 ? [{ peer: v4, service: ports("udp", [[68, 68]]), sources: [] }] : []),
    ...(dhcp.v6 ? [{ peer: cidrPeer(cidrSet(["fe80::/10"])), service: ports("udp", [[546, 546]]), sources: [] }] : []),
  ];
}

/** One firewall rule as one side of a pair sees it, or null when it does not concern that side. */
function pairRule(r: FwRule, side: "egress" | "ingress" | "host", region: Peer, zone: string, note: Note): PairRule | null {
  const action = r.action === "allow" ? "allow" : "deny";
  if (r.rateLimit && action === "allow") return null; // noted once per rule (ruleNotes)
  if (side === "egress" && r.sources.length) {
    note(r.ref, `its sources are addresses, which pods do not have: it does not concern the pods of zone ${r.from}`);
    return null;
  }
  if (side === "ingress" && r.destinations.length) {
    note(r.ref, `its destinations are addresses, which pods do not have: it does not concern the pods of zone ${r.to}`);
    return null;
  }
  if (side === "host" && r.destinations.length) {
    if (action === "allow") {
      note(r.ref, "a host policy cannot tell the router's addresses apart, so this allow toward some of them is left out of Cilium's rules (stricter)");
      return null;
    }
    note(r.ref, "a host policy cannot tell the router's addresses apart, so this deny covers all of them (stricter)");
  }
  const cidrs = side === "egress" ? r.destinations : r.sources;
  const peer = cidrs.length ? cidrPeer(intersect(cidrSet(cidrs), region.cidrs)) : region;
  if (isNobody(peer)) {
    note(r.ref, `its ${side === "egress" ? "destinations" : "sources"} lie outside zone ${zone}'s networks as far as they are known: nothing to render for Cilium`);
    return null;
  }
  return { ref: r.ref, action, peer, service: serviceOf(r.protocol, r.ports, action) };
}

/** Remarks that belong to a rule whatever side renders it. */
export function ruleNotes(topo: Topology, note: Note) {
  for (const r of topo.fw.rules) {
    if (r.action === "reject") note(r.ref, "Cilium drops what nftables rejects (no TCP reset or ICMP answer)");
    if (r.log) note(r.ref, "Cilium has no per-rule log: Hubble records the flows and their verdicts");
    if (r.rateLimit)
      note(r.ref, r.action === "allow" ? "Cilium cannot limit a rule's rate: this allow is left out of Cilium's rules (stricter)" : "Cilium cannot limit a rule's rate: this deny applies at any rate (stricter)");
  }
}

export function buildSubjects(topo: Topology, note: Note, managementNetworks: string[] = []): Subjects {
  const problems: PairProblem[] = [];
  const policied = [...topo.vlans.keys()];
  const pair = (prelude: Box[], rules: (PairRule | null)[], fallback: Box | null, otherAllows: Box[] = []) => {
    const r = resolvePair(prelude, rules.filter((x): x is PairRule => x !== null), fallback, otherAllows);
    problems.push(...r.problems);
    for (const ref of r.shadowed) note(ref, "a deny above it covers everything it matches, so it never matches (in nftables either): nothing to render");
    return r;
  };
  const collect = (parts: { allows: Box[]; denies: Box[]; admitted: Box[] }[], extra: Box[]): Direction => ({
    allows: [...parts.flatMap((p) => p.allows), ...extra],
    denies: parts.flatMap((p) => p.denies),
    admitted: [...parts.flatMap((p) => p.admitted), ...extra],
  });
  const byPair = new Map<string, FwRule[]>();
  for (const r of topo.fw.rules) {
    const list = byPair.get(`${r.from}>${r.to}`);
    if (list) list.push(r);
    else byPair.set(`${r.from}>${r.to}`, [r]);
  }
  const rulesBetween = (from: string, to: string) => byPair.get(`${from}>${to}`) ?? [];

  const zoneSubject = (z: Zone): Subject => {
    const egressDefault = z.forward === "accept" ? anyFrom(EVERYONE, [z.ref]) : null;
    const egress = topo.zones.map((b) => pair([], rulesBetween(z.name, b.name).map((r) => pairRule(r, "egress", b.region, b.name, note)), null, egressDefault ? [egressDefault] : []));
    const ingress = topo.zones.map((a) =>
      pair([], rulesBetween(a.name, z.name).map((r) => pairRule(r, "ingress", a.region, a.name, note)), a.forward === "accept" ? anyFrom(a.region, [a.ref]) : null),
    );
    return {
      name: `fos1-zone-${z.name}`,
      owner: { kind: "FirewallZone", name: z.name },
      description: `fos1 zone ${z.name}: its pods (label fos1.io/zone=${z.name}), default deny`,
      selector: { endpointSelector: zoneSelector(z.name, policied) },
      defaultDeny: { ingress: true, egress: true },
      ingress: collect(ingress, [CLUSTER_INGRESS]),
      egress: collect(egress, [...(egressDefault ? [egressDefault] : []), CLUSTER_EGRESS]),
      zone: z.name,
    };
  };

  const vlanSubject = (id: number): Subject => {
    const v = topo.vlans.get(id)!;
    const vlanRules = (p: (typeof topo.fw.vlanPolicies)[number], region: Peer): PairRule[] =>
      p.rules.map((r) => ({ ref: p.ref, action: r.allow ? "allow" : "deny", peer: region, service: serviceOf(r.protocol, r.ports, r.allow ? "allow" : "deny") }));
    const egress = topo.fw.vlanPolicies
      .filter((p) => p.fromVlan === id)
      .map((p) => pair([], vlanRules(p, topo.vlans.get(p.toVlan)!.region), p.allowAll ? anyFrom(topo.vlans.get(p.toVlan)!.region, [p.ref]) : null));
    const ingress = topo.fw.vlanPolicies
      .filter((p) => p.toVlan === id)
      .map((p) => pair([], vlanRules(p, topo.vlans.get(p.fromVlan)!.region), p.allowAll ? anyFrom(topo.vlans.get(p.fromVlan)!.region, [p.ref]) : null));
    return {
      name: `fos1-vlan-${id}`,
      owner: { kind: "NetworkInterface", name: v.owner.split("/")[1]! },
      description: `fos1 VLAN ${id}: its pods (label fos1.io/vlan=${id}) follow the VLAN policies only, default deny`,
      selector: { endpointSelector: vlanSelector(id) },
      defaultDeny: { ingress: true, egress: true },
      ingress: collect(ingress, [CLUSTER_INGRESS]),
      egress: collect(egress, [CLUSTER_EGRESS]),
    };
  };

  const management = unionService(unionService(ports("tcp", MANAGEMENT_PORTS), icmpTypes(4, [8])), icmpTypes(6, [128]));
  // The boot configs' management networks reach the management ports whatever the cluster's objects say.
  const managed: Box[] = managementNetworks.length ? [{ peer: cidrPeer(cidrSet(managementNetworks)), service: management, sources: [] }] : [];
  const hostSubject = (): Subject => {
    const essentials = hostEssentials(topo.dhcp);
    const ingress = topo.zones.map((a) => {
      const prelude = essentials.map((e) => ({ ...e, peer: intersectPeer(e.peer, a.region) })).filter((e) => !isNobody(e.peer));
      const mgmt: PairRule[] = a.management ? [{ ref: a.ref, action: "allow", peer: a.region, service: management }] : [];
      const rules = rulesBetween(a.name, "host").map((r) => pairRule(r, "host", a.region, a.name, note));
      return pair(prelude, [...mgmt, ...rules], a.input === "accept" ? anyFrom(a.region, [a.ref]) : null);
    });
    return {
      name: "fos1-host",
      owner: { kind: "FirewallZone", name: "host" },
      description: `fos1 host firewall: traffic to the router itself (nodes labelled ${ROLE_LABEL}=${ROUTER_ROLE}), default deny`,
      selector: { nodeSelector: { matchLabels: { [ROLE_LABEL]: ROUTER_ROLE } } },
      defaultDeny: { ingress: true, egress: false },
      ingress: collect(ingress, [HOST_CLUSTER_INGRESS, ...essentials, ...managed]),
      egress: { allows: [], denies: [], admitted: [] },
    };
  };

  /** Cilium's denies win over any allow: one that meets the management path cuts it, and is refused. */
  const cutsManagement = (host: Subject) => {
    for (const m of managed)
      for (const d of host.ingress.denies) {
        const cut = intersectService(d.service, m.service);
        if (!peersMeet(d.peer, m.peer) || isEmptyService(cut)) continue;
        for (const ref of d.sources)
          problems.push({ ref, message: `its deny toward the router would cut the management path: ${describeService(cut)} from the management networks of the router nodes' boot configs (${managementNetworks.join(", ")}), which Cilium would drop whatever else allows it` });
      }
  };

  const host = topo.zones.length ? [hostSubject()] : [];
  for (const h of host) cutsManagement(h);
  const subjects = [...topo.zones.map(zoneSubject), ...policied.map(vlanSubject), ...host];
  return { subjects, problems };
}
