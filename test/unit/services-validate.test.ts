// Bad input for the LAN services (DHCPServer, RouterAdvertisement, DNSResolver) gets one clear
// problem each — file:line:col, document, Kind/name, field path, what is wrong and what is
// allowed — and good input none. Also the firewall openings the services make for themselves:
// exactly what each serves, from the zones it serves, before the operator's rules.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { loadConfigText } from "../../src/api/load";
import { formatProblem } from "../../src/api/problems";
import { desiredState } from "../../src/engine/desired";

const doc = (kind: string, name: string, spec: string, group = "network.fos1.io") =>
  `---\napiVersion: ${group}/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, "  ")}\n`;
const sec = (kind: string, name: string, spec: string) => doc(kind, name, spec, "security.fos1.io");
const problems = (text: string) => loadConfigText(text, "svc.yaml").problems.map(formatProblem);

/** Documents 1–4, lines 1–31: lan on eth1 (192.168.10.1/24, 2001:db8:10::1/64) and mgmt on eth3, each in its zone. */
const NET =
  doc("NetworkInterface", "lan", "device: eth1\naddresses: [192.168.10.1/24, '2001:db8:10::1/64']") +
  doc("NetworkInterface", "mgmt", "device: eth3\naddresses: [192.168.99.1/24]") +
  sec("FirewallZone", "lan", "interfaces: [lan]") +
  sec("FirewallZone", "mgmt", "interfaces: [mgmt]\nmanagement: true");

const POOL = "{start: 192.168.10.100, end: 192.168.10.199}";
const LEASE = "{mac: '52:54:00:00:00:01', address: 192.168.10.10, hostname: nas}";
/** A DHCPServer spec for lan: its pools from line 40 on, then its static leases, each on a line of its own. */
const dhcp = (pools: string[] = [POOL], leases: string[] = [LEASE], extra = "") =>
  `interface: lan\npools:\n${pools.map((p) => `  - ${p}\n`).join("")}staticLeases:\n${leases.map((l) => `  - ${l}\n`).join("")}${extra}`.trimEnd();
const RA = "interface: lan";
const DNS = "zones: [lan]\nhosts:\n  - {name: printer, addresses: [192.168.10.20]}";
/** Stateful DHCPv6 as it must be asked for: v6 pools on the DHCPServer, managed on the RA. */
const V6 = "v6:\n  pools:\n    - {start: '::1000', end: '::1fff'}";

/**
 * The valid base: NET, then document 5 DHCPServer/lan (lines 32–42), document 6
 * RouterAdvertisement/lan (lines 43–49) and document 7 DNSResolver/router (lines 50–58); a
 * document added after it starts on line 59. Each case below changes or adds one thing.
 */
const base = (o: { dhcp?: string; ra?: string; dns?: string } = {}) =>
  NET + doc("DHCPServer", "lan", o.dhcp ?? dhcp()) + doc("RouterAdvertisement", "lan", o.ra ?? RA) + doc("DNSResolver", "router", o.dns ?? DNS);
const BASE = base();

describe("good input has no problems", () => {
  test("the base: DHCP with a pool and a static lease, SLAAC with the O flag, a resolver for lan", () => {
    expect(problems(BASE)).toEqual([]);
    expect(BASE.split("\n")).toHaveLength(59);
  });

  test("stateful DHCPv6 with SLAAC off, RA settings, DHCP options, and references by device name", () => {
    const text = base({
      dhcp: dhcp([POOL, "{start: 192.168.10.200, end: 192.168.10.250}"], [LEASE, "{mac: '52:54:00:00:00:02', address: 192.168.10.11}"], `leaseTime: 1h\ngateway: 192.168.10.254\ndnsServers: [192.168.10.53]\noptions:\n  - {name: ntp-server, value: 192.168.10.1}\n${V6}\n  leaseTime: 2d`),
      ra: "interface: eth1\nmanaged: true\nslaac: false\nmtu: 1480\npreference: high\nrouterLifetime: 1800\ninterval: 60",
      dns: "zones: [lan, mgmt]\nforwarders: [9.9.9.9, '2620:fe::fe']\ndnssec: true\nlocalDomain: lan.example\ncacheSize: 0",
    });
    expect(problems(text)).toEqual([]);
  });

  test("a DHCPServer of static leases only, on an interface in a zone by its own spec.zone", () => {
    const text =
      NET +
      doc("NetworkInterface", "lab", "device: eth2\naddresses: [10.0.0.1/24]\nzone: mgmt") +
      doc("DHCPServer", "lab", "interface: lab\nstaticLeases:\n  - {mac: '52:54:00:00:00:09', address: 10.0.0.9}");
    expect(problems(text)).toEqual([]);
  });

  test("the shipped default config", () => {
    const text = readFileSync(resolve(import.meta.dir, "../../src/api/default-config.yaml"), "utf8");
    expect(loadConfigText(text, "default-config.yaml").problems.map(formatProblem)).toEqual([]);
  });
});

