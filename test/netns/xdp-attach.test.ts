// xdp_filter attached to a real interface: a veth pair between a "src" namespace (two IPv4 and
// two IPv6 source addresses) and a "far" namespace whose veth runs the program. Loading,
// attaching and detaching happen in child processes (xdp-child.ts) that exit right away, so
// the tests show what outlives them: the attached program keeps dropping, the pinned maps keep
// their entries, a later process finds both. Pings are the traffic; the program's own counters
// (read from the pins by yet another process) confirm XDP did the dropping. Root needed; run
// after `make build`. Addresses: 192.0.2.0/24 and 2001:db8:7::/64, only inside the namespaces.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { removePinRoot, testPinRoot } from "../helpers/bpffs";
import { destroyAll, ipBatch, nsRun, run } from "./netns";
import { ALLOWED4, ALLOWED6, BLOCKED4, BLOCKED6, FAR4, FAR6, createXdpPair, pingOnceFrom, reachesFrom } from "./xdp-pair";

const repo = resolve(import.meta.dir, "../..");
const OBJECT = join(repo, "dist/bpf/xdp_filter.o");
const CHILD = join(import.meta.dir, "xdp-child.ts");
const FIXTURE = join(repo, "test/bats/fixtures/bpf/xdp_count.c");
const tmp = mkdtempSync(join(tmpdir(), "fos1-xdp-attach-"));

let src: string;
let far: string;
let pinRoot: string;

beforeAll(async () => {
  pinRoot = testPinRoot("attach");
  ({ src, far } = await createXdpPair());
  await ipBatch(far, [`address add ${FAR4}/24 dev f0`, `address add ${FAR6}/64 dev f0 nodad`, "link set lo up", "link set f0 up"]);
});

afterAll(async () => {
  await destroyAll(); // the veths go with the namespaces, and their XDP programs with them
  if (pinRoot) removePinRoot(pinRoot);
  rmSync(tmp, { recursive: true, force: true });
});

interface ChildResult {
  exitCode: number;
  out: Record<string, unknown>;
}

/** Runs xdp-child.ts, in the network namespace when given; its one line of JSON. */
async function child(ns: string | null, ...args: string[]): Promise<ChildResult> {
  const argv = [process.execPath, CHILD, ...args];
  const r = await run(ns ? ["nsenter", `--net=/run/netns/${ns}`, ...argv] : argv);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  let out: Record<string, unknown>;
  try {
    out = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`xdp-child ${args.join(" ")} printed no JSON (exit ${r.exitCode}):\n${r.stdout}${r.stderr}`);
  }
  return { exitCode: r.exitCode, out };
}

async function childOk(ns: string | null, ...args: string[]): Promise<Record<string, unknown>> {
  const r = await child(ns, ...args);
  if (r.exitCode !== 0) throw new Error(`xdp-child ${args.join(" ")} failed: ${String(r.out.error)}`);
  return r.out;
}

const pingOnce = (from: string, to: string) => pingOnceFrom(src, from, to);
const reaches = (from: string, to: string) => reachesFrom(src, from, to);

async function dropCounts(): Promise<{ v4: number; v6: number; blocked: Record<string, number> }> {
  const out = (await childOk(null, "read", pinRoot)) as {
    blocked: { prefix: string; packets: string }[];
    counters: Record<string, { packets: string }>;
  };
  return {
    v4: Number(out.counters.XDPF_DROP_BLOCK_V4!.packets),
    v6: Number(out.counters.XDPF_DROP_BLOCK_V6!.packets),
    blocked: Object.fromEntries(out.blocked.map((b) => [b.prefix, Number(b.packets)])),
  };
}

type Attached = { mode: string; progId: number; progName: string }[];
const query = async (ifname: string) => ((await childOk(far, "query", ifname)) as { attached: Attached }).attached;

