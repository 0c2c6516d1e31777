// The engine on the lab's kernel: an 802.3ad bond with a real LACP partner, VLANs on the
// bond, a VRF, active-backup failover when a cable is pulled, and re-creation on a mode change.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Lab, standardLab, type CableSpec } from "../../hack/lab/vm";
import { buildLabHosts } from "../../hack/lab/topology";
import { samples, value } from "../helpers/prometheus";

let lab: Lab;
const cables = standardLab().cables;

const NI = (name: string, spec: string) => `---
apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: ${name}}
spec: ${spec}
`;

function routerConfig(bondMode: "802.3ad" | "active-backup"): string {
  const bond = bondMode === "802.3ad" ? "{mode: 802.3ad, members: [wan1, wan2], lacpRate: fast}" : "{mode: active-backup, members: [wan1, wan2], primary: wan1}";
  return [
    NI("wan1", "{device: eth0}"),
    NI("wan2", "{device: eth1}"),
    NI("bond0", `{bond: ${bond}, addresses: [198.51.100.1/24]}`),
    NI("c100", "{vlan: {parent: bond0, id: 100}, addresses: [198.18.100.1/24]}"),
    NI("c200", "{vlan: {parent: bond0, id: 200}, addresses: [198.18.200.1/24, '2001:db8:200::1/64']}"),
    NI("trunk", "{device: eth2}"),
    NI("b30", "{vlan: {parent: trunk, id: 30}, vrf: blue, addresses: [198.18.30.1/24]}"),
    NI("b31", "{vlan: {parent: trunk, id: 31}, vrf: blue, addresses: [198.18.31.1/24]}"),
    NI("lan", "{device: eth2, vlan: {enabled: true, id: 10}, addresses: [192.168.10.1/24]}"),
    `---
apiVersion: network.fos1.io/v1alpha1
kind: VRF
metadata: {name: blue}
spec: {table: 100}
---
apiVersion: network.fos1.io/v1alpha1
kind: Route
metadata: {name: blue-far}
spec: {destination: 198.18.99.0/24, gateway: 198.18.31.10, vrf: blue}
`,
  ].join("");
}

/** Test-only hosts in the peer beyond the standard ones: clients on VLANs of the wan bond and on trunk VLANs 30/31. */
const extraHosts = [
  ...[100, 200].map((v) =>
    [
      `ip netns add c${v}`,
      `ip -n wan link add link bond0 name bond0.${v} type vlan id ${v}`,
      `ip -n wan link set bond0.${v} netns c${v}`,
      `ip -n c${v} link set lo up && ip -n c${v} link set bond0.${v} up`,
      `ip -n c${v} addr add 198.18.${v}.10/24 dev bond0.${v}`,
    ].join(" && "),
  ),
  "ip -n c200 addr add 2001:db8:200::10/64 dev bond0.200 nodad",
  ...[30, 31].map((v) =>
    [
      `ip netns add b${v}`,
      `ip link add link eth2 name eth2.${v} type vlan id ${v}`,
      `ip link set eth2.${v} netns b${v}`,
      `ip -n b${v} link set lo up && ip -n b${v} link set eth2.${v} up`,
      `ip -n b${v} addr add 198.18.${v}.10/24 dev eth2.${v}`,
      `ip -n b${v} route add default via 198.18.${v}.1`,
    ].join(" && "),
  ),
  "ip -n b31 addr add 198.18.99.1/32 dev lo",
].join("\n");

async function pingFrom(ns: string, target: string, count = 1): Promise<boolean> {
  return (await lab.vm("peer").run(`ip netns exec ${ns} ping -c ${count} -W 2 ${target}`, { timeoutSec: 30 })).exitCode === 0;
}

/** Polls until fn is true or the deadline passes (LACP and failover take seconds under TCG). */
async function eventually(what: string, fn: () => Promise<boolean>, seconds = 45): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    if (await fn()) return;
    await Bun.sleep(1000);
  }
  const router = await lab.vm("router").run("cat /proc/net/bonding/bond0; ip -br addr; ip neigh; ip route show table all | grep -v local");
  throw new Error(`not within ${seconds} s: ${what}\n--- router:\n${router.stdout}`);
}

