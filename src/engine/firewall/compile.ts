// DesiredFirewall → one nftables JSON transaction that replaces fos1's table whole (add,
// delete, add: atomic — if anything in it fails, the previous ruleset stays in force).
//
// Layout of `table inet fos1`:
//   input    (hook input)   established/related, invalid, lo, IPv6 essentials, DHCP client
//            replies, the management ports from management zones, the cluster's other nodes
//            (their tunnel, health, Talos and Kubernetes ports), then `iifname vmap` to
//            the zone's chain in_<zone>: its rules toward host, then the zone's input policy
//   forward  (hook forward) established/related, invalid, port forwards, ICMPv6 errors, then
//            `iifname . oifname vmap` to a VLAN policy or zone-pair chain, then
//            `iifname vmap` to the zone's own default — the cost per packet does not grow with
//            the number of rules, only with the rules of the one chain it lands in
//   prerouting / postrouting (nat hooks)   DNAT and NPTv6 in, masquerade/SNAT/NPTv6 out, hairpin
//   untracked_in / untracked_out (raw priority)   the router's DNS, past connection tracking (and
//            accepted at the head of input, as its zone's chain would)
// Every rule counts; rules asked to log carry a prefix naming the rule.
import { createHash } from "node:crypto";
import { parsePrefix } from "../../api/ip";
import { NODE_TCP_PORTS } from "../../api/cluster-devices";
import { classifyChain, type ChainRule } from "./classify";
import { MANAGEMENT_PORTS, type DesiredFirewall, type FwCluster, type FwNat, type FwPortForward, type FwRule, type Policy, type PortRange, type Protocol } from "../../policy/model";

export const FIREWALL_TABLE = "fos1";
const FAMILY = "inet";


type Expr = Record<string, unknown>;
type Cmd = Record<string, unknown>;

export interface CompiledFirewall {
  /** The whole transaction for `nft -j -f -`. */
  commands: Cmd[];
  digest: string;
  /** Chains and how many rules each holds, to recognise the table when it is read back. */
  shape: Record<string, number>;
}

const match = (left: Expr, right: unknown, op = "=="): Expr => ({ match: { op, left, right } });
const meta = (key: string): Expr => ({ meta: { key } });
const payload = (protocol: string, field: string): Expr => ({ payload: { protocol, field } });
const counter: Expr = { counter: null };
const accept: Expr = { accept: null };
const drop: Expr = { drop: null };
const jump = (target: string) => ({ jump: { target } });

/** A canonical prefix (the desired state holds only those) as nft's JSON has it: a host's alone, else address and length. */
function prefixValue(cidr: string): unknown {
  const slash = cidr.indexOf("/");
  const addr = cidr.slice(0, slash);
  const len = Number(cidr.slice(slash + 1));
  return len === (addr.includes(":") ? 128 : 32) ? addr : { prefix: { addr, len } };
}

const portValue = ([a, b]: PortRange): unknown => (a === b ? a : { range: [a, b] });
const setOf = (values: unknown[]): unknown => (values.length === 1 ? values[0] : { set: values });

// Protocol numbers, not names: nft resolves names through /etc/protocols, which a minimal
// root filesystem (the extension's, the lab's) may not have.
const L4: Record<Exclude<Protocol, "any">, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 };

function protocolMatch(protocol: Protocol, ports: PortRange[]): Expr[] {
  if (protocol === "any") return [];
  const out = [match(meta("l4proto"), L4[protocol])];
  if (ports.length) out.push(match(payload(protocol, "dport"), setOf(ports.map(portValue))));
  return out;
}

/** Address matches split by family: one rule per family present (ip saddr vs ip6 saddr). */
function addressVariants(sources: string[], destinations: string[]): Expr[][] {
  const fam = (c: string) => (c.includes(":") ? 6 : 4);
  const families = new Set([...sources, ...destinations].map(fam));
  if (!families.size) return [[]];
  return [...families].sort().flatMap((f) => {
    const src = sources.filter((c) => fam(c) === f);
    const dst = destinations.filter((c) => fam(c) === f);
    // A rule that names sources of only the other family does not apply to this one.
    if ((sources.length && !src.length) || (destinations.length && !dst.length)) return [];
    const proto = f === 4 ? "ip" : "ip6";
    const exprs: Expr[] = [];
    if (src.length) exprs.push(match(payload(proto, "saddr"), setOf(src.map(prefixValue))));
    if (dst.length) exprs.push(match(payload(proto, "daddr"), setOf(dst.map(prefixValue))));
    return [exprs];
  });
}

