// plan() is pure: these cases pin orderings, ownership and minimality without a kernel.
import { describe, expect, test } from "bun:test";
import { loadConfigText } from "../../src/api/load";
import { desiredState } from "../../src/engine/desired";
import { FOS1_GROUP, ROUTER_SYSCTLS, type ObservedLink, type ObservedState, type RouteEntry } from "../../src/engine/model";
import { plan } from "../../src/engine/plan";
import { rendered } from "../../src/engine/apply";
import type { Op } from "../../src/engine/op";

const doc = (kind: string, name: string, spec: string) =>
  `---\napiVersion: network.fos1.io/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}}\nspec: ${spec}\n`;

function desired(yaml: string) {
  const r = loadConfigText(yaml, "t.yaml");
  if (r.problems.length) throw new Error(r.problems.map((p) => p.message).join("\n"));
  return desiredState(r.objects);
}

let index = 10;
function nic(name: string, extra: Partial<ObservedLink> = {}): ObservedLink {
  return { name, index: index++, kind: "physical", state: "DOWN", adminUp: false, mac: `52:54:00:00:01:0${name.slice(-1)}`, mtu: 1500, alias: null, group: 0, master: null, addresses: [], ...extra };
}
const owned = (name: string, kind: string, extra: Partial<ObservedLink> = {}) => nic(name, { kind, group: FOS1_GROUP, alias: `fos1:${name}`, adminUp: true, ...extra });
const host = (links: ObservedLink[], routes: RouteEntry[] = []): ObservedState => ({
  sysctls: { ...ROUTER_SYSCTLS },
  firewall: null,
  links: [nic("lo", { kind: "loopback", adminUp: true, mac: null }), ...links],
  routes,
  rules: [],
});
const lines = (ops: Op[]) => rendered(ops);
const at = (ops: Op[], line: string) => {
  const i = lines(ops).indexOf(line);
  if (i < 0) throw new Error(`no op "${line}" in:\n${lines(ops).join("\n")}`);
  return i;
};

const routerYaml =
  doc("NetworkInterface", "wan1", "{device: eth0}") +
  doc("NetworkInterface", "wan2", "{device: eth1}") +
  doc("NetworkInterface", "bond0", "{bond: {mode: 802.3ad, members: [wan1, wan2]}, addresses: [198.51.100.1/24]}") +
  doc("NetworkInterface", "lan", "{vlan: {parent: bond0, id: 10}, vrf: blue, addresses: [192.168.10.1/24, '2001:DB8:10::1/64']}") +
  doc("VRF", "blue", "{table: 100}") +
  doc("Route", "default", "{destination: default, gateway: 198.51.100.254}") +
  doc("Route", "inner", "{destination: 10.0.0.0/8, gateway: 192.168.10.9, vrf: blue}") +
  doc("RoutingPolicy", "pbr", "{priority: 1000, from: 192.168.10.0/24, vrf: blue}");

describe("a router from scratch", () => {
  const p = plan(desired(routerYaml), host([nic("eth0", { adminUp: true }), nic("eth1"), nic("eth2")]));

  test("creates in dependency order: VRF and bond first, members down before they join, VLAN after its parent", () => {
    const ops = p.ops;
    expect(at(ops, "link add name blue group 241 up type vrf table 100")).toBeLessThan(at(ops, "link set dev lan master blue"));
    const bondAdd = at(ops, "link add name bond0 group 241 up type bond mode 802.3ad miimon 100");
    expect(bondAdd).toBeLessThan(at(ops, "link set dev eth0 master bond0"));
    expect(at(ops, "link set dev eth0 down")).toBeLessThan(at(ops, "link set dev eth0 master bond0"));
    expect(lines(ops)).not.toContain("link set dev eth1 down"); // eth1 was already down
    expect(bondAdd).toBeLessThan(at(ops, "link add link bond0 name lan group 241 type vlan id 10 protocol 802.1Q"));
  });

  test("addresses after links, routes after addresses, rules last; everything fos1 writes is marked", () => {
    const phases = p.ops.map((o) => o.phase);
    expect(phases).toEqual([...phases].sort((a, b) => ["remove", "sysctl", "links", "addresses", "routes", "rules"].indexOf(a) - ["remove", "sysctl", "links", "addresses", "routes", "rules"].indexOf(b)));
    expect(lines(p.ops)).toContain("address add 2001:db8:10::1/64 dev lan nodad");
    expect(lines(p.ops)).toContain("route replace 0.0.0.0/0 via 198.51.100.254 table 254 metric 0 proto 241");
    expect(lines(p.ops)).toContain("route replace 10.0.0.0/8 via 192.168.10.9 table 100 metric 0 proto 241");
    expect(lines(p.ops)).toContain("rule add priority 1000 from 192.168.10.0/24 table 100 protocol 241");
    expect(lines(p.ops)).toContain('link set dev eth0 alias "fos1:wan1"');
    expect(p.degraded).toEqual([]);
  });

  test("nothing is removed and eth2, which the config does not name, is never touched", () => {
    expect(p.ops.filter((o) => o.phase === "remove")).toEqual([]);
    expect(lines(p.ops).some((l) => / eth2( |$)/.test(l))).toBe(false);
  });
});

