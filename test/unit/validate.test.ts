import { describe, expect, test } from "bun:test";
import { loadConfigText } from "../../src/api/load";
import { formatProblem } from "../../src/api/problems";
import { desiredState } from "../../src/engine/desired";

const doc = (kind: string, name: string, spec: string, group = "network.fos1.io") =>
  `---\napiVersion: ${group}/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec.replace(/^/gm, "  ")}\n`;
const problems = (text: string) => loadConfigText(text, "cfg.yaml").problems.map(formatProblem);

describe("the seed's example", () => {
  /** The seed design's NetworkInterface, exactly as it writes it: a physical device with a VLAN block. */
  const seedInterface = (name: string, id: number) => `---
apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata:
  name: ${name}
spec:
  type: physical
  device: eth1
  vlan:
    enabled: true
    id: ${id}
  cilium:
    labels:
      zone: lan
      fos1.io/vlan: "${id}"
`;

  test("validates as written, and is VLAN 10 on eth1", () => {
    const r = loadConfigText(seedInterface("lan1", 10), "seed.yaml");
    expect(r.problems).toEqual([]);
    expect(r.objects.map((o) => o.ref)).toEqual(["NetworkInterface/lan1"]);
    const links = desiredState(r.objects).links;
    expect(links.find((l) => l.name === "lan1")).toMatchObject({ kind: "vlan", vlan: { parent: "eth1", id: 10, protocol: "802.1Q" } });
    // eth1 itself is only kept up: the config names it as the VLAN's device, nothing more.
    expect(links.find((l) => l.name === "eth1")).toMatchObject({ kind: "physical", implicit: true });
  });

  test("a second one in the same form, VLAN 20 on the same eth1, is valid beside it", () => {
    const r = loadConfigText(seedInterface("lan1", 10) + seedInterface("lan2", 20), "seed.yaml");
    expect(r.problems).toEqual([]);
    const vlans = desiredState(r.objects).links.filter((l) => l.kind === "vlan");
    expect(vlans.map((l) => [l.name, l.vlan!.parent, l.vlan!.id])).toEqual([["lan1", "eth1", 10], ["lan2", "eth1", 20]]);
  });

  test("two VLANs with the same id on eth1 in that form are still refused", () => {
    const text = seedInterface("lan1", 10) + seedInterface("lan2", 10);
    expect(problems(text).join("\n")).toContain("VLAN 10");
  });

  test("the seed's VLANPolicy pasted without apiVersion and metadata says exactly what is missing", () => {
    const pasted = `kind: VLANPolicy
spec:
  fromVLAN: 10
  toVLAN: 20
  allowAll: false
  rules:
    - protocol: tcp
      port: 80
      allow: true
`;
    expect(problems(pasted)).toEqual([
      "cfg.yaml:1:1: document 1 (VLANPolicy/?): apiVersion is missing: a VLANPolicy is apiVersion: security.fos1.io/v1alpha1",
      "cfg.yaml:1:1: document 1 (VLANPolicy/?): metadata.name is missing: every object is named (metadata: {name: …})",
    ]);
    expect(problems(pasted.replace("kind: VLANPolicy\n", "apiVersion: network.fos1.io/v1alpha1\nkind: VLANPolicy\nmetadata: {name: v}\n"))).toEqual([
      'cfg.yaml:1:13: document 1 (VLANPolicy/v) apiVersion: VLANPolicy is security.fos1.io/v1alpha1; got "network.fos1.io/v1alpha1"',
    ]);
  });
});