function rejectFor(protocol: Protocol): Expr {
  return protocol === "tcp" ? { reject: { type: "tcp reset" } } : { reject: { type: "icmpx", expr: "admin-prohibited" } };
}

/** A policy as the last rules of a chain: reject answers TCP with RST, the rest with ICMP. */
function policyRules(policy: Policy): Expr[][] {
  if (policy === "accept") return [[counter, accept]];
  if (policy === "drop") return [[counter, drop]];
  return [[match(meta("l4proto"), L4.tcp), counter, rejectFor("tcp")], [counter, rejectFor("any")]];
}

/** A rule's nftables rules (one per address family and verdict), each with what a port segment needs to hold it. */
function ruleEntries(r: FwRule): ChainRule[] {
  const verdicts: [Protocol, Expr][] =
    r.action === "allow" ? [[r.protocol, accept]] : r.action === "deny" ? [[r.protocol, drop]] : r.protocol === "any" ? [["tcp", rejectFor("tcp")], ["any", rejectFor("any")]] : [[r.protocol, rejectFor(r.protocol)]];
  const tail: Expr[] = [];
  if (r.rateLimit) tail.push({ limit: { rate: r.rateLimit.rate, per: r.rateLimit.per, ...(r.rateLimit.burst ? { burst: r.rateLimit.burst } : {}) } });
  if (r.log) tail.push({ log: { prefix: `fos1 ${r.name}: ` } });
  tail.push(counter);
  return addressVariants(r.sources, r.destinations).flatMap((addr) =>
    verdicts.map(([proto, verdict]) => {
      const ports = proto === r.protocol ? r.ports : [];
      return portRule(proto, ports, [...addr, ...tail, verdict], r.ref, !r.rateLimit);
    }),
  );
}

/** A rule matching a protocol and ports, then `rest`; classifiable when TCP or UDP with ports and `stateless` (no rate limit of its own). */
function portRule(proto: Protocol, ports: PortRange[], rest: Expr[], comment: string, stateless = true): ChainRule {
  const l4 = (proto === "tcp" || proto === "udp") && ports.length && stateless ? { l4: { proto: L4[proto], ports, rest } } : {};
  return { expr: [...protocolMatch(proto, ports), ...rest], comment, ...l4 };
}

export interface CompileOptions {
  /** Every chain's rules one after another, no port segments: the reference the differential test holds fos1's layout against. */
  linear?: boolean;
}

