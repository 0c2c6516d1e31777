// plan(desired, observed) → ordered, minimal operations. Pure: no I/O, the same inputs always
// give the same plan, and a host that already matches gives no operation at all.
//
// Phases run in this order, each as one `ip -batch` (see apply.ts):
//   sysctl     kernel settings (forwarding), written to /proc/sys, not through ip
//   remove     owned rules, routes and addresses no longer wanted; owned links no longer
//              wanted or needing re-creation (children before parents); NICs released
//   links      create and adjust links in dependency order (VRFs and bonds before members,
//              parents before VLANs); members set down before they are enslaved
//   addresses  after links;  routes  after addresses;  rules
//   firewall   fos1's nftables table, replaced whole in one `nft -j -f -` transaction
//   xdp        XDP filters through libbpf: load, map entries, attach, detach (xdp/plan.ts)
import {
  ALIAS_PREFIX,
  FOS1_GROUP,
  FOS1_PROTO,
  aliasFor,
  isOwned,
  type DesiredLink,
  type DesiredRoute,
  type DesiredRule,
  type DesiredState,
  type ObservedLink,
  type ObservedState,
  type RouteEntry,
  type RuleEntry,
} from "./model";
import { compileFirewall, FIREWALL_TABLE } from "./firewall/compile";
import { contains, parseIp, parsePrefix } from "../api/ip";
import { planXdp } from "./xdp/plan";
import { EMPTY_OBSERVED_XDP } from "./xdp/model";

export const PHASES = ["remove", "sysctl", "links", "addresses", "routes", "rules", "firewall", "xdp"] as const;
export type Phase = (typeof PHASES)[number];

export type Action = "add" | "change" | "remove" | "replace";

export interface Op {
  phase: Phase;
  action: Action;
  /** The config object this serves ("NetworkInterface/lan1"), or "(no longer configured)". */
  ref: string;
  /** What is touched, for people: "link bond0", "address 192.168.10.1/24 on lan1". */
  subject: string;
  /** Why, or what changes: "mtu 1500 → 9000". */
  detail?: string;
  /** The iproute2 batch line that does it (firewall: the nft JSON; xdp: an XdpAction as JSON). */
  line: string;
  /** The line needs `ip -6`: a rule with no address to tell its family by. */
  ipv6Only?: boolean;
}

export interface Degraded {
  ref: string;
  subject: string;
  reason: string;
}

export interface Plan {
  ops: Op[];
  degraded: Degraded[];
}

const GONE = "(no longer configured)";
const VIRTUAL = new Set(["bond", "vlan", "bridge", "vrf"]);
const q = (s: string) => JSON.stringify(s);

