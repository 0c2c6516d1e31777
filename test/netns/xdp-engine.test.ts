// XDPFilter through the engine and `fos1 xdp`, on this machine's kernel: a "far" namespace
// runs fos1 (apply, agent, xdp …) on its veth f0, a "src" namespace pings it from a blocked
// and an allowed address of each family. fos1 runs under `nsenter --net=…` (not `ip netns
// exec`, which remounts /sys and would hide /sys/fs/bpf), with its pins in a test directory
// (FOS1_BPF_PIN_ROOT) and the object from dist/bpf (FOS1_BPF_DIR). Root; run after make build.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removePinRoot, testPinRoot } from "../helpers/bpffs";
import { logMessages } from "../helpers/fos1";
import { destroyAll, ipBatch, run } from "./netns";
import { FarFos1 } from "./xdp-fos1";
import { ALLOWED4, ALLOWED6, BLOCKED4, BLOCKED6, FAR4, FAR6, createXdpPair, pingOnceFrom, reachesFrom } from "./xdp-pair";

const tmp = mkdtempSync(join(tmpdir(), "fos1-xdp-engine-"));
const stateDir = join(tmp, "state");

let src: string;
let far: string;
let pinRoot: string;
let fos1: FarFos1;

beforeAll(async () => {
  pinRoot = testPinRoot("engine");
  ({ src, far } = await createXdpPair());
  await ipBatch(far, ["link set lo up"]);
  fos1 = new FarFos1(far, pinRoot, stateDir, tmp);
});

afterAll(async () => {
  await destroyAll();
  if (pinRoot) removePinRoot(pinRoot);
  rmSync(tmp, { recursive: true, force: true });
});

const fos1Far = (args: string[]) => fos1.run(args);

const NIC = `apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: f0}
spec: {device: f0, addresses: [${FAR4}/24, "${FAR6}/64"]}
`;
const filter = (blocklist: string[]) => `---
apiVersion: security.fos1.io/v1alpha1
kind: XDPFilter
metadata: {name: edge}
spec:
  interfaces: [f0]
  blocklist: [${blocklist.map((b) => `"${b}"`).join(", ")}]
  denyPorts: [{protocol: tcp, port: 23}]
`;

const applyConfig = (text: string) => fos1.apply(text);

const pingOnce = (from: string, to: string) => pingOnceFrom(src, from, to);
const reaches = (from: string, to: string) => reachesFrom(src, from, to);

const list = () => fos1.list();
const prefixes = async () => (await list()).map((e) => `${e.prefix} ${e.source}`).sort();
const pinnedBlocked = () => fos1.pinnedBlocked("edge");