export function compileFirewall(fw: DesiredFirewall, opts: CompileOptions = {}): CompiledFirewall {
  const body: Cmd[] = [];
  const shape: Record<string, number> = {};
  const chain = (name: string, hook?: { type: string; hook: string; prio: number; policy: string }) => {
    body.push({ add: { chain: { family: FAMILY, table: FIREWALL_TABLE, name, ...hook } } });
    shape[name] = 0;
  };
  const rule = (chainName: string, expr: Expr[], comment?: string) => {
    body.push({ add: { rule: { family: FAMILY, table: FIREWALL_TABLE, chain: chainName, expr, ...(comment ? { comment } : {}) } } });
    shape[chainName] = (shape[chainName] ?? 0) + 1;
  };
  // Interval maps: a cluster zone's interfaces are patterns ("lxc*"), which only they can hold.
  const map = (name: string, type: string | string[], elem: unknown[]) => {
    body.push({ add: { map: { family: FAMILY, table: FIREWALL_TABLE, name, type, map: "verdict", flags: ["interval"], ...(elem.length ? { elem } : {}) } } });
    shape[`@${name}`] = elem.length;
  };

  // A NIC matched by MAC that is not on the host keeps its placeholder name ("mac:…", never a
  // kernel name): it can match no packet, and nft would refuse the whole table for it.
  const present = (name: string) => !name.startsWith("mac:");
  fw = {
    ...fw,
    zones: fw.zones.map((z) => ({ ...z, interfaces: z.interfaces.filter(present) })),
    vlanPolicies: fw.vlanPolicies.map((v) => ({ ...v, fromInterfaces: v.fromInterfaces.filter(present), toInterfaces: v.toInterfaces.filter(present) })),
    nat: fw.nat.filter((n) => present(n.interface)),
  };
  // A chain of rules, first match wins, laid out by classify.ts: its segment chains and maps
  // first (the maps jump to the chains, the chain's vmap rule reads the map), then the chain.
  const ruleChain: RuleChainFn = (name, rules) => {
    const c = classifyChain(name, rules, opts.linear);
    for (const s of c.chains) {
      chain(s.name);
      for (const r of s.rules) rule(s.name, r.expr as Expr[], r.comment);
    }
    for (const m of c.maps) map(m.name, "inet_service", m.elem);
    chain(name);
    for (const r of c.rules) rule(name, r.expr as Expr[], r.comment);
  };
  if (fw.zones.length) compileFilter(fw, chain, rule, map, ruleChain);
  if (fw.nat.length) compileNat(fw.nat, chain, rule);

  const digest = "sha256:" + createHash("sha256").update(JSON.stringify(body)).digest("hex");
  if (!body.length) {
    // Nothing to enforce: make sure no table of ours is left behind.
    return { commands: [{ add: { table: { family: FAMILY, name: FIREWALL_TABLE } } }, { delete: { table: { family: FAMILY, name: FIREWALL_TABLE } } }], digest, shape: {} };
  }
  // A hook-less chain holding the digest: never run by a packet, read back to know what is loaded.
  const marker: Cmd[] = [
    { add: { chain: { family: FAMILY, table: FIREWALL_TABLE, name: "fos1_config" } } },
    { add: { rule: { family: FAMILY, table: FIREWALL_TABLE, chain: "fos1_config", expr: [counter], comment: digest } } },
  ];
  shape.fos1_config = 1;
  const table = { table: { family: FAMILY, name: FIREWALL_TABLE } };
  return { commands: [{ add: table }, { delete: table }, { add: table }, ...marker, ...body], digest, shape };
}

/**
 * What fos1 loads when nft refuses the config's table and no config's table of fos1's is in force
 * (a boot, or the lockdown of an earlier refusal):
 * the management zones' input as the config has it at its head (management ports, ping), the
 * established traffic and the IPv6 and ICMP essentials, every other input and all forwarding
 * dropped, no NAT.
 */
export function compileLockdown(fw: DesiredFirewall): CompiledFirewall {
  const management = fw.zones.filter((z) => z.management).map((z) => ({ ...z, input: "drop" as const, forward: "drop" as const }));
  return compileFirewall({ zones: management, rules: [], vlanPolicies: [], nat: [] });
}

type ChainFn = (name: string, hook?: { type: string; hook: string; prio: number; policy: string }) => void;
type RuleFn = (chain: string, expr: Expr[], comment?: string) => void;
type MapFn = (name: string, type: string | string[], elem: unknown[]) => void;
type RuleChainFn = (name: string, rules: ChainRule[]) => void;

const zoneChain = (prefix: string, ...parts: string[]) => `${prefix}_${parts.join("_")}`;

