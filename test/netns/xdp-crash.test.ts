// Crash safety of the XDP filter's blocklist on the real kernel (issue #17): "a writer killed at
// any point leaves a state that the next observe detects and the next apply repairs; no listed
// prefix passes once the repair has run". The blocklist is a kernel hash map and an index beside
// it leads the program to the right prefix lengths (bpf/xdp_filter.h); a writer killed between
// writing the list and the index leaves listed prefixes whose packets pass until the index is
// repaired (observe's `unindexed`, plan's "XDP index (…)" op, XdpFilterMaps.reindex()).
//
// A "far" namespace holds f0 (a veth whose peer stays down: no packet reaches the attached
// program but the test's own) and fos1's pins under a test root. Two overlapping configs of
// ~23 000 prefixes each, IPv4 and IPv6 of every length but /0 (short ones, IPv4 /2–/16 and IPv6
// /1–/31, nested in each other and with long ones inside them, so covers change when a config or
// a batch adds or removes them), are switched so that each apply both adds and removes ~4 000.
// Each round starts a real writer and SIGKILLs its whole process group at a seeded random moment:
//   - `fos1 apply` of the other config;
//   - a child (xdp-crash-child.ts) writing batches the way the IDS does (blockDynamicEntries,
//     three batches of 256 with short prefixes among them), or unblocking a batch (the IDS's
//     evictions, and config prefixes -- short ones among them -- taken off the maps at once);
//   - `fos1 xdp block` of a short prefix, or `fos1 xdp unblock` of one of the config's.
// Each uninterrupted kind is timed first. Odd rounds kill anywhere from the spawn to a little
// past that time; even rounds and the CLI's aim at the write window. The test polls every
// millisecond /proc/locks for the writer's flock on the filter's pin directory (XdpFilterMaps
// takes it around every change of the maps) and the lists' kernel memory (fdinfo memlock, which
// counts their entries), and kills either while the writer holds the lock, once it has held it
// for a random part of the time the uninterrupted run did, or a random time after a list first
// changed (before the lock's release in the uninterrupted run): between a list and its index.
// When a kill leaves an index that misses listed prefixes, the apply that repairs it is killed
// too, inside its own writes, before the apply that must finish the repair.
//
// After each kill, before any repair: the prefixes listed both before the write and in its
// target are still listed and their first and last addresses still dropped (the write order of
// changeFamily keeps them safe), nothing foreign is listed, and indexProblems() is read (it must
// be [] when the writer finished: only kills leave gaps). Then `fos1 apply` runs to completion:
// it must reindex exactly when indexProblems() found gaps (observe saw them), converge, and
// leave the index whole (indexProblems() is []) and the list exactly the config's plus the live
// dynamic blocks. Then BPF_PROG_TEST_RUN: for every listed
// prefix, sources at its first and last address are dropped, and sources one before the first
// and one after the last get the verdict plain containment over the listed set says (a
// reference of merged intervals, independent of the index); the counters by reason rise by
// exactly the drops per family (XDPF_DROP_BLOCK_V4/V6) and the passes. A final test counts the
// kills that hit a running writer, hit it inside its write window, and left an index that
// missed listed prefixes, so the rounds cannot pass by killing only after completion.
//
// The seed (kill times, configs, batches) is printed; FOS1_XDP_CRASH_SEED=N draws the same
// again, FOS1_XDP_CRASH_ROUNDS=N runs more rounds (at least 20). Root; run after make build
// (dist/bpf; fos1 is FOS1_BIN when set, as under hack/test-all, else the source).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { formatIp, formatPrefix, parsePrefix, type Family } from "../../src/api/ip";
import { REASONS, type ReasonName } from "../../src/bpf/layout";
import type { BpfProgram } from "../../src/bpf/object";
import { closeProgram, openPinnedProgram } from "../../src/bpf/pins";
import { testRun, XdpAction } from "../../src/bpf/test-run";
import { XdpFilterMaps } from "../../src/bpf/xdp-filter";
import { isExpired, readDynamic } from "../../src/engine/xdp/dynamic";
import { removePinRoot, testPinRoot } from "../helpers/bpffs";
import { logMessages } from "../helpers/fos1";
import { ethernet, ipv4, ipv6, tcp } from "../helpers/packets";
import { seededRandom } from "../helpers/seeded-random";
import { addVeth, createNs, destroyAll, fos1Argv, ipBatch, killGroup } from "./netns";
import type { CrashJob } from "./xdp-crash-child";

