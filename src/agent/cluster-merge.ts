// The agent's config when the cluster adds to it: node-local objects selected for this node
// (NetworkInterface, VRF, Route, RoutingPolicy, NATPolicy, XDPFilter) merged over the boot
// config — a cluster object replaces the boot object of the same kind and name, or adds one —
// except on the management path, where the boot config always wins: a router must stay
// reachable from its management network whatever the cluster says. Pure.
//
// The management path is read off the boot config's desired host state: the interfaces of its
// management zones with the links under them (VLAN parents, bond and bridge members) and over
// them (their bond, bridge or VRF); the networks of their addresses; the routes through them or
// into those networks; the routing rules that could catch that traffic; their DHCP clients, NAT
// and XDP filters; the management zones' interfaces. A cluster object whose merge changes any
// of it is left out, as is one that moves an interface into or out of a zone of the uplinks
// (their DHCP clients, the default route) — every desired entry names the object it comes from, so the culprit is
// exact — and the merge is tried again without it. A merged set that does not validate loses
// the cluster objects the problems name, the same way.
import { stringify } from "yaml";
import { NODE_LOCAL_KINDS, type ConfigObject } from "../api/kinds";
import { loadConfigText, type LoadedObject } from "../api/load";
import { network, overlaps, parsePrefix, type Prefix } from "../api/ip";
import { formatProblem } from "../api/problems";
import { desiredState } from "../engine/desired";
import type { DesiredState } from "../engine/model";

const MAIN_TABLE = 254;

export interface LeftOut {
  ref: string;
  reason: string;
}

export interface Merged {
  /** The config as text (the journal keeps it): the boot file's objects, then the cluster's. */
  text: string;
  objects: LoadedObject[];
  /** Cluster objects taken. */
  taken: string[];
  leftOut: LeftOut[];
}

const refOf = (o: ConfigObject) => `${o.kind}/${o.metadata.name}`;

/**
 * The cluster objects meant for this node: node-local kinds whose spec.nodeSelector (as a Pod's)
 * the node's labels all match; without one, every node's.
 */
export function selectForNode(objects: ConfigObject[], nodeLabels: Record<string, string>): ConfigObject[] {
  return objects.filter((o) => {
    if (!(NODE_LOCAL_KINDS as readonly string[]).includes(o.kind)) return false; // cluster-level: the controller's
    const selector = (o.spec as { nodeSelector?: Record<string, string> }).nodeSelector ?? {};
    return Object.entries(selector).every(([k, v]) => nodeLabels[k] === v);
  });
}

/** Merges the selected cluster objects over the boot config (already valid), guarding the management path. */
export function mergeOverBoot(bootText: string, bootFile: string, cluster: ConfigObject[]): Merged {
  const boot = loadConfigText(bootText, bootFile);
  if (boot.problems.length) throw new Error(`${bootFile}: the boot config must be valid before anything is merged over it`);
  const bootPath = managementPath(desiredState(boot.objects));
  const leftOut: LeftOut[] = [];
  let candidates = cluster;
  for (;;) {
    const text = mergedText(bootText, boot.objects, candidates);
    const loaded = loadConfigText(text, `${bootFile} + cluster`);
    const clusterRefs = new Set(candidates.map(refOf));
    const culprits = new Map<string, string>();
    const changed = loaded.problems.length ? new Map<string, { refs: string[] }>() : differences(bootPath.entries, managementPath(desiredState(loaded.objects), bootPath).entries);
    if (!loaded.problems.length && !changed.size) return { text, objects: loaded.objects, taken: candidates.map(refOf), leftOut };
    for (const p of loaded.problems) if (p.object && clusterRefs.has(p.object)) culprits.set(p.object, `the merged config is invalid: ${formatProblem(p)}`);
    for (const [key, value] of changed)
      for (const ref of value.refs)
        if (clusterRefs.has(ref)) culprits.set(ref, key.startsWith("WAN zone") ? `it would change who is in the ${key.slice(4)} (the uplinks' zone); the boot config decides that` : `it would change the management path (${key}); the boot config decides that`);
    // A difference no cluster object explains cannot be fixed by leaving one out: boot config alone.
    if (!culprits.size) {
      const why = loaded.problems.length ? loaded.problems.map(formatProblem).join("; ") : "the management path would change";
      return { text: bootText, objects: boot.objects, taken: [], leftOut: [...leftOut, ...candidates.map((o) => ({ ref: refOf(o), reason: why }))] };
    }
    for (const [ref, reason] of culprits) leftOut.push({ ref, reason });
    candidates = candidates.filter((o) => !culprits.has(refOf(o)));
  }
}

/**
 * The boot objects other than those a cluster object replaces, then the cluster objects. With
 * nothing from the cluster it is the boot file itself, comments and all.
 */
function mergedText(bootText: string, boot: LoadedObject[], cluster: ConfigObject[]): string {
  if (!cluster.length) return bootText;
  const replaced = new Set(cluster.map(refOf));
  const kept = boot.filter((o) => !replaced.has(o.ref)).map((o) => o.value);
  return [...kept, ...cluster].map((o) => stringify(o, { lineWidth: 0 })).join("---\n");
}

interface PathEntry {
  value: string;
  /** The objects it comes from. */
  refs: string[];
}

