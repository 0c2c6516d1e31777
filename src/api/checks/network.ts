// Cross-object checks of the network kinds: what no single document's schema can see.
import type { LoadedObject } from "../load";
import type { ConfigObject } from "../kinds";
import { contains, formatPrefix, hasHostBits, network, parseIp, parsePrefix, type Prefix } from "../ip";
import { NetworkIndex, type InterfaceInfo } from "../network-index";
import { problemAt, type ConfigProblem, type FieldPath } from "../problems";

const RESERVED_TABLES = new Set([0, 253, 254, 255]);
const DEFAULT_MTU = 1500;

export function checkNetwork(objects: LoadedObject<ConfigObject>[]): ConfigProblem[] {
  const idx = new NetworkIndex(objects);
  const problems: ConfigProblem[] = [];
  const report = (o: LoadedObject, path: FieldPath, message: string) => problems.push(problemAt(o.source, o.ref, path, message));

  checkInterfaceShapes(idx, report);
  checkKernelNames(idx, report);
  checkMembership(idx, report);
  checkVlans(idx, report);
  checkVrfs(idx, report);
  checkAddresses(idx, report);
  checkRoutes(idx, report);
  checkPolicies(idx, report);
  return problems;
}

type Report = (o: LoadedObject, path: FieldPath, message: string) => void;

function checkInterfaceShapes(idx: NetworkIndex, report: Report) {
  for (const i of idx.interfaces) {
    const s = i.obj.value.spec;
    const o = i.obj;
    const block = { bond: s.bond, bridge: s.bridge, vlan: s.vlan };
    for (const [name, present] of Object.entries(block))
      if (present && name !== i.type) report(o, [ "spec", name ], `a ${i.type} interface cannot have a ${name} block (type is ${i.type}${s.type ? "" : ", inferred"})`);
    if (i.type !== "physical" && i.type !== "vlan" && s.device) report(o, ["spec", "device"], `device names a physical NIC or a VLAN's parent; a ${i.type} is created by fos1 and named by metadata.name`);
    if (i.type !== "physical" && s.mac) report(o, ["spec", "mac"], `mac matches a physical NIC; not allowed on a ${i.type}`);
    if ((i.type === "bond" && !s.bond) || (i.type === "bridge" && !s.bridge) || (i.type === "vlan" && !s.vlan))
      report(o, ["spec"], `type ${i.type} needs a ${i.type} block`);
    if (i.type === "physical" && !s.device && !s.mac) report(o, ["spec"], "a physical interface needs device (its kernel name) or mac");
    if (i.type === "physical" && s.device && s.mac) report(o, ["spec", "mac"], "give device or mac, not both");
    if (i.type === "vlan" && s.vlan && !s.vlan.parent && !s.device) report(o, ["spec", "vlan"], "a VLAN needs its parent: vlan.parent (a NetworkInterface) or device (a kernel NIC)");
    if (i.type === "vlan" && s.vlan?.parent && s.device) report(o, ["spec", "device"], "give vlan.parent or device for the VLAN's parent, not both");
    if (s.bond) {
      const m = s.bond.mode;
      if (s.bond.lacpRate && m !== "802.3ad") report(o, ["spec", "bond", "lacpRate"], `lacpRate applies to mode 802.3ad only; mode is ${m}`);
      if (s.bond.primary && !["active-backup", "balance-tlb", "balance-alb"].includes(m))
        report(o, ["spec", "bond", "primary"], `primary applies to active-backup, balance-tlb and balance-alb; mode is ${m}`);
      if (s.bond.xmitHashPolicy && !["balance-xor", "802.3ad", "balance-tlb"].includes(m))
        report(o, ["spec", "bond", "xmitHashPolicy"], `xmitHashPolicy applies to balance-xor, 802.3ad and balance-tlb; mode is ${m}`);
      if (s.bond.primary && !s.bond.members.some((mem) => idx.resolve(mem) === idx.resolve(s.bond!.primary!)))
        report(o, ["spec", "bond", "primary"], `primary "${s.bond.primary}" is not one of the members (${s.bond.members.join(", ")})`);
    }
    if (s.delegatedPrefix) {
      const from = idx.resolve(s.delegatedPrefix.from);
      if (!from) report(o, ["spec", "delegatedPrefix", "from"], `unknown interface "${s.delegatedPrefix.from}"`);
      else if (!from.obj.value.spec.dhcp?.prefixDelegation)
        report(o, ["spec", "delegatedPrefix", "from"], `${from.obj.ref} does not ask for a delegated prefix (dhcp.prefixDelegation)`);
    }
  }
}

const KERNEL_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

