// Cross-object checks of the LAN services: a DHCP server's pools and leases inside the subnet it
// serves and clear of the router and of each other, router advertisements only where there is
// IPv6, one resolver serving zones that have interfaces.
import type { LoadedObject } from "../load";
import type { ConfigObject } from "../kinds";
import { contains, formatIp, formatPrefix, network, parseIp, parsePrefix, type Family, type Prefix } from "../ip";
import { parseDuration } from "../../base/duration";
import { NetworkIndex, type InterfaceInfo } from "../network-index";
import { problemAt, type ConfigProblem, type FieldPath } from "../problems";
import type { DHCPServerT, DNSResolverT, RouterAdvertisementT } from "../schema/services";
import { zoneClaims } from "../zone-claims";

type Report = (o: LoadedObject, path: FieldPath, message: string) => void;

/** dnsmasq's shortest lease. */
const MIN_LEASE_MS = 120_000;

const ADDRESS_OPTIONS = new Set(["ntp-server", "log-server", "lpr-server", "netbios-ns", "netbios-dd", "sip-server"]);
const INTEGER_OPTIONS = new Set(["time-offset", "mtu", "T1", "T2", "netbios-nodetype"]);

/** What is wrong with a DHCP option's value for dnsmasq, or null. */
function optionValueProblem(name: string, value: string): string | null {
  if (/[\r\n]/.test(value)) return "a value is one line";
  if (ADDRESS_OPTIONS.has(name)) {
    const bad = value.split(",").map((v) => v.trim()).find((v) => parseIp(v)?.family !== 4);
    return bad === undefined ? null : `${name} takes IPv4 addresses, separated by commas; "${bad}" is not one`;
  }
  if (INTEGER_OPTIONS.has(name) && !/^-?\d+$/.test(value.trim())) return `${name} takes a whole number; got "${value}"`;
  return null;
}
type Ip = { family: Family; addr: bigint };
const compareIp = (a: Ip, b: Ip) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0);
const text = (ip: Ip) => formatIp(ip.family, ip.addr);