const SEED = Number(process.env.FOS1_XDP_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = Math.max(20, Number(process.env.FOS1_XDP_CRASH_ROUNDS ?? 20));
console.log(`xdp crash test: seed ${SEED}, ${ROUNDS} rounds (repeat with FOS1_XDP_CRASH_SEED=${SEED})`);

/** Kill times. */
const random = seededRandom(SEED);
/** Configs, batches and the prefixes the CLI rounds pick: a stream of their own. */
const gen = seededRandom((SEED ^ 0x2545f491) >>> 0);

const repo = resolve(import.meta.dir, "../..");
const CHILD = join(import.meta.dir, "xdp-crash-child.ts");
const FILTER = "edge";
const tmp = mkdtempSync(join(tmpdir(), "fos1-xdp-crash-"));
const stateDir = join(tmp, "state");

// ---------------------------------------------------------------------------------------------
// Prefixes

interface Net {
  text: string;
  family: Family;
  len: number;
  first: bigint;
  last: bigint;
}

const width = (f: Family) => (f === 4 ? 32 : 128);
const nets = new Map<string, Net>();

/** A listed prefix's numbers (parsed once). */
function net(text: string): Net {
  let n = nets.get(text);
  if (!n) {
    const p = parsePrefix(text);
    if (!p) throw new Error(`not a prefix: ${text}`);
    const host = (1n << BigInt(width(p.family) - p.len)) - 1n;
    n = { text, family: p.family, len: p.len, first: p.addr & ~host, last: (p.addr & ~host) | host };
    nets.set(text, n);
  }
  return n;
}

function pick<T>(list: T[]): T {
  if (!list.length) throw new Error("nothing to pick from");
  return list[Math.floor(gen() * list.length)]!;
}
const between = (lo: number, hi: number) => lo + Math.floor(gen() * (hi - lo + 1));

function randomAddr(f: Family): bigint {
  let a = 0n;
  for (let i = 0; i < width(f) / 32; i++) a = (a << 32n) | BigInt(Math.floor(gen() * 2 ** 32));
  return a;
}

/** The canonical text of the /len network holding `addr`. */
function prefixAt(f: Family, addr: bigint, len: number): string {
  const host = (1n << BigInt(width(f) - len)) - 1n;
  return formatPrefix({ family: f, addr: addr & ~host, len });
}

/** A random address inside a prefix. */
const inside = (outer: Net): bigint => outer.first + (randomAddr(outer.family) % (outer.last - outer.first + 1n));

/** Every prefix generated so far (configs, batches): each new one is new. */
const known = new Set<string>();

/** A new prefix of length len: inside one of `within` when given (and not all taken), else anywhere. */
function fresh(f: Family, len: number, within: Net[] = []): string {
  const candidates = within.filter((w) => w.len < len);
  for (let tries = 0; ; tries++) {
    const p = prefixAt(f, candidates.length && tries < 8 ? inside(pick(candidates)) : randomAddr(f), len);
    if (!known.has(p)) {
      known.add(p);
      return p;
    }
  }
}

const LONG4 = 18_000;
const LONG6 = 9_000;

interface Configs {
  A: string[];
  B: string[];
  shorts: Net[];
}

/**
 * The two configs' blocklists. Short prefixes (IPv4 /2–/16, IPv6 /1–/31, half of them nested in
 * a shorter one) go to both configs (half of them; never a /1 or /2, which would leave little
 * space unblocked), or to one only; long ones (IPv4 /17–/32, IPv6 /32–/128) lie inside a short
 * one (40 %), in one of 64 /16s (IPv4) or /32s (IPv6) they crowd (30 %), or anywhere, and are in
 * both configs (70 %) or in one only. Each list is shuffled, so that one change of a few prefixes
 * (a re-apply after some kills) also holds long prefixes before the short ones covering their /16.
 */
function makeConfigs(): Configs {
  const A: string[] = [];
  const B: string[] = [];
  /** To both configs with probability `both`, else to one of them. */
  const assign = (p: string, both: number) => {
    const u = gen();
    if (u < both || u < both + (1 - both) / 2) A.push(p);
    if (u < both || u >= both + (1 - both) / 2) B.push(p);
  };
  const shorts: Net[] = [];
  const shortLens = (f: Family) =>
    f === 4 ? [2, 3, 4, 5, 6, 7, ...[8, 9, 10, 11, 12, 13, 14, 15, 16].flatMap((l) => [l, l, l])] : [...Array.from({ length: 31 }, (_, i) => i + 1), ...Array.from({ length: 12 }, (_, i) => 8 + 2 * i)];
  for (const f of [4, 6] as const)
    for (const len of shortLens(f).sort((a, b) => a - b)) {
      const mine = shorts.filter((s) => s.family === f);
      const p = fresh(f, len, gen() < 0.5 ? mine : []);
      shorts.push(net(p));
      assign(p, len <= 2 ? 0 : 0.5);
    }
  for (const f of [4, 6] as const) {
    const anchors = Array.from({ length: 64 }, () => net(prefixAt(f, randomAddr(f), f === 4 ? 16 : 32)));
    const mine = shorts.filter((s) => s.family === f);
    for (let i = 0; i < (f === 4 ? LONG4 : LONG6); i++) {
      const len = f === 4 ? between(17, 32) : between(32, 128);
      const u = gen();
      assign(fresh(f, len, u < 0.4 ? mine : u < 0.7 ? anchors : []), 0.7);
    }
  }
  return { A: shuffled(A), B: shuffled(B), shorts };
}

/** Fisher–Yates with the seeded generator. */
function shuffled<T>(items: T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(gen() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A batch like the IDS's: mostly hosts (/32, /128) and /64s, some other lengths, two short prefixes. */
function idsBatch(size: number, shorts: Net[]): string[] {
  const out = [fresh(4, between(9, 16)), fresh(6, between(6, 31))];
  while (out.length < size) {
    const u = gen();
    const where = gen() < 0.5 ? shorts : [];
    if (u < 0.35) out.push(fresh(4, 32, where.filter((s) => s.family === 4)));
    else if (u < 0.5) out.push(fresh(4, between(17, 31), where.filter((s) => s.family === 4)));
    else if (u < 0.7) out.push(fresh(6, 128, where.filter((s) => s.family === 6)));
    else if (u < 0.85) out.push(fresh(6, 64, where.filter((s) => s.family === 6)));
    else out.push(fresh(6, between(33, 127), where.filter((s) => s.family === 6)));
  }
  return out;
}

const yaml = (blocklist: string[]) => `apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: f0}
spec: {device: f0}
---
apiVersion: security.fos1.io/v1alpha1
kind: XDPFilter
metadata: {name: ${FILTER}}
spec:
  interfaces: [f0]
  blocklist:
${blocklist.map((p) => `    - "${p}"`).join("\n")}
`;

// ---------------------------------------------------------------------------------------------
// Writers, and killing them

let ns: string;
let pinRoot: string;
let filterDir: string;
/** "maj:min:inode" of the filter's pin directory, as /proc/locks names what is locked. */
let lockId: string;

const fos1Env = () => ({ FOS1_BPF_PIN_ROOT: pinRoot, FOS1_BPF_DIR: join(repo, "dist/bpf") });

/** Pids holding an flock on the filter's pin directory (the writers' lock). */
function lockHolders(): number[] {
  const out: number[] = [];
  for (const line of readFileSync("/proc/locks", "utf8").split("\n")) {
    // "1: FLOCK  ADVISORY  WRITE 4321 00:1c:5678 0 EOF" (a waiter's line has "->" after the number)
    const m = /^\d+:\s+FLOCK\s+\S+\s+\S+\s+(\d+)\s+(\S+)\s/.exec(line);
    if (m && m[2] === lockId) out.push(Number(m[1]));
  }
  return out;
}

interface Ran {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** ms from the spawn to the exit */
  took: number;
  /** ms from the spawn to when the writer was first / last seen holding the filter's lock */
  lockFirst: number | null;
  lockLast: number | null;
  /** ms it was seen holding the lock, in all (the lock is taken once per change of the maps) */
  lockHeld: number;
  /** ms from the spawn to when a list was first seen changing, and to when the lock was next seen released */
  listFirst: number | null;
  listUnlocked: number | null;
  /** The kill: ms from the spawn, whether the writer held the lock right then, and whether a list had changed. */
  kill: { at: number; inLock: boolean; listChanged: boolean } | null;
}

/**
 * When to SIGKILL: `after` ms from the spawn; once the writer has been seen holding the lock for
 * `after` ms in all (then always while it holds it: inside a change of the maps); or `after` ms
 * from when a list was first seen changing (the list written, its index perhaps not yet).
 */
type KillAt = { from: "spawn" | "lock" | "list"; after: number };

/** The lists' kernel memory (fdinfo memlock, which counts their entries): a cheap sign that a list changes. */
let listMaps: XdpFilterMaps | undefined; // once the first apply has loaded the filter
const listMemory = () => (listMaps ? listMaps.map("xdpf_block_v4").memory() + listMaps.map("xdpf_block_v6").memory() : 0);

/**
 * Runs argv as the leader of a new process group (setsid execs in place, so the pid is the
 * writer's); with killAt, SIGKILLs the group then. Polls /proc/locks and the lists' memory
 * every millisecond.
 */
async function runWriter(argv: string[], killAt?: KillAt): Promise<Ran> {
  const t0 = performance.now();
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...fos1Env() } });
  // Read the output while it runs: a full pipe would stall the writer and fake a kill mid-write.
  const out = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  let done = false;
  const exited = proc.exited.then(() => void (done = true));
  let lockFirst: number | null = null;
  let lockLast: number | null = null;
  let lockHeld = 0;
  let heldBefore = false;
  let polled = 0;
  const memory = listMemory();
  let listFirst: number | null = null;
  let listUnlocked: number | null = null;
  let kill: Ran["kill"] = null;
  while (!done) {
    const now = performance.now() - t0;
    const held = lockHolders().includes(proc.pid);
    if (held) {
      if (heldBefore) lockHeld += now - polled;
      lockLast = now;
      lockFirst ??= now;
    }
    heldBefore = held;
    polled = now;
    if (listFirst === null && listMemory() !== memory) listFirst = now;
    if (listFirst !== null && listUnlocked === null && !held) listUnlocked = now;
    const due =
      killAt &&
      !kill &&
      (killAt.from === "spawn" ? now >= killAt.after : killAt.from === "lock" ? held && lockHeld >= killAt.after : listFirst !== null && now >= listFirst + killAt.after);
    if (due) {
      const inLock = lockHolders().includes(proc.pid);
      if (killGroup(proc.pid)) kill = { at: performance.now() - t0, inLock, listChanged: listFirst !== null || listMemory() !== memory };
    }
    await Bun.sleep(1);
  }
  await exited;
  const [stdout, stderr] = await out;
  return { exitCode: proc.exitCode, signal: proc.signalCode === null ? null : String(proc.signalCode), stdout, stderr, took: performance.now() - t0, lockFirst, lockLast, lockHeld, listFirst, listUnlocked, kill };
}

