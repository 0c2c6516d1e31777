// Cross-object checks of zones, firewall rules, VLAN policies and NAT.
import type { LoadedObject } from "../load";
import type { ConfigObject } from "../kinds";
import { contains, formatPrefix, overlaps, parseIp, parsePrefix, type Prefix } from "../ip";
import { NetworkIndex } from "../network-index";
import { zoneClaims } from "../zone-claims";
import { CLUSTER_DEVICES } from "../cluster-devices";
import { problemAt, type ConfigProblem, type FieldPath } from "../problems";
import type { FirewallRuleT, FirewallZoneT, NATPolicyT, VLANPolicyT } from "../schema/security";

type Report = (o: LoadedObject, path: FieldPath, message: string) => void;

export function checkSecurity(objects: LoadedObject<ConfigObject>[]): ConfigProblem[] {
  const idx = new NetworkIndex(objects);
  const problems: ConfigProblem[] = [];
  const report: Report = (o, path, message) => problems.push(problemAt(o.source, o.ref, path, message));
  const of = <T extends ConfigObject>(kind: string) => objects.filter((o) => o.value.kind === kind) as LoadedObject<T>[];
  const zones = of<FirewallZoneT>("FirewallZone");
  const zoneNames = zones.map((z) => z.value.metadata.name);
  const zoneList = zoneNames.length ? `declared zones: ${zoneNames.join(", ")}` : "no FirewallZone is declared";

  // Each interface is in at most one zone, however it got there.
  const zoneOf = new Map<string, { zone: string; o: LoadedObject; path: FieldPath }>();
  const place = (iface: string, zone: string, o: LoadedObject, path: FieldPath) => {
    const prev = zoneOf.get(iface);
    if (prev && prev.zone !== zone) report(o, path, `${iface} is already in zone ${prev.zone} (${prev.o.ref}); an interface is in one zone only`);
    else zoneOf.set(iface, { zone, o, path });
  };
  for (const z of zones) if (z.value.metadata.name === "host") report(z, ["metadata", "name"], `"host" is reserved: it means the router itself in FirewallRule.toZone`);
  const clusterZones = zones.filter((z) => z.value.spec.cluster);
  checkClusterZones(clusterZones, idx, report);
  for (const c of zoneClaims(objects, idx)) {
    if (!zoneNames.includes(c.zone)) report(c.o, c.path, `unknown zone "${c.zone}"; ${zoneList}`);
    else if (clusterZones.some((z) => z.value.metadata.name === c.zone)) report(c.o, c.path, `zone ${c.zone} is the cluster's: its interfaces are Cilium's (${CLUSTER_DEVICES.join(", ")}), no NetworkInterface joins it`);
    else if (!c.iface) report(c.o, c.path, `unknown interface "${c.ref}"`);
    else place(c.iface.name, c.zone, c.o, c.path);
  }

  for (const r of of<FirewallRuleT>("FirewallRule")) {
    const s = r.value.spec;
    if (!zoneNames.includes(s.fromZone)) report(r, ["spec", "fromZone"], s.fromZone === "host" ? "traffic from the router itself is not filtered; fromZone must be a zone" : `unknown zone "${s.fromZone}"; ${zoneList}`);
    if (s.toZone !== "host" && !zoneNames.includes(s.toZone)) report(r, ["spec", "toZone"], `unknown zone "${s.toZone}"; ${zoneList}, or host for the router itself`);
    checkPorts(r, s.protocol ?? "any", s.ports ?? [], ["spec", "ports"], report);
    const fams = (list?: string[]) => new Set((list ?? []).map((c) => parsePrefix(c)!.family));
    const src = fams(s.sources), dst = fams(s.destinations);
    if (src.size && dst.size && ![...src].some((f) => dst.has(f))) report(r, ["spec", "destinations"], "sources and destinations share no IP family, so the rule could never match");
    if ((s.protocol === "icmp" && (src.has(6) || dst.has(6))) || (s.protocol === "icmpv6" && (src.has(4) || dst.has(4))))
      report(r, ["spec", "protocol"], `${s.protocol} does not go with ${s.protocol === "icmp" ? "IPv6" : "IPv4"} addresses`);
  }

  const vlanPairs = new Map<string, LoadedObject>();
  for (const v of of<VLANPolicyT>("VLANPolicy")) {
    const pair = `VLAN ${v.value.spec.fromVLAN} → VLAN ${v.value.spec.toVLAN}`;
    const first = vlanPairs.get(pair);
    if (first) report(v, ["spec", "toVLAN"], `${pair} already has ${first.ref}; one VLANPolicy per pair (its rules would never be reached)`);
    else vlanPairs.set(pair, v);
    for (const f of ["fromVLAN", "toVLAN"] as const)
      if (!idx.interfaces.some((i) => i.type === "vlan" && i.obj.value.spec.vlan?.id === v.value.spec[f]))
        report(v, ["spec", f], `no NetworkInterface declares VLAN ${v.value.spec[f]}`);
    (v.value.spec.rules ?? []).forEach((r, n) => checkPorts(v, r.protocol, r.port !== undefined ? [r.port] : [], ["spec", "rules", n, "port"], report));
  }

  const npt: { o: LoadedObject; internal: Prefix; external: Prefix }[] = [];
  for (const n of of<NATPolicyT>("NATPolicy")) {
    const s = n.value.spec;
    const wan = idx.resolve(s.interface);
    if (!wan) report(n, ["spec", "interface"], `unknown interface "${s.interface}"`);
    const need = (field: keyof typeof s, why: string) => {
      if (s[field] === undefined) report(n, ["spec", field], `type ${s.type} needs ${field} (${why})`);
    };
    const families = new Set((s.sources ?? []).map((c) => parsePrefix(c)!.family));
    if (s.type === "masquerade") {
      need("sources", "the networks to masquerade");
      if (families.has(s.ipv6 ? 4 : 6)) report(n, ["spec", "sources"], s.ipv6 ? "ipv6: true masquerades IPv6 (NAT66); these sources include IPv4" : "IPv6 sources need ipv6: true (NAT66)");
    }
    if (s.type === "snat") {
      need("sources", "the networks to translate");
      need("toAddress", "the address to translate to");
      const to = s.toAddress ? parseIp(s.toAddress) : null;
      if (to && families.has(to.family === 4 ? 6 : 4)) report(n, ["spec", "toAddress"], "toAddress and sources must be the same IP family");
    }
    if (s.type === "nptv6") {
      need("internalPrefix", "the prefix used inside");
      need("externalPrefix", "the prefix it becomes outside");
      const i = s.internalPrefix ? parsePrefix(s.internalPrefix) : null;
      const e = s.externalPrefix ? parsePrefix(s.externalPrefix) : null;
      if (i && e) {
        if (i.family !== 6 || e.family !== 6) report(n, ["spec", "internalPrefix"], "NPTv6 translates IPv6 prefixes");
        else if (i.len !== e.len) report(n, ["spec", "externalPrefix"], `NPTv6 maps prefixes of equal length; internal is /${i.len}, external /${e.len}`);
        else {
          for (const other of npt) {
            if (overlaps(other.internal, i)) report(n, ["spec", "internalPrefix"], `${s.internalPrefix} overlaps ${formatPrefix(other.internal)} of ${other.o.ref}`);
            if (overlaps(other.external, e)) report(n, ["spec", "externalPrefix"], `${s.externalPrefix} overlaps ${formatPrefix(other.external)} of ${other.o.ref}`);
          }
          npt.push({ o: n, internal: i, external: e });
        }
      }
    }
    if (s.type === "dnat") {
      need("forwards", "the port forwards");
      (s.forwards ?? []).forEach((f, k) => {
        const path = ["spec", "forwards", k];
        checkPorts(n, f.protocol, [f.port], [...path, "port"], report);
        const to = parseIp(f.to)!;
        const lan = idx.interfaces.find((i) => i !== wan && (i.obj.value.spec.addresses ?? []).some((a) => contains(parsePrefix(a)!, to)));
        if (!lan) report(n, [...path, "to"], `${f.to} is in no LAN: no interface other than ${s.interface} has an address whose network contains it`);
        const [lo, hi] = typeof f.port === "number" ? [f.port, f.port] : f.port.split("-").map(Number);
        if (f.toPort !== undefined && f.toPort + (hi! - lo!) > 65535) report(n, [...path, "toPort"], `the range ${f.port} shifted to ${f.toPort} ends above 65535`);
      });
    }
    for (const f of ["toAddress", "internalPrefix", "externalPrefix", "externalAddress", "forwards", "ipv6"] as const) {
      const allowed: Record<string, string[]> = { toAddress: ["snat"], internalPrefix: ["nptv6"], externalPrefix: ["nptv6"], externalAddress: ["dnat"], forwards: ["dnat"], ipv6: ["masquerade"] };
      if (s[f] !== undefined && !allowed[f]!.includes(s.type)) report(n, ["spec", f], `${f} does not apply to type ${s.type}`);
    }
    if (s.sources && !["masquerade", "snat"].includes(s.type)) report(n, ["spec", "sources"], `sources does not apply to type ${s.type}`);
  }
  return problems;
}