describe("XDPFilter applied with the rest of the config", () => {
  test("fos1 xdp block on a host with no filter loaded says so and exits 1", async () => {
    const r = await fos1Far(["xdp", "block", "203.0.113.0/24", "--state-dir", stateDir]);
    expect(r.exitCode).toBe(1);
    expect(logMessages(r)).toContain("no XDP filter is loaded on this host");
  });

  test("apply attaches the filter (mode reported): blocked sources cannot ping, the others can", async () => {
    const r = await applyConfig(NIC + filter([`${BLOCKED4}/32`, `${BLOCKED6}/128`, "198.51.100.0/24"]));
    expect(r.converged).toBe(true);
    expect(r.ops.filter((o) => o.phase === "xdp").map((o) => o.subject)).toContain("XDP on f0");
    const s = await fos1.status();
    expect(s.filters).toHaveLength(1);
    expect(s.filters[0]!.interfaces).toEqual([{ ifname: "f0", mode: "native" }]);
    const text = await fos1Far(["xdp", "status"]);
    expect(text.stdout).toContain("interfaces: f0 (native)");
    expect(text.stdout).toMatch(/drop_block_v4 +\d+/);

    expect(await reaches(ALLOWED4, FAR4)).toBe(true);
    expect(await reaches(ALLOWED6, FAR6)).toBe(true);
    expect(await pingOnce(BLOCKED4, FAR4)).toBe(false);
    expect(await pingOnce(BLOCKED6, FAR6)).toBe(false);
    const after = await fos1.status();
    expect(Number(after.filters[0]!.counters.drop_block_v4!.packets)).toBeGreaterThan(0);
    expect(Number(after.filters[0]!.counters.drop_block_v6!.packets)).toBeGreaterThan(0);
  });

  test("a second apply writes nothing and leaves every map entry (and its hit count) as it was", async () => {
    const before = await list();
    const r = await applyConfig(NIC + filter([`${BLOCKED4}/32`, `${BLOCKED6}/128`, "198.51.100.0/24"]));
    expect(r.writes).toBe(0);
    expect(await list()).toEqual(before);
  });

  test("removing a CIDR from the config removes that entry only", async () => {
    const r = await applyConfig(NIC + filter([`${BLOCKED6}/128`, "198.51.100.0/24"]));
    expect(r.ops.map((o) => o.subject)).toEqual([`XDP block ${BLOCKED4}/32 (edge)`]);
    expect(pinnedBlocked()).toEqual([`${BLOCKED6}/128`, "198.51.100.0/24"].sort());
    expect(await reaches(BLOCKED4, FAR4)).toBe(true);
    expect(await pingOnce(BLOCKED6, FAR6)).toBe(false);
  });

  test("fos1 xdp block/unblock/list: a dynamic block survives apply, unblock lifts it", async () => {
    const b = await fos1Far(["xdp", "block", `${ALLOWED4}/32`, "--state-dir", stateDir]);
    expect(b.exitCode).toBe(0);
    expect(b.stdout).toContain(`Blocked ${ALLOWED4}/32 in edge until fos1 xdp unblock`);
    expect(await pingOnce(ALLOWED4, FAR4)).toBe(false);
    expect(await prefixes()).toEqual([`${ALLOWED4}/32 dynamic`, `${BLOCKED6}/128 static`, "198.51.100.0/24 static"].sort());

    const r = await applyConfig(NIC + filter([`${BLOCKED6}/128`, "198.51.100.0/24"]));
    expect(r.writes).toBe(0);
    expect(pinnedBlocked()).toContain(`${ALLOWED4}/32`);

    const u = await fos1Far(["xdp", "unblock", `${ALLOWED4}/32`, "--state-dir", stateDir]);
    expect(u.exitCode).toBe(0);
    expect(await reaches(ALLOWED4, FAR4)).toBe(true);
    expect(pinnedBlocked()).not.toContain(`${ALLOWED4}/32`);
    const again = await fos1Far(["xdp", "unblock", `${ALLOWED4}/32`, "--state-dir", stateDir]);
    expect(again.exitCode).toBe(1);
    expect(logMessages(again)).toContain("is not blocked by any XDP filter");
  });

  test("a bad CIDR is exit 2 with the reason", async () => {
    const r = await fos1Far(["xdp", "block", "192.0.2.1/24", "--state-dir", stateDir]);
    expect(r.exitCode).toBe(2);
    expect(logMessages(r)).toContain("host bits set (the network is 192.0.2.0/24)");
  });

  test("a TTL entry: fos1 xdp list hides it once expired, and the agent deletes it from the map", async () => {
    const b = await fos1Far(["xdp", "block", "203.0.113.0/24", "--ttl", "1s", "--state-dir", stateDir]);
    expect(b.exitCode).toBe(0);
    expect(await prefixes()).toContain("203.0.113.0/24 dynamic");
    await Bun.sleep(1500);
    expect(await prefixes()).not.toContain("203.0.113.0/24 dynamic");
    expect(pinnedBlocked()).toContain("203.0.113.0/24"); // no agent yet: still in the map

    const file = join(tmp, "agent.yaml");
    await Bun.write(file, NIC + filter([`${BLOCKED6}/128`, "198.51.100.0/24"]));
    const agent = Bun.spawn(fos1.argv(["agent", "-f", file, "--state-dir", stateDir]), {
      env: { ...process.env, ...fos1.env() },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      // A fresh TTL entry while the agent runs: gone within a bounded wait after it expires.
      expect((await fos1Far(["xdp", "block", "203.0.113.128/25", "--ttl", "2s", "--state-dir", stateDir])).exitCode).toBe(0);
      expect(pinnedBlocked()).toContain("203.0.113.128/25");
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && pinnedBlocked().some((p) => p.startsWith("203.0.113."))) await Bun.sleep(200);
      expect(pinnedBlocked()).toEqual([`${BLOCKED6}/128`, "198.51.100.0/24"].sort());
      expect(existsSync(join(stateDir, "xdp-dynamic", "203.0.113.128_25.json"))).toBe(false);
    } finally {
      agent.kill("SIGTERM");
      await agent.exited;
    }
  });

  test("maps pinned by a fos1 of another layout: fos1 xdp says so, apply loads the filter again and swaps the program in place", async () => {
    // What an older fos1 leaves behind: a map this layout lacks, and one of another shape.
    // The running program keeps its own maps (the kernel holds them) and filters on.
    const dir = join(pinRoot, "xdp", "edge");
    const before = (await fos1.status()).filters[0]!.progId;
    const drops = await fos1.counter("edge", "drop_block_v6");
    rmSync(join(dir, "xdpf_index_v6"));
    rmSync(join(dir, "xdpf_config"));
    const made = Bun.spawnSync(["bpftool", "map", "create", join(dir, "xdpf_config"), "type", "array", "key", "4", "value", "24", "entries", "1", "name", "xdpf_config"], { stderr: "pipe" });
    expect(made.stderr.toString()).toBe("");
    expect(await pingOnce(BLOCKED6, FAR6)).toBe(false);

    const b = await fos1Far(["xdp", "block", "203.0.113.0/24", "--state-dir", stateDir]);
    expect(b.exitCode).toBe(1);
    expect(logMessages(b)).toContain("XDP filter edge was loaded by a fos1 with other maps");
    expect(existsSync(join(stateDir, "xdp-dynamic", "203.0.113.0_24.json"))).toBe(false); // nothing recorded

    const r = await applyConfig(NIC + filter([`${BLOCKED6}/128`, "198.51.100.0/24"]));
    expect(r.converged).toBe(true);
    expect(r.ops.map((o) => o.subject)).toEqual(["XDP filter edge", `XDP block ${BLOCKED6}/128 (edge)`, "XDP block 198.51.100.0/24 (edge)", "XDP deny port tcp/23 (edge)", "XDP on f0"]);
    const after = (await fos1.status()).filters[0]!;
    expect(after.progId).not.toBe(before);
    expect(after.interfaces).toEqual([{ ifname: "f0", mode: "native" }]);
    expect(await pingOnce(BLOCKED6, FAR6)).toBe(false);
    expect(await reaches(ALLOWED4, FAR4)).toBe(true);
    // The counters by reason are of an unchanged shape: kept, and still counting.
    expect(await fos1.counter("edge", "drop_block_v6")).toBeGreaterThan(drops + 1);
    expect((await applyConfig(NIC + filter([`${BLOCKED6}/128`, "198.51.100.0/24"]))).writes).toBe(0);
  });

  test("removing the XDPFilter from the config detaches the program and removes its pins", async () => {
    const r = await applyConfig(NIC);
    expect(r.converged).toBe(true);
    expect(r.ops.map((o) => o.subject)).toEqual(["XDP on f0", "XDP filter edge"]);
    expect(existsSync(join(pinRoot, "xdp", "edge"))).toBe(false);
    expect(await reaches(BLOCKED6, FAR6)).toBe(true);
    const s = await fos1.status();
    expect(s.filters).toEqual([]);
    const q = await run(["nsenter", `--net=/run/netns/${far}`, "ip", "-json", "link", "show", "f0"]);
    expect(q.stdout).not.toContain('"xdp"');
  });
});