const fos1Writer = (args: string[]) => ["nsenter", `--net=/run/netns/${ns}`, "setsid", ...fos1Argv(args)];

function okOrThrow(r: Ran, what: string): void {
  if (r.exitCode !== 0) throw new Error(`${what} exited ${r.exitCode ?? r.signal}: ${logMessages({ exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr }) || r.stderr.slice(0, 2000)}\n${r.stdout.slice(0, 2000)}`);
}

interface ApplyOut {
  converged: boolean;
  ops: { phase: string; subject: string; detail?: string }[];
  failed: unknown[];
  unconverged: unknown[];
}

type Which = "A" | "B";
let configs: Configs;
const files = { A: join(tmp, "a.yaml"), B: join(tmp, "b.yaml") };
/** The config in force (last applied to completion). */
let current: Which;

async function applyToCompletion(which: Which): Promise<ApplyOut> {
  const r = await runWriter(fos1Writer(["apply", "-f", files[which], "--state-dir", stateDir, "-o", "json"]));
  okOrThrow(r, `fos1 apply of config ${which}`);
  const out = JSON.parse(r.stdout) as ApplyOut;
  expect({ converged: out.converged, failed: out.failed, unconverged: out.unconverged }).toEqual({ converged: true, failed: [], unconverged: [] });
  current = which;
  return out;
}