const reaches = (ns: string, target: string) => eventually(`${ns} reaches ${target}`, () => pingFrom(ns, target), 30);

async function apply(config: string, extra = ""): Promise<{ writes: number; processes: number; converged: boolean; degraded: unknown[]; failed: unknown[]; ops: { action: string; subject: string }[] }> {
  await lab.vm("router").put("/etc/fos1/config.yaml", config);
  const r = await lab.vm("router").run(`fos1 apply -f /etc/fos1/config.yaml --state-dir /var/lib/fos1 -o json ${extra}`, { timeoutSec: 120 });
  if (r.exitCode !== 0) throw new Error(`apply failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  lab = await Lab.boot(standardLab().vms, cables);
  await buildLabHosts(lab.vm("peer"));
  await lab.vm("peer").runOk(extraHosts);
}, 180_000);

afterAll(async () => {
  await lab?.shutdown();
});

describe("an 802.3ad bond with VLANs, a VRF and a VLAN on a trunk", () => {
  test("applies in one pass and converges", async () => {
    const r = await apply(routerConfig("802.3ad"));
    expect(r.failed).toEqual([]);
    expect(r.degraded).toEqual([]);
    expect(r.converged).toBe(true);
    // One ip process per phase (links, addresses, routes), never one per object.
    expect(r.processes).toBeLessThanOrEqual(4);
    expect(r.writes).toBeGreaterThan(15);
  }, 120_000);

  test("the bond negotiates LACP with its partner: both members in one aggregator, traffic crosses", async () => {
    await eventually("LACP aggregator with both members and the partner's MAC", async () => {
      const bonding = await lab.vm("router").runOk("cat /proc/net/bonding/bond0");
      const aggregators = [...bonding.matchAll(/Aggregator ID: (\d+)/g)].map((m) => m[1]);
      return /Bonding Mode: IEEE 802.3ad/.test(bonding) && !/Partner Mac Address: 00:00:00:00:00:00/.test(bonding) && new Set(aggregators).size === 1 && aggregators.length >= 3;
    });
    // Aggregated is not yet distributing: under TCG the partner may take seconds more to pass frames.
    await reaches("wan", "198.51.100.1");
  }, 120_000);

  test("a client on each VLAN of the bond reaches the router (IPv4 and IPv6)", async () => {
    await reaches("c100", "198.18.100.1");
    await reaches("c200", "198.18.200.1");
    await reaches("c200", "2001:db8:200::1");
    // The seed's form: VLAN 10 on eth2 by device.
    await reaches("lan", "192.168.10.1");
  }, 60_000);

  test("the VRF's routes live in its own table and carry traffic entering its members", async () => {
    const router = lab.vm("router");
    expect(await router.runOk("ip route show vrf blue")).toContain("198.18.99.0/24 via 198.18.31.10");
    expect(await router.runOk("ip route show table main")).not.toContain("198.18.99.0/24");
    // b30 → router (VRF blue) → table 100 → b31, which holds 198.18.99.1.
    await reaches("b30", "198.18.99.1");
    await reaches("b30", "198.18.31.10");
    // A host in the main table does not reach into the VRF.
    expect(await pingFrom("lan", "198.18.30.10")).toBe(false);
  }, 60_000);

  test("a second apply of the same config writes nothing", async () => {
    const r = await apply(routerConfig("802.3ad"));
    expect(r.writes).toBe(0);
    expect(r.processes).toBe(0);
    expect(r.converged).toBe(true);
  }, 120_000);
});

describe("changing the bond's mode to active-backup", () => {
  test("re-creates the bond and the VLANs on it, and clients reach the router again", async () => {
    // The partner follows: its bond becomes active-backup too.
    await lab.vm("peer").runOk(
      "ip -n wan link set bond0 down && ip -n wan link set bond0 type bond mode active-backup 2>/dev/null || " +
        "(ip -n wan link set eth0 nomaster && ip -n wan link set eth1 nomaster && ip -n wan link set bond0 type bond mode active-backup && " +
        "ip -n wan link set eth0 master bond0 && ip -n wan link set eth1 master bond0); ip -n wan link set bond0 up && " +
        // Back to back, both ends must prefer the same cable, or each listens where the other does not send.
        "ip -n wan link set bond0 type bond primary eth0",
    );
    const r = await apply(routerConfig("active-backup"));
    expect(r.converged).toBe(true);
    const replaced = r.ops.filter((o) => o.action === "replace").map((o) => o.subject);
    expect(replaced).toContain("link bond0");
    expect(replaced).toContain("link c100");
    expect(await lab.vm("router").runOk("cat /proc/net/bonding/bond0")).toContain("Bonding Mode: fault-tolerance (active-backup)");
    await eventually("c100 reaches the router over the new bond", () => pingFrom("c100", "198.18.100.1"));
    await eventually("wan reaches the router", () => pingFrom("wan", "198.51.100.1"));
  }, 180_000);

  test("fails over when the active member's cable is pulled, and traffic keeps flowing", async () => {
    const cable0 = cables[0] as CableSpec;
    expect(await lab.vm("router").runOk("cat /proc/net/bonding/bond0")).toMatch(/Currently Active Slave: eth0/);
    await lab.setCable(cable0, false);
    try {
      await eventually("the router's bond makes eth1 active", async () => /Currently Active Slave: eth1/.test(await lab.vm("router").runOk("cat /proc/net/bonding/bond0")));
      await eventually("wan reaches the router over eth1", () => pingFrom("wan", "198.51.100.1"));
      expect(await pingFrom("c100", "198.18.100.1")).toBe(true);
    } finally {
      await lab.setCable(cable0, true);
    }
    // primary wan1 (eth0) takes over again once its cable is back.
    await eventually("eth0 is active again", async () => /Currently Active Slave: eth0/.test(await lab.vm("router").runOk("cat /proc/net/bonding/bond0")));
    await eventually("wan reaches the router over eth0 again", () => pingFrom("wan", "198.51.100.1"));
  }, 180_000);
});

describe("the agent's /metrics on the bond and its VLANs", () => {
  test("bond members' state follows a pulled cable; the VLANs on the bond are counted with their id and parent", async () => {
    const router = lab.vm("router");
    const cable0 = cables[0] as CableSpec;
    // The agent on the config in force (active-backup, primary eth0): it finds nothing to change.
    const pid = (await router.runOk("mkdir -p /var/log && setsid fos1 agent -f /etc/fos1/config.yaml --state-dir /var/lib/fos1 >/var/log/fos1-metrics-agent.log 2>&1 & echo $!")).trim();
    const scrape = async () => samples(await router.runOk("wget -qO- http://127.0.0.1:9641/metrics"));
    const member = async (name: string, m: string) => value(await scrape(), name, { bond: "bond0", member: m });
    try {
      await eventually("the agent's /metrics answers", async () => (await router.run("wget -qO- http://127.0.0.1:9641/metrics")).exitCode === 0);
      await eventually("eth0 active and eth1 backup, both links up", async () =>
        (await member("fos1_bond_member_active", "eth0")) === 1 && (await member("fos1_bond_member_active", "eth1")) === 0 && (await member("fos1_bond_member_link_up", "eth1")) === 1);
      const c100 = { device: "c100", interface: "c100", kind: "vlan" };
      const before = value(await scrape(), "fos1_interface_receive_packets_total", c100)!;
      expect(await pingFrom("c100", "198.18.100.1", 3)).toBe(true);
      const after = await scrape();
      expect(value(after, "fos1_interface_receive_packets_total", c100)! - before).toBeGreaterThanOrEqual(3);
      expect(value(after, "fos1_interface_info", { ...c100, vlan: "100", parent: "bond0" })).toBe(1);
      expect(value(after, "fos1_interface_info", { device: "bond0", interface: "bond0", kind: "bond", vlan: "", parent: "" })).toBe(1);

      await lab.setCable(cable0, false);
      try {
        await eventually("/metrics: eth0's link down, eth1 active", async () =>
          (await member("fos1_bond_member_link_up", "eth0")) === 0 && (await member("fos1_bond_member_active", "eth1")) === 1);
      } finally {
        await lab.setCable(cable0, true);
      }
      await eventually("/metrics: eth0 active again", async () => (await member("fos1_bond_member_active", "eth0")) === 1);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- the agent's log:\n${(await router.run("tail -n 20 /var/log/fos1-metrics-agent.log")).stdout}`);
    } finally {
      await router.run(`kill ${pid}; while kill -0 ${pid} 2>/dev/null; do sleep 0.2; done`, { timeoutSec: 30 });
    }
  }, 240_000);
});

