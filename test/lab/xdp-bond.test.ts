// fos1's XDP filter on the lab's kernel (issue 5): an 802.3ad bond of eth0+eth1 built by
// `fos1 apply`, with the peer's wan namespace as LACP partner; the filter loaded through
// src/bpf by a helper (xdp-loader.ts, bundled and run by the router image's own fos1 as a
// Bun runtime) with its maps pinned under /sys/fs/bpf/fos1 and attached to the bond -- the
// kernel puts it on both members. The peer sends from two addresses: 198.51.100.254
// (allowed) and 198.51.100.200 (in the blocked 198.51.100.192/27), over many UDP flows
// hashed layer3+4 so both cables carry them. Then the loader is "restarted" (every run is a
// new process: the program stays attached and the maps pinned in between) while the
// blocked source pings without pause, and finally the filter moves from the bond to each
// member separately. Last, `fos1 agent` runs an XDPFilter on the bond's members while
// members join, leave, are pulled out and come back (see the second describe).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Lab, LabVm } from "../../hack/lab/vm";
import { bootLabWithHosts } from "../../hack/lab/topology";

// The object the image carries (dist/bpf at build time). FOS1_LAB_XDP_OBJECT names a host file
// to copy into the router and use instead (to try a rebuilt object without rebuilding the image).
const IMAGE_OBJECT = "/usr/local/lib/fos1/bpf/xdp_filter.o";
const OBJECT = process.env.FOS1_LAB_XDP_OBJECT ? "/lab/xdp_filter.o" : IMAGE_OBJECT;
const PIN_ROOT = "/sys/fs/bpf/fos1";
const LOADER = "/lab/xdp-loader.js";
const ROUTER = "198.51.100.1";
const ALLOWED = "198.51.100.254";
const BLOCKED = "198.51.100.200";
const BLOCKED_PREFIX = "198.51.100.192/27";
const MEMBERS = ["eth0", "eth1"] as const;

let lab: Lab;
let router: LabVm;
let peer: LabVm;

const NI = (name: string, spec: string) => `---
apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: ${name}}
spec: ${spec}
`;
const config = [
  NI("wan1", "{device: eth0}"),
  NI("wan2", "{device: eth1}"),
  NI("bond0", "{bond: {mode: 802.3ad, members: [wan1, wan2], lacpRate: fast}, addresses: [198.51.100.1/24]}"),
].join("");

/** The router's XDP and link state, shown with every failure. */
async function diagnostics(): Promise<string> {
  const r = await router.run("bpftool net; ip -d link; cat /proc/net/bonding/bond0; ls -l /sys/fs/bpf/fos1; tail -n 30 /tmp/agent.log 2>/dev/null", { timeoutSec: 30 });
  const p = await peer.run("ip -n wan -s link; cat /proc/net/bonding/bond0 2>/dev/null || ip netns exec wan cat /proc/net/bonding/bond0", { timeoutSec: 30 });
  return `--- router: bpftool net, ip -d link, bonding\n${r.stdout}${r.stderr}\n--- peer (wan)\n${p.stdout}${p.stderr}`;
}

/** Runs a test body; a failure carries the router's bpftool net and ip -d link output. */
async function withDiagnostics(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const e = err as Error;
    e.message = `${e.message}\n${await diagnostics().catch((d: Error) => `(no diagnostics: ${d.message})`)}`;
    throw e;
  }
}

/** Polls until fn is true or the deadline passes. */
async function eventually(what: string, fn: () => Promise<boolean>, seconds = 45): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    if (await fn()) return;
    await Bun.sleep(1000);
  }
  throw new Error(`not within ${seconds} s: ${what}`);
}

// Loader output is checked field by field with expect(); its shape is xdp-loader.ts's.
type Json = Record<string, any>;