describe("schema errors name file, line, column, document, object and field, and say what is allowed", () => {
  test("an out-of-range VLAN id", () => {
    expect(problems(doc("NetworkInterface", "lan1", "device: eth1\nvlan:\n  id: 5000"))).toEqual([
      "cfg.yaml:9:9: document 1 (NetworkInterface/lan1) spec.vlan.id: must be <= 4094; got 5000",
    ]);
  });

  test("an unknown field lists the allowed ones, pointing at the key", () => {
    const [p] = problems(doc("NetworkInterface", "wan", "device: eth0\nmtux: 1500"));
    expect(p).toStartWith("cfg.yaml:8:3: document 1 (NetworkInterface/wan) spec.mtux: unknown field \"mtux\"; allowed here: type, device, mac,");
  });

  test("an invalid CIDR and a bad enum, both reported at once", () => {
    const ps = problems(doc("NetworkInterface", "b", "bond: {mode: lacp, members: [x]}\naddresses: [192.168.1.1/33]"));
    expect(ps).toHaveLength(2);
    expect(ps.join("\n")).toContain('spec.bond.mode: must be one of "balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb"; got "lacp"');
    expect(ps.join("\n")).toContain('spec.addresses[0]: must be an IPv4 or IPv6 address with prefix length, e.g. 192.168.1.1/24 or 2001:db8::1/64; got "192.168.1.1/33"');
  });

  test("an unknown kind lists the known kinds; a wrong apiVersion says the right one", () => {
    const ps = problems(`kind: Frobnicator\n---\napiVersion: v1\nkind: VRF\nmetadata: {name: x}\nspec: {table: 10}\n`);
    expect(ps[0]).toBe('cfg.yaml:1:7: document 1 kind: unknown kind "Frobnicator"; known kinds: NetworkInterface, VRF, Route, RoutingPolicy, NATPolicy, DHCPServer, RouterAdvertisement, DNSResolver, FirewallZone, FirewallRule, VLANPolicy, XDPFilter, DPIProfile');
    expect(ps[1]).toBe('cfg.yaml:3:13: document 2 (VRF/x) apiVersion: VRF is network.fos1.io/v1alpha1; got "v1"');
  });

  test("YAML syntax errors and duplicate keys carry their line", () => {
    const ps = problems("apiVersion: network.fos1.io/v1alpha1\nkind: VRF\nkind: VRF\n");
    expect(ps[0]).toMatch(/^cfg\.yaml:3:1: document 1: YAML: Map keys must be unique/);
  });

  test("a duplicate object is reported where it is defined the second time", () => {
    const ps = problems(doc("VRF", "red", "table: 10") + doc("VRF", "red", "table: 11"));
    expect(ps).toEqual(["cfg.yaml:12:9: document 2 (VRF/red) metadata.name: duplicate VRF/red: already defined in document 1"]);
  });
});