function compileFilter(fw: DesiredFirewall, chain: ChainFn, rule: RuleFn, map: MapFn, ruleChain: RuleChainFn) {
  const policyOf = (policy: Policy, comment: string): ChainRule[] => policyRules(policy).map((expr) => ({ expr, comment }));
  // Zone chains first: the maps that jump to them need them to exist.
  for (const z of fw.zones)
    ruleChain(zoneChain("in", z.name), [...fw.rules.filter((x) => x.from === z.name && x.to === "host").flatMap(ruleEntries), ...policyOf(z.input, `zone ${z.name} input policy`)]);
  const pairChains: [string, string, string][] = []; // from-if, to-if, chain
  for (const from of fw.zones) {
    chain(zoneChain("fwd", from.name));
    for (const e of policyRules(from.forward)) rule(zoneChain("fwd", from.name), e, `zone ${from.name} forward policy`);
    for (const to of fw.zones) {
      const rules = fw.rules.filter((x) => x.from === from.name && x.to === to.name);
      if (!rules.length) continue;
      const name = zoneChain("fwd", from.name, to.name);
      ruleChain(name, [...rules.flatMap(ruleEntries), ...policyOf(from.forward, `zone ${from.name} forward policy`)]);
      for (const a of from.interfaces) for (const b of to.interfaces) pairChains.push([a, b, name]);
    }
  }
  // A VLAN policy is more specific than the zones around it: its pairs take precedence.
  for (const v of fw.vlanPolicies) {
    const name = `vlan_${v.fromVlan}_${v.toVlan}`;
    ruleChain(name, [...v.rules.map((r) => portRule(r.protocol, r.ports, [counter, r.allow ? accept : drop], v.ref)), { expr: [counter, v.allowAll ? accept : drop], comment: `${v.ref} default` }]);
    for (const a of v.fromInterfaces) for (const b of v.toInterfaces) {
      const i = pairChains.findIndex(([x, y]) => x === a && y === b);
      if (i >= 0) pairChains.splice(i, 1);
      pairChains.push([a, b, name]);
    }
  }

  map("input_zones", "ifname", fw.zones.flatMap((z) => z.interfaces.map((i) => [i, jump(zoneChain("in", z.name))])));
  map("forward_zones", "ifname", fw.zones.flatMap((z) => z.interfaces.map((i) => [i, jump(zoneChain("fwd", z.name))])));
  map("forward_pairs", ["ifname", "ifname"], pairChains.map(([a, b, c]) => [{ concat: [a, b] }, jump(c)]));

  chain("input", { type: "filter", hook: "input", prio: 0, policy: "drop" });
  for (const e of commonHead()) rule("input", e);
  const untracked = untrackedServices(fw);
  // What the zone's chain would decide at once (the service's rule comes before any other of
  // the zone's), decided here: an untracked query would otherwise walk the whole chain.
  for (const { r, interfaces } of untracked)
    rule("input", [match(meta("iifname"), setOf(interfaces)), match(meta("l4proto"), L4.udp), match(payload("udp", "dport"), setOf(r.ports.map(portValue))), match({ ct: { key: "state" } }, "untracked", "in"), counter, accept], `${r.ref} (untracked)`);
  rule("input", [match(meta("iifname"), "lo"), accept]);
  // DHCP client replies for the router's own uplinks (v4 and v6).
  rule("input", [match(meta("l4proto"), L4.udp), match(payload("udp", "sport"), 67), match(payload("udp", "dport"), 68), counter, accept], "DHCPv4 client replies");
  rule("input", [match(payload("ip6", "saddr"), { prefix: { addr: "fe80::", len: 10 } }), match(meta("l4proto"), L4.udp), match(payload("udp", "sport"), 547), match(payload("udp", "dport"), 546), counter, accept], "DHCPv6 client replies");
  rule("input", [match(meta("l4proto"), L4.icmpv6), match(payload("icmpv6", "type"), { set: ["nd-neighbor-solicit", "nd-neighbor-advert", "nd-router-advert", "nd-router-solicit", "mld-listener-query", "destination-unreachable", "packet-too-big", "time-exceeded", "parameter-problem"] }), counter, accept], "IPv6 essentials");
  rule("input", [match(meta("l4proto"), L4.icmp), match(payload("icmp", "type"), { set: ["destination-unreachable", "time-exceeded", "parameter-problem"] }), counter, accept], "ICMP errors");
  const mgmt = fw.zones.filter((z) => z.management).flatMap((z) => z.interfaces);
  if (mgmt.length) {
    const from = match(meta("iifname"), setOf(mgmt));
    rule("input", [from, match(meta("l4proto"), L4.tcp), match(payload("tcp", "dport"), setOf(MANAGEMENT_PORTS.map(portValue))), counter, accept], "management ports (never closed)");
    rule("input", [from, match(meta("l4proto"), L4.icmp), match(payload("icmp", "type"), "echo-request"), counter, accept], "management ping");
    rule("input", [from, match(meta("l4proto"), L4.icmpv6), match(payload("icmpv6", "type"), "echo-request"), counter, accept], "management ping");
  }
  for (const z of fw.zones) if (z.cluster) clusterNodeRules(z.cluster, rule);
  rule("input", [{ vmap: { key: meta("iifname"), data: "@input_zones" } }]);
  rule("input", [counter, drop], "not in any zone");
  compileUntracked(untracked, chain, rule);

  chain("forward", { type: "filter", hook: "forward", prio: 0, policy: "drop" });
  for (const e of commonHead()) rule("forward", e);
  // Only flows to a declared port forward's target pass as such: NPTv6 also DNATs, and what it
  // lets in must still meet the zones' rules.
  for (const n of fw.nat.filter((x) => x.type === "dnat"))
    for (const f of n.forwards) {
      const t = forwardTarget(f);
      rule("forward", [match({ ct: { key: "status" } }, "dnat", "in"), match(meta("l4proto"), L4[f.protocol]), match(payload(t.family, "daddr"), f.to), match(payload(f.protocol, "dport"), portValue(t.ports)), counter, accept], `${n.ref} port forward`);
    }
  rule("forward", [match(meta("l4proto"), L4.icmpv6), match(payload("icmpv6", "type"), { set: ["destination-unreachable", "packet-too-big", "time-exceeded", "parameter-problem"] }), counter, accept], "ICMPv6 errors");
  rule("forward", [{ vmap: { key: { concat: [meta("iifname"), meta("oifname")] }, data: "@forward_pairs" } }]);
  rule("forward", [{ vmap: { key: meta("iifname"), data: "@forward_zones" } }]);
  rule("forward", [counter, drop], "not in any zone");
}