function checkKernelNames(idx: NetworkIndex, report: Report) {
  const taken = new Map<string, LoadedObject>();
  const claim = (name: string, o: LoadedObject, path: FieldPath) => {
    const prev = taken.get(name);
    if (prev) report(o, path, `interface name "${name}" is already used by ${prev.ref}`);
    else taken.set(name, o);
  };
  for (const i of idx.interfaces) {
    if (i.type !== "physical" && !KERNEL_NAME.test(i.name))
      report(i.obj, ["metadata", "name"], `a ${i.type}'s name is its kernel interface name: at most 15 characters; "${i.name}" has ${i.name.length}`);
    if (i.ifname) claim(i.ifname, i.obj, i.type === "physical" ? ["spec", "device"] : ["metadata", "name"]);
  }
  for (const v of idx.vrfs) {
    if (!KERNEL_NAME.test(v.value.metadata.name)) report(v, ["metadata", "name"], "a VRF's name is its kernel interface name: at most 15 characters");
    claim(v.value.metadata.name, v, ["metadata", "name"]);
  }
  const macs = new Map<string, LoadedObject>();
  for (const i of idx.interfaces) {
    const mac = i.obj.value.spec.mac?.toLowerCase();
    if (!mac) continue;
    const prev = macs.get(mac);
    if (prev) report(i.obj, ["spec", "mac"], `MAC ${mac} is already matched by ${prev.ref}`);
    else macs.set(mac, i.obj);
  }
}

function checkMembership(idx: NetworkIndex, report: Report) {
  const masterOf = new Map<InterfaceInfo, InterfaceInfo>();
  for (const i of idx.interfaces) {
    const field = i.type === "bond" ? "bond" : "bridge";
    idx.members(i).forEach((ref, n) => {
      const path = ["spec", field, "members", n];
      const m = idx.resolve(ref);
      if (!m) return report(i.obj, path, `unknown interface "${ref}": declare it as a NetworkInterface (type physical, device ${ref}) or name a declared one`);
      if (m === i) return report(i.obj, path, "an interface cannot be its own member");
      if (i.type === "bond" && m.type !== "physical") return report(i.obj, path, `bond members must be physical NICs; ${m.obj.ref} is a ${m.type}`);
      const prev = masterOf.get(m);
      if (prev) return report(i.obj, path, `${m.obj.ref} is already a member of ${prev.obj.ref}; a NIC can be in one bond or bridge only`);
      masterOf.set(m, i);
      const ms = m.obj.value.spec;
      if (ms.addresses?.length) report(m.obj, ["spec", "addresses"], `${m.obj.ref} is a member of ${i.obj.ref} and cannot have addresses of its own; put them on ${i.name}`);
      if (ms.dhcp) report(m.obj, ["spec", "dhcp"], `${m.obj.ref} is a member of ${i.obj.ref}; run DHCP on ${i.name} instead`);
      if (idx.vrfOf(m)) report(m.obj, ["spec", "vrf"], `${m.obj.ref} is a member of ${i.obj.ref}; put ${i.name} in the VRF instead`);
    });
  }
}

function checkVlans(idx: NetworkIndex, report: Report) {
  const ids = new Map<string, LoadedObject>();
  for (const i of idx.interfaces.filter((x) => x.type === "vlan")) {
    const vlan = i.obj.value.spec.vlan!;
    const parent = idx.vlanParent(i);
    if (vlan.parent && !parent.info) {
      report(i.obj, ["spec", "vlan", "parent"], `unknown interface "${vlan.parent}"`);
      continue;
    }
    const parentKey = parent.info?.name ?? parent.device ?? "?";
    const key = `${parentKey}/${vlan.protocol ?? "802.1Q"}/${vlan.id}`;
    const prev = ids.get(key);
    if (prev) report(i.obj, ["spec", "vlan", "id"], `VLAN ${vlan.id} on ${parentKey} is already declared by ${prev.ref}`);
    else ids.set(key, i.obj);
    const mtu = i.obj.value.spec.mtu;
    if (mtu !== undefined && parent.info) {
      const parentMtu = parent.info.obj.value.spec.mtu;
      const limit = parentMtu ?? DEFAULT_MTU;
      if (mtu > limit)
        report(i.obj, ["spec", "mtu"], `MTU ${mtu} is above its parent ${parent.info.obj.ref}'s ${limit}${parentMtu === undefined ? " (default)" : ""}; raise the parent's first`);
    }
  }
}