interface ManagementPath {
  links: Set<string>;
  /** The zones facing the internet: those of the uplinks (a DHCP client, the default route). */
  wanZones: Set<string>;
  entries: Map<string, PathEntry>;
}

/**
 * The management path of a desired state: its entries by key. `links` fixes the interfaces
 * (the boot config's) so that a merged state is judged on the same ground.
 */
function managementPath(d: DesiredState, fixed?: { links: Set<string>; wanZones: Set<string> }): ManagementPath {
  const mgmtZones = d.firewall.zones.filter((z) => z.management);
  const links = fixed?.links ?? closure(d, new Set(mgmtZones.flatMap((z) => z.interfaces)));
  const uplinks = new Set([...d.dhcp.map((x) => x.ifname), ...d.routes.filter((r) => r.dst === "0.0.0.0/0" || r.dst === "::/0").flatMap((r) => (r.dev ? [r.dev] : []))]);
  const wanZones = fixed?.wanZones ?? new Set(d.firewall.zones.filter((z) => z.interfaces.some((i) => uplinks.has(i))).map((z) => z.name));
  const networks: Prefix[] = d.links.filter((l) => links.has(l.name)).flatMap((l) => l.addresses.map((a) => network(parsePrefix(a)!)));
  // A route in the main table as specific as a management network takes its traffic away.
  const hijacks = (dst: string, table: number) => {
    const p = parsePrefix(dst);
    return table === MAIN_TABLE && p !== null && networks.some((n) => overlaps(p, n) && p.len >= n.len);
  };
  // A rule sends traffic to another table before main is looked at: one that could match
  // management traffic (its interfaces, or addresses it does not exclude) is on the path.
  const overlapsManagement = (cidr: string | undefined) => {
    const p = cidr ? parsePrefix(cidr) : null;
    return !p || networks.some((n) => overlaps(p, n));
  };
  const catches = (r: DesiredState["rules"][number]) =>
    r.iif || r.oif ? Boolean((r.iif && links.has(r.iif)) || (r.oif && links.has(r.oif))) : r.fwmark === undefined && overlapsManagement(r.from) && overlapsManagement(r.to);
  const entries = new Map<string, PathEntry>();
  const put = (key: string, value: unknown, refs: string[]) => {
    const had = entries.get(key);
    entries.set(key, { value: had ? `${had.value}|${JSON.stringify(value)}` : JSON.stringify(value), refs: [...(had?.refs ?? []), ...refs] });
  };
  // A link's entry also names the objects of its master and parent: a VRF or bond declared
  // elsewhere changes the link without being the link's object.
  const refOfLink = (name: string | undefined) => d.links.find((l) => l.name === name)?.ref;
  for (const l of d.links)
    if (links.has(l.name) || (l.master && links.has(l.master))) put(`link ${l.name}`, l, [l.ref, refOfLink(l.master), refOfLink(l.vlan?.parent)].filter((r): r is string => r !== undefined));
  for (const r of d.routes) if ((r.dev && links.has(r.dev)) || hijacks(r.dst, r.table)) put(`route ${r.dst} table ${r.table} metric ${r.metric}`, r, [r.ref]);
  for (const r of d.rules) if (catches(r)) put(`rule ${r.priority}`, r, [r.ref]);
  for (const x of d.dhcp) if (links.has(x.ifname)) put(`dhcp ${x.ifname}`, x, [x.ref]);
  for (const n of d.firewall.nat) if (links.has(n.interface)) put(`nat ${n.ref}`, n, [n.ref]);
  for (const f of d.xdp?.filters ?? []) if ([...f.interfaces, ...f.bondMembers].some((i) => links.has(i))) put(`xdp ${f.name}`, f, [f.ref]);
  // Who is in a management zone: the interfaces carry the reference (a NetworkInterface's zone).
  for (const z of mgmtZones) put(`management zone ${z.name}`, z.interfaces, d.links.filter((l) => z.interfaces.includes(l.name)).map((l) => l.ref));
  // Who faces the internet likewise: an interface moved into a WAN zone, or an uplink out of it.
  for (const z of d.firewall.zones.filter((z) => wanZones.has(z.name))) put(`WAN zone ${z.name}`, z.interfaces, d.links.filter((l) => z.interfaces.includes(l.name)).map((l) => l.ref));
  return { links, wanZones, entries };
}

/** The links under and over the given ones: VLAN parents, members, masters (bond, bridge, VRF). */
function closure(d: DesiredState, start: Set<string>): Set<string> {
  const links = new Set(start);
  for (let grew = true; grew; ) {
    grew = false;
    for (const l of d.links) {
      const related = links.has(l.name) ? [l.vlan?.parent, l.master] : l.master && links.has(l.master) ? [l.name] : [];
      for (const name of related)
        if (name && !links.has(name)) {
          links.add(name);
          grew = true;
        }
    }
  }
  return links;
}

/** Keys whose entries differ, with the objects on both sides. */
function differences(a: Map<string, PathEntry>, b: Map<string, PathEntry>): Map<string, { refs: string[] }> {
  const out = new Map<string, { refs: string[] }>();
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key);
    const y = b.get(key);
    if (x?.value !== y?.value) out.set(key, { refs: [...(x?.refs ?? []), ...(y?.refs ?? [])] });
  }
  return out;
}