/** What the cluster's other nodes reach on the router, from their networks only, on any interface. */
function clusterNodeRules(c: FwCluster, rule: RuleFn) {
  for (const [family, proto, icmp] of [[4, "ip", "icmp"], [6, "ip6", "icmpv6"]] as const) {
    const nodes = c.nodes.filter((n) => parsePrefix(n)!.family === family);
    if (!nodes.length) continue;
    const from = match(payload(proto, "saddr"), setOf(nodes.map(prefixValue)));
    if (c.tunnelPort) rule("input", [from, match(meta("l4proto"), L4.udp), match(payload("udp", "dport"), c.tunnelPort), counter, accept], "cluster nodes: Cilium's tunnel");
    rule("input", [from, match(meta("l4proto"), L4.tcp), match(payload("tcp", "dport"), setOf([...MANAGEMENT_PORTS, ...NODE_TCP_PORTS.map((p): PortRange => [p, p])].map(portValue))), counter, accept], "cluster nodes: Talos, Kubernetes, Cilium health and Hubble");
    rule("input", [from, match(meta("l4proto"), L4[icmp]), match(payload(icmp, "type"), "echo-request"), counter, accept], "cluster nodes: Cilium health ping");
  }
}

interface UntrackedService {
  r: FwRule;
  interfaces: string[];
}

function untrackedServices(fw: DesiredFirewall): UntrackedService[] {
  return fw.rules.flatMap((r) => {
    const interfaces = fw.zones.find((z) => z.name === r.from)?.interfaces ?? [];
    return r.untracked && r.to === "host" && r.protocol === "udp" && interfaces.length ? [{ r, interfaces }] : [];
  });
}

/**
 * The router's untracked UDP services (DNS): at raw priority, before conntrack (-200) sees the
 * packet, queries to one of the router's addresses from the zone's interfaces and the answers
 * back out of them. The input chain still decides on the query, by the zone's rules: an
 * untracked packet is neither established nor invalid.
 */
function compileUntracked(services: UntrackedService[], chain: ChainFn, rule: RuleFn) {
  if (!services.length) return;
  chain("untracked_in", { type: "filter", hook: "prerouting", prio: -300, policy: "accept" });
  chain("untracked_out", { type: "filter", hook: "output", prio: -300, policy: "accept" });
  const notrack: Expr = { notrack: null };
  for (const { r, interfaces } of services) {
    const ports = setOf(r.ports.map(portValue));
    const toRouter = match({ fib: { result: "type", flags: ["daddr"] } }, "local");
    rule("untracked_in", [match(meta("iifname"), setOf(interfaces)), match(meta("l4proto"), L4.udp), match(payload("udp", "dport"), ports), toRouter, counter, notrack], `${r.ref} queries`);
    rule("untracked_out", [match(meta("oifname"), setOf(interfaces)), match(meta("l4proto"), L4.udp), match(payload("udp", "sport"), ports), counter, notrack], `${r.ref} answers`);
  }
}