describe("xdp_filter on a veth between namespaces", () => {
  let firstProgId = 0;

  test("before anything is attached, every source reaches the far side", async () => {
    expect(await query("f0")).toEqual([]);
    for (const [from, to] of [[BLOCKED4, FAR4], [ALLOWED4, FAR4], [BLOCKED6, FAR6], [ALLOWED6, FAR6]] as const)
      expect({ from, reaches: await reaches(from, to) }).toEqual({ from, reaches: true });
  });

  test("attached natively with a blocked prefix per family: those sources are cut off, the others still reach, after the loader has exited", async () => {
    const out = (await childOk(far, "load-attach", OBJECT, pinRoot, "f0", "auto", `${BLOCKED4}/32`, `${BLOCKED6}/128`)) as {
      attach: { ifname: string; mode: string; replaced: boolean };
    };
    console.log(`xdp_filter attached to veth f0 in ${out.attach.mode} mode`);
    expect(out.attach).toEqual({ ifname: "f0", mode: "native", replaced: false });
    const attached = await query("f0");
    expect(attached).toMatchObject([{ mode: "native", progName: "xdp_filter" }]);
    firstProgId = attached[0]!.progId;

    // the loading process is gone; the interface keeps the program and the program its maps
    expect(await reaches(ALLOWED4, FAR4)).toBe(true);
    expect(await reaches(ALLOWED6, FAR6)).toBe(true);
    const before = await dropCounts();
    expect(await pingOnce(BLOCKED4, FAR4)).toBe(false);
    expect(await pingOnce(BLOCKED6, FAR6)).toBe(false);
    const after = await dropCounts();
    expect(after.v4).toBeGreaterThan(before.v4);
    expect(after.v6).toBeGreaterThan(before.v6);
  });

  test("another process opens the pinned maps and sees the entries with their hits", async () => {
    const { blocked } = await dropCounts();
    expect(Object.keys(blocked).sort()).toEqual([`${BLOCKED4}/32`, `${BLOCKED6}/128`]);
    expect(blocked[`${BLOCKED4}/32`]).toBeGreaterThan(0);
    expect(blocked[`${BLOCKED6}/128`]).toBeGreaterThan(0);
  });

  test("a new agent reuses the pinned maps and replaces its own program in place", async () => {
    const out = (await childOk(far, "load-attach", OBJECT, pinRoot, "f0", "auto")) as { attach: unknown; blocked: { prefix: string }[] };
    expect(out.attach).toEqual({ ifname: "f0", mode: "native", replaced: true });
    expect(out.blocked.map((b) => b.prefix).sort()).toEqual([`${BLOCKED4}/32`, `${BLOCKED6}/128`]);
    const attached = await query("f0");
    expect(attached).toMatchObject([{ mode: "native", progName: "xdp_filter" }]);
    expect(attached[0]!.progId).not.toBe(firstProgId);
    expect(await pingOnce(BLOCKED4, FAR4)).toBe(false);
    expect(await reaches(ALLOWED4, FAR4)).toBe(true);
  });

  test("changing the pinned blocklist from another process takes effect on the running program", async () => {
    const { XdpFilterMaps } = await import("../../src/bpf/xdp-filter");
    const maps = XdpFilterMaps.openPinned(pinRoot);
    try {
      expect(maps.unblock(`${BLOCKED4}/32`)).toBe(true);
      expect(await reaches(BLOCKED4, FAR4)).toBe(true);
      maps.block(`${BLOCKED4}/32`);
      expect(await pingOnce(BLOCKED4, FAR4)).toBe(false);
    } finally {
      maps.close();
    }
  });

  test("asking for generic mode while native runs is refused with the reason", async () => {
    const r = await child(far, "load-attach", OBJECT, pinRoot, "f0", "generic");
    expect(r.exitCode).toBe(1);
    expect(String(r.out.error)).toContain("f0 runs xdp_filter in native mode; detach it first");
  });

  test("detaching restores traffic; detaching again finds nothing", async () => {
    expect(await childOk(far, "detach", "f0", "xdp_filter")).toEqual({ detached: true });
    expect(await query("f0")).toEqual([]);
    expect(await reaches(BLOCKED4, FAR4)).toBe(true);
    expect(await reaches(BLOCKED6, FAR6)).toBe(true);
    expect(await childOk(far, "detach", "f0", "xdp_filter")).toEqual({ detached: false });
  });

  test("generic (skb) mode when asked for: the same filtering", async () => {
    const out = (await childOk(far, "load-attach", OBJECT, pinRoot, "f0", "generic")) as { attach: unknown };
    expect(out.attach).toEqual({ ifname: "f0", mode: "generic", replaced: false });
    expect(await query("f0")).toMatchObject([{ mode: "generic", progName: "xdp_filter" }]);
    expect(await pingOnce(BLOCKED4, FAR4)).toBe(false);
    expect(await reaches(ALLOWED4, FAR4)).toBe(true);
    expect(await childOk(far, "detach", "f0", "xdp_filter")).toEqual({ detached: true });
    expect(await reaches(BLOCKED4, FAR4)).toBe(true);
  });

  test("auto falls back to generic where the driver has no native XDP (loopback), and says why", async () => {
    const out = (await childOk(far, "load-attach", OBJECT, pinRoot, "lo", "auto")) as { attach: { mode: string; nativeRefused?: string } };
    expect(out.attach.mode).toBe("generic");
    expect(out.attach.nativeRefused).toMatch(/attach xdp_filter to lo in native mode: Operation not supported/);
    expect(await query("lo")).toMatchObject([{ mode: "generic", progName: "xdp_filter" }]);
    expect(await childOk(far, "detach", "lo", "xdp_filter")).toEqual({ detached: true });
  });

  test("someone else's XDP program is neither replaced nor detached", async () => {
    const obj = join(tmp, "xdp_count.o");
    const cc = Bun.spawnSync(["clang", "-O2", "-g", "-target", "bpf", `-I/usr/include/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`, "-c", FIXTURE, "-o", obj], { stderr: "pipe" });
    expect(cc.exitCode).toBe(0);
    expect(await childOk(far, "attach-object", obj, "xdp_count", "f0", "native")).toMatchObject({ attach: { mode: "native" } });
    try {
      const attach = await child(far, "load-attach", OBJECT, pinRoot, "f0", "auto");
      expect(attach.exitCode).toBe(1);
      expect(String(attach.out.error)).toMatch(/f0 already runs XDP program xdp_count \(id \d+, native\); fos1 does not replace a program it did not attach/);
      const detach = await child(far, "detach", "f0", "xdp_filter");
      expect(detach.exitCode).toBe(1);
      expect(String(detach.out.error)).toMatch(/f0 runs XDP program xdp_count \(id \d+\), not xdp_filter/);
      expect(await query("f0")).toMatchObject([{ progName: "xdp_count" }]);
    } finally {
      await childOk(far, "detach", "f0", "xdp_count");
    }
    expect(await query("f0")).toEqual([]);
  });

  test("an interface that does not exist is named in the error", async () => {
    const r = await child(far, "load-attach", OBJECT, pinRoot, "nosuch0", "auto");
    expect(r.exitCode).toBe(1);
    expect(String(r.out.error)).toBe("find interface nosuch0: no such interface in this network namespace");
  });
});