describe("each bad input gives one problem naming file:line:col, document, object and field", () => {
  const cases: [string, string, string][] = [
    // DHCPServer: pools
    ["a pool outside the interface's subnet", base({ dhcp: dhcp(["{start: 192.168.11.100, end: 192.168.11.199}"]) }),
      "svc.yaml:40:7: document 5 (DHCPServer/lan) spec.pools[0]: 192.168.11.100–192.168.11.199 is not inside lan's subnet 192.168.10.0/24"],
    ["a pool that starts inside the subnet and ends outside it", base({ dhcp: dhcp(["{start: 192.168.10.200, end: 192.168.11.10}"]) }),
      "svc.yaml:40:7: document 5 (DHCPServer/lan) spec.pools[0]: 192.168.10.200–192.168.11.10 is not inside lan's subnet 192.168.10.0/24"],
    ["a pool holding the router's own address", base({ dhcp: dhcp(["{start: 192.168.10.1, end: 192.168.10.9}"]) }),
      "svc.yaml:40:7: document 5 (DHCPServer/lan) spec.pools[0]: 192.168.10.1–192.168.10.9 holds the router's own address 192.168.10.1"],
    ["two overlapping pools", base({ dhcp: dhcp([POOL, "{start: 192.168.10.150, end: 192.168.10.250}"]) }),
      "svc.yaml:41:7: document 5 (DHCPServer/lan) spec.pools[1]: 192.168.10.150–192.168.10.250 overlaps pools[0]"],
    ["a pool whose end is before its start", base({ dhcp: dhcp(["{start: 192.168.10.199, end: 192.168.10.100}"]) }),
      "svc.yaml:40:36: document 5 (DHCPServer/lan) spec.pools[0].end: the pool ends (192.168.10.100) before it starts (192.168.10.199)"],
    ["an IPv6 range in the IPv4 pools", base({ dhcp: dhcp(["{start: '2001:db8:10::100', end: '2001:db8:10::199'}"]) }),
      "svc.yaml:40:7: document 5 (DHCPServer/lan) spec.pools[0]: pools are IPv4 ranges; IPv6 ones go in v6.pools"],
    // DHCPServer: static leases
    ["a static lease inside a pool", base({ dhcp: dhcp([POOL], ["{mac: '52:54:00:00:00:01', address: 192.168.10.150}"]) }),
      "svc.yaml:42:43: document 5 (DHCPServer/lan) spec.staticLeases[0].address: 192.168.10.150 is inside pools[0]: a fixed address must be outside the pools, or another client could get it"],
    ["a duplicate MAC among static leases (in other case)", base({ dhcp: dhcp([POOL], [LEASE, "{mac: '52:54:00:00:00:01', address: 192.168.10.11}"]) }),
      "svc.yaml:43:13: document 5 (DHCPServer/lan) spec.staticLeases[1].mac: 52:54:00:00:00:01 already has staticLeases[0]"],
    ["a duplicate address among static leases", base({ dhcp: dhcp([POOL], [LEASE, "{mac: '52:54:00:00:00:02', address: 192.168.10.10}"]) }),
      "svc.yaml:43:43: document 5 (DHCPServer/lan) spec.staticLeases[1].address: 192.168.10.10 is already given to staticLeases[0]"],
    ["a static lease outside the subnet", base({ dhcp: dhcp([POOL], ["{mac: '52:54:00:00:00:01', address: 192.168.11.10}"]) }),
      "svc.yaml:42:43: document 5 (DHCPServer/lan) spec.staticLeases[0].address: 192.168.11.10 is not inside lan's subnet 192.168.10.0/24"],
    ["a static lease on the router's own address", base({ dhcp: dhcp([POOL], ["{mac: '52:54:00:00:00:01', address: 192.168.10.1}"]) }),
      "svc.yaml:42:43: document 5 (DHCPServer/lan) spec.staticLeases[0].address: 192.168.10.1 is the router's own address"],
    // DHCPServer: gateway and interface
    ["a gateway outside the subnet", base({ dhcp: dhcp([POOL], [LEASE], "gateway: 192.168.11.1") }),
      "svc.yaml:43:12: document 5 (DHCPServer/lan) spec.gateway: 192.168.11.1 is not inside lan's subnet 192.168.10.0/24: clients could not reach it"],
    ["a DHCPServer on an interface with no IPv4 address",
      BASE + doc("NetworkInterface", "v6only", "device: eth2\naddresses: ['2001:db8:20::1/64']\nzone: lan") + doc("DHCPServer", "v6only", "interface: v6only\npools:\n  - {start: 192.168.20.100, end: 192.168.20.199}"),
      "svc.yaml:74:14: document 9 (DHCPServer/v6only) spec.interface: v6only has no IPv4 address, so there is no subnet to hand addresses out from: give it one in addresses"],
    ["a DHCPServer's interface in no FirewallZone while zones exist",
      BASE + doc("NetworkInterface", "iot", "device: eth2\naddresses: [192.168.30.1/24]") + doc("DHCPServer", "iot", "interface: iot\npools:\n  - {start: 192.168.30.100, end: 192.168.30.199}"),
      "svc.yaml:73:14: document 9 (DHCPServer/iot) spec.interface: iot is in no FirewallZone, so the firewall drops everything its clients send, DHCP included: put it in a zone"],
    ["DHCPv6 v6 pools on an interface without IPv6", BASE + doc("DHCPServer", "mgmt", `interface: mgmt\npools:\n  - {start: 192.168.99.100, end: 192.168.99.199}\n${V6}`),
      "svc.yaml:69:5: document 8 (DHCPServer/mgmt) spec.v6: mgmt has no IPv6: give it an IPv6 address or a delegatedPrefix to serve DHCPv6"],
    ["DHCPServer v6 pools without a RouterAdvertisement with managed: true", base({ dhcp: dhcp([POOL], [LEASE], V6) }),
      "svc.yaml:44:5: document 5 (DHCPServer/lan) spec.v6: DHCPv6 addresses are asked for only when the router says so: add a RouterAdvertisement of lan with managed: true"],
    ["a v6 pool whose end is before its start", base({ dhcp: dhcp([POOL], [LEASE], "v6:\n  pools:\n    - {start: '::1fff', end: '::1000'}"), ra: "interface: lan\nmanaged: true" }),
      "svc.yaml:45:32: document 5 (DHCPServer/lan) spec.v6.pools[0].end: the pool ends (::1000) before it starts (::1fff)"],
    // RouterAdvertisement
    ["a RouterAdvertisement on an interface without IPv6", base({ ra: "interface: mgmt" }),
      "svc.yaml:49:14: document 6 (RouterAdvertisement/lan) spec.interface: mgmt has no IPv6: give it an IPv6 address or a delegatedPrefix to advertise"],
    ["a RouterAdvertisement's interface in no FirewallZone while zones exist",
      BASE + doc("NetworkInterface", "iot", "device: eth2\naddresses: ['2001:db8:30::1/64']") + doc("RouterAdvertisement", "iot", "interface: iot"),
      "svc.yaml:73:14: document 9 (RouterAdvertisement/iot) spec.interface: iot is in no FirewallZone, so the firewall drops everything its clients send, router solicitations included: put it in a zone"],
    ["managed: true without a DHCPServer with v6 on that interface", base({ ra: "interface: lan\nmanaged: true" }),
      "svc.yaml:50:12: document 6 (RouterAdvertisement/lan) spec.managed: managed (M) sends clients to DHCPv6 for addresses, but no DHCPServer of lan has v6 pools"],
    ["slaac: false without managed", base({ ra: "interface: lan\nslaac: false" }),
      "svc.yaml:50:10: document 6 (RouterAdvertisement/lan) spec.slaac: with neither slaac nor managed, clients would get no address from the advertised prefixes"],
    // DNSResolver
    ["a DNSResolver zone that does not exist", base({ dns: "zones: [lan, dmz]" }),
      'svc.yaml:56:16: document 7 (DNSResolver/router) spec.zones[1]: unknown zone "dmz"; declared zones: lan, mgmt'],
    ["a DNSResolver zone with no interface", base({ dns: "zones: [lan, dmz]" }) + sec("FirewallZone", "dmz", "input: drop"),
      "svc.yaml:56:16: document 7 (DNSResolver/router) spec.zones[1]: zone dmz has no interface, so no host could query the resolver from it"],
    ["two DNSResolvers", BASE + doc("DNSResolver", "second", "zones: [mgmt]"),
      "svc.yaml:63:9: document 8 (DNSResolver/second) metadata.name: one DNSResolver serves every zone; DNSResolver/router is already declared"],
    ["duplicate host names in DNSResolver hosts (in other case)", base({ dns: `${DNS}\n  - {name: Printer, addresses: [192.168.10.21]}` }),
      "svc.yaml:59:14: document 7 (DNSResolver/router) spec.hosts[1].name: Printer is already given in hosts[0]"],
    // Schema errors
    ["an unknown DHCP option name", base({ dhcp: dhcp([POOL], [LEASE], "options:\n  - {name: ntp, value: 192.168.10.1}") }),
      'svc.yaml:44:14: document 5 (DHCPServer/lan) spec.options[0].name: must be one of "ntp-server", "time-offset", "log-server", "lpr-server", "netbios-ns", "netbios-dd", "netbios-nodetype", "netbios-scope", "mtu", "tftp-server", "bootfile-name", "sip-server", "classless-static-route", "domain-search", "T1", "T2", "vendor-encap"; got "ntp"'],
    ["an unknown RA preference", base({ ra: "interface: lan\npreference: highest" }),
      'svc.yaml:50:15: document 6 (RouterAdvertisement/lan) spec.preference: must be one of "low", "medium", "high"; got "highest"'],
  ];

  for (const [name, text, want] of cases)
    test(name, () => {
      expect(problems(text)).toEqual([want]);
    });

  test("an unknown interface: the message lists the declared ones", () => {
    const ps = problems(base({ dhcp: dhcp().replace("interface: lan", "interface: lan9") }));
    expect(ps).toHaveLength(1);
    expect(ps[0]).toStartWith('svc.yaml:38:14: document 5 (DHCPServer/lan) spec.interface: unknown interface "lan9"; declared interfaces: lan, mgmt');
  });

  test("two DHCPServers on one interface, the second naming it by its device", () => {
    const ps = problems(BASE + doc("DHCPServer", "lan-too", "interface: eth1\npools:\n  - {start: 192.168.10.200, end: 192.168.10.220}"));
    expect(ps).toHaveLength(1);
    expect(ps[0]).toStartWith("svc.yaml:65:14: document 8 (DHCPServer/lan-too) spec.interface: lan is already served by DHCPServer/lan; one DHCPServer per interface");
  });

  test("a v6 pool with non-zero upper 64 bits: each end named, with its value and what is allowed", () => {
    const ps = problems(base({ dhcp: dhcp([POOL], [LEASE], "v6:\n  pools:\n    - {start: '::1:0:0:0:1000', end: '::1:0:0:0:1fff'}"), ra: "interface: lan\nmanaged: true" }));
    expect(ps).toHaveLength(2);
    expect(ps[0]).toStartWith("svc.yaml:45:17: document 5 (DHCPServer/lan) spec.v6.pools[0].start: ::1:0:0:0:1000 is not an interface identifier: its upper 64 bits must be zero");
    expect(ps[1]).toStartWith("svc.yaml:45:40: document 5 (DHCPServer/lan) spec.v6.pools[0].end: ::1:0:0:0:1fff is not an interface identifier");
  });

  test("a bad leaseTime: the message gives the forms a duration takes", () => {
    const ps = problems(base({ dhcp: dhcp([POOL], [LEASE], "leaseTime: 12 hours") }));
    expect(ps).toHaveLength(1);
    expect(ps[0]).toBe('svc.yaml:43:14: document 5 (DHCPServer/lan) spec.leaseTime: must be how long a lease lasts, at least 2m: 12h, 30m, 90s, 2d or plain seconds (default 12h); got "12 hours"');
  });
});