export function checkServices(objects: LoadedObject<ConfigObject>[]): ConfigProblem[] {
  const idx = new NetworkIndex(objects);
  const problems: ConfigProblem[] = [];
  const report: Report = (o, path, message) => problems.push(problemAt(o.source, o.ref, path, message));
  const of = <T extends ConfigObject>(kind: string) => objects.filter((o) => o.value.kind === kind) as LoadedObject<T>[];
  const dhcp = of<DHCPServerT>("DHCPServer");
  const ras = of<RouterAdvertisementT>("RouterAdvertisement");

  /** The served interface, reported when unknown or served twice by one kind. */
  const served = new Map<string, Map<InterfaceInfo, LoadedObject>>();
  const servedInterface = (o: LoadedObject, ref: string): InterfaceInfo | undefined => {
    const i = idx.resolve(ref);
    if (!i) return void report(o, ["spec", "interface"], `unknown interface "${ref}"; declared interfaces: ${idx.interfaces.map((x) => x.name).join(", ") || "none"}`);
    const byKind = served.get(o.value.kind) ?? new Map<InterfaceInfo, LoadedObject>();
    served.set(o.value.kind, byKind);
    const first = byKind.get(i);
    if (first) report(o, ["spec", "interface"], `${i.name} is already served by ${first.ref}; one ${o.value.kind} per interface`);
    else byKind.set(i, o);
    return i;
  };

  // With zones declared, an interface in none has everything from it dropped, DHCP included.
  const zoned = of("FirewallZone").length ? new Set(zoneClaims(objects, idx).flatMap((c) => (c.iface ? [c.iface] : []))) : null;
  const inAZone = (o: LoadedObject, i: InterfaceInfo) => {
    if (zoned && !zoned.has(i)) report(o, ["spec", "interface"], `${i.name} is in no FirewallZone, so the firewall drops everything its clients send, ${o.value.kind === "DHCPServer" ? "DHCP" : "router solicitations"} included: put it in a zone`);
  };
  for (const s of dhcp) {
    const i = servedInterface(s, s.value.spec.interface);
    if (!i) continue;
    inAZone(s, i);
    checkDhcp(s, i, report);
  }
  const hasV6 = (i: InterfaceInfo) => Boolean(i.obj.value.spec.delegatedPrefix) || (i.obj.value.spec.addresses ?? []).some((a) => a.includes(":"));
  for (const r of ras) {
    const i = servedInterface(r, r.value.spec.interface);
    if (!i) continue;
    inAZone(r, i);
    if (!hasV6(i)) report(r, ["spec", "interface"], `${i.name} has no IPv6: give it an IPv6 address or a delegatedPrefix to advertise`);
    const ra = r.value.spec;
    if (ra.slaac === false && !ra.managed) report(r, ["spec", "slaac"], "with neither slaac nor managed, clients would get no address from the advertised prefixes");
    const interval = ra.interval ?? 600;
    if (ra.routerLifetime !== undefined && ra.routerLifetime > 0 && ra.routerLifetime < interval)
      report(r, ["spec", "routerLifetime"], `${ra.routerLifetime} s is shorter than the interval between advertisements (${interval} s): the router would drop out between them; 0 (not a default router) or at least ${interval}`);
    if (ra.routerLifetime === 0 && ra.preference && ra.preference !== "medium")
      report(r, ["spec", "preference"], "a router that is not a default router (routerLifetime 0) advertises preference medium (RFC 4191): leave preference out");
    (ra.dnsServers ?? []).forEach((s, n) => {
      if (!s.includes(":")) report(r, ["spec", "dnsServers", n], `${s} is IPv4; router advertisements tell IPv6 DNS servers (DHCPServer.dnsServers tells IPv4 ones)`);
    });
    if (r.value.spec.managed && !dhcp.some((d) => idx.resolve(d.value.spec.interface) === i && d.value.spec.v6))
      report(r, ["spec", "managed"], `managed (M) sends clients to DHCPv6 for addresses, but no DHCPServer of ${i.name} has v6 pools`);
  }
  for (const d of dhcp) {
    const i = idx.resolve(d.value.spec.interface);
    if (i && d.value.spec.v6 && !hasV6(i)) report(d, ["spec", "v6"], `${i.name} has no IPv6: give it an IPv6 address or a delegatedPrefix to serve DHCPv6`);
    else if (i && d.value.spec.v6 && !ras.some((r) => idx.resolve(r.value.spec.interface) === i && r.value.spec.managed))
      report(d, ["spec", "v6"], `DHCPv6 addresses are asked for only when the router says so: add a RouterAdvertisement of ${i.name} with managed: true`);
  }

  const resolvers = of<DNSResolverT>("DNSResolver");
  resolvers.slice(1).forEach((r) => report(r, ["metadata", "name"], `one DNSResolver serves every zone; ${resolvers[0]!.ref} is already declared`));
  const resolver = resolvers[0];
  if (resolver) {
    const zones = new Set(of("FirewallZone").map((z) => z.value.metadata.name));
    const claims = zoneClaims(objects, idx);
    resolver.value.spec.zones.forEach((zone, n) => {
      if (!zones.has(zone)) report(resolver, ["spec", "zones", n], `unknown zone "${zone}"; ${zones.size ? `declared zones: ${[...zones].join(", ")}` : "no FirewallZone is declared"}`);
      else if (!claims.some((c) => c.zone === zone && c.iface)) report(resolver, ["spec", "zones", n], `zone ${zone} has no interface, so no host could query the resolver from it`);
    });
    const names = new Map<string, number>();
    const domain = (resolver.value.spec.localDomain ?? "home.arpa").toLowerCase();
    (resolver.value.spec.hosts ?? []).forEach((h, n) => {
      // A bare name gets the local domain: "printer" and "printer.home.arpa" are one name.
      const key = h.name.toLowerCase().includes(".") ? h.name.toLowerCase() : `${h.name.toLowerCase()}.${domain}`;
      if (names.has(key)) report(resolver, ["spec", "hosts", n, "name"], `${h.name} is already given in hosts[${names.get(key)}]`);
      else names.set(key, n);
    });
  }
  return problems;
}

/** The interface's IPv4 networks, each with the router's own address in it. */
function ipv4Subnets(i: InterfaceInfo): { net: Prefix; router: Ip }[] {
  return (i.obj.value.spec.addresses ?? []).flatMap((a) => {
    const p = parsePrefix(a);
    return p && p.family === 4 ? [{ net: p, router: parseIp(a.slice(0, a.indexOf("/")))! }] : [];
  });
}