/** One run of the loader in a VM (a new process each time); its JSON line. */
async function loader(vm: LabVm, args: string[], netns?: string): Promise<Json> {
  const cmd = `BUN_BE_BUN=1 ${netns ? `ip netns exec ${netns} ` : ""}fos1 ${LOADER} ${args.join(" ")}`;
  const r = await vm.run(cmd, { timeoutSec: 120 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  let out: Json;
  try {
    out = JSON.parse(line) as Json;
  } catch {
    throw new Error(`${vm.name}: ${cmd} printed no JSON (exit ${r.exitCode}):\n${r.stdout}${r.stderr}`);
  }
  if (r.exitCode !== 0) throw new Error(`${vm.name}: ${cmd} failed (exit ${r.exitCode}): ${String(out.error)}\n${r.stderr}`);
  return out;
}

/** The blocklist's drop counter of the filter whose maps are pinned in `pins` (the loader's, unless told). */
const dropsBlocked = async (pins = PIN_ROOT): Promise<number> => Number((await loader(router, ["read", pins])).counters.XDPF_DROP_BLOCK_V4.packets);

async function rxPackets(): Promise<Record<string, number>> {
  const out = await router.runOk(MEMBERS.map((m) => `echo ${m} $(cat /sys/class/net/${m}/statistics/rx_packets)`).join("\n"));
  return Object.fromEntries(out.trim().split("\n").map((l) => l.split(" ")).map(([m, n]) => [m!, Number(n)]));
}

/** Pings the router from one of the wan host's addresses; the replies received. */
async function ping(from: string, count = 3): Promise<{ transmitted: number; received: number }> {
  const r = await peer.run(`ip netns exec wan ping -c ${count} -W 2 -I ${from} ${ROUTER}`, { timeoutSec: count * 3 + 20 });
  const m = /(\d+) packets transmitted, (\d+) packets received/.exec(r.stdout);
  if (!m) throw new Error(`ping from ${from} printed no summary (exit ${r.exitCode}):\n${r.stdout}${r.stderr}`);
  return { transmitted: Number(m[1]), received: Number(m[2]) };
}

/**
 * UDP from the blocked source over FLOWS flows (different source ports, so the peer's
 * layer3+4 hash spreads them over both cables). Returns what was sent, how many more packets
 * each router member received, and how far the blocklist's drop counter rose.
 */
async function blockedFlows(pins = PIN_ROOT, flows = 32, packets = 20) {
  const rx0 = await rxPackets();
  const drops0 = await dropsBlocked(pins);
  const { sent } = await loader(peer, ["send", BLOCKED, ROUTER, "9", String(flows), String(packets)], "wan");
  await Bun.sleep(1000); // the last packets cross the cable
  const rx1 = await rxPackets();
  const drops = (await dropsBlocked(pins)) - drops0;
  const rx = Object.fromEntries(MEMBERS.map((m) => [m, rx1[m]! - rx0[m]!]));
  console.log(`blocked UDP: ${sent} sent over ${flows} flows; router rx per member ${JSON.stringify(rx)}; drop_block_v4 +${drops}`);
  return { sent: sent as number, rx, drops };
}

beforeAll(async () => {
  ({ lab, router, peer } = await bootLabWithHosts());
  // The wan host: a second source address, and a transmit hash over ports so flows spread.
  await peer.runOk(
    [
      "ip -n wan link set bond0 type bond xmit_hash_policy layer3+4",
      `ip -n wan addr add ${BLOCKED}/24 dev bond0`,
    ].join(" && "),
  );

  const bundle = await Bun.build({ entrypoints: [join(import.meta.dir, "xdp-loader.ts")], target: "bun" });
  if (!bundle.success) throw new Error(`cannot bundle xdp-loader.ts: ${bundle.logs.join("\n")}`);
  const js = await bundle.outputs[0]!.text();
  await router.put(LOADER, js);
  await peer.put(LOADER, js);
  if (process.env.FOS1_LAB_XDP_OBJECT) await router.put(OBJECT, new Uint8Array(await Bun.file(process.env.FOS1_LAB_XDP_OBJECT).arrayBuffer()));
  if ((await router.run(`test -f ${OBJECT}`)).exitCode !== 0) throw new Error(`the lab image has no ${OBJECT}: run "make build lab-image"`);

  await router.put("/etc/fos1/config.yaml", config);
  const r = await router.run("fos1 apply -f /etc/fos1/config.yaml --state-dir /var/lib/fos1 -o json", { timeoutSec: 120 });
  if (r.exitCode !== 0) throw new Error(`apply failed (${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
  expect(JSON.parse(r.stdout).converged).toBe(true);
}, 240_000);

afterAll(async () => {
  await lab?.shutdown();
});

describe("XDP on a 2-member 802.3ad bond", () => {
  test("the bond negotiates LACP, and both sources reach the router before any filter", () =>
    withDiagnostics(async () => {
      await eventually("LACP aggregator with both members and the partner's MAC", async () => {
        const bonding = await router.runOk("cat /proc/net/bonding/bond0");
        const aggregators = [...bonding.matchAll(/Aggregator ID: (\d+)/g)].map((m) => m[1]);
        return !/Partner Mac Address: 00:00:00:00:00:00/.test(bonding) && new Set(aggregators).size === 1 && aggregators.length >= 3;
      });
      await eventually("the allowed source reaches the router", async () => (await ping(ALLOWED, 1)).received === 1, 30);
      expect((await ping(BLOCKED)).received).toBeGreaterThan(0);
    }), 120_000);

  test("the filter loads with its maps pinned and attaches to the bond", () =>
    withDiagnostics(async () => {
      const out = await loader(router, ["load-attach", OBJECT, PIN_ROOT, "bond0", BLOCKED_PREFIX]);
      console.log(`attached to bond0: ${JSON.stringify(out.attached)}`);
      expect(out.pinnedBefore).toBe(false);
      expect(out.attached).toHaveLength(1);
      expect(out.attached[0]).toMatchObject({ ifname: "bond0", replaced: false });
      expect(["native", "generic"]).toContain(out.attached[0].mode);
      expect(out.blocked).toEqual([{ prefix: BLOCKED_PREFIX, packets: "0" }]);
      expect(Object.values(out.pins as Record<string, string>).every((p) => p.startsWith(`${PIN_ROOT}/`))).toBe(true);
      // The loader has exited: the interface holds the program, bpffs the maps.
      const q = await loader(router, ["query", "bond0"]);
      expect(q.attached.bond0).toMatchObject([{ progName: "xdp_filter", mode: out.attached[0].mode }]);
      expect(await router.runOk("bpftool net")).toContain(`bond0(`);
      expect(await router.runOk("bpftool net")).toContain(`${out.attached[0].mode === "native" ? "driver" : "generic"} id ${q.attached.bond0[0].progId}`);
    }), 180_000);

  test("the blocked source gets no reply, the allowed one does; drops on both members, counters rise", () =>
    withDiagnostics(async () => {
      const drops0 = await dropsBlocked();
      const blocked = await ping(BLOCKED, 5);
      expect(blocked.received).toBe(0);
      expect((await ping(ALLOWED, 3)).received).toBe(3);
      expect((await dropsBlocked()) - drops0).toBeGreaterThanOrEqual(blocked.transmitted);

      const { sent, rx, drops } = await blockedFlows();
      expect(sent).toBe(32 * 20);
      // Both cables carried a real share of the blocked flows (LACPDUs are ~1/s per member).
      for (const m of MEMBERS) expect(rx[m]!).toBeGreaterThanOrEqual(sent / 8);
      expect(drops).toBeGreaterThanOrEqual(sent);
    }), 240_000);

  test("the agent restarts: pins outlive it, a new process reuses them, and blocked traffic is never answered meanwhile", () =>
    withDiagnostics(async () => {
      const mapIds = () => router.runOk(`for m in ${PIN_ROOT}/*; do bpftool map show pinned $m | cut -d: -f1; done`);
      const idsBefore = await mapIds();
      const progBefore = (await loader(router, ["query", "bond0"])).attached.bond0[0].progId as number;
      const drops0 = await dropsBlocked();

      // A ping every 0.2 s from the blocked source for 15 s, across the whole restart. (A
      // deadline, not a signal: a background job of a non-interactive shell ignores SIGINT.)
      await peer.runOk(`ip netns exec wan ping -i 0.2 -w 15 -I ${BLOCKED} ${ROUTER} >/tmp/flood.log 2>&1 &`);
      await Bun.sleep(2000);
      const restarted = await loader(router, ["load-attach", OBJECT, PIN_ROOT, "bond0"]);
      const floodDone = () => peer.run("grep -q 'packets received' /tmp/flood.log");
      if ((await floodDone()).exitCode === 0) throw new Error("the flood ping ended before the new loader had attached: it did not cover the restart");
      await eventually("the flood ping's summary", async () => (await floodDone()).exitCode === 0, 30);
      const flood = await peer.runOk("cat /tmp/flood.log");
      const m = /(\d+) packets transmitted, (\d+) packets received/.exec(flood);
      if (!m) throw new Error(`the flood ping printed no summary:\n${flood}`);
      const [transmitted, received] = [Number(m[1]), Number(m[2])];
      console.log(`restart: ${transmitted} blocked pings across it, ${received} answered; new program replaced=${restarted.attached[0].replaced}`);

      // The new process found the old maps: the blocked prefix, with the drops it already counted.
      expect(restarted.pinnedBefore).toBe(true);
      expect(restarted.before.blocked).toHaveLength(1);
      expect(restarted.before.blocked[0].prefix).toBe(BLOCKED_PREFIX);
      expect(Number(restarted.before.blocked[0].packets)).toBeGreaterThan(0);
      expect(Number(restarted.before.counters.XDPF_DROP_BLOCK_V4.packets)).toBeGreaterThanOrEqual(drops0);
      // It swapped its program in atomically; the maps are the same kernel objects.
      expect(restarted.attached[0]).toMatchObject({ ifname: "bond0", replaced: true });
      expect((await loader(router, ["query", "bond0"])).attached.bond0[0].progId).not.toBe(progBefore);
      expect(await mapIds()).toBe(idsBefore);
      // Blocking never stopped.
      expect(transmitted).toBeGreaterThanOrEqual(10);
      expect(received).toBe(0);
      expect((await dropsBlocked()) - drops0).toBeGreaterThanOrEqual(transmitted);
      expect((await ping(ALLOWED, 2)).received).toBe(2);
    }), 240_000);

  test("XDP on each member separately instead of the bond also drops the blocked source", () =>
    withDiagnostics(async () => {
      const detached = await loader(router, ["detach", "bond0"]);
      expect(detached.detached).toEqual([{ ifname: "bond0", detached: true }]);
      const out = await loader(router, ["load-attach", OBJECT, PIN_ROOT, MEMBERS.join(",")]);
      console.log(`attached to the members: ${JSON.stringify(out.attached)}`);
      expect(out.attached.map((a: Json) => a.ifname)).toEqual([...MEMBERS]);
      for (const a of out.attached) expect(["native", "generic"]).toContain(a.mode);
      expect(out.before.blocked.map((b: Json) => b.prefix)).toEqual([BLOCKED_PREFIX]);
      const q = await loader(router, ["query", ["bond0", ...MEMBERS].join(",")]);
      expect(q.attached.bond0).toEqual([]);
      for (const m of MEMBERS) expect(q.attached[m]).toMatchObject([{ progName: "xdp_filter" }]);

      const drops0 = await dropsBlocked();
      const blocked = await ping(BLOCKED, 5);
      expect(blocked.received).toBe(0);
      expect((await ping(ALLOWED, 3)).received).toBe(3);
      expect((await dropsBlocked()) - drops0).toBeGreaterThanOrEqual(blocked.transmitted);

      const { sent, rx, drops } = await blockedFlows();
      for (const m of MEMBERS) expect(rx[m]!).toBeGreaterThanOrEqual(sent / 8);
      expect(drops).toBeGreaterThanOrEqual(sent);
    }), 240_000);

  test("with the filter detached everywhere the blocked source is answered again (XDP did the dropping); the pins stay", () =>
    withDiagnostics(async () => {
      const detached = await loader(router, ["detach", MEMBERS.join(",")]);
      expect(detached.detached).toEqual(MEMBERS.map((ifname) => ({ ifname, detached: true })));
      expect(await router.runOk("bpftool net")).not.toMatch(/(driver|generic) id \d+/);
      await eventually("the blocked source is answered", async () => (await ping(BLOCKED, 1)).received === 1, 20);
      const pins = await loader(router, ["read", PIN_ROOT]);
      expect(pins.blocked.map((b: Json) => b.prefix)).toEqual([BLOCKED_PREFIX]);
    }), 120_000);
});

// fos1 agent keeps an XDPFilter on the bond's members consistent while membership changes: the
// filter names wan1 only, so it filters bond0 member by member and follows the members the
// config gives bond0. Every change below reaches the agent by a rewritten config file, or
// (the pulled NIC) straight from the kernel.
describe("an XDPFilter on the bond's members, kept by fos1 agent while members join and leave", () => {
  const AGENT_CONFIG = "/etc/fos1/agent.yaml";
  const FILTER_PINS = `${PIN_ROOT}/xdp/members`;
  const routerConfig = (members: string, filterOn = "wan1") =>
    [
      NI("wan1", "{device: eth0}"),
      NI("wan2", "{device: eth1}"),
      NI("bond0", `{bond: {mode: 802.3ad, members: [${members}], lacpRate: fast}, addresses: [198.51.100.1/24]}`),
      `---
apiVersion: security.fos1.io/v1alpha1
kind: XDPFilter
metadata: {name: members}
spec: {interfaces: [${filterOn}], blocklist: [${BLOCKED_PREFIX}]}
`,
    ].join("");

  /** The kernel's view: "mode id" of the XDP program on each interface (bpftool), each link's master, and the filter's pinned program id (0: none). */
  interface KernelView {
    xdp: Record<string, string>;
    master: Record<string, string | null>;
    filterProg: number;
  }

  async function kernel(): Promise<KernelView> {
    const out = await router.runOk(`bpftool net -j; echo; ip -j link show; echo; bpftool prog show pinned ${FILTER_PINS}/xdp_filter -j 2>/dev/null || echo '{"id": 0}'`);
    const [net, links, prog] = out.trim().split("\n").filter((l) => l.trim()) as [string, string, string];
    const xdp = (JSON.parse(net) as { xdp: { devname: string; mode: string; id: number }[] }[])[0]!.xdp;
    return {
      xdp: Object.fromEntries(xdp.map((x) => [x.devname, `${x.mode} ${x.id}`])),
      master: Object.fromEntries((JSON.parse(links) as { ifname: string; master?: string }[]).map((l) => [l.ifname, l.master ?? null])),
      filterProg: (JSON.parse(prog) as { id: number }).id,
    };
  }

  /** Hands the agent a new config (renamed into place, as an atomic writer does) and waits until the kernel shows `want`. */
  async function reconfigure(what: string, config: string, want: (k: KernelView) => boolean): Promise<void> {
    await router.put(`${AGENT_CONFIG}.new`, config);
    await router.runOk(`mv ${AGENT_CONFIG}.new ${AGENT_CONFIG}`);
    await settled(what, want);
  }

  /** Waits until the kernel shows `want`; a timeout says what it showed last. */
  async function settled(what: string, want: (k: KernelView) => boolean): Promise<void> {
    let last: KernelView | undefined;
    await eventually(what, async () => want((last = await kernel())), 60).catch((err: Error) => {
      throw new Error(`${err.message}\nlast seen: ${JSON.stringify(last)}`);
    });
  }

  /** Whether LACP lets both members carry traffic at this end: each port's actor state has collecting and distributing set. */
  const distributing = (bonding: string) =>
    MEMBERS.every((m) => {
      const section = bonding.split("Slave Interface: ").find((x) => x.startsWith(`${m}\n`)) ?? "";
      const actor = /details actor lacp pdu:[\s\S]*?port state: (\d+)/.exec(section);
      return actor !== null && (Number(actor[1]) & 0x30) === 0x30;
    });

  /** Blocked traffic over both cables is dropped on both members by the filter's program. */
  async function dropsOnBothMembers(): Promise<void> {
    // A member that comes back is used by the partner only once LACP has it distributing at both ends.
    await eventually("LACP distributes over both members at both ends", async () =>
      distributing(await router.runOk("cat /proc/net/bonding/bond0")) && distributing(await peer.runOk("ip netns exec wan cat /proc/net/bonding/bond0")),
    );
    const { sent, rx, drops } = await blockedFlows(FILTER_PINS);
    for (const m of MEMBERS) expect(rx[m]!).toBeGreaterThanOrEqual(sent / 8);
    expect(drops).toBeGreaterThanOrEqual(sent);
    expect((await ping(BLOCKED, 2)).received).toBe(0);
    await eventually("the allowed source is answered", async () => (await ping(ALLOWED, 1)).received === 1, 30);
  }

  const onlyEth0 = (k: KernelView) => k.filterProg > 0 && k.xdp.eth0 === `driver ${k.filterProg}` && !k.xdp.eth1 && k.master.eth1 === null;
  const bothMembers = (k: KernelView) =>
    k.filterProg > 0 && MEMBERS.every((m) => k.xdp[m] === `driver ${k.filterProg}` && k.master[m] === "bond0") && !k.xdp.bond0;

  beforeAll(async () => {
    await router.put(AGENT_CONFIG, routerConfig("wan1"));
    await router.runOk(`fos1 agent -f ${AGENT_CONFIG} --state-dir /var/lib/fos1 >>/tmp/agent.log 2>&1 &`);
  }, 60_000);

  afterAll(async () => {
    await router?.run("kill $(pidof fos1) 2>/dev/null; true");
  });

  test("bond0 with one member: the filter runs on wan1 (eth0) alone", () =>
    withDiagnostics(() => settled("the agent attaches the filter to eth0 and leaves eth1 out of bond0", onlyEth0)), 120_000);

  test("wan2 joins bond0 in the config: eth1 gets the filter without being named, and blocked flows are dropped on both members", () =>
    withDiagnostics(async () => {
      await reconfigure("eth1 joins bond0 and runs the filter's program", routerConfig("wan1, wan2"), bothMembers);
      await dropsOnBothMembers();
    }), 240_000);

  test("wan2 leaves bond0 (still configured, as a plain NIC): its program goes, eth0 keeps filtering", () =>
    withDiagnostics(async () => {
      await reconfigure("eth1 leaves bond0 and runs no XDP", routerConfig("wan1"), onlyEth0);
      await eventually("the allowed source is answered over eth0", async () => (await ping(ALLOWED, 1)).received === 1, 30);
      expect((await ping(BLOCKED, 3)).received).toBe(0);
    }), 180_000);

  test("a member pulled out (its PCI device removed) and plugged back in: the agent enslaves the new eth1 and gives it the filter", () =>
    withDiagnostics(async () => {
      await reconfigure("eth1 is a member with the filter again", routerConfig("wan1, wan2"), bothMembers);
      await router.runOk("echo 1 > /sys/class/net/eth1/device/../remove");
      await settled("eth1 is gone and eth0 still filters", (k) => !("eth1" in k.master) && k.xdp.eth0 === `driver ${k.filterProg}`);
      await router.runOk("echo 1 > /sys/bus/pci/rescan");
      await settled("the new eth1 is a member of bond0 with the filter", bothMembers);
      await dropsOnBothMembers();
    }), 240_000);

  test("the filter moves to the bond and back, each in one converge: the bond gets a native program, the members none, and back", () =>
    withDiagnostics(async () => {
      const toBond = (k: KernelView) => k.filterProg > 0 && k.xdp.bond0 === `driver ${k.filterProg}` && MEMBERS.every((m) => !k.xdp[m]);
      await router.runOk(": >/tmp/agent.log"); // from here on, only these two moves
      await reconfigure("bond0 runs the filter natively, its members nothing of their own", routerConfig("wan1, wan2", "bond0"), toBond);
      expect((await ping(BLOCKED, 2)).received).toBe(0);
      await reconfigure("both members run the filter again, bond0 nothing", routerConfig("wan1, wan2"), bothMembers);
      // Each move was applied as planned: the kernel refused nothing (before, it refused the
      // members' detach while the bond ran a program, and auto mode fell back to generic).
      const log = await router.runOk("cat /tmp/agent.log");
      expect(log).not.toContain('"could not apply"');
      expect(log).toContain('"converged"');
    }), 180_000);
});
