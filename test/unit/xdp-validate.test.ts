// XDPFilter: the seed-style examples validate, and each bad input gets its one problem with
// file:line:col, document, Kind/name and field path.
import { expect, test } from "bun:test";
import { loadConfigText } from "../../src/api/load";
import { formatProblem } from "../../src/api/problems";
import { desiredState } from "../../src/engine/desired";

const doc = (kind: string, name: string, spec: string, group = "network.fos1.io") =>
  `---\napiVersion: ${group}/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, "  ")}\n`;
const xdp = (name: string, spec: string) => doc("XDPFilter", name, spec, "security.fos1.io");
const problems = (text: string) => loadConfigText(text, "x.yaml").problems.map(formatProblem);

/** Documents 1–4, lines 1–30: two NICs in a bond, and a LAN NIC; document 5 starts on line 31. */
const BASE =
  doc("NetworkInterface", "wan1", "device: eth0") +
  doc("NetworkInterface", "wan2", "device: eth1") +
  doc("NetworkInterface", "bond0", "bond: {mode: 802.3ad, members: [wan1, wan2]}\naddresses: [198.51.100.1/24]") +
  doc("NetworkInterface", "lan", "device: eth2\naddresses: [192.0.2.1/24]");

test("the base config is valid, so each case below has exactly its own problem", () => {
  expect(problems(BASE)).toEqual([]);
  expect(BASE.split("\n")).toHaveLength(31);
});

test("the seed-style filter on the bonded uplink validates and becomes the desired state", () => {
  const text = `${BASE}---
apiVersion: security.fos1.io/v1alpha1
kind: XDPFilter
metadata:
  name: uplink
spec:
  interfaces: [bond0]
  blocklist: [203.0.113.0/24, 198.18.0.0/15, "2001:db8:bad::/48"]
  rateLimit: {packetsPerSecond: 10000, burst: 20000, v6PrefixLength: 56}
  denyPorts: [{protocol: tcp, port: 23}, {protocol: udp, port: 1900}]
`;
  const r = loadConfigText(text, "seed.yaml");
  expect(r.problems).toEqual([]);
  expect(desiredState(r.objects).xdp).toEqual({
    filters: [
      {
        ref: "XDPFilter/uplink",
        name: "uplink",
        mode: "auto",
        interfaces: ["bond0"],
        bondMembers: ["eth0", "eth1"],
        blocklist: ["203.0.113.0/24", "198.18.0.0/15", "2001:db8:bad::/48"],
        ports: ["tcp/23", "udp/1900"],
        rate: { pps: 10000, burst: 20000, v4Prefix: 32, v6Prefix: 56 },
        sizes: { v4: 65536, v6: 65536, rate: 65536, pagesV4: 4096, pagesV6: 1024, seenV6: 16384 },
      },
    ],
  });
});

test("NICs by object name or device, generic mode, no rate limit", () => {
  const r = loadConfigText(BASE + xdp("lan", "interfaces: [eth2]\nmode: generic\nblocklist: ['0.0.0.0/0']"), "x.yaml");
  expect(r.problems).toEqual([]);
  expect(desiredState(r.objects).xdp!.filters[0]).toMatchObject({ interfaces: ["eth2"], mode: "generic", rate: null, blocklist: ["0.0.0.0/0"], sizes: { v4: 65536, v6: 65536, rate: 1, pagesV4: 4096, pagesV6: 1024, seenV6: 16384 } });
});

test("a capacity of its own, and the sources a rate limit tracks, size the filter's maps", () => {
  const r = loadConfigText(BASE + xdp("lan", "interfaces: [eth2]\ncapacity: {ipv4: 2, ipv6: 1048576}\nblocklist: [10.0.0.0/8, 11.0.0.0/8, '2001:db8::/32']\nrateLimit: {packetsPerSecond: 10, burst: 10, trackedSources: 4096}"), "x.yaml");
  expect(r.problems).toEqual([]);
  expect(desiredState(r.objects).xdp!.filters[0]!.sizes).toEqual({ v4: 2, v6: 1048576, rate: 4096, pagesV4: 16, pagesV6: 16384, seenV6: 262144 });
});