export function plan(desiredIn: DesiredState, observed: ObservedState): Plan {
  const degraded: Degraded[] = [];
  const obs = new Map(observed.links.map((l) => [l.name, l]));
  const desired = settleNames(desiredIn, observed, degraded);
  const desiredNames = new Set(desired.links.map((l) => l.name));

  // Which desired links can be acted on at all.
  const usable = new Map<string, DesiredLink>();
  for (const l of topoOrder(desired.links)) {
    const o = obs.get(l.name);
    if (l.kind === "physical" && !o) {
      degraded.push({ ref: l.ref, subject: `link ${l.name}`, reason: `NIC ${l.name} is not present on this host` });
      continue;
    }
    if (l.vlan && !usable.has(l.vlan.parent)) {
      degraded.push({ ref: l.ref, subject: `link ${l.name}`, reason: `its parent ${l.vlan.parent} is not available` });
      continue;
    }
    if (o && !isOwned(o) && l.kind !== "physical") {
      degraded.push({ ref: l.ref, subject: `link ${l.name}`, reason: `a ${o.kind} named ${l.name} exists and is not fos1's; fos1 does not touch it` });
      continue;
    }
    usable.set(l.name, l);
  }

  // Owned links to delete: unwanted virtual ones, and those whose fixed attributes changed.
  const replaced = new Map<string, string>(); // name → reason
  const removed = new Set<string>();
  for (const o of observed.links) {
    if (!isOwned(o)) continue;
    const want = usable.get(o.name);
    if (!want) {
      if (VIRTUAL.has(o.kind) && !desiredNames.has(o.name)) removed.add(o.name);
      continue;
    }
    const why = replaceReason(want, o);
    if (why) replaced.set(o.name, why);
  }
  // The kernel deletes a VLAN with its parent: count it gone too, and re-create it if wanted.
  let grew = true;
  while (grew) {
    grew = false;
    for (const o of observed.links) {
      if (o.vlan && (replaced.has(o.vlan.parent) || removed.has(o.vlan.parent)) && !replaced.has(o.name) && !removed.has(o.name)) {
        if (usable.has(o.name)) replaced.set(o.name, `its parent ${o.vlan.parent} is re-created`);
        else removed.add(o.name);
        grew = true;
      }
    }
  }
  const gone = new Set([...removed, ...replaced.keys()]);

  // The host as it will be once the remove phase has run.
  const after = new Map<string, ObservedLink>();
  for (const o of observed.links) {
    if (gone.has(o.name)) continue;
    // The kernel takes a member down when its bond is deleted (a bridge's or VRF's stay up).
    const masterGone = o.master !== null && gone.has(o.master);
    const releasedFromBond = masterGone && obs.get(o.master!)?.kind === "bond";
    after.set(o.name, { ...o, master: masterGone ? null : o.master, adminUp: releasedFromBond ? false : o.adminUp });
  }
  const ops: Op[] = [];
  const releasedNics = new Set(observed.links.filter((o) => isOwned(o) && !VIRTUAL.has(o.kind) && !desiredNames.has(o.name)));

  // --- remove phase
  const wantedRules = desired.rules.filter(ruleUsable);
  for (const r of desired.rules.filter((x) => !ruleUsable(x)))
    degraded.push({ ref: r.ref, subject: `rule ${describeRule(r)}`, reason: "it names a NIC matched by MAC that is not present" });
  for (const r of observed.rules)
    if (!wantedRules.some((w) => sameRule(w, r)))
      ops.push({ phase: "remove", action: "remove", ref: GONE, subject: `rule ${describeRule(r)}`, ...ruleLine("del", r) });
  const wantedRoutes = desired.routes.filter((r) => {
    const via = routeLink(r, desired.links);
    return !via || usable.has(via);
  });
  for (const r of observed.routes) {
    if (r.dev && gone.has(r.dev)) continue; // the kernel removes it with the link
    if (!wantedRoutes.some((w) => sameRouteKey(w, r)))
      ops.push({ phase: "remove", action: "remove", ref: GONE, subject: `route ${describeRoute(r)}`, line: routeLine("del", r) });
  }
  const observedByName = (name: string) => obs.get(name)!;
  const managed = (name: string) => usable.get(name) && !usable.get(name)!.implicit;
  for (const o of after.values()) {
    const want = managed(o.name) ? usable.get(o.name)! : releasedNics.has(observedByName(o.name)) ? undefined : null;
    if (want === null) continue;
    for (const a of staticAddresses(o))
      if (!want?.addresses.includes(a))
        ops.push({ phase: "remove", action: "remove", ref: want?.ref ?? GONE, subject: `address ${a} on ${o.name}`, line: `address del ${a} dev ${o.name}` });
  }
  for (const o of releasedNics) {
    const now = after.get(o.name)!;
    if (now.master) ops.push({ phase: "remove", action: "change", ref: GONE, subject: `link ${o.name}`, detail: `released from ${now.master}`, line: `link set dev ${o.name} nomaster` });
    ops.push({ phase: "remove", action: "change", ref: GONE, subject: `link ${o.name}`, detail: "no longer managed by fos1", line: `link set dev ${o.name} alias ""` });
  }
  for (const name of deleteOrder(observed.links, gone)) {
    const why = replaced.get(name);
    const ref = usable.get(name)?.ref ?? GONE;
    ops.push({ phase: "remove", action: why ? "replace" : "remove", ref, subject: `link ${name}`, ...(why ? { detail: why } : {}), line: `link del dev ${name}` });
  }

  // --- sysctl phase
  for (const [key, value] of Object.entries(desired.sysctls))
    if (observed.sysctls[key] !== value)
      ops.push({ phase: "sysctl", action: "change", ref: "(router)", subject: `sysctl ${key.replace(/\//g, ".")}`, detail: `${observed.sysctls[key] || "unset"} → ${value}`, line: `${key}=${value}` });

  // --- links phase
  const primaries: Op[] = [];
  for (const l of usable.values()) {
    const o = after.get(l.name);
    if (!o) {
      const action = replaced.has(l.name) ? "replace" : "add";
      ops.push({ phase: "links", action, ref: l.ref, subject: `link ${l.name}`, detail: describeNewLink(l), line: addLine(l) });
      if (l.master) ops.push(...enslave(l, false));
    } else ops.push(...adjustLink(l, o, after, l.master ? usable.get(l.master)?.kind : undefined));
    if (l.bond?.primary && usable.has(l.bond.primary) && (!o || o.bond?.primary !== l.bond.primary))
      primaries.push({ phase: "links", action: o ? "change" : "add", ref: l.ref, subject: `link ${l.name}`, detail: `primary ${l.bond.primary}`, line: `link set dev ${l.name} type bond primary ${l.bond.primary}` });
  }
  ops.push(...primaries);

  // --- addresses phase
  for (const l of usable.values()) {
    if (l.implicit) continue;
    const present = new Set(after.has(l.name) ? staticAddresses(after.get(l.name)!) : []);
    for (const a of l.addresses)
      if (!present.has(a)) ops.push({ phase: "addresses", action: "add", ref: l.ref, subject: `address ${a} on ${l.name}`, line: `address add ${a} dev ${l.name}${a.includes(":") ? " nodad" : ""}` });
  }
  for (const d of desired.routes) {
    const via = routeLink(d, desired.links);
    if (via && !usable.has(via)) degraded.push({ ref: d.ref, subject: `route ${describeRoute(d)}`, reason: `interface ${via} is not available` });
  }

  // --- routes phase: `replace` both adds and corrects, so a re-run after a crash is harmless.
  const survivingRoutes = observed.routes.filter((r) => !(r.dev && gone.has(r.dev)));
  for (const r of wantedRoutes) {
    const o = survivingRoutes.find((x) => sameRouteKey(x, r));
    if (o && sameRoute(o, r)) continue;
    ops.push({ phase: "routes", action: o ? "change" : "add", ref: r.ref, subject: `route ${describeRoute(r)}`, ...(o ? { detail: `was ${describeRoute(o)}` } : {}), line: routeLine("replace", r) });
  }

  // --- rules phase
  for (const r of wantedRules)
    if (!observed.rules.some((o) => sameRule(o, r)))
      ops.push({ phase: "rules", action: "add", ref: r.ref, subject: `rule ${describeRule(r)}`, ...ruleLine("add", r) });

  // --- firewall phase: the whole table or nothing; the line is the nft JSON transaction.
  const fw = compileFirewall(desired.firewall);
  const present = observed.firewall;
  const empty = !Object.keys(fw.shape).length;
  if (empty ? present !== null : present?.digest !== fw.digest || !sameShape(present.shape, fw.shape))
    ops.push({
      phase: "firewall",
      action: empty ? "remove" : present ? (present.digest === fw.digest ? "replace" : "change") : "add",
      ref: "(firewall)",
      subject: `nftables table inet ${FIREWALL_TABLE}`,
      detail: empty ? "no zones or NAT configured" : present?.digest === fw.digest ? "edited outside fos1: restored" : `${countRules(fw.shape)} rules in ${Object.keys(fw.shape).filter((k) => !k.startsWith("@")).length} chains`,
      line: JSON.stringify({ nftables: fw.commands }),
    });

  // --- xdp phase
  if (desired.xdp?.filters.length || observed.xdp?.filters.length || observed.xdp?.error)
    // A link this apply creates (a new bond) is there by the time the xdp phase runs.
    ops.push(...planXdp(desired.xdp ?? { filters: [] }, observed.xdp ?? EMPTY_OBSERVED_XDP, new Set([...after.keys(), ...usable.keys()]), degraded));

  return { ops, degraded };
}