/** The host as it is after applying routerYaml. */
function convergedRouter(): ObservedState {
  return host(
    [
      nic("eth0", { adminUp: true, alias: "fos1:wan1", master: "bond0", member: { of: "bond0" } }),
      nic("eth1", { adminUp: true, alias: "fos1:wan2", master: "bond0" }),
      nic("eth2"),
      owned("blue", "vrf", { vrf: { table: 100 }, mac: null }),
      owned("bond0", "bond", { bond: { mode: "802.3ad", miimon: 100, lacpRate: "slow" }, addresses: [{ family: 4, cidr: "198.51.100.1/24", scope: "global", dynamic: false }, { family: 6, cidr: "fe80::1/64", scope: "link", dynamic: false }] }),
      owned("lan", "vlan", { vlan: { parent: "bond0", id: 10, protocol: "802.1Q" }, master: "blue", addresses: [{ family: 4, cidr: "192.168.10.1/24", scope: "global", dynamic: false }, { family: 6, cidr: "2001:db8:10::1/64", scope: "global", dynamic: false }] }),
    ],
    [
      { family: 4, dst: "0.0.0.0/0", table: 254, metric: 0, type: "unicast", gateway: "198.51.100.254", dev: "bond0" },
      { family: 4, dst: "10.0.0.0/8", table: 100, metric: 0, type: "unicast", gateway: "192.168.10.9", dev: "lan" },
    ],
  );
}

describe("a host that already matches", () => {
  test("plans nothing at all", () => {
    const h = convergedRouter();
    h.rules = [{ family: 4, priority: 1000, from: "192.168.10.0/24", table: 100 }];
    expect(plan(desired(routerYaml), h)).toEqual({ ops: [], degraded: [] });
  });

  test("ignores DHCP/SLAAC addresses and link-local ones", () => {
    const h = convergedRouter();
    h.rules = [{ family: 4, priority: 1000, from: "192.168.10.0/24", table: 100 }];
    h.links.find((l) => l.name === "bond0")!.addresses.push({ family: 6, cidr: "2001:db8:ff::5/64", scope: "global", dynamic: true });
    expect(plan(desired(routerYaml), h).ops).toEqual([]);
  });
});

describe("changes", () => {
  const withRule = () => {
    const h = convergedRouter();
    h.rules = [{ family: 4, priority: 1000, from: "192.168.10.0/24", table: 100 }];
    return h;
  };

  test("a changed bond mode re-creates the bond, the VLAN on it, its members' membership, and its addresses and routes", () => {
    const p = plan(desired(routerYaml.replace("mode: 802.3ad", "mode: active-backup")), withRule());
    const ls = lines(p.ops);
    // Children before parents when deleting; the kernel drops routes with their links.
    expect(at(p.ops, "link del dev lan")).toBeLessThan(at(p.ops, "link del dev bond0"));
    expect(ls.filter((l) => l.startsWith("route del"))).toEqual([]);
    expect(at(p.ops, "link del dev bond0")).toBeLessThan(at(p.ops, "link add name bond0 group 241 up type bond mode active-backup miimon 100"));
    expect(ls).toContain("link set dev eth0 master bond0");
    expect(ls).toContain("address add 198.51.100.1/24 dev bond0");
    expect(ls).toContain("address add 192.168.10.1/24 dev lan");
    expect(ls).toContain("route replace 10.0.0.0/8 via 192.168.10.9 table 100 metric 0 proto 241");
    expect(p.ops.filter((o) => o.action === "replace").map((o) => o.subject)).toContain("link lan");
  });

  test("objects dropped from the config are removed: children before parents, NICs released, not deleted", () => {
    const p = plan(desired(doc("NetworkInterface", "other", "{device: eth2, addresses: [192.0.2.1/24]}")), withRule());
    const ls = lines(p.ops);
    expect(ls).toContain("rule del priority 1000 from 192.168.10.0/24 table 100 protocol 241");
    expect(at(p.ops, "link del dev lan")).toBeLessThan(at(p.ops, "link del dev bond0"));
    expect(ls).toContain("link del dev blue");
    expect(ls).toContain('link set dev eth0 alias ""');
    expect(ls.some((l) => l === "link del dev eth0")).toBe(false);
    expect(ls).toContain("address add 192.0.2.1/24 dev eth2");
  });

  test("a changed gateway is one route replace; a removed address one address del", () => {
    const yaml = routerYaml.replace("gateway: 198.51.100.254", "gateway: 198.51.100.253").replace(", '2001:DB8:10::1/64'", "");
    const p = plan(desired(yaml), withRule());
    expect(lines(p.ops)).toEqual(["address del 2001:db8:10::1/64 dev lan", "route replace 0.0.0.0/0 via 198.51.100.253 table 254 metric 0 proto 241"]);
    expect(p.ops.map((o) => o.action)).toEqual(["remove", "change"]);
  });

  test("MTU changes go to the bond, never to its members; lacp_rate needs the bond down", () => {
    const p = plan(desired(routerYaml.replace("members: [wan1, wan2]}", "members: [wan1, wan2], lacpRate: fast}, mtu: 9000").replace("{device: eth0}", "{device: eth0, mtu: 9000}")), withRule());
    expect(lines(p.ops)).toEqual(["link set dev bond0 mtu 9000", "link set dev bond0 down", "link set dev bond0 type bond lacp_rate fast", "link set dev bond0 up"]);
  });
});