function checkDhcp(s: LoadedObject<DHCPServerT>, i: InterfaceInfo, report: Report) {
  const spec = s.value.spec;
  const subnets = ipv4Subnets(i);
  for (const [path, text] of [[["spec", "leaseTime"], spec.leaseTime], [["spec", "v6", "leaseTime"], spec.v6?.leaseTime]] as [FieldPath, string | undefined][])
    if (text !== undefined && (parseDuration(text) ?? 0) < MIN_LEASE_MS) report(s, path, `${text} is too short: a lease lasts at least 2m (120 seconds; written like 12h, 30m, 90s, 2d or plain seconds)`);
  (spec.dnsServers ?? []).forEach((d, n) => {
    if (d.includes(":")) report(s, ["spec", "dnsServers", n], `${d} is IPv6; DHCPv4 tells IPv4 DNS servers (RouterAdvertisement.dnsServers tells IPv6 ones)`);
  });
  (spec.options ?? []).forEach((o, n) => {
    const problem = optionValueProblem(o.name, o.value);
    if (problem) report(s, ["spec", "options", n, "value"], problem);
  });
  const where = subnets.length ? `${i.name}'s subnet${subnets.length > 1 ? "s" : ""} ${subnets.map((x) => formatPrefix(network(x.net))).join(", ")}` : "";
  const subnetOf = (ip: Ip) => subnets.find((x) => contains(x.net, ip));
  if ((spec.pools?.length || spec.staticLeases?.length) && !subnets.length)
    report(s, ["spec", "interface"], `${i.name} has no IPv4 address, so there is no subnet to hand addresses out from: give it one in addresses`);

  const pools: { start: Ip; end: Ip; n: number }[] = [];
  (spec.pools ?? []).forEach((pool, n) => {
    const path = ["spec", "pools", n];
    const start = parseIp(pool.start), end = parseIp(pool.end);
    if (!start || !end) return;
    if (start.family !== 4 || end.family !== 4) return report(s, path, "pools are IPv4 ranges; IPv6 ones go in v6.pools");
    if (compareIp(start, end) > 0) return report(s, [...path, "end"], `the pool ends (${pool.end}) before it starts (${pool.start})`);
    const net = subnetOf(start);
    if (!subnets.length) return;
    if (!net || !contains(net.net, end)) return report(s, path, `${pool.start}–${pool.end} is not inside ${where}`);
    if (compareIp(start, net.router) <= 0 && compareIp(net.router, end) <= 0) return report(s, path, `${pool.start}–${pool.end} holds the router's own address ${text(net.router)}`);
    const first = network(net.net).addr, last = first + (1n << BigInt(32 - net.net.len)) - 1n;
    if (net.net.len < 31 && (start.addr === first || end.addr === last)) return report(s, path, `${pool.start}–${pool.end} holds the subnet's ${start.addr === first ? "network" : "broadcast"} address, which no host can have`);
    const clash = pools.find((p) => compareIp(start, p.end) <= 0 && compareIp(p.start, end) <= 0);
    if (clash) return report(s, path, `${pool.start}–${pool.end} overlaps pools[${clash.n}]`);
    pools.push({ start, end, n });
  });

  const macs = new Map<string, number>(), addresses = new Map<string, number>();
  (spec.staticLeases ?? []).forEach((lease, n) => {
    const path = ["spec", "staticLeases", n];
    const mac = lease.mac.toLowerCase();
    if (macs.has(mac)) report(s, [...path, "mac"], `${lease.mac} already has staticLeases[${macs.get(mac)}]`);
    else macs.set(mac, n);
    const ip = parseIp(lease.address);
    if (!ip) return;
    if (ip.family === 6) return report(s, [...path, "address"], `${lease.address} is IPv6: static leases are IPv4 (DHCPv6 addresses come from v6.pools)`);
    const key = text(ip);
    if (addresses.has(key)) return report(s, [...path, "address"], `${lease.address} is already given to staticLeases[${addresses.get(key)}]`);
    addresses.set(key, n);
    if (!subnets.length) return;
    const net = subnetOf(ip);
    if (!net) return report(s, [...path, "address"], `${lease.address} is not inside ${where}`);
    if (compareIp(ip, net.router) === 0) return report(s, [...path, "address"], `${lease.address} is the router's own address`);
    const pool = pools.find((p) => compareIp(p.start, ip) <= 0 && compareIp(ip, p.end) <= 0);
    if (pool) report(s, [...path, "address"], `${lease.address} is inside pools[${pool.n}]: a fixed address must be outside the pools, or another client could get it`);
  });

  if (spec.gateway && subnets.length) {
    const gw = parseIp(spec.gateway);
    if (gw && !subnetOf(gw)) report(s, ["spec", "gateway"], `${spec.gateway} is not inside ${where}: clients could not reach it`);
  }
  (spec.v6?.pools ?? []).forEach((pool, n) => {
    const start = parseIp(pool.start), end = parseIp(pool.end);
    if (!start || !end) return report(s, ["spec", "v6", "pools", n], `${!start ? pool.start : pool.end} is not an interface identifier such as ::1000`);
    if (compareIp(start, end) > 0) report(s, ["spec", "v6", "pools", n, "end"], `the pool ends (${pool.end}) before it starts (${pool.start})`);
    for (const [id, field] of [[start, "start"], [end, "end"]] as const)
      if (id.addr >> 64n) report(s, ["spec", "v6", "pools", n, field], `${pool[field]} is not an interface identifier: its upper 64 bits must be zero (::1000, not 2001:db8::1000), since the /64 is the interface's`);
  });
}