describe("inter-VLAN policy between VLANs on the bond, in nftables", () => {
  const zones = `---
apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: mgmt}
spec: {device: eth3, addresses: [192.168.99.1/24]}
---
apiVersion: security.fos1.io/v1alpha1
kind: FirewallZone
metadata: {name: mgmt}
spec: {interfaces: [mgmt], management: true}
---
apiVersion: security.fos1.io/v1alpha1
kind: FirewallZone
metadata: {name: inside}
spec: {interfaces: [c100, c200], input: accept, forward: accept}
---
apiVersion: security.fos1.io/v1alpha1
kind: VLANPolicy
metadata: {name: v100-to-v200}
spec: {fromVLAN: 100, toVLAN: 200, allowAll: false, rules: [{protocol: tcp, port: 80, allow: true}]}
`;

  test("the allowed port is open from VLAN 100 to VLAN 200, other ports are closed, the zone's own traffic still flows", async () => {
    const peer = lab.vm("peer");
    await peer.runOk(
      [
        "ip -n c100 route replace default via 198.18.100.1",
        "ip -n c200 route replace default via 198.18.200.1",
        "(ip netns exec c200 nc -ll -p 80 -e echo open80 >/dev/null 2>&1 &)",
        "(ip netns exec c200 nc -ll -p 81 -e echo open81 >/dev/null 2>&1 &)",
      ].join("\n"),
    );
    const r = await apply(routerConfig("active-backup") + zones);
    expect(r.converged).toBe(true);
    // busybox nc quits at the end of its input: keep it open long enough to read the answer.
    const connect = (port: number) => peer.run(`sleep 2 | ip netns exec c100 nc -w 3 198.18.200.10 ${port}`, { timeoutSec: 20 });
    await eventually("port 80 from VLAN 100 reaches VLAN 200", async () => (await connect(80)).stdout.includes("open80"), 30);
    expect((await connect(81)).stdout).not.toContain("open81");
    // The policy covers 100 → 200 only; the reverse direction follows the zone (forward accept).
    expect((await peer.run("ip netns exec c200 ping -c 1 -W 2 198.18.100.10")).exitCode).toBe(0);
    const counters = await lab.vm("router").runOk("nft list chain inet fos1 vlan_100_200");
    expect(counters).toMatch(/tcp dport 80 counter packets [1-9]/);
  }, 120_000);
});