const liveDynamic = () => readDynamic(stateDir).filter((e) => !isExpired(e, Date.now()));

// ---------------------------------------------------------------------------------------------
// The rounds' writers

type Kind = "apply" | "ids-block" | "unblock" | "cli-block" | "cli-unblock";
const KINDS: Kind[] = ["apply", "ids-block", "unblock", "cli-block", "cli-unblock"];
const CYCLE: Kind[] = ["apply", "ids-block", "apply", "unblock", "cli-block", "apply", "ids-block", "apply", "unblock", "cli-unblock"];

interface Writer {
  argv: string[];
  what: string;
  /** What the list holds when the write completes. */
  target: Set<string>;
  /** The config to apply afterwards (the one the writer applies, or the one in force). */
  config: Which;
}

let jobs = 0;
let cliFamily = 0;
const other = (w: Which): Which => (w === "A" ? "B" : "A");
/** The config's short prefixes of a family that are listed now. */
const shortOf = (which: Which, f: Family, listed: Set<string>) => configs[which].filter((p) => net(p).family === f && net(p).len <= (f === 4 ? 16 : 31) && listed.has(p));

async function childWriter(job: CrashJob): Promise<string[]> {
  const file = join(tmp, `job-${++jobs}.json`);
  await Bun.write(file, JSON.stringify(job));
  return ["setsid", process.execPath, CHILD, file];
}