function checkVrfs(idx: NetworkIndex, report: Report) {
  const tables = new Map<number, LoadedObject>();
  for (const v of idx.vrfs) {
    const t = v.value.spec.table;
    if (RESERVED_TABLES.has(t)) report(v, ["spec", "table"], `table ${t} is reserved (local 255, main 254, default 253); choose another`);
    const prev = tables.get(t);
    if (prev) report(v, ["spec", "table"], `table ${t} is already the table of ${prev.ref}; each VRF needs its own`);
    else tables.set(t, v);
    (v.value.spec.members ?? []).forEach((ref, n) => {
      const m = idx.resolve(ref);
      if (!m) return report(v, ["spec", "members", n], `unknown interface "${ref}"`);
      const own = m.obj.value.spec.vrf;
      if (own && own !== v.value.metadata.name) report(v, ["spec", "members", n], `${m.obj.ref} says vrf: ${own}; an interface is in one VRF only`);
    });
  }
  for (const i of idx.interfaces) {
    const vrf = i.obj.value.spec.vrf;
    if (vrf && !idx.vrf(vrf)) report(i.obj, ["spec", "vrf"], `unknown VRF "${vrf}"${knownList(idx.vrfs.map((v) => v.value.metadata.name))}`);
  }
}

function knownList(names: string[]): string {
  return names.length ? `; declared VRFs: ${names.join(", ")}` : "; no VRF is declared";
}

interface PlacedAddress {
  p: Prefix;
  text: string;
  path: FieldPath;
  o: LoadedObject;
  iface: string;
  /** Position in the config, so a clash is reported on the later of the two. */
  seq: number;
}

// Sorted by network start, a prefix overlaps an earlier one exactly when it starts before the
// furthest end seen so far: O(n log n), so thousands of VLANs validate quickly.
function checkAddresses(idx: NetworkIndex, report: Report) {
  const byDomain = new Map<string, PlacedAddress[]>();
  let seq = 0;
  for (const i of idx.interfaces) {
    const domain = idx.vrfOf(i) ?? "";
    (i.obj.value.spec.addresses ?? []).forEach((text, n) => {
      const p = parsePrefix(text)!;
      const path = ["spec", "addresses", n];
      if (p.family === 4 && p.len < 31 && (!hasHostBits(p) || network(p).addr + (1n << BigInt(32 - p.len)) - 1n === p.addr))
        return report(i.obj, path, `${text} is the ${hasHostBits(p) ? "broadcast" : "network"} address of its subnet; give the interface a host address, e.g. ${formatPrefix({ ...network(p), addr: network(p).addr + 1n })}`);
      const list = byDomain.get(domain) ?? [];
      list.push({ p, text, path, o: i.obj, iface: i.ifname ?? i.name, seq: seq++ });
      byDomain.set(domain, list);
    });
  }
  for (const [domain, list] of byDomain) {
    const where = domain ? `VRF ${domain}` : "routing table";
    const exact = new Map<string, PlacedAddress>();
    for (const a of list) {
      const key = `${a.p.family}/${a.p.addr}`;
      const first = exact.get(key);
      if (first) report(a.o, a.path, `address ${a.text} is already on ${first.iface} (${first.o.ref})`);
      else exact.set(key, a);
    }
    const sorted = [...exact.values()].sort((a, b) => a.p.family - b.p.family || cmp(network(a.p).addr, network(b.p).addr) || a.p.len - b.p.len);
    let widest: PlacedAddress | undefined;
    for (const a of sorted) {
      if (widest && widest.p.family === a.p.family && widest.o !== a.o && network(a.p).addr <= lastAddress(widest.p)) {
        const [first, later] = widest.seq < a.seq ? [widest, a] : [a, widest];
        report(later.o, later.path, `${later.text} overlaps ${formatPrefix(first.p)} on ${first.iface} (${first.o.ref}) in the same ${where}`);
      }
      if (!widest || widest.p.family !== a.p.family || lastAddress(a.p) > lastAddress(widest.p)) widest = a;
    }
  }
}

const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
const lastAddress = (p: Prefix) => network(p).addr + (1n << BigInt((p.family === 4 ? 32 : 128) - p.len)) - 1n;

/** The table a Route or RoutingPolicy uses: its VRF's, its own, or main. */
function tableOf(idx: NetworkIndex, spec: { table?: number | "main"; vrf?: string }): number {
  if (spec.vrf) return idx.vrf(spec.vrf)?.value.spec.table ?? -1;
  return spec.table === undefined || spec.table === "main" ? 254 : spec.table;
}

function checkTableRef(idx: NetworkIndex, o: LoadedObject, spec: { table?: number | "main"; vrf?: string }, report: Report) {
  if (spec.vrf && spec.table !== undefined) return report(o, ["spec", "table"], "give table or vrf, not both (a VRF has its own table)");
  if (spec.vrf && !idx.vrf(spec.vrf)) return report(o, ["spec", "vrf"], `unknown VRF "${spec.vrf}"${knownList(idx.vrfs.map((v) => v.value.metadata.name))}`);
  if (typeof spec.table === "number") {
    if (RESERVED_TABLES.has(spec.table) && spec.table !== 254) report(o, ["spec", "table"], `table ${spec.table} is reserved; use main or your own table`);
    const owner = idx.vrfs.find((v) => v.value.spec.table === spec.table);
    if (owner) report(o, ["spec", "table"], `table ${spec.table} belongs to ${owner.ref}; say vrf: ${owner.value.metadata.name} instead`);
  }
}