test.each([
  ["an unknown interface", "interfaces: [wan9]", 'x.yaml:37:16: document 5 (XDPFilter/f) spec.interfaces[0]: unknown interface "wan9"; name a NetworkInterface (a bond or a NIC) or the device of a declared physical one'],
  ["an invalid CIDR", "interfaces: [lan]\nblocklist: [203.0.113.0/33]", 'x.yaml:38:15: document 5 (XDPFilter/f) spec.blocklist[0]: must be an IPv4 or IPv6 address with prefix length, e.g. 192.168.1.1/24 or 2001:db8::1/64; got "203.0.113.0/33"'],
  ["a CIDR with host bits", "interfaces: [lan]\nblocklist: [203.0.113.7/24]", "x.yaml:38:15: document 5 (XDPFilter/f) spec.blocklist[0]: 203.0.113.7/24 has host bits set; write the network, 203.0.113.0/24"],
  ["an IPv6 CIDR with host bits", "interfaces: [lan]\nblocklist: ['2001:db8::1/32']", "x.yaml:38:15: document 5 (XDPFilter/f) spec.blocklist[0]: 2001:db8::1/32 has host bits set; write the network, 2001:db8::/32"],
  ["a bad mode", "interfaces: [lan]\nmode: offload", 'x.yaml:38:9: document 5 (XDPFilter/f) spec.mode: must be one of "native", "generic", "auto"; got "offload"'],
  ["a port out of range", "interfaces: [lan]\ndenyPorts: [{protocol: tcp, port: 70000}]", "x.yaml:38:37: document 5 (XDPFilter/f) spec.denyPorts[0].port: must be <= 65535; got 70000"],
  ["a rate prefix longer than IPv4", "interfaces: [lan]\nrateLimit: {packetsPerSecond: 10, burst: 10, v4PrefixLength: 33}", "x.yaml:38:64: document 5 (XDPFilter/f) spec.rateLimit.v4PrefixLength: must be <= 32; got 33"],
  [
    "a blocklist over the filter's capacity",
    "interfaces: [lan]\ncapacity: {ipv4: 2}\nblocklist: [10.0.0.0/8, 11.0.0.0/8, 12.0.0.0/8, '2001:db8::/32']",
    "x.yaml:39:14: document 5 (XDPFilter/f) spec.blocklist: 3 IPv4 prefixes, more than the filter's capacity of 2; raise spec.capacity.ipv4 (default 65,536, at most 16,777,216) or shorten the list",
  ],
  ["a capacity over the most a filter holds", "interfaces: [lan]\ncapacity: {ipv6: 16777217}", "x.yaml:38:20: document 5 (XDPFilter/f) spec.capacity.ipv6: must be <= 16777216; got 16777217"],
  ["no interfaces", "interfaces: []", "x.yaml:37:15: document 5 (XDPFilter/f) spec.interfaces: needs at least 1 item"],
  ["a bond member beside its bond", "interfaces: [bond0, wan1]", "x.yaml:37:23: document 5 (XDPFilter/f) spec.interfaces[1]: wan1 is a member of bond bond0, which runs XDPFilter/f; the kernel runs a bond's XDP program on its members"],
])("%s is one clear problem", (_what, spec, want) => {
  expect(problems(BASE + xdp("f", spec))).toEqual([want]);
});

test("the members of one bond in two XDPFilters are a problem on the second", () => {
  expect(problems(BASE + xdp("a", "interfaces: [wan1]") + xdp("b", "interfaces: [wan2]"))).toEqual([
    "x.yaml:44:16: document 6 (XDPFilter/b) spec.interfaces[0]: wan2 and wan1 are members of bond bond0, and wan1 is filtered by XDPFilter/a; a filter on a bond's members runs on all of them, so name them in one XDPFilter",
  ]);
  expect(problems(BASE + xdp("a", "interfaces: [wan1, wan2]"))).toEqual([]);
});

test("an interface in two XDPFilters is a problem on the second", () => {
  expect(problems(BASE + xdp("a", "interfaces: [lan]") + xdp("b", "interfaces: [eth2]"))).toEqual([
    "x.yaml:44:16: document 6 (XDPFilter/b) spec.interfaces[0]: eth2 is already filtered by XDPFilter/a; an interface runs one XDP program",
  ]);
});