/** The next writer of a kind, from the listed set it starts from. */
async function writer(kind: Kind, start: Set<string>): Promise<Writer> {
  switch (kind) {
    case "apply": {
      const to = other(current);
      const target = new Set([...configs[to], ...liveDynamic().map((e) => e.prefix)]);
      return { argv: fos1Writer(["apply", "-f", files[to], "--state-dir", stateDir, "-o", "json"]), what: `fos1 apply ${current} → ${to}`, target, config: to };
    }
    case "ids-block": {
      const block = [0, 1, 2].map(() => idsBatch(256, configs.shorts));
      return { argv: await childWriter({ stateDir, block }), what: "IDS: 3 batches of 256 blocks", target: new Set([...start, ...block.flat()]), config: current };
    }
    case "unblock": {
      // Config prefixes (three short ones among them) at once, then the IDS evicting 60 % of its blocks.
      const listedStatics = configs[current].filter((p) => start.has(p));
      const statics = new Set([...[4, 6, 4].map((f) => pick(shortOf(current, f as Family, start))), ...Array.from({ length: 200 }, () => pick(listedStatics))]);
      const ids = liveDynamic().filter((e) => e.origin === "ids" && gen() < 0.6).map((e) => e.prefix);
      const evict: string[][] = [];
      for (let i = 0; i < ids.length; i += 256) evict.push(ids.slice(i, i + 256));
      const gone = new Set([...statics, ...ids]);
      return {
        argv: await childWriter({ stateDir, unblock: [...statics], evict }),
        what: `unblock ${statics.size} config prefixes, evict ${ids.length} IDS blocks`,
        target: new Set([...start].filter((p) => !gone.has(p))),
        config: current,
      };
    }
    case "cli-block": {
      const f: Family = cliFamily++ % 2 === 0 ? 4 : 6;
      const p = fresh(f, f === 4 ? between(8, 16) : between(4, 16), gen() < 0.5 ? configs.shorts.filter((s) => s.family === f) : []);
      return { argv: fos1Writer(["xdp", "block", p, "--ttl", "1h", "--state-dir", stateDir, "-o", "json"]), what: `fos1 xdp block ${p}`, target: new Set([...start, p]), config: current };
    }
    case "cli-unblock": {
      const f: Family = cliFamily++ % 2 === 0 ? 4 : 6;
      const p = pick(shortOf(current, f, start).filter((x) => net(x).len <= 16));
      return { argv: fos1Writer(["xdp", "unblock", p, "--state-dir", stateDir, "-o", "json"]), what: `fos1 xdp unblock ${p}`, target: new Set([...start].filter((x) => x !== p)), config: current };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Verdicts through BPF_PROG_TEST_RUN, and the reference they are held to

/** Plain containment over a set of prefixes: their ranges merged, searched by bisection. */
class Containment {
  private starts: bigint[] = [];
  private ends: bigint[] = [];

  constructor(list: Net[]) {
    const sorted = [...list].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    for (const n of sorted) {
      const k = this.ends.length - 1;
      if (k >= 0 && n.first <= this.ends[k]! + 1n) {
        if (n.last > this.ends[k]!) this.ends[k] = n.last;
      } else {
        this.starts.push(n.first);
        this.ends.push(n.last);
      }
    }
  }

  has(x: bigint): boolean {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= x) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && x <= this.ends[hi]!;
  }
}

/** Frames from a source address, written into one template per family (a TCP SYN to port 80). */
class Prober {
  private readonly f4 = ethernet(ipv4("192.0.2.1", "192.0.2.2", tcp(40000, 80))).bytes;
  private readonly f6 = ethernet(ipv6("2001:db8::1", "2001:db8::2", tcp(40000, 80))).bytes;
  private readonly v4 = new DataView(this.f4.buffer, this.f4.byteOffset, this.f4.byteLength);
  private readonly v6 = new DataView(this.f6.buffer, this.f6.byteOffset, this.f6.byteLength);

  constructor(private readonly prog: BpfProgram) {}

  /** The program's action for a packet from `src`. */
  run(f: Family, src: bigint): number {
    if (f === 4) {
      this.v4.setUint32(26, Number(src));
      // the IPv4 header checksum again (bytes 14..33, the sum at 24)
      this.v4.setUint16(24, 0);
      let sum = 0;
      for (let i = 14; i < 34; i += 2) sum += this.v4.getUint16(i);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      this.v4.setUint16(24, ~sum & 0xffff);
      return testRun(this.prog, this.f4).retval;
    }
    this.v6.setBigUint64(22, src >> 64n);
    this.v6.setBigUint64(30, src & 0xffffffffffffffffn);
    return testRun(this.prog, this.f6).retval;
  }
}

interface Probed {
  probes: number;
  /** neighbours outside every listed prefix (passed) */
  outside: number;
  /** the first few wrong verdicts, and how many there were */
  failures: string[];
}

/**
 * Sources at the first and last address of each prefix must be dropped; with `neighbours` (the
 * prefixes being the whole list), those one before the first and one after the last must get
 * containment's verdict over the list. The counters by reason must rise by exactly the drops of
 * each family and the passes seen.
 */
function probeEdges(prefixes: string[], opts: { neighbours: boolean }): Probed {
  const maps = XdpFilterMaps.openPinned(filterDir);
  const prog = openPinnedProgram(join(filterDir, "xdp_filter"), "xdp_filter");
  try {
    const prober = new Prober(prog);
    const ref = { 4: new Containment([]), 6: new Containment([]) } as Record<Family, Containment>;
    if (opts.neighbours) {
      const all = prefixes.map(net);
      for (const f of [4, 6] as const) ref[f] = new Containment(all.filter((n) => n.family === f));
    }
    const before = maps.counters();
    const seen = { drop4: 0, drop6: 0, pass: 0 };
    const failures: string[] = [];
    let wrong = 0;
    let probes = 0;
    let outside = 0;
    const probe = (n: Net, edge: string, src: bigint, dropped: boolean) => {
      const action = prober.run(n.family, src);
      probes++;
      if (!dropped) outside++;
      if (action === XdpAction.DROP) seen[n.family === 4 ? "drop4" : "drop6"]++;
      if (action === XdpAction.PASS) seen.pass++;
      if (action === (dropped ? XdpAction.DROP : XdpAction.PASS)) return;
      if (++wrong <= 20) failures.push(`${n.text}: ${edge} ${formatIp(n.family, src)} got ${action === XdpAction.DROP ? "DROP" : action === XdpAction.PASS ? "PASS" : action}, expected ${dropped ? "DROP" : "PASS"}`);
    };
    const top = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };
    for (const text of prefixes) {
      const n = net(text);
      probe(n, "first", n.first, true);
      probe(n, "last", n.last, true);
      if (!opts.neighbours) continue;
      if (n.first > 0n) probe(n, "before", n.first - 1n, ref[n.family].has(n.first - 1n));
      if (n.last < top[n.family]) probe(n, "after", n.last + 1n, ref[n.family].has(n.last + 1n));
    }
    const after = maps.counters();
    const rose = (r: ReasonName) => Number(after[r].packets - before[r].packets);
    const counted = { drop4: rose("XDPF_DROP_BLOCK_V4"), drop6: rose("XDPF_DROP_BLOCK_V6"), pass: rose("XDPF_PASS") };
    const others = REASONS.filter((r) => !["XDPF_DROP_BLOCK_V4", "XDPF_DROP_BLOCK_V6", "XDPF_PASS"].includes(r) && rose(r) !== 0);
    if (wrong > 20) failures.push(`… ${wrong} wrong verdicts in all`);
    if (JSON.stringify(counted) !== JSON.stringify(seen) || others.length)
      failures.push(`counters rose by ${JSON.stringify(counted)}${others.length ? ` and ${others.join(", ")}` : ""}; the probes saw ${JSON.stringify(seen)}`);
    return { probes, outside, failures };
  } finally {
    closeProgram(prog);
    maps.close();
  }
}

function readMaps(): { listed: string[]; problems: string[] } {
  const m = XdpFilterMaps.openPinned(filterDir);
  try {
    return { listed: m.blocked().map((b) => b.prefix), problems: m.indexProblems() };
  } finally {
    m.close();
  }
}

/** The list after a completed apply: the index whole, the config and live dynamic blocks exactly, every edge right. */
let verified = new Set<string>();
function verifyRepaired(): string {
  const { listed, problems } = readMaps();
  expect(problems).toEqual([]);
  const want = new Set([...configs[current], ...liveDynamic().map((e) => e.prefix)]);
  const have = new Set(listed);
  expect({ missing: [...want].filter((p) => !have.has(p)).slice(0, 10), extra: listed.filter((p) => !want.has(p)).slice(0, 10) }).toEqual({ missing: [], extra: [] });
  const r = probeEdges(listed, { neighbours: true });
  expect(r.failures).toEqual([]);
  expect(r.outside).toBeGreaterThan(listed.length / 4); // the neighbours test both verdicts
  verified = have;
  return `${verified.size} listed, ${r.probes} probes right (${r.outside} neighbours outside the list)`;
}

/**
 * The maps right after a kill, before any repair: the prefixes listed before the write that
 * its target keeps are listed still, and their first and last addresses still dropped (the
 * write order keeps them safe throughout); nothing is listed that is in neither. Returns what
 * indexProblems() says and how far the list got.
 */
function checkKilled(start: Set<string>, target: Set<string>): { problems: string[]; list: Outcome["list"] } {
  const { listed, problems } = readMaps();
  const have = new Set(listed);
  const stayers = [...start].filter((p) => target.has(p));
  expect(stayers.filter((p) => !have.has(p)).slice(0, 10)).toEqual([]);
  expect(listed.filter((p) => !start.has(p) && !target.has(p)).slice(0, 10)).toEqual([]);
  expect(probeEdges(stayers, { neighbours: false }).failures).toEqual([]);
  const same = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((p) => b.has(p));
  return { problems, list: same(have, start) ? "untouched" : same(have, target) ? "complete" : "partial" };
}

// ---------------------------------------------------------------------------------------------

/** An uninterrupted run of each kind: how long it took, when and how long it held the lock, when a list first changed (ms from the spawn). */
const timing = {} as Record<Kind, { took: number; lockFirst: number; lockLast: number; lockHeld: number; listFirst: number | null; listUnlocked: number | null }>;

/**
 * What a round's kill aims at: odd rounds anywhere from the spawn; even ones the write window,
 * by the lock or (every other one) by the list's first change; `fos1 xdp block` by its list
 * (it inserts, then indexes), `fos1 xdp unblock` by the lock (it writes the index before the
 * list). The CLI's writes are a small part of its run, so its kills are always aimed.
 */
function aimOf(round: number, kind: Kind): KillAt["from"] {
  if (kind === "cli-block") return "list";
  if (kind === "cli-unblock") return "lock";
  return round % 2 === 1 ? "spawn" : round % 4 === 2 ? "list" : "lock";
}

/** The kill's delay: a random part of the span an uninterrupted run of the kind gave the aim. */
function killAfter(from: KillAt["from"], kind: Kind, draw: number): number {
  const t = timing[kind];
  if (from === "spawn") return draw * 1.1 * t.took; // up to a little past the run
  if (from === "lock") return draw * 0.9 * t.lockHeld; // the run may be a little faster this time
  return draw * Math.max(2, (t.listUnlocked ?? t.lockLast) - (t.listFirst ?? t.lockFirst)); // from the list's first change to the lock's release
}

const aimText = (from: KillAt["from"]) => (from === "spawn" ? "after the spawn" : from === "lock" ? "into the lock" : "after the list changed");

interface Outcome {
  round: number;
  kind: Kind;
  /** the writer was running when the kill came (it died of it) */
  midRun: boolean;
  /** what the kill aimed at */
  aim: KillAt["from"];
  /** the writer held the filter's lock when the kill came */
  inLock: boolean;
  /** a list had changed when the kill came */
  listChanged: boolean;
  /** the list after the kill, against the start and the writer's target */
  list: "untouched" | "partial" | "complete";
  /** indexProblems() found gaps after the kill */
  indexMiss: boolean;
  /** when it did: the repairing apply, killed in its write window, and the gaps it left */
  repair?: { midRun: boolean; inLock: boolean; indexMiss: boolean };
}
const outcomes: Outcome[] = [];

afterAll(async () => {
  listMaps?.close();
  await destroyAll();
  if (pinRoot) removePinRoot(pinRoot);
  rmSync(tmp, { recursive: true, force: true });
});

describe("XDP blocklist crash safety: writers SIGKILLed at random, then apply repairs", () => {
  beforeAll(async () => {
    pinRoot = testPinRoot("xdp-crash");
    filterDir = join(pinRoot, "xdp", FILTER);
    ns = await createNs("xcrash");
    const peer = await createNs("xcrashp");
    await addVeth(ns, "f0", peer, "p0"); // the peer stays down: no packet arrives on f0
    await ipBatch(ns, ["link set lo up"]);

    configs = makeConfigs();
    await Bun.write(files.A, yaml(configs.A));
    await Bun.write(files.B, yaml(configs.B));
    const count = (list: string[], f: Family, short: boolean) => list.filter((p) => net(p).family === f && (net(p).len <= (f === 4 ? 16 : 31)) === short).length;
    const describeConfig = (w: Which) =>
      `${w}: ${count(configs[w], 4, false)} + ${count(configs[w], 4, true)} short IPv4, ${count(configs[w], 6, false)} + ${count(configs[w], 6, true)} short IPv6`;
    const inA = new Set(configs.A);
    const inB = new Set(configs.B);
    console.log(`configs ${describeConfig("A")}; ${describeConfig("B")}; ${configs.B.filter((p) => !inA.has(p)).length} in B only, ${configs.A.filter((p) => !inB.has(p)).length} in A only`);

    await applyToCompletion("A"); // loads the filter, fills it
    listMaps = XdpFilterMaps.openPinned(filterDir);
    const st = statSync(filterDir);
    const major = Math.floor(st.dev / 256) & 0xfff;
    const minor = (st.dev & 0xff) | ((Math.floor(st.dev / 4096) & 0xfff00) >>> 0);
    lockId = `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}:${st.ino}`;

    // Each kind once without a kill: the times the rounds draw their kills in, and the lock must
    // be seen (else the aimed kills would aim at nothing).
    for (const kind of KINDS) {
      const w = await writer(kind, new Set(readMaps().listed));
      const r = await runWriter(w.argv);
      okOrThrow(r, w.what);
      if (r.lockFirst === null || r.lockLast === null) throw new Error(`${w.what} was never seen holding the filter's lock (${lockId} in /proc/locks)`);
      expect({ what: w.what, problems: readMaps().problems }).toEqual({ what: w.what, problems: [] }); // gaps come from kills only
      timing[kind] = { took: r.took, lockFirst: r.lockFirst, lockLast: r.lockLast, lockHeld: r.lockHeld, listFirst: r.listFirst, listUnlocked: r.listUnlocked };
      current = w.config;
    }
    await applyToCompletion(current);
    const checked = verifyRepaired();
    console.log(
      `uninterrupted (ms from spawn: lock first seen–last seen, held in all; list first changed–lock released next / exit): ` +
        `${KINDS.map((k) => { const t = timing[k]; return `${k} ${t.lockFirst.toFixed(0)}–${t.lockLast.toFixed(0)}, ${t.lockHeld.toFixed(0)}; ${t.listFirst?.toFixed(0)}–${t.listUnlocked?.toFixed(0)} / ${t.took.toFixed(0)}`; }).join("; ")}; ` +
        checked,
    );
  }, 180_000);

  for (let round = 1; round <= ROUNDS; round++) {
    const kind = CYCLE[(round - 1) % CYCLE.length]!;
    const from = aimOf(round, kind);
    const draw = random();
    const repairDraw = random();
    test(`round ${round}: ${kind} killed (${from === "spawn" ? "from the spawn on" : `in the write window, by the ${from}`}), apply repairs, no listed prefix passes`, async () => {
      const after = killAfter(from, kind, draw);
      const start = verified;
      const w = await writer(kind, start);
      const killed = await runWriter(w.argv, { from, after });
      const midRun = killed.signal === "SIGKILL";
      if (!midRun) okOrThrow(killed, w.what);
      const first = checkKilled(start, w.target);
      if (!midRun) expect({ list: first.list, problems: first.problems }).toEqual({ list: "complete", problems: [] }); // a writer that finished

      // A repair that is killed too: when the kill left gaps, the apply that repairs them is
      // killed once in its own write window (reindex() or the list's change); what it leaves
      // must hold as well, and the next apply must see what gaps remain.
      let repair: { ran: Ran; after: number; problems: string[] } | null = null;
      if (first.problems.length) {
        const span = killAfter("lock", "apply", repairDraw);
        const ran = await runWriter(fos1Writer(["apply", "-f", files[w.config], "--state-dir", stateDir, "-o", "json"]), { from: "lock", after: span });
        repair = { ran, after: span, problems: checkKilled(start, w.target).problems };
        if (ran.signal !== "SIGKILL") {
          okOrThrow(ran, "the repairing apply");
          expect(repair.problems).toEqual([]);
        }
      }
      const gaps = repair ? repair.problems : first.problems;

      // The repair: observe sees the gaps exactly when there are some, and apply reindexes.
      const again = await applyToCompletion(w.config);
      const reindexed = again.ops.some((o) => o.subject === `XDP index (${FILTER})`);
      expect({ reindexed, gaps }).toEqual({ reindexed: gaps.length > 0, gaps });
      const checked = verifyRepaired();

      const inLock = killed.kill?.inLock === true;
      outcomes.push({
        round,
        kind,
        midRun,
        aim: from,
        inLock,
        listChanged: killed.kill?.listChanged === true,
        list: first.list,
        indexMiss: first.problems.length > 0,
        ...(repair ? { repair: { midRun: repair.ran.signal === "SIGKILL", inLock: repair.ran.kill?.inLock === true, indexMiss: repair.problems.length > 0 } } : {}),
      });
      const lockSeen = (r: Ran) => (r.lockFirst === null ? "never" : `${r.lockFirst.toFixed(0)}–${r.lockLast!.toFixed(0)}, ${r.lockHeld.toFixed(0)} ms held`);
      const fate = (r: Ran) => (r.signal === "SIGKILL" ? `killed mid-run${r.kill?.inLock ? " holding the lock" : ""}` : `had exited (${r.exitCode})`);
      console.log(
        `round ${round}: ${w.what}, kill ${after.toFixed(0)} ms ${aimText(from)}` +
          (killed.kill ? ` (${killed.kill.at.toFixed(0)} ms from spawn; lock seen ${lockSeen(killed)})` : "") +
          ` → ${fate(killed)}; list ${first.list}` +
          (first.problems.length ? `; index missed listed prefixes (${first.problems.join("; ")})` : "") +
          (repair ? `; repairing apply killed ${repair.after.toFixed(0)} ms into the lock (seen ${lockSeen(repair.ran)}) → ${fate(repair.ran)}, gaps left: ${repair.problems.join("; ") || "none"}` : "") +
          `; ${reindexed ? "apply reindexed" : "apply"}: ${checked}`,
      );
    }, 120_000);
  }

  test("the kills hit running writers, many inside their writes, and some left an index the apply repaired", () => {
    const n = (f: (o: Outcome) => boolean) => outcomes.filter(f).length;
    const mid = n((o) => o.midRun);
    const inLock = n((o) => o.inLock);
    const misses = n((o) => o.indexMiss);
    const byAim = (["spawn", "lock", "list"] as const).map(
      (a) => `${a} ${n((o) => o.aim === a)} (${n((o) => o.aim === a && o.inLock)} in the lock, ${n((o) => o.aim === a && o.indexMiss)} index misses)`,
    );
    console.log(
      `seed ${SEED}: ${outcomes.length} rounds, ${mid} killed mid-run, ${inLock} holding the lock, ${n((o) => o.midRun && o.listChanged)} after a list had changed; ` +
        `aimed from ${byAim.join(", ")}; list after the kill: ` +
        `${n((o) => o.list === "untouched")} untouched, ${n((o) => o.list === "partial")} partial, ${n((o) => o.list === "complete")} complete; ` +
        `${misses} left an index missing listed prefixes; their repairing applies: ${n((o) => o.repair?.midRun === true)} killed mid-run, ` +
        `${n((o) => o.repair?.inLock === true)} holding the lock, ${n((o) => o.repair?.indexMiss === true)} leaving gaps still; every one repaired by the next apply`,
    );
    expect(outcomes).toHaveLength(ROUNDS);
    expect(mid).toBeGreaterThanOrEqual(Math.ceil(ROUNDS / 2));
    expect(inLock).toBeGreaterThanOrEqual(Math.ceil(ROUNDS / 4));
    expect(misses).toBeGreaterThanOrEqual(Math.ceil(ROUNDS / 10));
  });
});
