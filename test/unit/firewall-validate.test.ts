// Bad firewall and NAT input gets one clear problem each — file:line:col, document, Kind/name,
// field path, what is wrong — and the seed's examples validate as written. (That nothing
// changes on the host when apply is given such a config is tested in test/netns/firewall.)
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfigText } from "../../src/api/load";
import { formatProblem } from "../../src/api/problems";
import { fos1 } from "../helpers/fos1";

const doc = (kind: string, name: string, spec: string, group = "network.fos1.io") =>
  `---\napiVersion: ${group}/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, "  ")}\n`;
const sec = (kind: string, name: string, spec: string) => doc(kind, name, spec, "security.fos1.io");
const problems = (text: string) => loadConfigText(text, "fw.yaml").problems.map(formatProblem);

/** A valid router: three interfaces, each in its zone (documents 1–6, lines 1–46; the next document starts on line 47). */
const BASE =
  doc("NetworkInterface", "wan", "device: eth0\naddresses: [198.51.100.1/24, '2001:db8:1::1/64']") +
  doc("NetworkInterface", "lan", "device: eth1\naddresses: [192.0.2.1/24, 'fd00:2::1/64']") +
  doc("NetworkInterface", "mgmt", "device: eth2\naddresses: [203.0.113.1/24]") +
  sec("FirewallZone", "wan", "interfaces: [wan]") +
  sec("FirewallZone", "lan", "interfaces: [lan]") +
  sec("FirewallZone", "mgmt", "interfaces: [mgmt]\nmanagement: true");
const rule = (spec: string) => sec("FirewallRule", "r", spec);
const cluster = (name: string) => sec("FirewallZone", name, "cluster:\n  podCIDRs: [10.244.0.0/16]");
const vlans = doc("NetworkInterface", "v10", "device: eth3\nvlan: {id: 10}") + doc("NetworkInterface", "v20", "device: eth3\nvlan: {id: 20}");

test("the base config is valid, so each case below has exactly its own problem", () => {
  expect(problems(BASE)).toEqual([]);
  expect(BASE.split("\n")).toHaveLength(47);
});

describe("the seed's examples validate as written", () => {
  test("FirewallRule lan → wan, tcp 80 and 443, allow", () => {
    const text = `${BASE}---
apiVersion: security.fos1.io/v1alpha1
kind: FirewallRule
metadata:
  name: allow-web
spec:
  fromZone: lan
  toZone: wan
  protocol: tcp
  ports: [80, 443]
  action: allow
`;
    const r = loadConfigText(text, "seed.yaml");
    expect(r.problems).toEqual([]);
    expect(r.objects.map((o) => o.ref)).toContain("FirewallRule/allow-web");
  });

  test("VLANPolicy 10 → 20, allowAll false, tcp/80 allowed (with the apiVersion and name every object needs; pasted without them it is refused, saying so: validate.test.ts)", () => {
    const text = `${BASE}${vlans}---
apiVersion: security.fos1.io/v1alpha1
kind: VLANPolicy
metadata:
  name: vlan10-to-vlan20
spec:
  fromVLAN: 10
  toVLAN: 20
  allowAll: false
  rules:
    - protocol: tcp
      port: 80
      allow: true
`;
    const r = loadConfigText(text, "seed.yaml");
    expect(r.problems).toEqual([]);
    expect(r.objects.map((o) => o.ref)).toContain("VLANPolicy/vlan10-to-vlan20");
  });
});