const sameShape = (a: Record<string, number>, b: Record<string, number>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);
const countRules = (shape: Record<string, number>) => Object.entries(shape).filter(([k]) => !k.startsWith("@")).reduce((n, [, v]) => n + v, 0);

/** The link a route leaves by: its dev, or the configured link whose network holds its gateway. */
function routeLink(r: RouteEntry, links: DesiredLink[]): string | undefined {
  if (r.dev || !r.gateway) return r.dev;
  const gw = parseIp(r.gateway);
  if (!gw) return undefined;
  return links.find((l) => l.addresses.some((a) => contains(parsePrefix(a)!, gw)))?.name;
}

/** NICs matched by MAC get the name the host gives them; references follow. */
function settleNames(d: DesiredState, observed: ObservedState, degraded: Degraded[]): DesiredState {
  const rename = new Map<string, string>();
  for (const l of d.links) {
    if (!l.matchMac) continue;
    const nic = observed.links.find((o) => o.mac === l.matchMac && !VIRTUAL.has(o.kind) && !o.vlan);
    if (nic) rename.set(l.name, nic.name);
    else degraded.push({ ref: l.ref, subject: `link with MAC ${l.matchMac}`, reason: `no NIC with MAC ${l.matchMac} is present` });
  }
  if (!rename.size && !d.links.some((l) => l.matchMac)) return d;
  const r = (n: string | undefined) => (n === undefined ? undefined : (rename.get(n) ?? n));
  const links = d.links
    .filter((l) => !l.matchMac || rename.has(l.name))
    .map((l) => {
      const out: DesiredLink = { ...l, name: r(l.name)! };
      if (l.master) out.master = r(l.master)!;
      if (l.vlan) out.vlan = { ...l.vlan, parent: r(l.vlan.parent)! };
      if (l.bond?.primary) out.bond = { ...l.bond, primary: r(l.bond.primary)! };
      return out;
    });
  const routes = d.routes.map((x) => (x.dev ? { ...x, dev: r(x.dev)! } : x));
  const rules = d.rules.map((x) => ({ ...x, ...(x.iif ? { iif: r(x.iif)! } : {}), ...(x.oif ? { oif: r(x.oif)! } : {}) }));
  const all = (names: string[]) => names.map((n) => r(n)!);
  const firewall = {
    ...d.firewall,
    zones: d.firewall.zones.map((z) => ({ ...z, interfaces: all(z.interfaces) })),
    vlanPolicies: d.firewall.vlanPolicies.map((v) => ({ ...v, fromInterfaces: all(v.fromInterfaces), toInterfaces: all(v.toInterfaces) })),
    nat: d.firewall.nat.map((n) => ({ ...n, interface: r(n.interface)! })),
  };
  const xdp = d.xdp && { filters: d.xdp.filters.map((f) => ({ ...f, interfaces: all(f.interfaces) })) };
  return { ...d, links, routes, rules, firewall, ...(xdp ? { xdp } : {}) };
}

