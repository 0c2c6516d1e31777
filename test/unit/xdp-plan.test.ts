// The xdp part of plan() is pure: these cases pin what an apply does to filters, map entries
// and attachments, without a kernel. (test/netns/xdp-engine.test.ts applies them for real.)
import { expect, test } from "bun:test";
import { loadConfigText } from "../../src/api/load";
import { desiredState } from "../../src/engine/desired";
import { ROUTER_SYSCTLS, type ObservedLink, type ObservedState } from "../../src/engine/model";
import { plan } from "../../src/engine/plan";
import { rendered } from "../../src/engine/apply";
import type { Op } from "../../src/engine/op";
import type { ObservedXdp } from "../../src/engine/xdp/model";

const doc = (kind: string, name: string, spec: string, group = "network.fos1.io") =>
  `---\napiVersion: ${group}/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
const nic = (name: string): ObservedLink => ({ name, index: 2, kind: "physical", state: "UP", adminUp: true, mac: null, mtu: 1500, alias: "fos1:wan", group: 0, master: null, addresses: [] });

function desired(filter: string | null) {
  const yaml = doc("NetworkInterface", "wan", "{device: eth0}") + (filter ? doc("XDPFilter", "edge", filter, "security.fos1.io") : "");
  const r = loadConfigText(yaml, "t.yaml");
  if (r.problems.length) throw new Error(r.problems.map((p) => p.message).join("\n"));
  return desiredState(r.objects);
}
const host = (xdp: ObservedXdp, links = ["eth0"]): ObservedState => ({ sysctls: { ...ROUTER_SYSCTLS }, firewall: null, links: links.map(nic), routes: [], rules: [], xdp });
const xdpOps = (ops: Op[]) => ops.filter((o) => o.phase === "xdp").map((o) => [o.action, o.subject, o.change]);

const SPEC = "{interfaces: [wan], blocklist: [203.0.113.0/24, '2001:db8:bad::/48'], denyPorts: [{protocol: tcp, port: 23}], rateLimit: {packetsPerSecond: 100, burst: 200}}";
const RATE = { pps: 100, burst: 200, v4Prefix: 32, v6Prefix: 64 };
const SIZES = { v4: 65536, v6: 65536, rate: 65536, pagesV4: 4096, pagesV6: 1024, seenV6: 16384 };
const ATTACHED = (progId = 7) => [{ mode: "native" as const, progId, progName: "xdp_filter" }];
const converged: ObservedXdp = {
  filters: [{ name: "edge", progId: 7, sizes: SIZES, blocklist: ["203.0.113.0/24", "2001:db8:bad::/48"], ports: ["tcp/23"], rate: RATE }],
  attached: { eth0: [{ mode: "native", progId: 7, progName: "xdp_filter" }] },
  dynamic: [],
};

test("a fresh host: load, every entry, then attach, in that order", () => {
  expect(xdpOps(plan(desired(SPEC), host({ filters: [], attached: {}, dynamic: [] })).ops)).toEqual([
    ["add", "XDP filter edge", { do: "load", filter: "edge", sizes: SIZES }],
    ["add", "XDP block 203.0.113.0/24 (edge)", { do: "block", filter: "edge", prefix: "203.0.113.0/24" }],
    ["add", "XDP block 2001:db8:bad::/48 (edge)", { do: "block", filter: "edge", prefix: "2001:db8:bad::/48" }],
    ["add", "XDP deny port tcp/23 (edge)", { do: "deny-port", filter: "edge", port: "tcp/23" }],
    ["change", "XDP rate limit (edge)", { do: "rate", filter: "edge", rate: RATE }],
    ["add", "XDP on eth0", { do: "attach", filter: "edge", ifname: "eth0", mode: "auto", detachFirst: false }],
  ]);
});

test("a host that matches plans nothing, whatever mode auto got", () => {
  expect(plan(desired(SPEC), host(converged)).ops).toEqual([]);
  const generic = { ...converged, attached: { eth0: [{ mode: "generic" as const, progId: 7, progName: "xdp_filter" }] } };
  expect(plan(desired(SPEC), host(generic)).ops).toEqual([]);
});

test("an entry no longer configured is deleted; one added by fos1 xdp block is kept", () => {
  const obs = { ...converged, filters: [{ ...converged.filters[0]!, blocklist: [...converged.filters[0]!.blocklist, "198.51.100.0/24", "192.0.2.0/24"] }], dynamic: [{ prefix: "192.0.2.0/24", expires: null, addedAt: "2026-12-01T00:00:00.000Z" }] };
  expect(xdpOps(plan(desired(SPEC), host(obs)).ops)).toEqual([["remove", "XDP block 198.51.100.0/24 (edge)", { do: "unblock", filter: "edge", prefix: "198.51.100.0/24" }]]);
});

test("asking for native where generic runs detaches first; another filter's program is replaced", () => {
  const generic = { ...converged, attached: { eth0: [{ mode: "generic" as const, progId: 7, progName: "xdp_filter" }] } };
  expect(xdpOps(plan(desired(SPEC.replace(/}$/, ", mode: native}")), host(generic)).ops)).toEqual([
    ["change", "XDP on eth0", { do: "attach", filter: "edge", ifname: "eth0", mode: "native", detachFirst: true }],
  ]);
  const old = { ...converged, attached: { eth0: [{ mode: "native" as const, progId: 5, progName: "xdp_filter" }] } };
  expect(xdpOps(plan(desired(SPEC), host(old)).ops)).toEqual([["change", "XDP on eth0", { do: "attach", filter: "edge", ifname: "eth0", mode: "auto", detachFirst: false }]]);
});

test("someone else's program is left alone and the interface reported degraded; a missing NIC too", () => {
  const foreign = { ...converged, attached: { eth0: [{ mode: "native" as const, progId: 9, progName: "cil_xdp_entry" }] } };
  const p = plan(desired(SPEC), host(foreign));
  expect(xdpOps(p.ops)).toEqual([]);
  expect(p.degraded).toEqual([{ ref: "XDPFilter/edge", subject: "XDP on eth0", reason: "eth0 runs XDP program cil_xdp_entry (id 9), which is not fos1's; fos1 does not replace it" }]);
  const missing = plan(desired(SPEC), host(converged, []));
  expect(missing.degraded).toContainEqual({ ref: "XDPFilter/edge", subject: "XDP on eth0", reason: "interface eth0 is not present" });
});

test("maps pinned by a fos1 of another layout: the filter is loaded again, filled, and replaces the old program in place", () => {
  const stale = "map xdpf_index_v4 is missing from /sys/fs/bpf/fos1/xdp/edge";
  const old: ObservedXdp = { ...converged, filters: [{ name: "edge", progId: 7, stale, blocklist: [], ports: [], rate: null }] };
  const ops = xdpOps(plan(desired(SPEC), host(old)).ops);
  expect(ops[0]).toEqual(["change", "XDP filter edge", { do: "load", filter: "edge", sizes: SIZES, reload: true }]);
  expect(ops.slice(1).map(([action, subject]) => `${action} ${subject}`)).toEqual([
    "add XDP block 203.0.113.0/24 (edge)",
    "add XDP block 2001:db8:bad::/48 (edge)",
    "add XDP deny port tcp/23 (edge)",
    "change XDP rate limit (edge)",
    // the old program (id 7, still running) is swapped for the one just loaded
    "change XDP on eth0",
  ]);
  expect(plan(desired(SPEC), host(old)).ops.find((o) => o.subject === "XDP filter edge")!.detail).toContain(stale);
});

test("a new capacity or a rate limit turned on loads the filter again with maps of the new sizes, filled before they replace the running program", () => {
  const bigger = SPEC.replace(/}$/, ", capacity: {ipv4: 1048576}}");
  const ops = plan(desired(bigger), host(converged)).ops.filter((o) => o.phase === "xdp");
  expect(ops.map((o) => [o.action, o.subject, o.change])).toEqual([
    ["change", "XDP filter edge", { do: "load", filter: "edge", sizes: { ...SIZES, v4: 1048576, pagesV4: 65536 }, reload: true }],
    ["add", "XDP block 203.0.113.0/24 (edge)", { do: "block", filter: "edge", prefix: "203.0.113.0/24" }],
    ["add", "XDP block 2001:db8:bad::/48 (edge)", { do: "block", filter: "edge", prefix: "2001:db8:bad::/48" }],
    ["add", "XDP deny port tcp/23 (edge)", { do: "deny-port", filter: "edge", port: "tcp/23" }],
    ["change", "XDP rate limit (edge)", { do: "rate", filter: "edge", rate: RATE }],
    ["change", "XDP on eth0", { do: "attach", filter: "edge", ifname: "eth0", mode: "auto", detachFirst: false }],
  ]);
  expect(ops[0]!.detail).toBe("load again with fresh maps: capacity 65,536 IPv4, 65,536 IPv6; 65,536 rate-limited sources → capacity 1,048,576 IPv4, 65,536 IPv6; 65,536 rate-limited sources");
  const noRate = { ...converged, filters: [{ ...converged.filters[0]!, sizes: { ...SIZES, rate: 1 }, rate: null }] };
  expect(plan(desired(SPEC), host(noRate)).ops.find((o) => o.subject === "XDP filter edge")!.detail).toContain("no rate-limit buckets → capacity");
});

test("an index that misses listed prefixes (a writer killed half way) is computed again before anything else changes", () => {
  const broken = { ...converged, filters: [{ ...converged.filters[0]!, unindexed: "the IPv4 index is out of step with the list in 1 /16 word" }] };
  expect(xdpOps(plan(desired(SPEC), host(broken)).ops)).toEqual([["change", "XDP index (edge)", { do: "reindex", filter: "edge" }]]);
});

test("dynamic blocks beyond the capacity: the config's list stays whole, the IDS's yield before the operator's, the oldest first", () => {
  const spec = "{interfaces: [wan], blocklist: [203.0.113.0/24, 198.51.100.0/24], capacity: {ipv4: 4}}";
  const at = (day: number) => `2026-12-0${day}T00:00:00.000Z`;
  const dynamic: ObservedXdp["dynamic"] = [
    { prefix: "192.0.2.1/32", expires: null, addedAt: at(1) },
    { prefix: "192.0.2.2/32", expires: null, addedAt: at(2), origin: "ids" },
    { prefix: "192.0.2.3/32", expires: null, addedAt: at(3), origin: "ids" },
    { prefix: "192.0.2.4/32", expires: null, addedAt: at(4) },
  ];
  const listed = ["203.0.113.0/24", "192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32"];
  const obs: ObservedXdp = { filters: [{ name: "edge", progId: 7, sizes: { v4: 4, v6: 65536, rate: 1, pagesV4: 16, pagesV6: 1024, seenV6: 16384 }, blocklist: listed, ports: [], rate: null }], attached: { eth0: ATTACHED() }, dynamic };
  const p = plan(desired(spec), host(obs));
  // Room for two dynamic blocks beside the two of the config: both of the operator's, then none of the IDS's.
  expect(xdpOps(p.ops)).toEqual([
    ["remove", "XDP block 192.0.2.2/32 (edge)", { do: "unblock", filter: "edge", prefix: "192.0.2.2/32" }],
    ["remove", "XDP block 192.0.2.3/32 (edge)", { do: "unblock", filter: "edge", prefix: "192.0.2.3/32" }],
    ["add", "XDP block 198.51.100.0/24 (edge)", { do: "block", filter: "edge", prefix: "198.51.100.0/24" }],
    ["add", "XDP block 192.0.2.4/32 (edge)", { do: "block", filter: "edge", prefix: "192.0.2.4/32", until: null }],
  ]);
  expect(p.degraded).toEqual([{ ref: "XDPFilter/edge", subject: "XDP filter edge", reason: "2 dynamic blocks beyond its capacity left out (the IDS's first, the oldest first): 192.0.2.3/32, 192.0.2.2/32" }]);
});

test("a filter removed from the config: its program detached, then its pins removed", () => {
  expect(xdpOps(plan(desired(null), host(converged)).ops)).toEqual([
    ["remove", "XDP on eth0", { do: "detach", ifname: "eth0" }],
    ["remove", "XDP filter edge", { do: "unload", filter: "edge" }],
  ]);
});

test("XDP that cannot be observed (no libbpf, no bpffs) degrades the filters and plans no xdp op", () => {
  const p = plan(desired(SPEC), host({ filters: [], attached: {}, dynamic: [], error: "open libbpf: libbpf not found" }));
  expect(xdpOps(p.ops)).toEqual([]);
  expect(p.degraded).toEqual([{ ref: "XDPFilter/edge", subject: "XDP filter edge", reason: "XDP cannot be used on this host: open libbpf: libbpf not found" }]);
});

test("no filter configured and none observed: no xdp ops at all (observation is skipped too)", () => {
  expect(plan(desired(null), host({ filters: [], attached: {}, dynamic: [] })).ops).toEqual([]);
});

// --- bonds: a filter on a bond's members follows the bond's membership in the config

const bondConfig = (members: string[], filters: Record<string, string>) => {
  const yaml =
    ["wan1 eth0", "wan2 eth1", "wan3 eth2"].map((p) => doc("NetworkInterface", p.split(" ")[0]!, `{device: ${p.split(" ")[1]}}`)).join("") +
    doc("NetworkInterface", "bond0", `{bond: {mode: 802.3ad, members: [${members.join(", ")}]}}`) +
    Object.entries(filters).map(([name, ifs]) => doc("XDPFilter", name, `{interfaces: [${ifs}], blocklist: [203.0.113.0/24]}`, "security.fos1.io")).join("");
  const r = loadConfigText(yaml, "t.yaml");
  if (r.problems.length) throw new Error(r.problems.map((p) => p.message).join("\n"));
  return desiredState(r.objects);
};
const bondHost = (attached: ObservedXdp["attached"], filters = ["edge"]): ObservedState => ({
  ...host({ filters: filters.map((name, i) => ({ name, progId: 7 + i, blocklist: ["203.0.113.0/24"], ports: [], rate: null })), attached, dynamic: [] }, ["eth0", "eth1", "eth2"]),
  links: [
    ...["eth0", "eth1"].map((n, i) => ({ ...nic(n), alias: `fos1:wan${i + 1}`, master: "bond0" })),
    { ...nic("eth2"), alias: "fos1:wan3" },
    { ...nic("bond0"), kind: "bond", group: 241, alias: null, bond: { mode: "802.3ad", miimon: 100, lacpRate: "slow" } },
  ],
});
/** The XDP ops of every phase, in the order apply runs them (remove phase first). */
const allXdpOps = (ops: Op[]) =>
  ops.filter((o) => o.subject.startsWith("XDP")).sort((a, b) => Number(a.phase === "xdp") - Number(b.phase === "xdp")).map((o) => [o.phase, o.action, o.subject, o.phase === "xdp" ? o.change : rendered([o])[0]]);

test("a filter naming one member of a bond runs on every member the config gives the bond", () => {
  expect(bondConfig(["wan1", "wan2", "wan3"], { edge: "wan1" }).xdp!.filters[0]!.interfaces).toEqual(["eth0", "eth1", "eth2"]);
});

test("a NIC that joins a bond filtered member by member gets the filter; one that leaves loses it, unless the filter names it", () => {
  const joined = plan(bondConfig(["wan1", "wan2", "wan3"], { edge: "wan1, wan2" }), bondHost({ eth0: ATTACHED(), eth1: ATTACHED() }));
  expect(xdpOps(joined.ops)).toEqual([["add", "XDP on eth2", { do: "attach", filter: "edge", ifname: "eth2", mode: "auto", detachFirst: false }]]);

  const left = plan(bondConfig(["wan1"], { edge: "wan1" }), bondHost({ eth0: ATTACHED(), eth1: ATTACHED() }));
  expect(xdpOps(left.ops)).toEqual([["remove", "XDP on eth1", { do: "detach", ifname: "eth1" }]]);
  const named = plan(bondConfig(["wan1"], { edge: "wan1, wan2" }), bondHost({ eth0: ATTACHED(), eth1: ATTACHED() }));
  expect(xdpOps(named.ops)).toEqual([]);
});

test("members to the bond: the members' programs go in the remove phase (the kernel refuses a native bond program, and enslaving, while a member runs one)", () => {
  const p = plan(bondConfig(["wan1", "wan2", "wan3"], { edge: "bond0" }), bondHost({ eth0: ATTACHED(), eth1: ATTACHED(), eth2: ATTACHED() }));
  expect(allXdpOps(p.ops)).toEqual([
    ["remove", "remove", "XDP on eth0", "link set dev eth0 xdpdrv off"],
    ["remove", "remove", "XDP on eth1", "link set dev eth1 xdpdrv off"],
    ["remove", "remove", "XDP on eth2", "link set dev eth2 xdpdrv off"],
    ["xdp", "add", "XDP on bond0", { do: "attach", filter: "edge", ifname: "bond0", mode: "auto", detachFirst: false }],
  ]);
});

test("the bond to its members: the bond's program is detached before the members get theirs (the kernel refuses them while the bond runs one)", () => {
  const p = plan(bondConfig(["wan1", "wan2"], { edge: "wan1, wan2" }), bondHost({ bond0: ATTACHED() }));
  expect(xdpOps(p.ops).map(([action, subject]) => `${action} ${subject}`)).toEqual(["remove XDP on bond0", "add XDP on eth0", "add XDP on eth1"]);
});

test("a bond deleted together with its filter takes its program along: no detach of an interface that will not exist", () => {
  const yaml = ["wan1 eth0", "wan2 eth1", "wan3 eth2"].map((p) => doc("NetworkInterface", p.split(" ")[0]!, `{device: ${p.split(" ")[1]}}`)).join("");
  const r = loadConfigText(yaml, "t.yaml");
  const p = plan(desiredState(r.objects), bondHost({ bond0: ATTACHED() }));
  expect(rendered(p.ops.filter((o) => o.subject === "link bond0"))).toEqual(["link del dev bond0"]);
  expect(xdpOps(p.ops)).toEqual([["remove", "XDP filter edge", { do: "unload", filter: "edge" }]]);
});

test("prefixes blocked with fos1 xdp block go into a filter that lacks them, with their expiry", () => {
  const addedAt = "2026-12-01T00:00:00.000Z";
  const dynamic = [
    { prefix: "192.0.2.0/24", expires: "2030-01-01T00:00:00.000Z", addedAt },
    { prefix: "198.51.100.7/32", expires: null, addedAt },
    { prefix: "203.0.113.0/24", expires: null, addedAt },
  ];
  const ops = xdpOps(plan(desired(SPEC), host({ filters: [], attached: {}, dynamic })).ops);
  expect(ops.filter(([, subject]) => String(subject).startsWith("XDP block"))).toEqual([
    ["add", "XDP block 203.0.113.0/24 (edge)", { do: "block", filter: "edge", prefix: "203.0.113.0/24" }],
    ["add", "XDP block 2001:db8:bad::/48 (edge)", { do: "block", filter: "edge", prefix: "2001:db8:bad::/48" }],
    ["add", "XDP block 192.0.2.0/24 (edge)", { do: "block", filter: "edge", prefix: "192.0.2.0/24", until: "2030-01-01T00:00:00.000Z" }],
    ["add", "XDP block 198.51.100.7/32 (edge)", { do: "block", filter: "edge", prefix: "198.51.100.7/32", until: null }],
  ]);
  // once there, nothing more to do
  const there = { ...converged, filters: [{ ...converged.filters[0]!, blocklist: [...converged.filters[0]!.blocklist, "192.0.2.0/24", "198.51.100.7/32"] }], dynamic };
  expect(plan(desired(SPEC), host(there)).ops).toEqual([]);
});