describe("each bad input gives one problem naming file:line:col, document, object and field", () => {
  const cases: [string, string, string][] = [
    ["a rule from an unknown zone", BASE + rule("fromZone: dmz\ntoZone: wan\naction: allow"),
      'fw.yaml:53:13: document 7 (FirewallRule/r) spec.fromZone: unknown zone "dmz"; declared zones: wan, lan, mgmt'],
    ["a rule to an unknown zone", BASE + rule("fromZone: lan\ntoZone: dmz\naction: allow"),
      'fw.yaml:54:11: document 7 (FirewallRule/r) spec.toZone: unknown zone "dmz"; declared zones: wan, lan, mgmt, or host for the router itself'],
    ["a second cluster zone", BASE + cluster("k8s") + cluster("k9s"),
      "fw.yaml:62:5: document 8 (FirewallZone/k9s) spec.cluster: one zone holds the cluster; FirewallZone/k8s does already"],
    ["a cluster zone that is also the management zone", BASE + sec("FirewallZone", "k8s", "management: true\ncluster:\n  podCIDRs: [10.244.0.0/16]"),
      "fw.yaml:53:15: document 7 (FirewallZone/k8s) spec.management: the cluster zone cannot be a management zone: the operator's access must not depend on Cilium"],
    ["cluster subnets overlapping a LAN", BASE + sec("FirewallZone", "k8s", "cluster:\n  podCIDRs: [10.244.0.0/16]\n  serviceCIDRs: [192.0.2.128/25]"),
      "fw.yaml:55:20: document 7 (FirewallZone/k8s) spec.cluster.serviceCIDRs[0]: 192.0.2.128/25 overlaps 192.0.2.1/24 of NetworkInterface/lan: the cluster's subnets must be its own"],
    ["a NetworkInterface joining the cluster zone", BASE + cluster("k8s") + doc("NetworkInterface", "x", "device: eth5\nzone: k8s"),
      "fw.yaml:62:9: document 8 (NetworkInterface/x) spec.zone: zone k8s is the cluster's: its interfaces are Cilium's (cilium_*, lxc*), no NetworkInterface joins it"],
    ["a NetworkInterface named like Cilium's devices", BASE + cluster("k8s") + doc("NetworkInterface", "x", "device: lxc0"),
      "fw.yaml:61:11: document 8 (NetworkInterface/x) spec.device: lxc0 is a name Cilium's devices take (cilium_*, lxc*), which belong to the cluster zone k8s"],
    ["an unknown tunnel", BASE + sec("FirewallZone", "k8s", "cluster:\n  podCIDRs: [10.244.0.0/16]\n  tunnel: ipip"),
      'fw.yaml:55:13: document 7 (FirewallZone/k8s) spec.cluster.tunnel: must be one of "vxlan", "geneve", "none"; got "ipip"'],
    ["a rule from the router itself", BASE + rule("fromZone: host\ntoZone: wan\naction: allow"),
      "fw.yaml:53:13: document 7 (FirewallRule/r) spec.fromZone: traffic from the router itself is not filtered; fromZone must be a zone"],
    ["an interface naming an unknown zone", BASE + doc("NetworkInterface", "dmz", "device: eth3\nzone: dmz"),
      'fw.yaml:54:9: document 7 (NetworkInterface/dmz) spec.zone: unknown zone "dmz"; declared zones: wan, lan, mgmt'],
    ["a zone with an unknown interface", BASE + sec("FirewallZone", "dmz", "interfaces: [eth9]"),
      'fw.yaml:53:16: document 7 (FirewallZone/dmz) spec.interfaces[0]: unknown interface "eth9"'],
    ["a NAT policy on an unknown interface", BASE + doc("NATPolicy", "m", "type: masquerade\ninterface: wan9\nsources: [192.0.2.0/24]"),
      'fw.yaml:54:14: document 7 (NATPolicy/m) spec.interface: unknown interface "wan9"'],
    ["an interface in two zones' lists", BASE + sec("FirewallZone", "dmz", "interfaces: [lan]"),
      "fw.yaml:53:16: document 7 (FirewallZone/dmz) spec.interfaces[0]: lan is already in zone lan (FirewallZone/lan); an interface is in one zone only"],
    ["an interface with spec.zone listed by another zone (by its device name)", BASE + doc("NetworkInterface", "x", "device: eth3\nzone: lan") + sec("FirewallZone", "dmz", "interfaces: [eth3]"),
      "fw.yaml:61:16: document 8 (FirewallZone/dmz) spec.interfaces[0]: x is already in zone lan (NetworkInterface/x); an interface is in one zone only"],
    ["an interface a selector puts into a second zone", BASE.replace("name: lan\nspec:", "name: lan\n  labels: {side: inside}\nspec:") + sec("FirewallZone", "inside", "interfaceSelector:\n  matchLabels: {side: inside}"),
      "fw.yaml:55:5: document 7 (FirewallZone/inside) spec.interfaceSelector: lan is already in zone lan (FirewallZone/lan); an interface is in one zone only"],
    ["a reversed port range in a rule", BASE + rule("fromZone: lan\ntoZone: wan\nprotocol: tcp\nports: [80, 9000-8000]\naction: allow"),
      "fw.yaml:56:15: document 7 (FirewallRule/r) spec.ports[1]: port range 9000-8000 is reversed; write 8000-9000"],
    ["a reversed port range in a VLAN policy", BASE + vlans + sec("VLANPolicy", "p", "fromVLAN: 10\ntoVLAN: 20\nrules:\n  - {protocol: udp, port: 5010-5000, allow: true}"),
      "fw.yaml:72:29: document 9 (VLANPolicy/p) spec.rules[0].port: port range 5010-5000 is reversed; write 5000-5010"],
    ["a reversed port range in a port forward", BASE + doc("NATPolicy", "fwd", "type: dnat\ninterface: wan\nforwards:\n  - {protocol: tcp, port: 8090-8080, to: 192.0.2.10}"),
      "fw.yaml:56:29: document 7 (NATPolicy/fwd) spec.forwards[0].port: port range 8090-8080 is reversed; write 8080-8090"],
    ["a port range beyond 65535", BASE + rule("fromZone: lan\ntoZone: wan\nprotocol: udp\nports: [70000-70001]\naction: allow"),
      "fw.yaml:56:11: document 7 (FirewallRule/r) spec.ports[0]: port range 70000-70001 must stay within 1–65535"],
    ["ports on icmp", BASE + rule("fromZone: lan\ntoZone: wan\nprotocol: icmp\nports: [8]\naction: allow"),
      "fw.yaml:56:10: document 7 (FirewallRule/r) spec.ports: ports need protocol tcp or udp; protocol is icmp"],
    ["ports on icmpv6 in a VLAN policy", BASE + vlans + sec("VLANPolicy", "p", "fromVLAN: 10\ntoVLAN: 20\nrules:\n  - {protocol: icmpv6, port: 128, allow: true}"),
      "fw.yaml:72:32: document 9 (VLANPolicy/p) spec.rules[0].port: ports need protocol tcp or udp; protocol is icmpv6"],
    ["ports on protocol any (the default)", BASE + rule("fromZone: lan\ntoZone: wan\nports: [80]\naction: allow"),
      "fw.yaml:55:10: document 7 (FirewallRule/r) spec.ports: ports need protocol tcp or udp; protocol is any"],
    ["ports on protocol any (written out)", BASE + rule("fromZone: lan\ntoZone: wan\nprotocol: any\nports: [80]\naction: allow"),
      "fw.yaml:56:10: document 7 (FirewallRule/r) spec.ports: ports need protocol tcp or udp; protocol is any"],
    ["icmp with IPv6 addresses", BASE + rule("fromZone: lan\ntoZone: wan\nprotocol: icmp\ndestinations: ['2001:db8::/32']\naction: allow"),
      "fw.yaml:55:13: document 7 (FirewallRule/r) spec.protocol: icmp does not go with IPv6 addresses"],
    ["a DNAT to an address on the WAN side", BASE + doc("NATPolicy", "fwd", "type: dnat\ninterface: wan\nforwards:\n  - {protocol: tcp, port: 8080, to: 198.51.100.20, toPort: 80}"),
      "fw.yaml:56:39: document 7 (NATPolicy/fwd) spec.forwards[0].to: 198.51.100.20 is in no LAN: no interface other than wan has an address whose network contains it"],
    ["a DNAT to an address on no network at all", BASE + doc("NATPolicy", "fwd", "type: dnat\ninterface: wan\nforwards:\n  - protocol: tcp\n    port: 8080\n    to: 10.9.9.9"),
      "fw.yaml:58:11: document 7 (NATPolicy/fwd) spec.forwards[0].to: 10.9.9.9 is in no LAN: no interface other than wan has an address whose network contains it"],
    ["a DNAT range shifted beyond 65535", BASE + doc("NATPolicy", "fwd", "type: dnat\ninterface: wan\nforwards:\n  - {protocol: udp, port: 6000-6010, to: 192.0.2.10, toPort: 65530}"),
      "fw.yaml:56:64: document 7 (NATPolicy/fwd) spec.forwards[0].toPort: the range 6000-6010 shifted to 65530 ends above 65535"],
    ["overlapping NPTv6 internal prefixes", BASE + doc("NATPolicy", "a", "type: nptv6\ninterface: wan\ninternalPrefix: fd00:3::/64\nexternalPrefix: 2001:db8:3::/64") + doc("NATPolicy", "b", "type: nptv6\ninterface: wan\ninternalPrefix: fd00:3::/64\nexternalPrefix: 2001:db8:4::/64"),
      "fw.yaml:65:19: document 8 (NATPolicy/b) spec.internalPrefix: fd00:3::/64 overlaps fd00:3::/64 of NATPolicy/a"],
    ["overlapping NPTv6 external prefixes", BASE + doc("NATPolicy", "a", "type: nptv6\ninterface: wan\ninternalPrefix: fd00:3::/64\nexternalPrefix: 2001:db8:3::/64") + doc("NATPolicy", "b", "type: nptv6\ninterface: wan\ninternalPrefix: fd00:4::/64\nexternalPrefix: 2001:db8:3::/64"),
      "fw.yaml:66:19: document 8 (NATPolicy/b) spec.externalPrefix: 2001:db8:3::/64 overlaps 2001:db8:3::/64 of NATPolicy/a"],
    ["NPTv6 prefixes of unequal length", BASE + doc("NATPolicy", "a", "type: nptv6\ninterface: wan\ninternalPrefix: fd00:3::/64\nexternalPrefix: 2001:db8:3::/56"),
      "fw.yaml:56:19: document 7 (NATPolicy/a) spec.externalPrefix: NPTv6 maps prefixes of equal length; internal is /64, external /56"],
    ["snat without toAddress", BASE + doc("NATPolicy", "s", "type: snat\ninterface: wan\nsources: [192.0.2.0/24]"),
      "fw.yaml:53:3: document 7 (NATPolicy/s) spec.toAddress: type snat needs toAddress (the address to translate to)"],
    ["two VLAN policies for one pair", BASE + vlans + sec("VLANPolicy", "p", "fromVLAN: 10\ntoVLAN: 20\nallowAll: true") + sec("VLANPolicy", "q", "fromVLAN: 10\ntoVLAN: 20\nallowAll: false"),
      "fw.yaml:79:11: document 10 (VLANPolicy/q) spec.toVLAN: VLAN 10 → VLAN 20 already has VLANPolicy/p; one VLANPolicy per pair (its rules would never be reached)"],
  ];

  for (const [name, text, want] of cases)
    test(name, () => {
      expect(problems(text)).toEqual([want]);
    });

  test("schema errors on the firewall kinds: an unknown action and a port 0", () => {
    expect(problems(BASE + rule("fromZone: lan\ntoZone: wan\naction: permit"))).toEqual([
      'fw.yaml:55:11: document 7 (FirewallRule/r) spec.action: must be one of "allow", "deny", "reject"; got "permit"',
    ]);
    expect(problems(BASE + rule("fromZone: lan\ntoZone: wan\nprotocol: udp\nports: [0]\naction: allow"))).toEqual([
      "fw.yaml:56:11: document 7 (FirewallRule/r) spec.ports[0]: must be a port (1 to 65535) or a range like 8000-8100; got 0",
    ]);
  });
});

describe("the CLI", () => {
  const dir = mkdtempSync(join(tmpdir(), "fos1-fw-validate-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("fos1 validate exits 2 and prints the problem with the file's path", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, BASE + rule("fromZone: lan\ntoZone: wan\nprotocol: tcp\nports: [443-80]\naction: allow"));
    const r = await fos1(["validate", "-f", file]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout + r.stderr).toContain(`${file}:56:11: document 7 (FirewallRule/r) spec.ports[0]: port range 443-80 is reversed; write 80-443`);
  });
});
