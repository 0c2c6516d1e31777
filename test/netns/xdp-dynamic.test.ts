// Prefixes blocked with `fos1 xdp block` reach filters loaded after the block: an XDPFilter
// added to the config for a new interface, and every filter reloaded with fresh maps (a reboot
// empties bpffs; the agent starts from the config and the state dir). The "src" namespace
// reaches the "far" one over two veth pairs: s0–f0 (192.0.2.0/24), filtered from the start,
// and s1–f1 (198.51.100.0/24), whose filter comes later. Real packets decide: a ping from the
// blocked source over s1 is dropped by the new program on f1. Root; run after make build.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removePinRoot, testPinRoot } from "../helpers/bpffs";
import { waitUntil } from "../helpers/netns";
import { addVeth, destroyAll, ipBatch } from "./netns";
import { FarFos1 } from "./xdp-fos1";
import { ALLOWED4, FAR4, createXdpPair, pingOnceFrom, reachesFrom } from "./xdp-pair";

const tmp = mkdtempSync(join(tmpdir(), "fos1-xdp-dynamic-"));
const stateDir = join(tmp, "state");
const BLOCKED1 = "198.51.100.1"; // blocked with fos1 xdp block before f1 has a filter
const EXPIRED1 = "198.51.100.2"; // blocked with a TTL that runs out while no agent runs
const ALLOWED1 = "198.51.100.3";
const FAR1 = "198.51.100.100";

let src: string;
let far: string;
let pinRoot: string;
let fos1: FarFos1;

beforeAll(async () => {
  pinRoot = testPinRoot("dynamic");
  ({ src, far } = await createXdpPair());
  await addVeth(src, "s1", far, "f1");
  await ipBatch(src, [`address add ${BLOCKED1}/24 dev s1`, `address add ${EXPIRED1}/24 dev s1`, `address add ${ALLOWED1}/24 dev s1`, "link set s1 up"]);
  await ipBatch(far, ["link set lo up"]);
  fos1 = new FarFos1(far, pinRoot, stateDir, tmp);
});

afterAll(async () => {
  await destroyAll();
  if (pinRoot) removePinRoot(pinRoot);
  rmSync(tmp, { recursive: true, force: true });
});

const NICS = `apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: f0}
spec: {device: f0, addresses: [${FAR4}/24]}
---
apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: f1}
spec: {device: f1, addresses: [${FAR1}/24]}
`;
const filter = (name: string, ifname: string) => `---
apiVersion: security.fos1.io/v1alpha1
kind: XDPFilter
metadata: {name: ${name}}
spec: {interfaces: [${ifname}], blocklist: [203.0.113.0/24]}
`;
const ONE_FILTER = NICS + filter("edge", "f0");
const TWO_FILTERS = ONE_FILTER + filter("edge1", "f1");

const reaches = (from: string, to: string) => reachesFrom(src, from, to);
const pingOnce = (from: string, to: string) => pingOnceFrom(src, from, to);
const dynamicEntries = async () => (await fos1.list()).filter((e) => e.source === "dynamic").map((e) => `${e.filter} ${e.prefix} until ${e.expires}`).sort();

describe("a filter loaded after fos1 xdp block gets the dynamic prefixes", () => {
  let expires: string;

  test("blocked while only f0 is filtered: the block is in edge, and f1 still lets the source through", async () => {
    expect((await fos1.apply(ONE_FILTER)).converged).toBe(true);
    const b = await fos1.xdp(["block", `${BLOCKED1}/32`, "--ttl", "1h", "-o", "json"]);
    expect(b.exitCode).toBe(0);
    expires = (JSON.parse(b.stdout) as { expires: string }).expires;
    expect(await dynamicEntries()).toEqual([`edge ${BLOCKED1}/32 until ${expires}`]);
    expect(await reaches(BLOCKED1, FAR1)).toBe(true);
  });

  test("a filter added for f1 gets the prefix with its expiry, and the new program drops the source on f1", async () => {
    const r = await fos1.apply(TWO_FILTERS);
    expect(r.converged).toBe(true);
    expect(r.ops.map((o) => o.subject)).toContain(`XDP block ${BLOCKED1}/32 (edge1)`);
    expect(fos1.pinnedBlocked("edge1")).toEqual([`${BLOCKED1}/32`, "203.0.113.0/24"]);
    expect(await dynamicEntries()).toEqual([`edge ${BLOCKED1}/32 until ${expires}`, `edge1 ${BLOCKED1}/32 until ${expires}`]);

    const drops = await fos1.counter("edge1", "drop_block_v4");
    expect(await pingOnce(BLOCKED1, FAR1)).toBe(false);
    expect(await fos1.counter("edge1", "drop_block_v4")).toBeGreaterThan(drops);
    expect(await reaches(ALLOWED1, FAR1)).toBe(true);
    expect((await fos1.apply(TWO_FILTERS)).writes).toBe(0);
  });

  test("after a reboot (programs detached, pins gone) the agent reloads both filters with the live dynamic prefixes, not the expired one", async () => {
    expect((await fos1.xdp(["block", `${EXPIRED1}/32`, "--ttl", "1s"])).exitCode).toBe(0);
    expect(await pingOnce(EXPIRED1, FAR1)).toBe(false);
    // No agent runs: the entry expires in the record but stays in the maps, until the "reboot".
    await waitUntil("the 1 s TTL runs out", async () => !(await dynamicEntries()).some((e) => e.includes(EXPIRED1)), 10_000);
    await ipBatch(far, ["link set dev f0 xdp off", "link set dev f1 xdp off"]);
    removePinRoot(pinRoot);

    const file = join(tmp, "agent.yaml");
    await Bun.write(file, TWO_FILTERS);
    const agent = Bun.spawn(fos1.argv(["agent", "-f", file, "--state-dir", stateDir]), { env: { ...process.env, ...fos1.env() }, stdout: "pipe", stderr: "pipe" });
    try {
      const loaded = () => existsSync(join(pinRoot, "xdp", "edge1", "xdp_filter"));
      await waitUntil("the agent loads edge1", loaded, 20_000);
      await waitUntil("the agent attaches edge1 to f1", async () => (await fos1.status()).filters.some((f) => f.name === "edge1" && f.interfaces.length > 0), 20_000);
      for (const f of ["edge", "edge1"]) expect(fos1.pinnedBlocked(f)).toEqual([`${BLOCKED1}/32`, "203.0.113.0/24"]);
      expect(await dynamicEntries()).toEqual([`edge ${BLOCKED1}/32 until ${expires}`, `edge1 ${BLOCKED1}/32 until ${expires}`]);
      expect(await pingOnce(BLOCKED1, FAR1)).toBe(false);
      expect(await reaches(EXPIRED1, FAR1)).toBe(true);
      expect(await reaches(ALLOWED4, FAR4)).toBe(true);
      await waitUntil("the agent removes the expired entry's record", () => !existsSync(join(stateDir, "xdp-dynamic", `${EXPIRED1}_32.json`)), 10_000);
    } finally {
      agent.kill("SIGTERM");
      await agent.exited;
    }
  });
});