describe("the services' firewall openings", () => {
  const iface = (name: string, device: string, addresses: string) => doc("NetworkInterface", name, `device: ${device}\naddresses: [${addresses}]\nzone: ${name}`);
  const zone = (name: string, extra = "input: reject") => sec("FirewallZone", name, extra);
  const text =
    iface("lan", "eth1", "192.168.10.1/24, '2001:db8:10::1/64'") +
    iface("guest", "eth2", "192.168.20.1/24, '2001:db8:20::1/64'") +
    iface("iot", "eth4", "'2001:db8:40::1/64'") +
    iface("lab", "eth5", "'2001:db8:50::1/64'") +
    iface("office", "eth6", "192.168.60.1/24, '2001:db8:60::1/64'") +
    iface("mgmt", "eth3", "192.168.99.1/24") +
    ["lan", "guest", "iot", "lab", "office"].map((z) => zone(z)).join("") +
    zone("mgmt", "management: true") +
    sec("FirewallRule", "web", "fromZone: lan\ntoZone: host\nprotocol: tcp\nports: [443]\naction: allow") +
    // DHCP on lan, on guest (named by its device) and on office (with stateful DHCPv6).
    doc("DHCPServer", "lan", "interface: lan\npools: [{start: 192.168.10.100, end: 192.168.10.199}]") +
    doc("DHCPServer", "guest", "interface: eth2\npools: [{start: 192.168.20.100, end: 192.168.20.199}]") +
    doc("DHCPServer", "office", `interface: office\npools: [{start: 192.168.60.100, end: 192.168.60.199}]\n${V6}`) +
    // lan: O by default, as DHCP serves it; guest: O turned off; iot: no DHCP, so no O by
    // default; lab: no DHCP but O asked for; office: M.
    doc("RouterAdvertisement", "lan", "interface: lan") +
    doc("RouterAdvertisement", "guest", "interface: guest\notherConfig: false") +
    doc("RouterAdvertisement", "iot", "interface: iot") +
    doc("RouterAdvertisement", "lab", "interface: lab\notherConfig: true") +
    doc("RouterAdvertisement", "office", "interface: office\nmanaged: true\nslaac: false") +
    doc("DNSResolver", "router", "zones: [lan, guest]") +
    sec("FirewallRule", "ssh", "fromZone: mgmt\ntoZone: host\nprotocol: tcp\nports: [22]\naction: allow");

  const SERVICE = /^(DHCPServer|RouterAdvertisement|DNSResolver)\//;
  const rulesOf = (t: string) => {
    const r = loadConfigText(t, "fw.yaml");
    expect(r.problems.map(formatProblem)).toEqual([]);
    return desiredState(r.objects).firewall.rules.map((x) => ({ ...x, line: `${x.ref} ${x.name}: ${x.from} → ${x.to} ${x.protocol}/${x.ports.map((p) => p.join("-")).join(",")} ${x.action}` }));
  };

  test("exactly udp/67 where DHCP serves, udp/547 where an RA has M or O, udp+tcp/53 from the resolver's zones, and nothing else", () => {
    const services = rulesOf(text).filter((x) => SERVICE.test(x.ref));
    expect(services.map((x) => x.line)).toEqual([
      "DHCPServer/lan dhcp-server: lan → host udp/67-67 allow",
      "DHCPServer/guest dhcp-server: guest → host udp/67-67 allow",
      "DHCPServer/office dhcp-server: office → host udp/67-67 allow",
      "RouterAdvertisement/lan dhcpv6-server: lan → host udp/547-547 allow",
      "RouterAdvertisement/lab dhcpv6-server: lab → host udp/547-547 allow",
      "RouterAdvertisement/office dhcpv6-server: office → host udp/547-547 allow",
      "DNSResolver/router dns: lan → host udp/53-53 allow",
      "DNSResolver/router dns: lan → host tcp/53-53 allow",
      "DNSResolver/router dns: guest → host udp/53-53 allow",
      "DNSResolver/router dns: guest → host tcp/53-53 allow",
    ]);
    // Nothing from a zone nothing serves, nor from where only SLAAC is advertised.
    expect(services.filter((x) => x.from === "mgmt" || x.from === "iot")).toEqual([]);
    // Plain openings: no address limits, no logging, no rate limit.
    for (const x of services) {
      expect(x).toMatchObject({ sources: [], destinations: [], log: false });
      expect(x.rateLimit).toBeUndefined();
    }
  });

  test("they come before the operator's FirewallRules, whatever the order in the file", () => {
    const all = rulesOf(text);
    const firstOperator = all.findIndex((x) => x.ref.startsWith("FirewallRule/"));
    expect(all.slice(firstOperator).map((x) => x.ref)).toEqual(["FirewallRule/web", "FirewallRule/ssh"]);
    expect(all.slice(0, firstOperator).every((x) => SERVICE.test(x.ref))).toBe(true);
  });

  test("without a resolver no DNS opening, and with no FirewallZone at all none of them", () => {
    const noDns = rulesOf(text.replace(/---\napiVersion: network.fos1.io\/v1alpha1\nkind: DNSResolver\n[^-]*/, ""));
    expect(noDns.filter((x) => x.name === "dns")).toEqual([]);
    expect(noDns.filter((x) => SERVICE.test(x.ref))).toHaveLength(6);
    const unzoned = NET.replace(/---\napiVersion: security[^]*$/, "") + doc("DHCPServer", "lan", dhcp()) + doc("RouterAdvertisement", "lan", RA);
    expect(rulesOf(unzoned)).toEqual([]);
  });
});
