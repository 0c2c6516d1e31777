// XDP benchmark (issues 5 and 17; run by hack/bench/run.ts): fos1's early-drop filter
// (dist/bpf/xdp_filter.o) beside xdp-tools' xdp-filter and beside nftables, as root on this
// machine (no lab VM).
//
// The blocklists (hack/bench/xdp-blocklists.ts), N prefixes per family, N in BENCH_XDP_SIZES:
//   best mix   N random prefixes as a feed has them (IPv4 mostly hosts and /24s, the first ten
//              /16–/19; IPv6 /32–/128), the first N of one seeded list
//   worst mix  the best mix plus the default config's XDP blocklist (src/api/default-config.yaml),
//              ⌈N/100⌉ IPv4 /25–/31 and IPv6 /20–/31 prefixes spread at random, and per family
//              one /16 holding many lengths (IPv4 /20, /24–/32; IPv6 /20–/32 and, in the probed
//              /32s, /48–/128), where the worst mix's packets come from: fos1 looks up every
//              length that /16 names before it passes, or drops on the shortest
// fos1's filter is loaded as fos1 loads it (XdpFilter.load), with the capacity that fits the
// list (capacityFor: the default 65 536 per family up to that, else the next power of two),
// and filled by fos1's own XdpFilterMaps (which writes the index beside the lists).
// xdp-filter matches exact addresses only: it holds host addresses, one inside each of fos1's
// prefixes, written as `xdp-filter ip ADDR --mode src` writes them — for IPv4 the size's whole
// pool of blocked addresses (below), for IPv6 N hosts — plus the worst mix's drop sources.
//
// a. ns per packet: BPF_PROG_TEST_RUN with BENCH_XDP_REPEAT repetitions of one crafted packet,
//    a pass packet (a source no prefix covers) and a drop packet (a source inside one), per
//    family and mix. Programs:
//      fos1           xdp_filter with the mix's list (one filter per size and mix)
//      xdpFilterIp    xdpfilt_alw_ip.o, what `xdp-filter load -f ipv4,ipv6` runs
//      xdpFilterAll   xdpfilt_alw_all.o, what plain `xdp-filter load` runs (also MAC and
//                     port maps)
//    Its objects are the ones Debian ships (/usr/lib/<arch>/bpf, package libxdp1), loaded here
//    with libbpf through src/bpf like fos1's. Beside them, an empty program: what test-run
//    itself costs per packet; and the lengths sweep: fos1 passing an IPv4 source whose /24
//    holds k lengths (a filter of its own), which says what one length looked up costs.
// b. packets per second dropped: a veth pair between two network namespaces; a generator
//    (hack/bench/xdp-generator.ts: a tc clone loop on two more veths, each copy stamped and
//    redirected by XDP into the pair, so the receiver gets XDP frames through ndo_xdp_xmit)
//    sends UDP from SOURCES draws, at random, of the size's pool: max(N, POOL_MIN) distinct IPv4
//    addresses inside the best mix's N prefixes (its N hosts, then random blocked addresses);
//    the receiving veth (GRO on, so it has NAPI with or without XDP; threaded NAPI, so all its
//    work runs in one thread, at nice 19, so it finds its ring full when it runs) drops them with
//      fos1          fos1's program attached native (fos1's attachXdp), the best mix
//      xdpFilterIp   xdp-filter's program attached the same way, the pool's addresses
//      nft           an nftables netdev ingress chain, `ip saddr @blocklist counter drop`, the
//                    best mix's N prefixes in a set of type ipv4_addr, flags interval
//      xdpDrop       an XDP program that drops everything: the receive path's own cost
//    counted over BENCH_XDP_SECONDS after 0.5 s of warm-up, per second of the receiving
//    thread's CPU time.
// c. kernel memory (the maps' fdinfo memlock, fos1's XdpFilterMaps.usage()): the default
//    config's blocklist in a filter of the default sizes, an empty filter of the largest
//    size's capacity, and every filter above.
// Variants run interleaved round by round (each round starting at another one); ratios are the
// median of the per-round ratios, with their range: the machine is shared and has 2 cores.
//
// xdp-filter's hashes hold 10 000 addresses as shipped: raised where they must hold more
// (hack/bench/xdp-objects.ts).
//
// Environment: BENCH_XDP_SIZES (default 10,10000,1000000), BENCH_XDP_ROUNDS or else
// BENCH_ROUNDS (default 5), BENCH_XDP_REPEAT (default and minimum 1000000), BENCH_XDP_SECONDS
// (default 5: at nice 19 the receiving thread gets about 1 % of a core). Writes
// bench/results/xdp-<date>.json and the xdp section of bench/README.md;
// BENCH_XDP_REPORT=bench/results/xdp-<date>.json only re-renders that section from a run.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, release, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { formatIp, parseIp, parsePrefix } from "../../src/api/ip";
import { loadConfigText } from "../../src/api/load";
import { libbpfVersion } from "../../src/bpf/libbpf";
import { BpfObject, type BpfProgram } from "../../src/bpf/object";
import { decodeCounter, DEFAULT_SIZES, layoutMismatches, sizesFor, MAP_NAMES, Reason, REASONS, u32Key, XDPF_CAPACITY_DEFAULT, XDPF_CAPACITY_MAX, type MapSizes } from "../../src/bpf/layout";
import { XdpFilter } from "../../src/bpf/xdp-filter";
import { Btf } from "../../src/bpf/btf";
import { ensureBpffsDir } from "../../src/bpf/bpffs";
import { pinObject } from "../../src/bpf/pins";
import { testRun, XdpAction, xdpActionName } from "../../src/bpf/test-run";
import type { BpfMap } from "../../src/bpf/maps";
import { DST_MAC, ethernet, ipv4, ipv6, padded, SRC_MAC, udp } from "../../test/helpers/packets";
import { addVeth, createNs, destroyAll, ipBatch } from "../../test/netns/netns";
import { median, rotate } from "./stats";
import {
  addressPool4,
  blocklist4,
  blocklist6,
  lengthCounts,
  Lookup4,
  Lookup6,
  sweep4,
  uncovered4,
  uncovered6,
  worstMix4,
  worstMix6,
  type Blocklist,
  type Mix as MixLists,
  type Prefix4,
  type Prefix6,
} from "./xdp-blocklists";
import { seededRandom } from "../../test/helpers/seeded-random";
import { compileGenerator, FANOUT, SOURCES } from "./xdp-generator";
import { BenchObject } from "./xdp-objects";

const repo = resolve(import.meta.dir, "../..");
const intEnv = (name: string, def: number, min: number) => {
  const v = Number(process.env[name] ?? def);
  if (!(Number.isInteger(v) && v >= min)) throw new Error(`${name}: an integer ≥ ${min}, got ${process.env[name]}`);
  return v;
};

type Program = "fos1" | "xdpFilterIp" | "xdpFilterAll";
const PROGRAMS: Program[] = ["fos1", "xdpFilterIp", "xdpFilterAll"];
const LABEL: Record<Program, string> = { fos1: "fos1", xdpFilterIp: "xdp-filter -f ipv4,ipv6", xdpFilterAll: "xdp-filter (all)" };
type Family = 4 | 6;
const FAMILIES: Family[] = [4, 6];
type Path = "pass" | "drop";
const PATHS: Path[] = ["pass", "drop"];
type Mix = "best" | "worst";
const MIXES: Mix[] = ["best", "worst"];
/** fos1 and xdp-filter attached to the veth, nftables at its ingress hook, or an XDP program that drops everything (what the receive path itself costs). */
type PpsVariant = "fos1" | "xdpFilterIp" | "nft" | "xdpDrop";
const PPS_VARIANTS: PpsVariant[] = ["fos1", "xdpFilterIp", "nft", "xdpDrop"];

const DST4 = "198.51.100.2";
const DST6 = "2001:db8::2";
const SEED = 20261125;
/** The packet-rate test draws its sources from at least this many blocked addresses at every size. */
const POOL_MIN = 65_536;
/** The lengths sweep: /24s holding this many lengths. */
const SWEEP = [0, 1, 2, 4, 8];

/** fos1's capacity per family for a list of n prefixes: the default up to it, else the next power of two (the kernel rounds a hash's buckets up to one anyway). */
function capacityFor(n: number): number {
  if (n <= XDPF_CAPACITY_DEFAULT) return XDPF_CAPACITY_DEFAULT;
  const c = 2 ** Math.ceil(Math.log2(n));
  if (c > XDPF_CAPACITY_MAX) throw new Error(`${n} prefixes per family: more than a filter holds (${XDPF_CAPACITY_MAX})`);
  return c;
}

// --- the raw results (all the README section is rendered from)

interface NsSample {
  round: number;
  /** "empty": the program that only returns XDP_PASS (size 0, best mix's packets). */
  program: Program | "empty";
  mix: Mix;
  size: number;
  family: Family;
  path: Path;
  /** Mean ns per repetition as the kernel measured it (preemption excluded). */
  ns: number;
}

interface SweepSample {
  round: number;
  /** Lengths the source's /16 names (fos1 looks each up, none matches). */
  lengths: number;
  ns: number;
}

interface PpsSample {
  round: number;
  variant: PpsVariant;
  size: number;
  /** Packets the filter dropped per second over the window. */
  droppedPps: number;
  /** The same packets per second the receiving NAPI thread ran: what one core drops, whatever else the machine runs. */
  droppedPerRxCpuSecond: number;
  /** Share of the window the receiving thread ran. */
  rxCpuShare: number;
  /** Frames the generator sent per second over its whole run. */
  offeredPps: number;
  /** XDP variants: packets the program passed during the window (must be 0: every source is blocked). */
  passed?: number;
  load1: number;
}