function checkRoutes(idx: NetworkIndex, report: Report) {
  const keys = new Map<string, LoadedObject>();
  for (const r of idx.routes) {
    const s = r.value.spec;
    checkTableRef(idx, r, s, report);
    const type = s.type ?? "unicast";
    const gw = s.gateway ? parseIp(s.gateway) : null;
    let dst: Prefix | null;
    if (s.destination === "default") {
      if (!gw) {
        report(r, ["spec", "destination"], "default needs a gateway to tell IPv4 from IPv6; otherwise write 0.0.0.0/0 or ::/0");
        continue;
      }
      dst = { family: gw.family, addr: 0n, len: 0 };
    } else {
      dst = parsePrefix(s.destination);
      if (!dst) {
        report(r, ["spec", "destination"], `must be a prefix like 10.0.0.0/8 or 2001:db8::/32, or default; got "${s.destination}"`);
        continue;
      }
      if (hasHostBits(dst)) report(r, ["spec", "destination"], `${s.destination} has host bits set; did you mean ${formatPrefix(network(dst))}?`);
    }
    if (gw && gw.family !== dst.family) report(r, ["spec", "gateway"], `gateway ${s.gateway} is IPv${gw.family} but the destination is IPv${dst.family}`);
    const iface = s.interface ? idx.resolve(s.interface) : undefined;
    if (s.interface && !iface) report(r, ["spec", "interface"], `unknown interface "${s.interface}"`);
    if (type === "unicast" && !s.gateway && !s.interface) report(r, ["spec"], "a unicast route needs a gateway or an interface");
    if (type !== "unicast" && (s.gateway || s.interface)) report(r, ["spec", "type"], `a ${type} route has no gateway or interface`);
    if (gw && gw.family === dst.family) {
      // The kernel resolves a gateway in the route's VRF, or in main for any other table.
      const tbl = s.vrf ? tableOf(idx, s) : 254;
      const candidates = iface ? [iface] : idx.interfaces.filter((i) => tableOfInterface(idx, i) === tbl);
      const dynamic = candidates.some((i) => i.obj.value.spec.dhcp || i.obj.value.spec.delegatedPrefix);
      const linkLocal = gw.family === 6 && gw.addr >> 118n === 0x3fan;
      if (linkLocal && !iface) report(r, ["spec", "interface"], `link-local gateway ${s.gateway} needs the interface it is reached by`);
      else if (!linkLocal && !dynamic && !candidates.some((i) => (i.obj.value.spec.addresses ?? []).some((a) => contains(parsePrefix(a)!, gw))))
        report(r, ["spec", "gateway"], `gateway ${s.gateway} is not on any network connected to ${iface ? iface.obj.ref : tbl === 254 ? "the main table" : `table ${tbl}`}; no interface address contains it`);
    }
    const key = `${tableOf(idx, s)}/${formatPrefix(network(dst))}/${s.metric ?? 0}`;
    const prev = keys.get(key);
    if (prev) report(r, ["spec", "destination"], `the same destination and metric is already routed by ${prev.ref} in that table`);
    else keys.set(key, r);
  }
}

function tableOfInterface(idx: NetworkIndex, i: InterfaceInfo): number {
  const vrf = idx.vrfOf(i);
  return vrf ? (idx.vrf(vrf)?.value.spec.table ?? -1) : 254;
}

function checkPolicies(idx: NetworkIndex, report: Report) {
  for (const p of idx.policies) {
    const s = p.value.spec;
    checkTableRef(idx, p, s, report);
    if (s.table === undefined && !s.vrf) report(p, ["spec"], "a routing policy needs the table (or vrf) to look up");
    const fams = [s.from, s.to].filter((x): x is string => !!x).map((c) => parsePrefix(c)!.family);
    if (fams.length === 2 && fams[0] !== fams[1]) report(p, ["spec", "to"], "from and to must be the same IP family");
    const want = s.family === "ipv6" ? 6 : s.family === "ipv4" ? 4 : undefined;
    if (want && fams.some((f) => f !== want)) report(p, ["spec", "family"], `family ${s.family} does not match from/to`);
    if (!want && !fams.length) report(p, ["spec"], "say family: ipv4 or ipv6 when neither from nor to is given");
    for (const f of ["iif", "oif"] as const) if (s[f] && !idx.resolve(s[f]!)) report(p, ["spec", f], `unknown interface "${s[f]}"`);
    if (s.fwmask !== undefined && s.fwmark === undefined) report(p, ["spec", "fwmask"], "fwmask needs fwmark");
  }
}