describe("XDPFilter on the bond, applied by fos1", () => {
  const xdpFilter = `---
apiVersion: security.fos1.io/v1alpha1
kind: XDPFilter
metadata: {name: uplink}
spec: {interfaces: [bond0], blocklist: [203.0.113.0/24]}
`;
  /** XDP program id on the bond, from the kernel (0: none). The kernel passes it on to the members without listing it there. */
  const bondXdp = async () => {
    const [bond] = JSON.parse(await lab.vm("router").runOk("ip -json -details link show bond0")) as { xdp?: { prog?: { id: number } } }[];
    return bond?.xdp?.prog?.id ?? 0;
  };

  test("is attached to the bond and stays, unchanged, while a member leaves and rejoins", async () => {
    const full = routerConfig("active-backup") + xdpFilter;
    // The previous test's zones go with this config: removing fos1's firewall takes --force.
    expect((await apply(full, "--force")).converged).toBe(true);
    const id = await bondXdp();
    expect(id).toBeGreaterThan(0);
    expect((await apply(full.replace("members: [wan1, wan2], primary: wan1", "members: [wan1], primary: wan1"))).converged).toBe(true);
    expect(await bondXdp()).toBe(id);
    expect((await apply(full)).converged).toBe(true);
    expect(await bondXdp()).toBe(id);
    expect((await apply(full)).writes).toBe(0);
    const listed = JSON.parse(await lab.vm("router").runOk("fos1 xdp list -o json")) as unknown[];
    expect(JSON.stringify(listed)).toContain("203.0.113.0/24");
  }, 180_000);
});