describe("bond membership", () => {
  test("a NIC leaving a bond is brought up again (the kernel takes it down)", () => {
    const h = convergedRouter();
    h.rules = [{ family: 4, priority: 1000, from: "192.168.10.0/24", table: 100 }];
    const p = plan(desired(routerYaml.replace("members: [wan1, wan2]", "members: [wan1]")), h);
    expect(lines(p.ops)).toEqual(["link set dev eth1 nomaster", "link set dev eth1 up"]);
  });

  test("deleting a bond brings up its former members that stay configured (the kernel takes them down)", () => {
    const yaml = doc("NetworkInterface", "wan1", "{device: eth0, addresses: [198.51.100.1/24]}") + doc("NetworkInterface", "wan2", "{device: eth1}");
    const p = plan(desired(yaml), convergedRouter());
    const ops = lines(p.ops);
    expect(at(p.ops, "link del dev bond0")).toBeLessThan(at(p.ops, "link set dev eth0 up"));
    expect(ops).toContain("link set dev eth1 up");
    expect(ops).toContain("address add 198.51.100.1/24 dev eth0");
  });

  test("a bond re-created for a mode change takes its members back without taking them down first", () => {
    const p = plan(desired(routerYaml.replace("mode: 802.3ad", "mode: active-backup")), convergedRouter());
    const ops = lines(p.ops);
    expect(ops).not.toContain("link set dev eth0 down");
    expect(at(p.ops, "link del dev bond0")).toBeLessThan(at(p.ops, "link set dev eth0 master bond0"));
  });
});