function commonHead(): Expr[][] {
  return [
    [match({ ct: { key: "state" } }, ["established", "related"], "in"), counter, accept],
    [match({ ct: { key: "state" } }, "invalid", "in"), counter, drop],
  ];
}

function compileNat(nat: FwNat[], chain: ChainFn, rule: RuleFn) {
  chain("prerouting", { type: "nat", hook: "prerouting", prio: -100, policy: "accept" });
  chain("postrouting", { type: "nat", hook: "postrouting", prio: 100, policy: "accept" });
  for (const n of nat) {
    const oif = match(meta("oifname"), n.interface);
    const iif = match(meta("iifname"), n.interface);
    switch (n.type) {
      case "masquerade": {
        const proto = n.ipv6 ? "ip6" : "ip";
        rule("postrouting", [oif, match(payload(proto, "saddr"), setOf(n.sources.map(prefixValue))), counter, { masquerade: null }], n.ref);
        break;
      }
      case "snat": {
        const proto = n.toAddress!.includes(":") ? "ip6" : "ip";
        rule("postrouting", [oif, match(payload(proto, "saddr"), setOf(n.sources.map(prefixValue))), counter, { snat: { family: proto, addr: n.toAddress } }], n.ref);
        break;
      }
      case "nptv6": {
        const prefix = (c: string) => ({ prefix: { addr: c.slice(0, c.indexOf("/")), len: Number(c.slice(c.indexOf("/") + 1)) } });
        rule("postrouting", [oif, match(payload("ip6", "saddr"), prefix(n.internalPrefix!)), counter, { snat: { family: "ip6", addr: prefix(n.externalPrefix!), flags: ["netmap"] } }], n.ref);
        rule("prerouting", [iif, match(payload("ip6", "daddr"), prefix(n.externalPrefix!)), counter, { dnat: { family: "ip6", addr: prefix(n.internalPrefix!), flags: ["netmap"] } }], n.ref);
        break;
      }
      case "dnat":
        for (const f of n.forwards) {
          const { family, ports: toPorts } = forwardTarget(f);
          const dport = match(payload(f.protocol, "dport"), portValue(f.ports));
          // A range moved elsewhere maps port to port: NAT to a port range would pick its first free port.
          const shifted = f.ports[0] !== f.ports[1] && f.toPort !== f.ports[0];
          const toPort = shifted
            ? { map: { key: payload(f.protocol, "dport"), data: { set: Array.from({ length: f.ports[1] - f.ports[0] + 1 }, (_, k) => [f.ports[0] + k, f.toPort + k]) } } }
            : portValue(toPorts);
          const target = { dnat: { family, addr: f.to, port: toPort } };
          const l4 = match(meta("l4proto"), L4[f.protocol]);
          // Only traffic for the router itself is forwarded: its public address when given, else
          // any address of the router (the WAN one usually comes from DHCP) — never transit traffic.
          const pub = n.externalAddress ? match(payload(family, "daddr"), n.externalAddress) : match({ fib: { result: "type", flags: ["daddr"] } }, "local");
          rule("prerouting", [iif, pub, l4, dport, counter, target], n.ref);
          if (f.hairpin) {
            // LAN clients using the public address: DNAT them too, and SNAT so replies come back through the router.
            rule("prerouting", [match(meta("iifname"), n.interface, "!="), pub, l4, dport, counter, target], `${n.ref} hairpin`);
            rule("postrouting", [match(meta("iifname"), n.interface, "!="), match({ ct: { key: "status" } }, "dnat", "in"), match(payload(family, "daddr"), f.to), l4, match(payload(f.protocol, "dport"), portValue(toPorts)), counter, { masquerade: null }], `${n.ref} hairpin`);
          }
        }
        break;
    }
  }
}

/** Where a port forward sends its flows: the family of its address and the ports they reach. */
function forwardTarget(f: FwPortForward): { family: "ip" | "ip6"; ports: PortRange } {
  return { family: f.to.includes(":") ? "ip6" : "ip", ports: [f.toPort, f.toPort + f.ports[1] - f.ports[0]] };
}
