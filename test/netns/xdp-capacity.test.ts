// A filter at its capacity, as an operator and the IDS meet it: the config's blocklist is held
// to the capacity by validation (exit 2, nothing changed), and dynamic blocks beyond it make
// room by evicting older dynamic ones -- the IDS's before the operator's, the oldest first; the
// IDS never evicts an operator's block, and nothing evicts the config's. Whatever is evicted,
// every prefix still listed drops: real pings through the veth decide, with the filter loaded
// by `fos1 apply` and the blocks made by `fos1 xdp block` and by the IDS's own call
// (blockDynamicEntries, what `fos1 ids run` writes through). Root; run after make build.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removePinRoot, testPinRoot } from "../helpers/bpffs";
import { blockDynamicEntries, dynamicEntry } from "../../src/engine/xdp/admin";
import { readDynamic } from "../../src/engine/xdp/dynamic";
import { logMessages } from "../helpers/fos1";
import { destroyAll, ipBatch } from "./netns";
import { FarFos1 } from "./xdp-fos1";
import { ALLOWED4, BLOCKED4, FAR4, createXdpPair, edgeFilterConfig, reachesFrom } from "./xdp-pair";

const tmp = mkdtempSync(join(tmpdir(), "fos1-xdp-capacity-"));
const stateDir = join(tmp, "state");
const OPERATOR_OLD = "192.0.2.3"; // the operator's oldest block: evicted last of all
const IDS_SOURCE = "192.0.2.4";

let src: string;
let far: string;
let pinRoot: string;
let fos1: FarFos1;

beforeAll(async () => {
  pinRoot = testPinRoot("capacity");
  ({ src, far } = await createXdpPair());
  await ipBatch(src, [`address add ${OPERATOR_OLD}/24 dev s0`, `address add ${IDS_SOURCE}/24 dev s0`]);
  fos1 = new FarFos1(far, pinRoot, stateDir, tmp);
  // The IDS's call below runs in this process: it finds the filters where fos1 pinned them.
  process.env.FOS1_BPF_PIN_ROOT = pinRoot;
});

afterAll(async () => {
  delete process.env.FOS1_BPF_PIN_ROOT;
  await destroyAll();
  if (pinRoot) removePinRoot(pinRoot);
  rmSync(tmp, { recursive: true, force: true });
});

const config = (blocklist: string[], ipv4: number) => edgeFilterConfig(`blocklist: [${blocklist.join(", ")}], capacity: {ipv4: ${ipv4}}`);
const STATIC = ["203.0.113.0/24", "198.18.0.0/15"];

const reaches = (from: string) => reachesFrom(src, from, FAR4);
const block = async (prefix: string) => {
  const r = await fos1.xdp(["block", prefix, "-o", "json"]);
  if (r.exitCode !== 0) throw new Error(`fos1 xdp block ${prefix} exited ${r.exitCode}: ${logMessages(r)}`);
  return JSON.parse(r.stdout) as { evicted: string[] };
};
const idsBlock = (prefix: string) => blockDynamicEntries(stateDir, [dynamicEntry(prefix, 3_600_000, Date.now(), "ids")], undefined);
const listed = () => fos1.pinnedBlocked("edge");
const recorded = () => readDynamic(stateDir).map((e) => `${e.prefix}${e.origin ? ` (${e.origin})` : ""}`).sort();

describe("a filter of 4 IPv4 prefixes, 2 of them the config's", () => {
  test("a blocklist over the capacity is refused with exit 2, naming the filter and the count, and nothing is loaded", async () => {
    const file = join(tmp, "over.yaml");
    await Bun.write(file, config([...STATIC, "100.64.0.0/10"], 2));
    const r = await fos1.run(["apply", "-f", file, "--state-dir", stateDir, "--force"]);
    expect(r.exitCode).toBe(2);
    expect(logMessages(r)).toContain("spec.blocklist: 3 IPv4 prefixes, more than the filter's capacity of 2; raise spec.capacity.ipv4");
    expect((await fos1.status()).filters).toEqual([]);
  });

  test("two operator blocks fill it; the IDS cannot take their room", async () => {
    expect((await fos1.apply(config(STATIC, 4))).converged).toBe(true);
    expect((await block(`${OPERATOR_OLD}/32`)).evicted).toEqual([]);
    await Bun.sleep(5); // distinct addedAt times
    expect((await block(`${BLOCKED4}/32`)).evicted).toEqual([]);
    const r = idsBlock(`${IDS_SOURCE}/32`);
    expect(r.evicted).toEqual([]);
    expect(r.failed).toEqual([{ prefix: `${IDS_SOURCE}/32`, error: expect.stringContaining("no older dynamic block is left to make room (the config's blocklist never yields)") }]);
    expect(listed()).toEqual([`${BLOCKED4}/32`, `${OPERATOR_OLD}/32`, ...STATIC].sort());
    expect(await reaches(IDS_SOURCE)).toBe(true);
    expect(await reaches(BLOCKED4)).toBe(false);
    const status = (await fos1.status()).filters[0] as unknown as { fill: { ipv4: { count: number; capacity: number } }; memoryBytes: number };
    expect(status.fill.ipv4).toEqual({ count: 4, capacity: 4 });
    expect(status.memoryBytes).toBeGreaterThan(0);
  });

  test("an IDS block in freed room is the first to go when the operator needs it, before the operator's older one", async () => {
    expect((await fos1.xdp(["unblock", `${BLOCKED4}/32`])).exitCode).toBe(0);
    expect(idsBlock(`${IDS_SOURCE}/32`).failed).toEqual([]);
    expect(await reaches(IDS_SOURCE)).toBe(false);
    expect((await block(`${BLOCKED4}/32`)).evicted).toEqual([`${IDS_SOURCE}/32`]);
    expect(listed()).toEqual([`${BLOCKED4}/32`, `${OPERATOR_OLD}/32`, ...STATIC].sort());
    expect(recorded()).toEqual([`${BLOCKED4}/32`, `${OPERATOR_OLD}/32`]);
    expect(await reaches(IDS_SOURCE)).toBe(true);
    expect(await reaches(BLOCKED4)).toBe(false);
    expect(await reaches(OPERATOR_OLD)).toBe(false);
  });

  test("with no IDS block left, the operator's oldest makes room; the config's prefixes never do", async () => {
    expect((await block(`${ALLOWED4}/32`)).evicted).toEqual([`${OPERATOR_OLD}/32`]);
    expect(listed()).toEqual([`${ALLOWED4}/32`, `${BLOCKED4}/32`, ...STATIC].sort());
    expect(await reaches(OPERATOR_OLD)).toBe(true);
    expect(await reaches(ALLOWED4)).toBe(false);
    // A re-apply finds the filter as it should be: nothing to write, nothing degraded.
    const again = await fos1.apply(config(STATIC, 4));
    expect(again.ops).toEqual([]);
  });

  test("a config that grows into the dynamic blocks' room: the newest dynamic block stays, the older one is lifted", async () => {
    const r = await fos1.apply(config([...STATIC, "100.64.0.0/10"], 4));
    expect(r.converged).toBe(true);
    expect(listed()).toEqual([`${ALLOWED4}/32`, "100.64.0.0/10", ...STATIC].sort());
    expect(await reaches(BLOCKED4)).toBe(true);
    expect(await reaches(ALLOWED4)).toBe(false);
  });
});