function checkClusterZones(zones: LoadedObject<FirewallZoneT>[], idx: NetworkIndex, report: Report) {
  zones.slice(1).forEach((z) => report(z, ["spec", "cluster"], `one zone holds the cluster; ${zones[0]!.ref} does already`));
  if (zones.length)
    for (const i of idx.interfaces)
      if (i.ifname && CLUSTER_DEVICES.some((d) => i.ifname!.startsWith(d.slice(0, -1))))
        report(i.obj, i.obj.value.spec.device ? ["spec", "device"] : ["metadata", "name"], `${i.ifname} is a name Cilium's devices take (${CLUSTER_DEVICES.join(", ")}), which belong to the cluster zone ${zones[0]!.value.metadata.name}`);
  for (const z of zones) {
    const c = z.value.spec.cluster!;
    if (z.value.spec.management) report(z, ["spec", "management"], "the cluster zone cannot be a management zone: the operator's access must not depend on Cilium");
    const subnets: [string, string[] | undefined][] = [["podCIDRs", c.podCIDRs], ["serviceCIDRs", c.serviceCIDRs]];
    for (const [field, list] of subnets)
      (list ?? []).forEach((cidr, n) => {
        const p = parsePrefix(cidr)!;
        for (const i of idx.interfaces)
          for (const a of i.obj.value.spec.addresses ?? [])
            if (overlaps(parsePrefix(a)!, p)) report(z, ["spec", "cluster", field, n], `${cidr} overlaps ${a} of ${i.obj.ref}: the cluster's subnets must be its own`);
      });
  }
}

function checkPorts(o: LoadedObject, protocol: string, ports: (number | string)[], path: FieldPath, report: Report) {
  if (ports.length && protocol !== "tcp" && protocol !== "udp") {
    report(o, path, `ports need protocol tcp or udp; protocol is ${protocol}`);
    return;
  }
  ports.forEach((p, n) => {
    if (typeof p !== "string") return;
    const [a, b] = p.split("-").map(Number) as [number, number];
    const at = path[path.length - 1] === "port" ? path : [...path, n];
    if (a < 1 || b > 65535) report(o, at, `port range ${p} must stay within 1–65535`);
    else if (a > b) report(o, at, `port range ${p} is reversed; write ${b}-${a}`);
  });
}