describe("cross-object checks", () => {
  const nic = (name: string, device: string, extra = "") => doc("NetworkInterface", name, `device: ${device}${extra ? "\n" + extra : ""}`);

  test("unknown bond member, VLAN parent and VRF", () => {
    const ps = problems(
      doc("NetworkInterface", "bond0", "bond: {mode: 802.3ad, members: [eth7]}") +
        doc("NetworkInterface", "v10", "vlan: {parent: trunk, id: 10}") +
        nic("lan", "eth2", "vrf: blue"),
    ).join("\n");
    expect(ps).toContain('spec.bond.members[0]: unknown interface "eth7": declare it as a NetworkInterface (type physical, device eth7) or name a declared one');
    expect(ps).toContain('spec.vlan.parent: unknown interface "trunk"');
    expect(ps).toContain('spec.vrf: unknown VRF "blue"; no VRF is declared');
  });

  test("a NIC in two bonds, and a bond member with its own addresses", () => {
    const ps = problems(
      nic("wan1", "eth0", "addresses: [198.51.100.2/24]") +
        doc("NetworkInterface", "bond0", "bond: {mode: 802.3ad, members: [wan1]}") +
        doc("NetworkInterface", "bond1", "bond: {mode: active-backup, members: [eth0]}"),
    ).join("\n");
    expect(ps).toContain("(NetworkInterface/bond1) spec.bond.members[0]: NetworkInterface/wan1 is already a member of NetworkInterface/bond0");
    expect(ps).toContain("(NetworkInterface/wan1) spec.addresses: NetworkInterface/wan1 is a member of NetworkInterface/bond0 and cannot have addresses of its own");
  });

  test("duplicate VLAN ids on one parent", () => {
    const ps = problems(doc("NetworkInterface", "a", "device: eth1\nvlan: {id: 10}") + doc("NetworkInterface", "b", "device: eth1\nvlan: {id: 10}"));
    expect(ps).toEqual(["cfg.yaml:16:14: document 2 (NetworkInterface/b) spec.vlan.id: VLAN 10 on eth1 is already declared by NetworkInterface/a"]);
  });

  test("duplicate and overlapping addresses in one routing domain, but not across VRFs", () => {
    const ps = problems(nic("a", "eth0", "addresses: [192.168.1.1/24]") + nic("b", "eth1", "addresses: [192.168.1.1/24]") + nic("c", "eth2", "addresses: [192.168.0.1/16]"));
    expect(ps.join("\n")).toContain("(NetworkInterface/b) spec.addresses[0]: address 192.168.1.1/24 is already on eth0 (NetworkInterface/a)");
    expect(ps.join("\n")).toContain("(NetworkInterface/c) spec.addresses[0]: 192.168.0.1/16 overlaps 192.168.1.1/24 on eth0 (NetworkInterface/a) in the same routing table");
    const vrfs = problems(doc("VRF", "red", "table: 10") + nic("a", "eth0", "addresses: [192.168.1.1/24]") + nic("b", "eth1", "addresses: [192.168.1.2/24]\nvrf: red"));
    expect(vrfs).toEqual([]);
  });

  test("an interface address that is the network or broadcast address", () => {
    expect(problems(nic("a", "eth0", "addresses: [192.168.1.0/24]"))[0]).toContain("192.168.1.0/24 is the network address of its subnet; give the interface a host address, e.g. 192.168.1.1/24");
  });

  test("a gateway on no connected network", () => {
    const ps = problems(nic("wan", "eth0", "addresses: [198.51.100.1/24]") + doc("Route", "default", "destination: default\ngateway: 203.0.113.1"));
    expect(ps).toEqual(["cfg.yaml:16:12: document 2 (Route/default) spec.gateway: gateway 203.0.113.1 is not on any network connected to the main table; no interface address contains it"]);
    // With DHCP on an interface of that table the gateway can only be known at run time.
    expect(problems(nic("wan", "eth0", "dhcp: {v4: true}") + doc("Route", "default", "destination: default\ngateway: 203.0.113.1"))).toEqual([]);
  });

  test("a VLAN MTU above its parent's", () => {
    const ps = problems(nic("trunk", "eth1", "mtu: 1500") + doc("NetworkInterface", "v10", "vlan: {parent: trunk, id: 10}\nmtu: 9000"));
    expect(ps[0]).toContain("spec.mtu: MTU 9000 is above its parent NetworkInterface/trunk's 1500; raise the parent's first");
  });

  test("route table clashes between VRFs", () => {
    const ps = problems(doc("VRF", "red", "table: 10") + doc("VRF", "blue", "table: 10") + nic("a", "eth0", "addresses: [10.0.0.1/24]") + doc("Route", "r", "destination: 10.1.0.0/16\ngateway: 10.0.0.9\ntable: 10"));
    expect(ps.join("\n")).toContain("(VRF/blue) spec.table: table 10 is already the table of VRF/red; each VRF needs its own");
    expect(ps.join("\n")).toContain("(Route/r) spec.table: table 10 belongs to VRF/red; say vrf: red instead");
  });

  test("a route destination with host bits set suggests the network", () => {
    const ps = problems(doc("Route", "r", "destination: 10.1.2.3/16\ntype: blackhole"));
    expect(ps).toEqual(["cfg.yaml:7:16: document 1 (Route/r) spec.destination: 10.1.2.3/16 has host bits set; did you mean 10.1.0.0/16?"]);
  });

  test("a well-formed router config has no problems", () => {
    const ok =
      nic("wan1", "eth0") +
      nic("wan2", "eth1") +
      doc("NetworkInterface", "bond0", "bond: {mode: 802.3ad, members: [wan1, wan2], lacpRate: fast}\naddresses: [198.51.100.1/24, '2001:db8::1/64']") +
      doc("NetworkInterface", "lan", "vlan: {parent: bond0, id: 10}\naddresses: [192.168.10.1/24]") +
      doc("VRF", "mgmt", "table: 100\nmembers: [oob]") +
      nic("oob", "eth3", "addresses: [192.168.99.1/24]") +
      doc("Route", "default", "destination: default\ngateway: 198.51.100.254") +
      doc("Route", "default6", "destination: default\ngateway: '2001:db8::fe'") +
      doc("RoutingPolicy", "guests", "priority: 1000\nfrom: 192.168.10.0/24\ntable: 200");
    expect(problems(ok)).toEqual([]);
  });
});