/** Links ordered so that everything a link depends on (VLAN parent, master) comes first. */
export function topoOrder(links: DesiredLink[]): DesiredLink[] {
  const byName = new Map(links.map((l) => [l.name, l]));
  const out: DesiredLink[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (l: DesiredLink) => {
    if (state.get(l.name)) return;
    state.set(l.name, "visiting");
    for (const dep of [l.vlan?.parent, l.master]) {
      const d = dep ? byName.get(dep) : undefined;
      if (d && !state.get(d.name)) visit(d);
    }
    state.set(l.name, "done");
    out.push(l);
  };
  [...links].sort((a, b) => a.name.localeCompare(b.name)).forEach(visit);
  return out;
}

/** Children before parents: VLANs before what they ride on, deepest first. */
function deleteOrder(links: ObservedLink[], gone: Set<string>): string[] {
  const byName = new Map(links.map((l) => [l.name, l]));
  const depth = (name: string): number => {
    const parent = byName.get(name)?.vlan?.parent;
    return parent && byName.has(parent) ? 1 + depth(parent) : 0;
  };
  return [...gone].sort((a, b) => depth(b) - depth(a) || a.localeCompare(b));
}

function replaceReason(want: DesiredLink, o: ObservedLink): string | undefined {
  if (want.kind === "physical") return undefined;
  if (o.kind !== want.kind) return `it is a ${o.kind}, a ${want.kind} is wanted`;
  if (want.bond && o.bond && want.bond.mode !== o.bond.mode) return `bond mode ${o.bond.mode} → ${want.bond.mode} needs a new bond`;
  if (want.vlan && o.vlan) {
    if (want.vlan.id !== o.vlan.id) return `VLAN id ${o.vlan.id} → ${want.vlan.id}`;
    if (want.vlan.parent !== o.vlan.parent) return `parent ${o.vlan.parent} → ${want.vlan.parent}`;
    if (want.vlan.protocol !== o.vlan.protocol) return `protocol ${o.vlan.protocol} → ${want.vlan.protocol}`;
  }
  if (want.vrf && o.vrf && want.vrf.table !== o.vrf.table) return `VRF table ${o.vrf.table} → ${want.vrf.table}`;
  return undefined;
}

function addLine(l: DesiredLink): string {
  const common = `${l.mtu ? ` mtu ${l.mtu}` : ""} group ${FOS1_GROUP}${l.up && !l.master ? " up" : ""}`;
  switch (l.kind) {
    case "vlan":
      return `link add link ${l.vlan!.parent} name ${l.name}${common} type vlan id ${l.vlan!.id} protocol ${l.vlan!.protocol}`;
    case "bond":
      return `link add name ${l.name}${common} type bond mode ${l.bond!.mode}${bondParams(l.bond!)}`;
    case "bridge":
      // Only what differs from the kernel's defaults: a kernel built without VLAN filtering
      // refuses even "vlan_filtering 0".
      return `link add name ${l.name}${common} type bridge${bridgeParams(l.bridge!, { vlanFiltering: false, stp: false })}`;
    case "vrf":
      return `link add name ${l.name}${common} type vrf table ${l.vrf!.table}`;
    default:
      throw new Error(`fos1 cannot create a ${l.kind} link (${l.name})`);
  }
}

function bondParams(b: NonNullable<DesiredLink["bond"]>, current?: ObservedLink["bond"]): string {
  const parts: string[] = [];
  if (!current || current.miimon !== b.miimon) parts.push(`miimon ${b.miimon}`);
  if (b.lacpRate && current?.lacpRate !== b.lacpRate) parts.push(`lacp_rate ${b.lacpRate}`);
  if (b.xmitHashPolicy && current?.xmitHashPolicy !== b.xmitHashPolicy) parts.push(`xmit_hash_policy ${b.xmitHashPolicy}`);
  if (b.minLinks !== undefined && current?.minLinks !== b.minLinks) parts.push(`min_links ${b.minLinks}`);
  return parts.length ? " " + parts.join(" ") : "";
}

function bridgeParams(want: NonNullable<DesiredLink["bridge"]>, have: NonNullable<DesiredLink["bridge"]>): string {
  const parts: string[] = [];
  if (want.vlanFiltering !== have.vlanFiltering) parts.push(`vlan_filtering ${want.vlanFiltering ? 1 : 0}`);
  if (want.stp !== have.stp) parts.push(`stp_state ${want.stp ? 1 : 0}`);
  return parts.length ? " " + parts.join(" ") : "";
}

function describeNewLink(l: DesiredLink): string {
  switch (l.kind) {
    case "vlan":
      return `VLAN ${l.vlan!.id} on ${l.vlan!.parent}`;
    case "bond":
      return `bond, mode ${l.bond!.mode}`;
    case "vrf":
      return `VRF, table ${l.vrf!.table}`;
    default:
      return l.kind;
  }
}

/** Put a link under its master: a bond member must be down while it is enslaved. */
function enslave(l: DesiredLink, wasUp: boolean): Op[] {
  const base = { phase: "links" as const, action: "change" as const, ref: l.ref, subject: `link ${l.name}` };
  const ops: Op[] = [];
  if (wasUp) ops.push({ ...base, detail: `down to join ${l.master}`, line: `link set dev ${l.name} down` });
  ops.push({ ...base, detail: `master ${l.master}`, line: `link set dev ${l.name} master ${l.master}` });
  if (l.up) ops.push({ ...base, detail: "up", line: `link set dev ${l.name} up` });
  return ops;
}

function adjustLink(l: DesiredLink, o: ObservedLink, after: Map<string, ObservedLink>, masterKind: string | undefined): Op[] {
  const ops: Op[] = [];
  const base = { phase: "links" as const, action: "change" as const, ref: l.ref, subject: `link ${l.name}` };
  if (l.implicit) {
    if (!o.adminUp) ops.push({ ...base, detail: `up (parent of a VLAN)`, line: `link set dev ${l.name} up` });
    return ops;
  }
  // A NIC fos1 adopts is marked by its alias (the object's name); links fos1 creates are
  // marked by their group and named after their object already.
  const alias = aliasFor(l.ref);
  if (l.kind === "physical" && o.alias !== alias) ops.push({ ...base, detail: o.alias?.startsWith(ALIAS_PREFIX) ? `alias ${o.alias} → ${alias}` : "adopted by fos1", line: `link set dev ${l.name} alias ${q(alias)}` });
  // A bond member's MTU follows its bond.
  if (l.mtu !== undefined && l.mtu !== o.mtu && masterKind !== "bond")
    ops.push({ ...base, detail: `mtu ${o.mtu} → ${l.mtu}`, line: `link set dev ${l.name} mtu ${l.mtu}` });
  if (l.bond && o.bond) {
    if (l.bond.lacpRate && o.bond.lacpRate !== l.bond.lacpRate) {
      // The kernel changes the LACP rate only on a bond that is down.
      ops.push({ ...base, detail: `lacp_rate ${o.bond.lacpRate} → ${l.bond.lacpRate} (bond briefly down)`, line: `link set dev ${l.name} down` });
      ops.push({ ...base, detail: "", line: `link set dev ${l.name} type bond lacp_rate ${l.bond.lacpRate}` });
      if (l.up) ops.push({ ...base, detail: "up", line: `link set dev ${l.name} up` });
    }
    const rest = bondParams({ ...l.bond, lacpRate: undefined }, o.bond);
    if (rest) ops.push({ ...base, detail: `bond${rest}`, line: `link set dev ${l.name} type bond${rest}` });
  }
  if (l.bridge && o.bridge && (l.bridge.vlanFiltering !== o.bridge.vlanFiltering || l.bridge.stp !== o.bridge.stp)) {
    const params = bridgeParams(l.bridge, o.bridge);
    ops.push({ ...base, detail: `bridge${params}`, line: `link set dev ${l.name} type bridge${params}` });
  }
  const current = after.get(l.name)!;
  if ((l.master ?? null) !== current.master) {
    if (l.master) return [...ops, ...enslave(l, masterKind === "bond" && o.adminUp)];
    ops.push({ ...base, detail: `leaves ${current.master}`, line: `link set dev ${l.name} nomaster` });
    // The kernel takes a NIC down when it leaves a bond.
    if (l.up && after.get(current.master!)?.kind === "bond") {
      ops.push({ ...base, detail: "up", line: `link set dev ${l.name} up` });
      return ops;
    }
  }
  if (l.up !== o.adminUp) ops.push({ ...base, detail: l.up ? "up" : "down", line: `link set dev ${l.name} ${l.up ? "up" : "down"}` });
  return ops;
}

/** Addresses fos1 manages on a link: not DHCP/SLAAC ones, not IPv6 link-local. */
function staticAddresses(o: ObservedLink): string[] {
  return o.addresses.filter((a) => !a.dynamic && a.scope !== "link" && a.scope !== "host").map((a) => a.cidr);
}

/** The kernel takes rules naming absent interfaces (they match once it appears); only a NIC whose name is still unknown (matched by MAC, not present) stops one. */
function ruleUsable(r: DesiredRule): boolean {
  return ![r.iif, r.oif].some((n) => n?.startsWith("mac:"));
}

const sameRouteKey = (a: RouteEntry, b: RouteEntry) => a.family === b.family && a.dst === b.dst && a.table === b.table && a.metric === b.metric;
/** `want` without a dev leaves the choice to the kernel (it picks the link the gateway is on). */
const sameRoute = (have: RouteEntry, want: RouteEntry) =>
  sameRouteKey(have, want) && have.type === want.type && (have.gateway ?? "") === (want.gateway ?? "") && (!want.dev || have.dev === want.dev);

function sameRule(a: RuleEntry, b: RuleEntry): boolean {
  const keys: (keyof RuleEntry)[] = ["family", "priority", "from", "to", "iif", "oif", "fwmark", "fwmask", "table"];
  return keys.every((k) => (a[k] ?? "") === (b[k] ?? ""));
}

const tableName = (t: number) => (t === 254 ? "main" : String(t));

export function describeRoute(r: RouteEntry): string {
  const dst = r.dst === "0.0.0.0/0" || r.dst === "::/0" ? `default${r.family === 6 ? " (IPv6)" : ""}` : r.dst;
  return [r.type !== "unicast" ? r.type : "", dst, r.gateway ? `via ${r.gateway}` : "", r.dev ? `dev ${r.dev}` : "", `table ${tableName(r.table)}`, r.metric ? `metric ${r.metric}` : ""]
    .filter(Boolean)
    .join(" ");
}

function routeLine(verb: "replace" | "del", r: RouteEntry): string {
  const type = r.type === "unicast" ? "" : `${r.type} `;
  return `route ${verb} ${type}${r.dst}${r.gateway ? ` via ${r.gateway}` : ""}${r.dev ? ` dev ${r.dev}` : ""} table ${r.table} metric ${r.metric} proto ${FOS1_PROTO}`;
}

export function describeRule(r: RuleEntry): string {
  return [
    `priority ${r.priority}`,
    r.from ? `from ${r.from}` : "",
    r.to ? `to ${r.to}` : "",
    r.iif ? `iif ${r.iif}` : "",
    r.oif ? `oif ${r.oif}` : "",
    r.fwmark !== undefined ? `fwmark 0x${r.fwmark.toString(16)}${r.fwmask !== undefined ? `/0x${r.fwmask.toString(16)}` : ""}` : "",
    `lookup ${tableName(r.table)}`,
    r.family === 6 && !r.from && !r.to ? "(IPv6)" : "",
  ]
    .filter(Boolean)
    .join(" ");
}

function ruleLine(verb: "add" | "del", r: RuleEntry): { line: string; ipv6Only?: boolean } {
  const parts = [
    `rule ${verb} priority ${r.priority}`,
    r.from ? `from ${r.from}` : "",
    r.to ? `to ${r.to}` : "",
    r.iif ? `iif ${r.iif}` : "",
    r.oif ? `oif ${r.oif}` : "",
    r.fwmark !== undefined ? `fwmark 0x${r.fwmark.toString(16)}${r.fwmask !== undefined ? `/0x${r.fwmask.toString(16)}` : ""}` : "",
    `table ${r.table} protocol ${FOS1_PROTO}`,
  ];
  const line = parts.filter(Boolean).join(" ");
  // `ip rule` takes IPv4 unless told otherwise, even for IPv6 addresses: IPv6 rules need `ip -6`.
  return r.family === 6 ? { line, ipv6Only: true } : { line };
}