interface Instance {
  program: Program;
  /** fos1's filters: which list. */
  mix?: Mix;
  size: number;
  /** What it holds per family: fos1 prefixes, xdp-filter addresses. */
  entries: Record<Family, number>;
  /** fos1: max_entries of its lists per family, set at load (its capacity). */
  capacity?: Record<Family, number>;
  /** xdp-filter: maps whose max_entries was raised: name → [shipped, used]. */
  raised: Record<string, [number, number]>;
  fillSeconds: number;
  /** Kernel memory of its maps (fdinfo memlock), bytes: total and by map. */
  memory: number;
  memoryByMap: Record<string, number>;
}

interface MemoryCase {
  what: "defaultConfig" | "emptyAtLargest";
  prefixes: string[];
  capacity: Record<Family, number>;
  memory: number;
  memoryByMap: Record<string, number>;
}

interface ProbeInfo {
  source: string;
  /** The prefix the drop source lies in (the longest; fos1 counts the drop on it). */
  prefix?: string;
  /** Hash lookups fos1 makes for this source (hack/bench/xdp-blocklists.ts's model of its program). */
  lookups: number;
}

interface SizeInfo {
  size: number;
  /** The worst mix: prefixes added to the best mix's N, by kind, and the lengths its probed /16 names. */
  worst: { added: Record<string, number>; count: number; probeLengths: number[] };
  probes: Record<Mix, Record<Path, ProbeInfo>>;
}

interface Raw {
  benchmark: "xdp";
  startedAt: string;
  finishedAt: string;
  commit: string;
  host: { kernel: string; cpus: number; load1AtStart: number; load1AtEnd: number };
  versions: { xdpTools: string; libxdp: string; libbpf: string; nft: string };
  settings: { sizes: number[]; rounds: number; repeat: number; windowSeconds: number; warmupSeconds: number; generatorSources: number; fanout: number; poolMin: number; sweep: number[] };
  /** The default config's XDP blocklist (src/api/default-config.yaml). */
  defaultBlocklist: string[];
  blocklists: Record<Family, { prefixLengths: Record<number, number>; sizes: SizeInfo[] }>;
  /** The packet-rate test's pool per size: distinct blocked IPv4 addresses its sources are drawn from. */
  pools: { size: number; addresses: number }[];
  instances: Instance[];
  memory: MemoryCase[];
  /** Loading every size's set with one nft -f. */
  nftLoadSeconds: number;
  ns: NsSample[];
  sweep: SweepSample[];
  pps: PpsSample[];
}

// --- programs and their maps

interface ProgramSpec {
  object: string;
  name: string;
  maps: Record<Family, string>;
}