describe("ownership and degradation", () => {
  test("a bond of the same name that fos1 did not create is left alone and reported", () => {
    const h = host([nic("eth0"), nic("eth1"), nic("bond0", { kind: "bond", bond: { mode: "active-backup", miimon: 0 } })]);
    const p = plan(desired(routerYaml), h);
    expect(lines(p.ops).some((l) => l.includes("dev bond0") || l.includes("name bond0"))).toBe(false);
    expect(p.degraded.map((d) => d.reason)).toContain("a bond named bond0 exists and is not fos1's; fos1 does not touch it");
    expect(p.degraded.map((d) => d.subject)).toContain("link lan"); // its VLAN cannot be built either
  });

  test("a missing NIC degrades it and what hangs off it; the rest still applies", () => {
    const yaml = doc("NetworkInterface", "trunk", "{device: eth5}") + doc("NetworkInterface", "v10", "{vlan: {parent: trunk, id: 10}, addresses: [192.168.10.1/24]}") + doc("NetworkInterface", "lan", "{device: eth1, addresses: [192.0.2.1/24]}");
    const p = plan(desired(yaml), host([nic("eth1")]));
    expect(p.degraded.map((d) => `${d.ref}: ${d.reason}`)).toEqual([
      "NetworkInterface/trunk: NIC eth5 is not present on this host",
      "NetworkInterface/v10: its parent eth5 is not available",
    ]);
    expect(lines(p.ops)).toContain("address add 192.0.2.1/24 dev eth1");
    expect(lines(p.ops).some((l) => l.includes("v10") || l.includes("eth5"))).toBe(false);
  });

  test("a route whose gateway is only reached through a missing NIC is degraded, not failed", () => {
    const yaml = doc("NetworkInterface", "wan", "{device: wan0, addresses: [198.51.100.1/24]}") + doc("Route", "default", "{destination: default, gateway: 198.51.100.254}");
    const p = plan(desired(yaml), host([]));
    expect(p.ops.filter((o) => o.phase === "routes")).toEqual([]);
    expect(p.degraded.map((d) => `${d.subject}: ${d.reason}`)).toContain("route default via 198.51.100.254 table main: interface wan0 is not available");
  });

  test("a NIC matched by MAC gets the host's name for it, and references follow", () => {
    const yaml = doc("NetworkInterface", "uplink", "{mac: '52:54:00:AA:BB:CC', addresses: [198.51.100.1/24]}") + doc("Route", "default", "{destination: default, gateway: 198.51.100.254, interface: uplink}");
    const p = plan(desired(yaml), host([nic("enp3s0", { mac: "52:54:00:aa:bb:cc" })]));
    expect(lines(p.ops)).toContain("address add 198.51.100.1/24 dev enp3s0");
    expect(lines(p.ops)).toContain("route replace 0.0.0.0/0 via 198.51.100.254 dev enp3s0 table 254 metric 0 proto 241");
  });

  test("forwarding is switched on when it is off", () => {
    const h = host([nic("eth0")]);
    h.sysctls["net/ipv4/ip_forward"] = "0";
    const p = plan(desired(doc("NetworkInterface", "a", "{device: eth0}")), h);
    expect(p.ops.filter((o) => o.phase === "sysctl").map((o) => o.change)).toEqual([{ key: "net/ipv4/ip_forward", value: "1" }]);
  });

  test("an IPv6 rule with no address is marked for ip -6", () => {
    const p = plan(desired(doc("RoutingPolicy", "r6", "{priority: 1001, family: ipv6, table: 200}")), host([]));
    expect(p.ops.map((o) => o.phase)).toEqual(["rules"]);
    expect(lines(p.ops)).toEqual(["-6 rule add priority 1001 table 200 protocol 241"]);
  });
});

describe("the guard", () => {
  const seen = (names: string[], macs: string[]): ObservedState => ({ ...host([]), links: names.map((n, i) => nic(n, { mac: macs[i] ?? null })) });
  const mgmtByMac = doc("NetworkInterface", "oob", "{mac: '52:54:00:00:99:01', addresses: [192.168.99.1/24]}") + `---\napiVersion: security.fos1.io/v1alpha1\nkind: FirewallZone\nmetadata: {name: mgmt}\nspec: {interfaces: [oob], management: true}\n`;

  test("a management zone whose only NIC this host does not have is refused", async () => {
    const { guardReasons } = await import("../../src/apply/guard");
    expect(guardReasons(desired(mgmtByMac), seen(["eth0"], ["52:54:00:00:01:00"]))[0]).toContain("would be present and up");
    expect(guardReasons(desired(mgmtByMac), seen(["eth0"], ["52:54:00:00:99:01"]))).toEqual([]);
  });

  test("zones without a management zone are refused", async () => {
    const { guardReasons } = await import("../../src/apply/guard");
    const yaml = doc("NetworkInterface", "a", "{device: eth0, addresses: [192.0.2.1/24]}") + `---\napiVersion: security.fos1.io/v1alpha1\nkind: FirewallZone\nmetadata: {name: lan}\nspec: {interfaces: [a]}\n`;
    expect(guardReasons(desired(yaml))[0]).toContain("no FirewallZone has management: true");
  });

  test("a config without zones is refused while fos1's firewall is in force: it would open the router", async () => {
    const { guardReasons } = await import("../../src/apply/guard");
    const noZones = desired(doc("NetworkInterface", "a", "{device: eth0, addresses: [192.0.2.1/24]}"));
    const inForce = { ...host([nic("eth0")]), firewall: { digest: "sha256:x", shape: { input: 12, forward: 3 } } };
    expect(guardReasons(noZones, inForce)[0]).toContain("fos1's firewall in force would be removed");
    // Nothing of fos1's in force (a first apply, a NAT-only table): nothing gets more open.
    expect(guardReasons(noZones, host([nic("eth0")]))).toEqual([]);
    expect(guardReasons(noZones, { ...inForce, firewall: { digest: "sha256:y", shape: { prerouting: 1, postrouting: 1 } } })).toEqual([]);
  });
});