function dpkgVersion(pkg: string): string {
  const r = Bun.spawnSync(["dpkg-query", "-W", "-f=${Version}", pkg], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0 ? r.stdout.toString() : "not installed";
}

/** xdp-filter's BPF objects as Debian ships them (package libxdp1, a dependency of xdp-tools). */
function xdpFilterObject(file: string): string {
  const r = Bun.spawnSync(["dpkg", "-L", "libxdp1"], { stdout: "pipe", stderr: "pipe" });
  const path = r.stdout.toString().split("\n").find((l) => l.endsWith(`/bpf/${file}`));
  if (r.exitCode !== 0 || !path || !existsSync(path)) throw new Error(`${file} not found in package libxdp1 (xdp-tools; hack/setup installs it)`);
  return path;
}

// xdp-tools' xdp-filter/common_kern_user.h: the value of an address entry is, per CPU, flags
// in the low bits (MAP_FLAG_SRC) and a hit counter above COUNTER_SHIFT.
const MAP_FLAG_SRC = 1n;

function xdpFilterValue(map: BpfMap): Uint8Array {
  const v = new Uint8Array(map.bufferSize);
  const view = new DataView(v.buffer);
  for (let off = 0; off < v.length; off += 8) view.setBigUint64(off, MAP_FLAG_SRC, true);
  return v;
}

/** xdp-filter's keys: the address in network byte order (__u32, struct in6_addr), back to back. */
function hostKeys4(as: ArrayLike<number>): Uint8Array {
  const k = new Uint8Array(as.length * 4);
  const view = new DataView(k.buffer);
  for (let i = 0; i < as.length; i++) view.setUint32(i * 4, as[i]!, false);
  return k;
}

function hostKeys6(as: bigint[]): Uint8Array {
  const k = new Uint8Array(as.length * 16);
  const view = new DataView(k.buffer);
  as.forEach((a, i) => {
    view.setBigUint64(i * 16, a >> 64n, false);
    view.setBigUint64(i * 16 + 8, BigInt.asUintN(64, a), false);
  });
  return k;
}

/** The default config's XDP blocklist: every XDPFilter's, in src/api/default-config.yaml. */
function defaultBlocklist(): string[] {
  const file = join(repo, "src/api/default-config.yaml");
  const { objects, problems } = loadConfigText(readFileSync(file, "utf8"), file);
  if (problems.length) throw new Error(`${file}: ${problems[0]!.message}`);
  const out = objects.flatMap((o) => (o.value.kind === "XDPFilter" ? ((o.value.spec as { blocklist?: string[] }).blocklist ?? []) : []));
  if (!out.length) throw new Error(`${file} has no XDPFilter with a blocklist`);
  return [...new Set(out)];
}

const text4 = (p: Prefix4) => `${formatIp(4, BigInt(p.addr))}/${p.len}`;
const text6 = (p: Prefix6) => `${formatIp(6, p.addr)}/${p.len}`;

// --- processes

const running = new Set<Subprocess>();

async function run(argv: string[], what: string, stdin?: string): Promise<string> {
  const proc = Bun.spawn(argv, { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
  running.add(proc);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  running.delete(proc);
  if (code !== 0) throw new Error(`${what}: ${argv.join(" ").slice(0, 200)} exited ${code}\n${stderr.slice(-2000)}${stdout.slice(-2000)}`);
  return stdout;
}

const CHILD = join(import.meta.dir, "xdp-child.ts");
const inNet = (ns: string, argv: string[]) => ["nsenter", `--net=/run/netns/${ns}`, ...argv];

async function child(ns: string, ...args: string[]): Promise<Record<string, unknown>> {
  const out = await run(inNet(ns, [process.execPath, CHILD, ...args]), `xdp-child ${args[0]}`);
  return JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
}

// --- state, cleaned up on every exit

const PIN_PREFIX = "fos1-bench-";
const BPFFS = "/sys/fs/bpf";
let tmp = "";
const objects: { close(): void }[] = [];
const pinRoots: string[] = [];

function reapStalePins() {
  if (!existsSync(BPFFS)) return;
  for (const name of readdirSync(BPFFS)) {
    const m = new RegExp(`^${PIN_PREFIX}(\\d+)-`).exec(name);
    if (m && !existsSync(`/proc/${m[1]}`)) rmSync(join(BPFFS, name), { recursive: true, force: true });
  }
}

function cleanup() {
  for (const p of running) p.kill("SIGKILL");
  for (const o of objects.splice(0)) o.close();
  for (const dir of pinRoots.splice(0)) rmSync(dir, { recursive: true, force: true });
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}

const onSignal = async () => {
  for (const p of running) p.kill("SIGKILL");
  await destroyAll();
  cleanup();
  process.exit(130);
};

// --- a: ns per packet

type Frames = Record<Family, Record<Path, Uint8Array>>;

interface SizeCase {
  size: number;
  /** fos1's list per mix and family. */
  lists: Record<Mix, { 4: Prefix4[]; 6: Prefix6[] }>;
  frames: Record<Mix, Frames>;
  info: Record<Family, SizeInfo>;
  /** The packet-rate test's sources are drawn from here; xdp-filter holds it. */
  pool: Uint32Array;
  /** xdp-filter's addresses: the pool (IPv4) or the N hosts (IPv6), and the worst mix's drop source. */
  xdpHosts: { 4: Uint32Array; 6: bigint[] };
}

const frame4 = (src: number) => padded(ethernet(ipv4(formatIp(4, BigInt(src)), DST4, udp(40000, 53)))).bytes;
const frame6 = (src: bigint) => ethernet(ipv6(formatIp(6, src), DST6, udp(40000, 53))).bytes;

function sizeCase(size: number, bl4: Blocklist<Prefix4, number>, bl6: Blocklist<Prefix6, bigint>, defaults: string[]): SizeCase {
  const rand = seededRandom(SEED + size);
  const p4 = bl4.prefixes.slice(0, size);
  const p6 = bl6.prefixes.slice(0, size);
  const def4: Prefix4[] = [];
  const def6: Prefix6[] = [];
  for (const text of defaults) {
    const p = parsePrefix(text)!;
    if (p.family === 4) def4.push({ addr: Number(p.addr), len: p.len });
    else def6.push({ addr: p.addr, len: p.len });
  }
  // best mix: a source no prefix covers, and one of the N hosts
  const pass4 = uncovered4(p4, rand);
  const pass6 = uncovered6(p6, rand);
  const d4 = Math.floor(rand() * size);
  const d6 = Math.floor(rand() * size);
  const [m4, m6] = [new Lookup4(p4), new Lookup6(p6)];
  const w4: MixLists<Prefix4, number> = worstMix4(p4, def4, rand, [Number(parseIp(DST4)!.addr)]);
  const w6: MixLists<Prefix6, bigint> = worstMix6(p6, def6, rand, [parseIp(DST6)!.addr]);
  const pool = addressPool4(p4, bl4.hosts.slice(0, size), POOL_MIN, rand);
  const xdp4 = new Uint32Array(pool.length + 1);
  xdp4.set(pool);
  xdp4[pool.length] = w4.drop.source;
  const at4 = (a: number, lookups: number, prefix?: Prefix4): ProbeInfo => ({ source: formatIp(4, BigInt(a)), ...(prefix ? { prefix: text4(prefix) } : {}), lookups });
  const at6 = (a: bigint, lookups: number, prefix?: Prefix6): ProbeInfo => ({ source: formatIp(6, a), ...(prefix ? { prefix: text6(prefix) } : {}), lookups });
  return {
    size,
    lists: { best: { 4: p4, 6: p6 }, worst: { 4: [...p4, ...w4.extras], 6: [...p6, ...w6.extras] } },
    frames: {
      best: { 4: { pass: frame4(pass4), drop: frame4(bl4.hosts[d4]!) }, 6: { pass: frame6(pass6), drop: frame6(bl6.hosts[d6]!) } },
      worst: { 4: { pass: frame4(w4.pass.source), drop: frame4(w4.drop.source) }, 6: { pass: frame6(w6.pass.source), drop: frame6(w6.drop.source) } },
    },
    info: {
      4: {
        size,
        worst: { added: w4.parts, count: size + w4.extras.length, probeLengths: w4.probeLengths },
        probes: {
          best: { pass: at4(pass4, m4.probe(pass4).lookups), drop: at4(bl4.hosts[d4]!, m4.probe(bl4.hosts[d4]!).lookups, p4[d4]) },
          worst: { pass: at4(w4.pass.source, w4.pass.lookups), drop: at4(w4.drop.source, w4.drop.lookups, w4.drop.prefix) },
        },
      },
      6: {
        size,
        worst: { added: w6.parts, count: size + w6.extras.length, probeLengths: w6.probeLengths },
        probes: {
          best: { pass: at6(pass6, m6.probe(pass6).lookups), drop: at6(bl6.hosts[d6]!, m6.probe(bl6.hosts[d6]!).lookups, p6[d6]) },
          worst: { pass: at6(w6.pass.source, w6.pass.lookups), drop: at6(w6.drop.source, w6.drop.lookups, w6.drop.prefix) },
        },
      },
    },
    pool,
    xdpHosts: { 4: xdp4, 6: [...bl6.hosts.slice(0, size), w6.drop.source] },
  };
}

/** A loaded program: fos1's filter or an xdp-filter object. */
interface Loaded {
  prog: BpfProgram;
  pinRoot: string;
  /** The per-CPU counters the packet-rate test reads. */
  stats: () => BpfMap;
  instance: Instance;
}

const pinRootFor = (what: string) => {
  const dir = join(BPFFS, `${PIN_PREFIX}${process.pid}-${what}`);
  pinRoots.push(dir);
  return dir;
};

/** fos1's filter loaded as fos1 loads it, with the capacity that fits the lists, filled by fos1's own code. */
function loadFos1(object: string, what: string, lists: { 4: Prefix4[]; 6: Prefix6[] }, sizes?: MapSizes): { filter: XdpFilter; pinRoot: string; seconds: number; capacity: Record<Family, number> } {
  const s = sizes ?? { v4: capacityFor(lists[4].length), v6: capacityFor(lists[6].length), rate: DEFAULT_SIZES.rate };
  const pinRoot = pinRootFor(what);
  const filter = XdpFilter.load({ object, pinRoot, sizes: s });
  objects.push(filter);
  const t0 = performance.now();
  const r = filter.maps.changeBlocklist([...lists[4].map(text4), ...lists[6].map(text6)], []);
  if (r.failed.length) throw new Error(`fos1 (${what}): ${r.failed.length} prefixes could not be blocked, e.g. ${r.failed[0]!.prefix}: ${r.failed[0]!.error}`);
  const problems = filter.maps.indexProblems();
  if (problems.length) throw new Error(`fos1 (${what}): ${problems.join("; ")}`);
  return { filter, pinRoot, seconds: (performance.now() - t0) / 1000, capacity: { 4: s.v4, 6: s.v6 } };
}

function fos1Memory(filter: XdpFilter): { memory: number; memoryByMap: Record<string, number> } {
  return { memory: filter.maps.usage().memory, memoryByMap: Object.fromEntries(MAP_NAMES.map((n) => [n, filter.maps.map(n).memory()])) };
}

function loadFos1Case(object: string, c: SizeCase, mix: Mix): Loaded {
  const { filter, pinRoot, seconds, capacity } = loadFos1(object, `fos1-${mix}-${c.size}`, c.lists[mix]);
  const usage = filter.maps.usage();
  return {
    prog: filter.program,
    pinRoot,
    stats: () => filter.maps.map("xdpf_stats"),
    instance: { program: "fos1", mix, size: c.size, entries: { 4: usage.v4.count, 6: usage.v6.count }, capacity, raised: {}, fillSeconds: seconds, ...fos1Memory(filter) },
  };
}

function loadXdpFilter(program: Exclude<Program, "fos1">, spec: ProgramSpec, c: SizeCase): Loaded {
  const pinRoot = pinRootFor(`${program}-${c.size}`);
  const hosts = c.xdpHosts;
  const obj = BenchObject.load(spec.object, pinRoot, { [spec.maps[4]]: hosts[4].length, [spec.maps[6]]: hosts[6].length });
  objects.push(obj);
  const t0 = performance.now();
  for (const family of FAMILIES) {
    const map = obj.map(spec.maps[family]);
    const n = family === 4 ? hosts[4].length : hosts[6].length;
    const keys = family === 4 ? hostKeys4(hosts[4]) : hostKeys6(hosts[6]);
    const one = xdpFilterValue(map);
    const values = new Uint8Array(n * one.length);
    for (let i = 0; i < n; i++) values.set(one, i * one.length);
    const refused = map.updateBatch(keys, values, n);
    if (refused.length) throw new Error(`${LABEL[program]} with ${n} IPv${family} addresses: ${refused.length} refused, e.g. ${refused[0]!.error.message}`);
  }
  const memoryByMap = obj.memory();
  return {
    prog: obj.program(spec.name),
    pinRoot,
    stats: () => obj.map("xdp_stats_map"),
    instance: {
      program,
      size: c.size,
      entries: { 4: hosts[4].length, 6: hosts[6].length },
      raised: obj.raised,
      fillSeconds: (performance.now() - t0) / 1000,
      memory: Object.values(memoryByMap).reduce((a, b) => a + b, 0),
      memoryByMap,
    },
  };
}

/** Every program gives every packet the verdict it should, before anything is timed. */
function checkVerdicts(what: string, prog: BpfProgram, frames: Frames, expect: (path: Path) => number) {
  for (const family of FAMILIES)
    for (const path of PATHS) {
      const got = testRun(prog, frames[family][path]).retval;
      if (got !== expect(path)) throw new Error(`${what}: the IPv${family} ${path} packet got ${xdpActionName(got)}, expected ${xdpActionName(expect(path))}`);
    }
}
const verdictOf = (path: Path) => (path === "pass" ? XdpAction.PASS : XdpAction.DROP);

// --- b: packets per second

const GEN_IF = `xg${process.pid}`;
// The generator's loop (hack/bench/xdp-generator.ts), in its namespace: packets circulate
// between A and B, and their copies go out of GEN_IF; seeds go to LOOP_NET[1] out of A.
const LOOP_A = `xa${process.pid}`;
const LOOP_B = `xb${process.pid}`;
const LOOP_NET = ["192.0.2.1/30", "192.0.2.2"];
const RX_IF = `xr${process.pid}`;
const WARMUP_S = 0.5;

// One table per size: nft reads a whole table's sets to list anything in it, which takes
// minutes with a million elements, so the small tables' counters stay quick to read.
const nftTable = (size: number) => `fos1bench_${size}`;
// Set sizes up to which the rule's counter is read back to check every received packet was dropped.
const NFT_CHECK_MAX = 100_000;

function nftRuleset(sizes: number[], bl4: Blocklist<Prefix4, number>): string {
  return sizes
    .map((n) => {
      const elements = bl4.prefixes.slice(0, n).map((p) => `${formatIp(4, BigInt(p.addr))}/${p.len}`);
      return `table netdev ${nftTable(n)} {\n  set blocklist { type ipv4_addr; flags interval; elements = { ${elements.join(", ")} }; }\n  chain ingress { type filter hook ingress device "${RX_IF}" priority -500; }\n}\n`;
    })
    .join("");
}

/** The generator's sources for size N: SOURCES draws at random from the size's pool of blocked addresses, network byte order. */
function sourcesFile(size: number, pool: Uint32Array): string {
  const rand = seededRandom(SEED ^ size);
  const bytes = new Uint8Array(SOURCES * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < SOURCES; i++) view.setUint32(i * 4, pool[Math.floor(rand() * pool.length)]!, false);
  const file = join(tmp, `sources-${size}.bin`);
  writeFileSync(file, bytes);
  return file;
}

/** The receiving veth's NAPI threads (threaded NAPI: its receive work runs there, nowhere else). */
function napiThreads(): string[] {
  const pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d) && (readFileSafe(`/proc/${d}/comm`) ?? "").startsWith(`napi/${RX_IF}-`));
  if (pids.length === 0) throw new Error(`no NAPI thread for ${RX_IF}: threaded NAPI is not on`);
  return pids;
}

/** Nanoseconds the threads have run on a CPU (the first field of /proc/PID/schedstat). */
function cpuNs(pids: string[]): number {
  return pids.reduce((sum, pid) => sum + Number((readFileSafe(`/proc/${pid}/schedstat`) ?? "0").split(" ")[0]), 0);
}

function readFileSafe(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function xdpCounters(stats: BpfMap): { dropped: number; other: number } {
  let dropped = 0, other = 0;
  for (const r of REASONS) {
    const packets = (stats.lookupPerCpu(u32Key(Reason[r])) ?? []).reduce((n, slot) => n + Number(decodeCounter(slot).packets), 0);
    if (r === "XDPF_DROP_BLOCK_V4") dropped = packets;
    else other += packets;
  }
  return { dropped, other };
}

// xdp-tools' headers/xdp/xdp_stats_kern_user.h: xdp_stats_map holds, per XDP action and per
// CPU, struct xdp_stats_record { __u64 packets; __u64 bytes; }.
const XDP_ACTIONS = 5;

function xdpFilterCounters(stats: BpfMap): { dropped: number; other: number } {
  let dropped = 0, other = 0;
  for (let action = 0; action < XDP_ACTIONS; action++) {
    const slots = stats.lookupPerCpu(u32Key(action)) ?? [];
    const packets = slots.reduce((n, slot) => n + Number(new DataView(slot.buffer, slot.byteOffset).getBigUint64(0, true)), 0);
    if (action === XdpAction.DROP) dropped = packets;
    else other += packets;
  }
  return { dropped, other };
}

async function nftCounter(rx: string, size: number): Promise<number> {
  const out = JSON.parse(await run(inNet(rx, ["nft", "-j", "list", "chain", "netdev", nftTable(size), "ingress"]), "read the nft counter")) as {
    nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[];
  };
  const counter = out.nftables.flatMap((x) => x.rule?.expr ?? []).find((e) => e.counter)?.counter;
  if (!counter) throw new Error(`the nft chain ${nftTable(size)} ingress has no counter rule`);
  return counter.packets;
}

/** Packets the receiving veth took in (XDP frames included, whatever became of them). */
async function rxPackets(rx: string): Promise<number> {
  const out = JSON.parse(await run(["ip", "-n", rx, "-j", "-s", "link", "show", "dev", RX_IF], "read the veth's counters")) as { stats64: { rx: { packets: number } } }[];
  return out[0]!.stats64.rx.packets;
}

interface Reading {
  dropped: number;
  /** XDP variants: packets counted under any other reason or action. */
  other: number;
  /** When, and the receiving threads' CPU time, at the middle of the read (an nft read takes a process). */
  at: number;
  cpuNs: number;
}

async function reading(counters: () => Promise<{ dropped: number; other: number }>, threads: string[]): Promise<Reading> {
  const [a, cpuA] = [performance.now(), cpuNs(threads)];
  const c = await counters();
  return { ...c, at: (a + performance.now()) / 2, cpuNs: (cpuA + cpuNs(threads)) / 2 };
}

interface GenResult {
  frames: number;
  seconds: number;
}

/** Starts the generator; resolves `sending` once frames go out, `done` with its totals. */
function startGenerator(gen: string, genObj: string, frameFile: string, sources: string, seconds: number): { sending: Promise<void>; done: Promise<GenResult> } {
  const argv = inNet(gen, [process.execPath, CHILD, "generate", genObj, GEN_IF, LOOP_A, LOOP_B, LOOP_NET[1]!, frameFile, sources, String(seconds)]);
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  running.add(proc);
  const reader = proc.stdout.getReader();
  let text = "";
  const sending = Promise.withResolvers<void>();
  const done = (async () => {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
      if (text.includes('"sending"')) sending.resolve();
    }
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    running.delete(proc);
    const last = JSON.parse(text.trim().split("\n").pop() || "{}") as GenResult & { error?: string };
    if (code !== 0 || last.error) {
      const err = new Error(`the generator failed (exit ${code}): ${last.error ?? ""}${stderr.slice(-1000)}`);
      sending.reject(err);
      throw err;
    }
    return last;
  })();
  done.catch(() => {});
  return { sending: sending.promise, done };
}

// --- the run

const SIZES = (process.env.BENCH_XDP_SIZES ?? "10,10000,1000000").split(",").map((s) => Number(s.trim()));

/** A filter's kernel memory, loaded for that alone and gone after. */
function memoryCase(object: string, what: MemoryCase["what"], prefixes: string[], sizes: MapSizes): MemoryCase {
  const parsed = prefixes.map((t) => parsePrefix(t)!);
  const lists = {
    4: parsed.filter((p) => p.family === 4).map((p) => ({ addr: Number(p.addr), len: p.len })),
    6: parsed.filter((p) => p.family === 6).map((p) => ({ addr: p.addr, len: p.len })),
  };
  const { filter, pinRoot, capacity } = loadFos1(object, `memory-${what}`, lists, sizes);
  const m = fos1Memory(filter);
  filter.close();
  rmSync(pinRoot, { recursive: true, force: true });
  return { what, prefixes, capacity, ...m };
}

async function runAll(): Promise<Raw> {
  if (!SIZES.length || !SIZES.every((n) => Number.isInteger(n) && n >= 1 && n <= XDPF_CAPACITY_MAX / 2))
    throw new Error(`BENCH_XDP_SIZES: prefix counts 1–${XDPF_CAPACITY_MAX / 2}, got ${process.env.BENCH_XDP_SIZES}`);
  const rounds = intEnv(process.env.BENCH_XDP_ROUNDS ? "BENCH_XDP_ROUNDS" : "BENCH_ROUNDS", 5, 1);
  const repeat = intEnv("BENCH_XDP_REPEAT", 1_000_000, 1_000_000);
  const windowSeconds = intEnv("BENCH_XDP_SECONDS", 5, 1);
  if (process.getuid?.() !== 0) throw new Error("the XDP benchmark needs root (BPF, network namespaces)");
  for (const tool of ["clang", "nft", "ip", "ethtool", "nsenter", "dpkg-query"]) if (!Bun.which(tool)) throw new Error(`${tool} is not installed (hack/setup installs it)`);
  const built = join(repo, "dist/bpf/xdp_filter.o");
  if (!existsSync(built)) throw new Error(`${built} does not exist: run make build`);

  const startedAt = new Date();
  const load1AtStart = loadavg()[0]!;
  reapStalePins();
  tmp = mkdtempSync(join(tmpdir(), "fos1-bench-xdp-"));
  // A snapshot: another `make build` may replace the object while this runs.
  const fos1Object = join(tmp, "xdp_filter.o");
  copyFileSync(built, fos1Object);
  const btf = Btf.fromFile(fos1Object);
  const wrong = layoutMismatches(btf);
  btf.close();
  if (wrong.length) throw new Error(`${built} does not match src/bpf/layout.ts:\n  ${wrong.join("\n  ")}`);
  const specs: Record<Exclude<Program, "fos1">, ProgramSpec> = {
    xdpFilterIp: { object: xdpFilterObject("xdpfilt_alw_ip.o"), name: "xdpfilt_alw_ip", maps: { 4: "filter_ipv4", 6: "filter_ipv6" } },
    xdpFilterAll: { object: xdpFilterObject("xdpfilt_alw_all.o"), name: "xdpfilt_alw_all", maps: { 4: "filter_ipv4", 6: "filter_ipv6" } },
  };
  const genObject = compileGenerator(tmp);
  const defaults = defaultBlocklist();
  const largest = Math.max(...SIZES);

  // c. Memory of the filters that are loaded for nothing else.
  const memory = [
    memoryCase(fos1Object, "defaultConfig", defaults, DEFAULT_SIZES),
    memoryCase(fos1Object, "emptyAtLargest", [], sizesFor(capacityFor(largest), capacityFor(largest), DEFAULT_SIZES.rate)),
  ];
  console.log(`xdp: memory ${memory.map((m) => `${m.what} ${(m.memory / 2 ** 20).toFixed(1)} MiB`).join(", ")}`);

  let t = performance.now();
  // No prefix may cover the packets' destination: xdp-filter checks it first, and drops on it.
  const bl4 = blocklist4(largest, SEED, [Number(parseIp(DST4)!.addr)]);
  const bl6 = blocklist6(largest, SEED + 6, [parseIp(DST6)!.addr]);
  const cases = new Map(SIZES.map((n) => [n, sizeCase(n, bl4, bl6, defaults)]));
  console.log(`xdp: ${largest} prefixes per family and the mixes drawn in ${((performance.now() - t) / 1000).toFixed(1)} s; pools ${SIZES.map((n) => cases.get(n)!.pool.length).join(", ")}`);

  // a. Load and fill every program for every size; check every verdict before timing.
  const fos1 = new Map<string, Loaded>();
  const xdp = new Map<string, Loaded>();
  const say = (l: Loaded) =>
    console.log(
      `xdp: ${l.instance.program}${l.instance.mix ? ` (${l.instance.mix})` : ""} with ${l.instance.entries[4]}/${l.instance.entries[6]} entries loaded in ${l.instance.fillSeconds.toFixed(1)} s, ${(l.instance.memory / 2 ** 20).toFixed(1)} MiB${l.instance.capacity ? `, capacity ${l.instance.capacity[4]}/${l.instance.capacity[6]}` : ""}${Object.keys(l.instance.raised).length ? ` (maps raised: ${Object.entries(l.instance.raised).map(([m, [a, b]]) => `${m} ${a}→${b}`).join(", ")})` : ""}`,
    );
  for (const n of SIZES) {
    const c = cases.get(n)!;
    for (const mix of MIXES) {
      const l = loadFos1Case(fos1Object, c, mix);
      checkVerdicts(`fos1 (${mix} mix, ${n})`, l.prog, c.frames[mix], verdictOf);
      fos1.set(`${mix}/${n}`, l);
      say(l);
    }
    for (const p of ["xdpFilterIp", "xdpFilterAll"] as const) {
      const l = loadXdpFilter(p, specs[p], c);
      for (const mix of MIXES) checkVerdicts(`${LABEL[p]} (${mix} mix, ${n})`, l.prog, c.frames[mix], verdictOf);
      xdp.set(`${p}/${n}`, l);
      say(l);
    }
  }
  // The lengths sweep: a filter holding only the sweep's /16s.
  const sw = sweep4(SWEEP);
  const sweepFilter = loadFos1(fos1Object, "fos1-sweep", { 4: sw.prefixes, 6: [] }, DEFAULT_SIZES).filter;
  const sweepFrames = sw.sources.map((s) => ({ lengths: s.lengths, frame: frame4(s.source) }));
  const sweepModel = new Lookup4(sw.prefixes);
  for (const s of sw.sources) {
    const got = testRun(sweepFilter.program, frame4(s.source)).retval;
    if (got !== XdpAction.PASS || sweepModel.probe(s.source).lookups !== s.lengths) throw new Error(`the lengths sweep's source for ${s.lengths} lengths: ${xdpActionName(got)}`);
  }
  const genBpf = BpfObject.open(genObject);
  objects.push(genBpf);
  genBpf.load();
  const empty = genBpf.program("xdp_pass");
  checkVerdicts("the empty program", empty, cases.get(SIZES[0]!)!.frames.best, () => XdpAction.PASS);

  const ns: NsSample[] = [];
  const sweep: SweepSample[] = [];
  const sample = (round: number, program: Program | "empty", mix: Mix, size: number, prog: BpfProgram, frames: Frames) => {
    for (const family of FAMILIES)
      for (const path of PATHS) ns.push({ round, program, mix, size, family, path, ns: testRun(prog, frames[family][path], { repeat }).durationNs });
  };
  for (let round = 0; round < rounds; round++) {
    for (const n of rotate(SIZES, round))
      for (const p of rotate(PROGRAMS, round))
        for (const mix of rotate(MIXES, round)) {
          const l = p === "fos1" ? fos1.get(`${mix}/${n}`)! : xdp.get(`${p}/${n}`)!;
          sample(round, p, mix, n, l.prog, cases.get(n)!.frames[mix]);
        }
    sample(round, "empty", "best", 0, empty, cases.get(SIZES[0]!)!.frames.best);
    for (const s of rotate(sweepFrames, round)) sweep.push({ round, lengths: s.lengths, ns: testRun(sweepFilter.program, s.frame, { repeat }).durationNs });
    const last = (p: Program | "empty", mix: Mix) => ns.filter((x) => x.round === round && x.program === p && x.mix === mix && x.family === 4 && x.path === "drop").map((x) => `${x.ns}`).join("/");
    console.log(`xdp: round ${round + 1}/${rounds} ns per IPv4 drop (sizes ${rotate(SIZES, round).join("/")}): ${PROGRAMS.map((p) => `${p} ${last(p, "best")} (worst ${last(p, "worst")})`).join(", ")}, empty ${last("empty", "best")}`);
  }

  // b. Packets per second on a veth pair.
  const gen = await createNs("xdpgen");
  const rx = await createNs("xdprx");
  // No IPv6 on the generator's side: its neighbour discovery would be the only traffic the
  // filter may pass, and every packet through it here must be one of the generator's.
  await run(["ip", "netns", "exec", gen, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"], "turn IPv6 off");
  await addVeth(gen, GEN_IF, rx, RX_IF);
  const mac = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
  await ipBatch(gen, [`link set ${GEN_IF} address ${mac(SRC_MAC)}`, "link set lo up", `link set ${GEN_IF} up`]);
  // The generator's loop: seeds go out of A to B's MAC. Its NAPIs threaded (B's too, with GRO
  // on and TSO off on both, so that B receives through NAPI): in softirq, the loop's work would
  // run wherever softirqs run, inside the receiving thread too, and count as its time.
  await run(["ip", "-n", gen, "link", "add", LOOP_A, "type", "veth", "peer", "name", LOOP_B], "add the generator's loop");
  await ipBatch(gen, [`link set ${LOOP_B} address 02:00:00:00:00:0b`, `link set ${LOOP_A} up`, `link set ${LOOP_B} up`, `addr add ${LOOP_NET[0]} dev ${LOOP_A}`, `neigh add ${LOOP_NET[1]} lladdr 02:00:00:00:00:0b dev ${LOOP_A} nud permanent`]);
  for (const dev of [LOOP_A, LOOP_B]) {
    await run(inNet(gen, ["ethtool", "-K", dev, "gro", "on", "tso", "off"]), "set the loop's offloads");
    await run(["ip", "netns", "exec", gen, "sh", "-c", `echo 1 > /sys/class/net/${dev}/threaded`], "thread the loop's NAPI");
  }
  await ipBatch(rx, [`link set ${RX_IF} address ${mac(DST_MAC)}`, "link set lo up", `link set ${RX_IF} up`]);
  // GRO gives the veth NAPI without an XDP program, so frames from the generator's XDP_TX are
  // received (as skbs) in the nft variant too; threaded NAPI puts all the receiving work in one
  // thread, whose CPU time is then measured.
  await run(inNet(rx, ["ethtool", "-K", RX_IF, "gro", "on"]), "turn GRO on");
  // (ip netns exec, not nsenter: the namespace's own sysfs)
  await run(["ip", "netns", "exec", rx, "sh", "-c", `echo 1 > /sys/class/net/${RX_IF}/threaded`], "turn threaded NAPI on");

  t = performance.now();
  const rules = join(tmp, "blocklist.nft");
  writeFileSync(rules, nftRuleset(SIZES, bl4));
  await run(inNet(rx, ["nft", "-f", rules]), "load the nft sets");
  const nftLoadSeconds = (performance.now() - t) / 1000;
  console.log(`xdp: nft sets of ${SIZES.join(", ")} prefixes loaded in ${nftLoadSeconds.toFixed(1)} s`);

  const frameFile = join(tmp, "frame.bin");
  writeFileSync(frameFile, frame4(bl4.hosts[0]!));
  const sources = new Map(SIZES.map((n) => [n, sourcesFile(n, cases.get(n)!.pool)]));
  const attached = (v: "fos1" | "xdpFilterIp", n: number) => (v === "fos1" ? fos1.get(`best/${n}`)! : xdp.get(`${v}/${n}`)!);
  const progPins = new Map<string, string>();
  for (const n of SIZES)
    for (const v of ["fos1", "xdpFilterIp"] as const) {
      const l = attached(v, n);
      const pin = join(l.pinRoot, "prog");
      pinObject(l.prog.fd, pin);
      progPins.set(`${v}/${n}`, pin);
    }
  const dropDir = pinRootFor("drop-only");
  ensureBpffsDir(dropDir);
  const dropPin = join(dropDir, "prog");
  pinObject(genBpf.program("xdp_drop").fd, dropPin);
  for (const n of SIZES) progPins.set(`xdpDrop/${n}`, dropPin);
  const progName = (v: Exclude<PpsVariant, "nft">) => (v === "fos1" ? "xdp_filter" : v === "xdpDrop" ? "xdp_drop" : specs[v].name);
  const nft = (command: string) => run(inNet(rx, ["nft", "-f", "-"]), "set the nft rule", command + "\n");

  const pps: PpsSample[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const n of rotate(SIZES, round))
      for (const v of rotate(PPS_VARIANTS, round)) {
        if (v === "nft") await nft(`add rule netdev ${nftTable(n)} ingress ip saddr @blocklist counter drop`);
        else await child(rx, "attach", RX_IF, progPins.get(`${v}/${n}`)!, progName(v));
        const threads = napiThreads();
        // At the lowest priority the receiving thread runs when the machine has nothing else to
        // run, and then finds its ring full, as a receiver under a flood does: its time goes to
        // frames, not to being woken for each of the generator's bursts (which took most of it).
        for (const pid of threads) await run(["renice", "-n", "19", "-p", pid], "renice the receiving thread");
        const received0 = await rxPackets(rx);
        const g = startGenerator(gen, genObject, frameFile, sources.get(n)!, WARMUP_S + windowSeconds + 0.3);
        await g.sending;
        await Bun.sleep(WARMUP_S * 1000);
        // nft: every source is blocked, so what the veth received is what the rule dropped
        // (checked against the rule's own counter below, where that is quick to read); the
        // drop-only program drops whatever the veth receives.
        const counters = async () => {
          if (v === "nft" || v === "xdpDrop") return { dropped: await rxPackets(rx), other: 0 };
          const stats = attached(v, n).stats();
          return v === "fos1" ? xdpCounters(stats) : xdpFilterCounters(stats);
        };
        const c0 = await reading(counters, threads);
        await Bun.sleep(windowSeconds * 1000);
        const c1 = await reading(counters, threads);
        const sent = await g.done;
        if (v === "nft" && n <= NFT_CHECK_MAX) {
          // the receiving thread (at nice 19) may still be working through its ring: until it is done
          for (let i = 0, last = -1; i < 50; i++) {
            const now = await rxPackets(rx);
            if (now === last) break;
            last = now;
            await Bun.sleep(100);
          }
          const [received, counted] = [(await rxPackets(rx)) - received0, await nftCounter(rx, n)];
          if (counted !== received) throw new Error(`the nft rule dropped ${counted} of the ${received} packets the veth received (${n} prefixes): not every source is in the set`);
        }
        if (v === "nft") await nft(`flush chain netdev ${nftTable(n)} ingress`);
        else await child(rx, "detach", RX_IF, progName(v));
        const dropped = c1.dropped - c0.dropped;
        const rxCpuSeconds = (c1.cpuNs - c0.cpuNs) / 1e9;
        const s: PpsSample = {
          round,
          variant: v,
          size: n,
          droppedPps: dropped / ((c1.at - c0.at) / 1000),
          droppedPerRxCpuSecond: dropped / rxCpuSeconds,
          rxCpuShare: rxCpuSeconds / ((c1.at - c0.at) / 1000),
          offeredPps: sent.frames / sent.seconds,
          load1: loadavg()[0]!,
        };
        if (v === "fos1" || v === "xdpFilterIp") s.passed = c1.other - c0.other;
        if (!(dropped > 0 && rxCpuSeconds > 0)) throw new Error(`${v} with ${n} prefixes dropped nothing: the generator's frames did not reach the filter`);
        if (s.passed) throw new Error(`${LABEL[v as Program]} passed ${s.passed} packets from blocked sources (${n} prefixes)`);
        pps.push(s);
        console.log(`xdp: round ${round + 1}/${rounds} ${v} ${n} prefixes: dropped ${mpps(s.droppedPps)} Mpps (${mpps(s.droppedPerRxCpuSecond)} M per receiving CPU-second, the receiver ran ${(s.rxCpuShare * 100).toFixed(0)} % of the time), offered ${mpps(s.offeredPps)} Mpps`);
      }
  }

  return {
    benchmark: "xdp",
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    commit: gitCommit(),
    host: { kernel: release(), cpus: navigator.hardwareConcurrency, load1AtStart, load1AtEnd: loadavg()[0]! },
    versions: { xdpTools: dpkgVersion("xdp-tools"), libxdp: dpkgVersion("libxdp1"), libbpf: libbpfVersion() ?? "unknown", nft: (await run(["nft", "--version"], "nft --version")).trim() },
    settings: { sizes: SIZES, rounds, repeat, windowSeconds, warmupSeconds: WARMUP_S, generatorSources: SOURCES, fanout: FANOUT, poolMin: POOL_MIN, sweep: SWEEP },
    defaultBlocklist: defaults,
    blocklists: {
      4: { prefixLengths: lengthCounts(bl4.prefixes), sizes: SIZES.map((n) => cases.get(n)!.info[4]) },
      6: { prefixLengths: lengthCounts(bl6.prefixes), sizes: SIZES.map((n) => cases.get(n)!.info[6]) },
    },
    pools: SIZES.map((n) => ({ size: n, addresses: cases.get(n)!.pool.length })),
    instances: [...fos1.values(), ...xdp.values()].map((l) => l.instance),
    memory,
    nftLoadSeconds,
    ns,
    sweep,
    pps,
  };
}

function gitCommit(): string {
  const git = (...args: string[]) => Bun.spawnSync(["git", ...args], { cwd: repo });
  const head = git("rev-parse", "--short=12", "HEAD").stdout.toString().trim() || "unknown";
  return head + (git("diff", "--quiet", "HEAD").exitCode === 0 ? "" : "-dirty");
}

// --- output

const n0 = (x: number) => x.toLocaleString("en-US").replace(/,/g, " ");
const r2 = (x: number) => `${x.toFixed(2)}×`;
const mpps = (x: number) => (x / 1e6).toFixed(2);
const mib = (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`;
const range = (xs: number[], f: (x: number) => string) => {
  const [lo, hi] = [f(Math.min(...xs)), f(Math.max(...xs))];
  return lo === hi ? lo : `${lo}–${hi}`;
};
/** A ratio as the issue asks for it: the median of the per-round ratios, and their range. */
const ratioText = (xs: number[], bold = false) => `${bold ? "**" : ""}${r2(median(xs))}${bold ? "**" : ""} (${range(xs, (x) => x.toFixed(2))})`;

/** The xdp section of bench/README.md, from the raw results alone (so it can be re-rendered). */
function section(raw: Raw): string {
  const { settings: st, host } = raw;
  const date = raw.startedAt.slice(0, 10);
  const rounds = Array.from({ length: st.rounds }, (_, r) => r);
  const nsAt = (program: Program | "empty", mix: Mix, size: number, family: Family, path: Path, round: number) =>
    raw.ns.find((x) => x.program === program && x.mix === mix && x.size === size && x.family === family && x.path === path && x.round === round)!.ns;
  const med = (program: Program | "empty", mix: Mix, size: number, family: Family, path: Path) => median(rounds.map((r) => nsAt(program, mix, size, family, path, r)));
  /** fos1's time over another program's, within each round. */
  const perRound = (other: Program, mix: Mix, size: number, family: Family, path: Path) => rounds.map((r) => nsAt("fos1", mix, size, family, path, r) / nsAt(other, mix, size, family, path, r));
  const sizeInfo = (family: Family, size: number) => raw.blocklists[family].sizes.find((s) => s.size === size)!;
  const inst = (program: Instance["program"], size: number, mix?: Mix) => raw.instances.find((i) => i.program === program && i.size === size && i.mix === mix)!;

  const nsTable = (family: Family) =>
    [
      `| IPv${family} prefixes | mix | fos1's lookups, pass / drop | fos1 pass | fos1 drop | xdp-filter -f ipv4,ipv6 pass | drop | xdp-filter (all) pass | drop | **fos1 ÷ xdp-filter -f ipv4,ipv6, pass** (per round) | **drop** (per round) |`,
      "| ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...st.sizes.flatMap((n) =>
        MIXES.map((mix) => {
          const info = sizeInfo(family, n);
          const count = mix === "best" ? n0(n) : `${n0(n)} + ${n0(info.worst.count - n)}`;
          const m = (p: Program, path: Path) => med(p, mix, n, family, path);
          return `| ${count} | ${mix} | ${info.probes[mix].pass.lookups} / ${info.probes[mix].drop.lookups} | ${m("fos1", "pass")} | ${m("fos1", "drop")} | ${m("xdpFilterIp", "pass")} | ${m("xdpFilterIp", "drop")} | ${m("xdpFilterAll", "pass")} | ${m("xdpFilterAll", "drop")} | ${ratioText(perRound("xdpFilterIp", mix, n, family, "pass"), true)} | ${ratioText(perRound("xdpFilterIp", mix, n, family, "drop"), true)} |`;
        }),
      ),
    ].join("\n");

  // the lengths sweep: medians per count, and the slope of a least-squares line through them
  const sweepMed = st.sweep.map((k) => ({ k, ns: median(raw.sweep.filter((x) => x.lengths === k).map((x) => x.ns)) }));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const [mk, mn] = [mean(sweepMed.map((s) => s.k)), mean(sweepMed.map((s) => s.ns))];
  const slope = sweepMed.reduce((a, s) => a + (s.k - mk) * (s.ns - mn), 0) / sweepMed.reduce((a, s) => a + (s.k - mk) ** 2, 0);
  const xdpPass = range(st.sizes.flatMap((n) => MIXES.map((mix) => med("xdpFilterIp", mix, n, 4, "pass"))), String);
  const breakEven = sweepMed.filter((s) => s.ns <= Math.min(...st.sizes.map((n) => med("xdpFilterIp", "best", n, 4, "pass"))));

  const ppsOf = (v: PpsVariant, size: number) => raw.pps.filter((x) => x.variant === v && x.size === size);
  type PpsKey = "droppedPps" | "droppedPerRxCpuSecond" | "rxCpuShare" | "offeredPps";
  const ppsMed = (v: PpsVariant, size: number, key: PpsKey) => median(ppsOf(v, size).map((x) => x[key]));
  const ppsPerRound = (v: PpsVariant, over: PpsVariant, size: number, key: PpsKey) =>
    rounds.map((round) => {
      const at = (x: PpsVariant) => ppsOf(x, size).find((y) => y.round === round)![key];
      return at(v) / at(over);
    });
  /** ns per packet per receiving core less the drop-only program's, within each round. */
  const netPerRound = (v: PpsVariant, size: number) =>
    rounds.map((round) => {
      const at = (x: PpsVariant) => 1e9 / ppsOf(x, size).find((y) => y.round === round)!.droppedPerRxCpuSecond;
      return at(v) - at("xdpDrop");
    });
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const ppsLabel: Record<PpsVariant, string> = { fos1: "fos1 (XDP)", xdpFilterIp: `${LABEL.xdpFilterIp} (XDP)`, nft: "nftables ingress", xdpDrop: "drop-only XDP program (the floor)" };
  const pool = (n: number) => raw.pools.find((p) => p.size === n)!.addresses;
  const ppsTable = [
    "| IPv4 prefixes | sources drawn from | dropping | offered Mpps | dropped Mpps | receiver busy | **Mpps per receiving core** | ns per packet | **fos1 ÷ xdp-filter, per core** (per round) | **÷ nftables, per core** (per round) |",
    "| ---: | ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...st.sizes.flatMap((n) =>
      PPS_VARIANTS.map((v) => {
        const overXdp = v === "fos1" ? ratioText(ppsPerRound("fos1", "xdpFilterIp", n, "droppedPerRxCpuSecond"), true) : "";
        const overNft = v === "fos1" || v === "xdpFilterIp" ? ratioText(ppsPerRound(v, "nft", n, "droppedPerRxCpuSecond"), true) : "";
        return `| ${n0(n)} | ${n0(pool(n))} addresses | ${ppsLabel[v]} | ${mpps(ppsMed(v, n, "offeredPps"))} | ${mpps(ppsMed(v, n, "droppedPps"))} | ${pct(ppsMed(v, n, "rxCpuShare"))} | **${mpps(ppsMed(v, n, "droppedPerRxCpuSecond"))}** | ${Math.round(1e9 / ppsMed(v, n, "droppedPerRxCpuSecond"))} | ${overXdp} | ${overNft} |`;
      }),
    ),
  ].join("\n");

  // memory
  const mem = (what: MemoryCase["what"]) => raw.memory.find((m) => m.what === what)!;
  const def = mem("defaultConfig");
  const emptyBig = mem("emptyAtLargest");
  const cap = (c: Record<Family, number>) => (c[4] === c[6] ? n0(c[4]) : `${n0(c[4])} / ${n0(c[6])}`);
  const defCount = (f: Family) => def.prefixes.filter((p) => (f === 4) === !p.includes(":")).length;
  const lists = (i: Instance) => `${mib((i.memoryByMap.xdpf_block_v4 ?? 0) + (i.memoryByMap.xdpf_block_v6 ?? 0) + (i.memoryByMap.xdpf_long_v6 ?? 0))}`;
  const emptyLists = mib((emptyBig.memoryByMap.xdpf_block_v4 ?? 0) + (emptyBig.memoryByMap.xdpf_block_v6 ?? 0) + (emptyBig.memoryByMap.xdpf_long_v6 ?? 0));
  const memTable = [
    "| filter | IPv4 entries | IPv6 entries | capacity per family | kernel memory | of which the lists and xdpf_long_v6 |",
    "| :--- | ---: | ---: | ---: | ---: | ---: |",
    `| fos1, the default config's blocklist, default sizes | ${defCount(4)} | ${defCount(6)} | ${cap(def.capacity)} | **${mib(def.memory)}** | ${mib((def.memoryByMap.xdpf_block_v4 ?? 0) + (def.memoryByMap.xdpf_block_v6 ?? 0) + (def.memoryByMap.xdpf_long_v6 ?? 0))} |`,
    `| fos1, empty | 0 | 0 | ${cap(emptyBig.capacity)} | **${mib(emptyBig.memory)}** | ${emptyLists} |`,
    ...st.sizes.flatMap((n) => [
      ...MIXES.map((mix) => {
        const i = inst("fos1", n, mix);
        return `| fos1, ${mix} mix of ${n0(n)} | ${n0(i.entries[4])} | ${n0(i.entries[6])} | ${cap(i.capacity!)} | **${mib(i.memory)}** | ${lists(i)} |`;
      }),
      (() => {
        const i = inst("xdpFilterIp", n);
        return `| xdp-filter -f ipv4,ipv6 at ${n0(n)} | ${n0(i.entries[4])} addresses | ${n0(i.entries[6])} addresses | ${Object.keys(i.raised).length ? Object.entries(i.raised).map(([, [, b]]) => n0(b)).join(" / ") : n0(10000)} | ${mib(i.memory)} | |`;
      })(),
    ]),
  ].join("\n");

  // targets, judged on the medians of the per-round ratios
  const cells = st.sizes.flatMap((n) => MIXES.flatMap((mix) => FAMILIES.flatMap((family) => PATHS.map((path) => ({ n, mix, family, path, ratio: median(perRound("xdpFilterIp", mix, n, family, path)) })))));
  const nsVerdict = (mix: Mix) => {
    const cs = cells.filter((c) => c.mix === mix);
    const missed = cs.filter((c) => c.ratio > 1);
    const name = (c: (typeof cells)[number]) => `IPv${c.family} ${c.path} at ${n0(c.n)} (${r2(c.ratio)})`;
    return missed.length === 0
      ? `**met** in all ${cs.length} cases (IPv4 and IPv6, pass and drop, every size): fos1 at ${range(cs.map((c) => c.ratio), (x) => x.toFixed(2))}× xdp-filter's time`
      : `**not met** in ${missed.length} of ${cs.length} cases: ${missed.map(name).join(", ")}${missed.length < cs.length ? `; met in the others (${range(cs.filter((c) => c.ratio <= 1).map((c) => c.ratio), (x) => x.toFixed(2))}×)` : ""}`;
  };
  const perCore = (v: PpsVariant, over: PpsVariant) => st.sizes.map((n) => ({ n, ratio: median(ppsPerRound(v, over, n, "droppedPerRxCpuSecond")) }));
  const ppsVerdict = (over: PpsVariant, min: number) => {
    const rs = perCore("fos1", over);
    const missed = rs.filter((r) => r.ratio < min);
    const all = rs.map((r) => `${r2(r.ratio)} at ${n0(r.n)}`).join(", ");
    return missed.length === 0 ? `**met** at every size, per receiving core: ${all}` : `**not met** at ${missed.map((r) => n0(r.n)).join(", ")} prefixes, per receiving core: ${all}`;
  };
  const loads = raw.pps.map((x) => x.load1);
  const raisedNote = st.sizes.map((n) => `${n0(n)}: ${inst("xdpFilterIp", n).entries[4] > 10000 || inst("xdpFilterIp", n).entries[6] > 10000 ? Object.entries(inst("xdpFilterIp", n).raised).map(([m, [a, b]]) => `${m} ${n0(a)} → ${n0(b)}`).join(", ") : "none"}`).join("; ");
  const lengths = (family: Family) => Object.entries(raw.blocklists[family].prefixLengths).map(([len, c]) => `/${len}: ${n0(c)}`).join(", ");
  const fos1Caps = st.sizes.map((n) => `${n0(n)}: ${cap(inst("fos1", n, "best").capacity!)} (worst mix ${cap(inst("fos1", n, "worst").capacity!)})`).join(", ");
  const probe = (family: Family, mix: Mix, path: Path) => sizeInfo(family, st.sizes.at(-1)!).probes[mix][path];
  const added = (family: Family) => {
    const a = sizeInfo(family, st.sizes.at(-1)!).worst.added;
    return `${a.defaults} of the default config's, ⌈N/100⌉ spread (${st.sizes.map((n) => n0(sizeInfo(family, n).worst.added.spread ?? 0)).join(" / ")}), ${a.probed} in the probed /16`;
  };
  const memVerdict = def.memory <= 8 * 2 ** 20 ? `**met**: ${mib(def.memory)}` : `**not met**: ${mib(def.memory)}`;
  const big = st.sizes.at(-1)!;
  const full = inst("fos1", big, "best");
  const growVerdict = full.capacity![4] === emptyBig.capacity[4] && full.capacity![6] === emptyBig.capacity[6]
    ? `at the capacity of ${cap(emptyBig.capacity)} per family, fos1's filter takes ${mib(emptyBig.memory)} empty (${emptyLists} of it the three hashes' bucket arrays, 16 bytes per entry of capacity, allocated with the map) and ${mib(full.memory)} holding ${n0(full.entries[4])} + ${n0(full.entries[6])} prefixes: it grows with what it holds, on top of the buckets its capacity sets`
    : `an empty filter of ${cap(emptyBig.capacity)} per family takes ${mib(emptyBig.memory)}`;

  return `<!-- xdp:begin (written by hack/bench/xdp.ts) -->
## XDP early drop

\`hack/bench/xdp.ts\` (${date}, commit ${raw.commit}, ${st.rounds} round${st.rounds === 1 ? "" : "s"}, variants interleaved round by round; raw samples in
[results/xdp-${date}.json](results/xdp-${date}.json)). Kernel ${host.kernel}, ${host.cpus} shared cores, load average
${host.load1AtStart.toFixed(1)} at the start and ${host.load1AtEnd.toFixed(1)} at the end (${range(loads, (x) => x.toFixed(1))} during the packet-rate samples);
xdp-tools ${raw.versions.xdpTools}, libxdp ${raw.versions.libxdp}, libbpf ${raw.versions.libbpf}, ${raw.versions.nft}. Every ratio is the median of
the per-round ratios, with their range.

**The blocklists.** *Best mix*: ${n0(Math.max(...st.sizes))} random prefixes per family, the same every run (seeded), each size the
first N of them. IPv4: non-overlapping, in the unicast space, mostly hosts and /24s, the first ten /16–/19 (so that
even 10 prefixes hold the packet-rate test's ${n0(st.poolMin)} addresses) (${lengths(4)}).
IPv6: in 2000::/3 (${lengths(6)}). *Worst mix*: the best mix plus the default config's XDP blocklist
(${raw.defaultBlocklist.join(", ")}), ⌈N/100⌉ IPv4 /25–/31 and IPv6 /20–/31 prefixes spread at random, and per family
one /16 holding many lengths, where the worst mix's packets come from: IPv4 ${added(4)} (lengths /${sizeInfo(4, big).worst.probeLengths.join(", /")} in
that /16 at ${n0(big)}); IPv6 ${added(6)} (/${sizeInfo(6, big).worst.probeLengths.join(", /")}, the ones above /32 inside the probed sources' /32s).
Its pass packet comes from that /16 but no prefix; its drop packet from the /20 there and no longer prefix — so fos1
looks up every length the /16 (and, for IPv6, the source's /32) names before it passes or drops on the last one
(**fos1's lookups** below: hash lookups for the packet, from a model of its program, hack/bench/xdp-blocklists.ts).
fos1's filter is loaded as fos1 loads it (\`XdpFilter.load\`), its capacity (\`sizes\`, max_entries of its lists per family)
the default ${n0(XDPF_CAPACITY_DEFAULT)} up to that many prefixes and the next power of two above: ${fos1Caps}; no port deny or rate limit
(\`rate: 1\`). xdp-filter matches exact addresses only: it holds host addresses instead, one inside each of fos1's prefixes —
for IPv4 the whole pool the packet-rate test draws from (${st.sizes.map((n) => `${n0(pool(n) + 1)} at ${n0(n)}`).join(", ")}), for IPv6 the N hosts, and the worst mix's two drop sources;
no prefix covers the packets' destination, which xdp-filter looks up first.

**ns per packet** (BPF_PROG_TEST_RUN, ${n0(st.repeat)} repetitions of a 60-byte IPv4 / 66-byte IPv6
UDP frame, the kernel's mean per run, median over the rounds). **pass**: a source no prefix covers;
**drop**: a source inside one (best mix: the host inside a random one of the N). fos1 is \`dist/bpf/xdp_filter.o\` as built,
its lists written by fos1's own code with the index beside them; **xdp-filter -f ipv4,ipv6** is
\`xdpfilt_alw_ip.o\`, the program \`xdp-filter load -f ipv4,ipv6\` attaches, and **xdp-filter (all)**
\`xdpfilt_alw_all.o\`, the default \`xdp-filter load\` (it also looks up MAC addresses and ports) —
Debian's objects, loaded with libbpf like fos1's and filled as \`xdp-filter ip ADDR --mode src\`
fills them; one xdp-filter per size runs both mixes' packets. An empty program (\`return XDP_PASS\`) takes ${med("empty", "best", 0, 4, "pass")} ns (IPv4) and ${med("empty", "best", 0, 6, "pass")} ns (IPv6): the
cost of test-run itself, included in every figure below.

${nsTable(4)}

${nsTable(6)}

**Where fos1's time goes**: passing an IPv4 source whose /24 holds prefixes of k lengths (a filter holding only such /16s, the same
test-run, medians) takes ${sweepMed.map((s) => `${s.ns} ns at k = ${s.k}`).join(", ")}: about ${slope.toFixed(1)} ns per length looked up (least squares),
one kernel hash lookup each; xdp-filter passes in ${xdpPass} ns whatever it holds (two hash lookups: destination, then source). fos1 passes
as fast as xdp-filter or faster ${breakEven.length === 0 ? "at none of these k" : breakEven.length === 1 ? `only at k = ${breakEven[0]!.k}` : `up to k = ${breakEven.at(-1)!.k}`}.

**Packets per second dropped** on a veth pair between two network namespaces. The generator
(\`hack/bench/xdp-generator.ts\`) hands the receiving veth XDP frames through its \`ndo_xdp_xmit\`, as another device's
XDP redirect would: ${st.fanout} copies of each turn of a few packets circulating between two other veths (a tc program
clones them), each copy stamped by an XDP program with its source — ${n0(st.generatorSources)} draws, at random and taken in turn,
from the size's pool of blocked addresses: max(N, ${n0(st.poolMin)}) distinct addresses inside the best mix's N prefixes
(the N hosts, then random addresses of the blocked space), blocked for all three filters. (It used to be
BPF_PROG_TEST_RUN in live-frames mode, xdp-tools' \`xdp-trafficgen\` technique; this kernel refuses live frames with
EPERM.) The receiving veth has GRO on (so it has NAPI, and receives the generator's frames, without an XDP program too)
and threaded NAPI, so all of the receiving side's work runs in one thread; that thread runs at nice 19, so it runs when
the machine has nothing else to run and then finds its 256-frame ring full, as a receiver under a flood does (at nice
0 it was woken for every burst of the generator's, and being woken took most of its time, whatever the filter).
**fos1 (XDP)**: fos1's program attached native with fos1's own \`attachXdp\`, the best mix's N prefixes; **xdp-filter
(XDP)**: its program attached the same way, the pool's addresses; **nftables ingress**: no XDP program, a netdev ingress
chain on the veth, \`ip saddr @blocklist counter drop\`, the same N prefixes in a set (\`type ipv4_addr; flags interval\`);
**drop-only XDP program**: \`return XDP_DROP\`, what the receive path costs without any filter. Packets dropped over
${st.windowSeconds} s after ${st.warmupSeconds} s of warm-up (fos1 and xdp-filter: the program's own per-CPU counters; nftables and the drop-only
program: the packets the veth received, all blocked — for nftables checked against the rule's own counter at
${n0(NFT_CHECK_MAX)} prefixes or fewer, since nft reads a whole table's set elements to list a counter, which takes minutes at a
million), per second of the receiving thread's CPU time over the window (\`/proc/PID/schedstat\`): **Mpps per receiving
core**, what one core drops. Offered is what the generator sent; what the receiver did not take in time, the veth
dropped at its ring, so the wall-clock rates (dropped Mpps, receiver busy) say how much CPU the thread was given, not
how fast the filter is. Medians over the rounds.

${ppsTable}

**Kernel memory** (each map's fdinfo \`memlock\`, summed: fos1's \`usage().memory\`; for xdp-filter all of its object's maps).
xdp-filter's hashes hold ${n0(10000)} addresses as shipped and were raised where they hold more (${raisedNote}).

${memTable}

- **Target: drops per receiving core at least xdp-filter's** (sources from at least ${n0(st.poolMin)} blocked addresses at every size): ${ppsVerdict("xdpFilterIp", 1)}.
- **Target: drops per receiving core at least 3× nftables netdev**: ${ppsVerdict("nft", 3)}.
- Per receiving core, one packet costs ${PPS_VARIANTS.map((v) => `${ppsLabel[v]} ${st.sizes.map((n) => Math.round(1e9 / ppsMed(v, n, "droppedPerRxCpuSecond"))).join(" / ")} ns`).join(", ")} at ${st.sizes.map(n0).join(" / ")} prefixes — all of the receive path, not only the lookup, with a different source every packet, so the lookups run on cold caches, unlike test-run's one packet over and over.
- Net of the floor (each round's ns per packet less the drop-only program's in the same round, medians): ${(["fos1", "xdpFilterIp", "nft"] as const).map((v) => `${ppsLabel[v]} ${st.sizes.map((n) => Math.round(median(netPerRound(v, n)))).join(" / ")} ns`).join(", ")}; on these, nftables takes ${st.sizes.map((n) => `${ratioText(rounds.map((r) => netPerRound("nft", n)[r]! / netPerRound("fos1", n)[r]!))} at ${n0(n)}`).join(", ")} fos1's time, and xdp-filter ${st.sizes.map((n) => `${ratioText(rounds.map((r) => netPerRound("xdpFilterIp", n)[r]! / netPerRound("fos1", n)[r]!))}`).join(" / ")}.
- **Target: test-run ns per packet at most xdp-filter's, best mix**: ${nsVerdict("best")}.
- **Target: the same in the worst realistic mix** (fos1 ${probe(4, "worst", "pass").lookups} / ${probe(6, "worst", "pass").lookups} hash lookups for the IPv4 / IPv6 pass packet at ${n0(big)}, xdp-filter 2): ${nsVerdict("worst")}.
- **Target: the default config's bogon filter costs at most 8 MiB of kernel memory**: ${memVerdict} (${defCount(4)} + ${defCount(6)} prefixes, default capacity ${cap(def.capacity)}; the old design took 68 MiB for its lists and indexes, fixed whatever they held, plus about 5 MiB for its preallocated rate-limit map).
- **Target: memory grows with what a filter holds, up to its capacity**: ${growVerdict}. The old design took 68 MiB + 5 MiB at any content, for at most 1 048 576 prefixes per family.
<!-- xdp:end -->`;
}

function writeReadme(raw: Raw) {
  const readmePath = join(repo, "bench", "README.md");
  const current = existsSync(readmePath) ? readFileSync(readmePath, "utf8") : "# Benchmarks\n";
  const marked = /<!-- xdp:begin[\s\S]*?<!-- xdp:end -->/;
  const text = section(raw);
  writeFileSync(readmePath, marked.test(current) ? current.replace(marked, text) : current.trimEnd() + "\n\n" + text + "\n");
  console.log(text);
}

// BENCH_XDP_REPORT=bench/results/xdp-DATE.json re-renders the README section from a run's raw
// results without running anything.
const reportOnly = process.env.BENCH_XDP_REPORT;
let raw: Raw;
if (reportOnly) raw = JSON.parse(readFileSync(resolve(reportOnly), "utf8")) as Raw;
else {
  process.on("exit", cleanup);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    raw = await runAll();
  } finally {
    await destroyAll();
    cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("exit", cleanup);
  }
  mkdirSync(join(repo, "bench", "results"), { recursive: true });
  writeFileSync(join(repo, "bench", "results", `xdp-${raw.startedAt.slice(0, 10)}.json`), JSON.stringify(raw, null, 2) + "\n");
}
writeReadme(raw);

export {};
