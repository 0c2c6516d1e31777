// XDP benchmark (issue 5; run by hack/bench/run.ts): fos1's early-drop filter
// (dist/bpf/xdp_filter.o) beside xdp-tools' xdp-filter and beside nftables, as root on this
// machine (no lab VM).
//
// a. ns per packet: BPF_PROG_TEST_RUN with BENCH_XDP_REPEAT repetitions of one crafted packet
//    — a pass packet (a source no prefix covers) and a drop packet (a source inside one) —
//    for N blocked prefixes per family (IPv4 and IPv6), N in BENCH_XDP_SIZES. Programs:
//      fos1           xdp_filter: N prefixes in its lists, written by fos1's own XdpFilterMaps
//                     (which writes the index the program finds them by beside them)
//      xdpFilterIp    xdpfilt_alw_ip.o, what `xdp-filter load -f ipv4,ipv6` runs
//      xdpFilterAll   xdpfilt_alw_all.o, what plain `xdp-filter load` runs (also MAC and
//                     port maps)
//    xdp-filter matches exact addresses only: in its hashes go N host addresses, one inside
//    each of fos1's N prefixes, written as `xdp-filter ip ADDR --mode src` writes them, and
//    the drop packet's source is one of those hosts. Its objects are the ones Debian ships
//    (/usr/lib/<arch>/bpf, package libxdp1), loaded here with libbpf through src/bpf like
//    fos1's. Beside them, an empty program: what test-run itself costs per packet.
// b. packets per second dropped: a veth pair between two network namespaces; a generator
//    (hack/bench/xdp-generator.ts, XDP live frames) sends UDP from SOURCES draws of the N
//    host addresses (one inside each prefix, as above); the receiving veth (GRO on, so it has
//    NAPI with or without XDP; threaded NAPI, so all its work runs in one thread) drops them
//    with
//      fos1          fos1's program attached native (fos1's attachXdp), N prefixes
//      xdpFilterIp   xdp-filter's program attached the same way, its N addresses
//      nft           an nftables netdev ingress chain, `ip saddr @blocklist counter drop`, the
//                    same N prefixes in a set of type ipv4_addr, flags interval
//    measured from counters over BENCH_XDP_SECONDS after 0.5 s of warm-up, and per second of
//    the receiving thread's CPU time.
// Variants run interleaved round by round (each round starting at another one), medians
// reported, and judged by ratios: the machine is shared and has 2 cores.
//
// xdp-filter's hashes hold 10 000 addresses: raised for larger sizes only
// (hack/bench/xdp-objects.ts). fos1's maps hold 1 048 576 prefixes per family as shipped.
//
// Environment: BENCH_XDP_SIZES (default 10,10000,1000000), BENCH_XDP_ROUNDS or else
// BENCH_ROUNDS (default 5), BENCH_XDP_REPEAT (default and minimum 1000000), BENCH_XDP_SECONDS
// (default 2). Writes bench/results/xdp-<date>.json and the xdp section of bench/README.md;
// BENCH_XDP_REPORT=bench/results/xdp-<date>.json only re-renders that section from a run.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, release, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { formatIp, parseIp } from "../../src/api/ip";
import { libbpfVersion } from "../../src/bpf/libbpf";
import { BpfObject, type BpfProgram } from "../../src/bpf/object";
import { decodeCounter, layoutMismatches, MAP_NAMES, Reason, REASONS, u32Key, XDPF_BLOCK_V4_MAX, type MapName } from "../../src/bpf/layout";
import { XdpFilterMaps } from "../../src/bpf/xdp-filter";
import { Btf } from "../../src/bpf/btf";
import { pinObject } from "../../src/bpf/pins";
import { testRun, XdpAction, xdpActionName } from "../../src/bpf/test-run";
import type { BpfMap } from "../../src/bpf/maps";
import { DST_MAC, ethernet, ipv4, ipv6, padded, SRC_MAC, udp } from "../../test/helpers/packets";
import { addVeth, createNs, destroyAll, ipBatch } from "../../test/netns/netns";
import { median, rotate } from "./stats";
import { blocklist4, blocklist6, lengthCounts, uncovered4, uncovered6, type Blocklist, type Prefix4, type Prefix6 } from "./xdp-blocklists";
import { seededRandom } from "../../test/helpers/seeded-random";
import { compileGenerator, SOURCES } from "./xdp-generator";
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
/** fos1 and xdp-filter attached to the veth, or nftables at its ingress hook. */
type PpsVariant = "fos1" | "xdpFilterIp" | "nft";
const PPS_VARIANTS: PpsVariant[] = ["fos1", "xdpFilterIp", "nft"];

const DST4 = "198.51.100.2";
const DST6 = "2001:db8::2";
const SEED = 20261125;

// --- the raw results (all the README section is rendered from)

interface NsSample {
  round: number;
  /** "empty": the program that only returns XDP_PASS (size 0). */
  program: Program | "empty";
  size: number;
  family: Family;
  path: Path;
  /** Mean ns per repetition as the kernel measured it (preemption excluded). */
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
  size: number;
  /** Maps whose max_entries was raised for this size: name → [shipped, used]. */
  raised: Record<string, [number, number]>;
  fillSeconds: number;
}

interface Raw {
  benchmark: "xdp";
  startedAt: string;
  finishedAt: string;
  commit: string;
  host: { kernel: string; cpus: number; load1AtStart: number; load1AtEnd: number };
  versions: { xdpTools: string; libxdp: string; libbpf: string; nft: string };
  settings: { sizes: number[]; rounds: number; repeat: number; windowSeconds: number; warmupSeconds: number; generatorSources: number };
  blocklists: Record<Family, { prefixLengths: Record<number, number>; sizes: { size: number; passSource: string; dropSource: string; dropPrefix: string }[] }>;
  instances: Instance[];
  /** Loading every size's set with one nft -f. */
  nftLoadSeconds: number;
  ns: NsSample[];
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

/** xdp-filter's keys: the address in network byte order (__u32, struct in6_addr). */
function hostKey4(a: number): Uint8Array {
  const k = new Uint8Array(4);
  new DataView(k.buffer).setUint32(0, a, false);
  return k;
}

function hostKey6(a: bigint): Uint8Array {
  const k = new Uint8Array(16);
  const view = new DataView(k.buffer);
  view.setBigUint64(0, a >> 64n, false);
  view.setBigUint64(8, BigInt.asUintN(64, a), false);
  return k;
}

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

interface Loaded {
  obj: BenchObject;
  prog: BpfProgram;
  instance: Instance;
}

interface SizeCase {
  size: number;
  frames: Record<Family, Record<Path, Uint8Array>>;
  info: Record<Family, { passSource: string; dropSource: string; dropPrefix: string }>;
}

const frame4 = (src: number) => padded(ethernet(ipv4(formatIp(4, BigInt(src)), DST4, udp(40000, 53)))).bytes;
const frame6 = (src: bigint) => ethernet(ipv6(formatIp(6, src), DST6, udp(40000, 53))).bytes;

function sizeCase(size: number, bl4: Blocklist<Prefix4, number>, bl6: Blocklist<Prefix6, bigint>): SizeCase {
  const rand = seededRandom(SEED + size);
  const p4 = bl4.prefixes.slice(0, size);
  const p6 = bl6.prefixes.slice(0, size);
  const pass4 = uncovered4(p4, rand);
  const pass6 = uncovered6(p6, rand);
  const d4 = Math.floor(rand() * size);
  const d6 = Math.floor(rand() * size);
  return {
    size,
    frames: { 4: { pass: frame4(pass4), drop: frame4(bl4.hosts[d4]!) }, 6: { pass: frame6(pass6), drop: frame6(bl6.hosts[d6]!) } },
    info: {
      4: { passSource: formatIp(4, BigInt(pass4)), dropSource: formatIp(4, BigInt(bl4.hosts[d4]!)), dropPrefix: `${formatIp(4, BigInt(p4[d4]!.addr))}/${p4[d4]!.len}` },
      6: { passSource: formatIp(6, pass6), dropSource: formatIp(6, bl6.hosts[d6]!), dropPrefix: `${formatIp(6, p6[d6]!.addr)}/${p6[d6]!.len}` },
    },
  };
}

function load(program: Program, spec: ProgramSpec, size: number, bl4: Blocklist<Prefix4, number>, bl6: Blocklist<Prefix6, bigint>): Loaded {
  const pinRoot = join(BPFFS, `${PIN_PREFIX}${process.pid}-${program}-${size}`);
  pinRoots.push(pinRoot);
  // fos1's maps hold its largest list as shipped; xdp-filter's are raised where they do not.
  const obj = BenchObject.load(spec.object, pinRoot, program === "fos1" ? {} : { [spec.maps[4]]: size, [spec.maps[6]]: size });
  objects.push(obj);
  const t0 = performance.now();
  if (program === "fos1") {
    // fos1's own code writes its lists and the index beside them, as apply does.
    const maps = new XdpFilterMaps(Object.fromEntries(MAP_NAMES.map((n) => [n, obj.map(n)])) as Record<MapName, BpfMap>, spec.object, pinRoot);
    const prefixes = [
      ...bl4.prefixes.slice(0, size).map((p) => `${formatIp(4, BigInt(p.addr))}/${p.len}`),
      ...bl6.prefixes.slice(0, size).map((p) => `${formatIp(6, p.addr)}/${p.len}`),
    ];
    const r = maps.changeBlocklist(prefixes, []);
    if (r.failed.length) throw new Error(`fos1 with ${size} prefixes: ${r.failed.length} could not be blocked, e.g. ${r.failed[0]!.prefix}: ${r.failed[0]!.error}`);
  } else
    for (const family of FAMILIES) {
      const map = obj.map(spec.maps[family]);
      const value = xdpFilterValue(map);
      if (family === 4) for (const h of bl4.hosts.slice(0, size)) map.update(hostKey4(h), value);
      else for (const h of bl6.hosts.slice(0, size)) map.update(hostKey6(h), value);
    }
  return { obj, prog: obj.program(spec.name), instance: { program, size, raised: obj.raised, fillSeconds: (performance.now() - t0) / 1000 } };
}

/** Every program gives every packet the verdict it should, before anything is timed. */
function checkVerdicts(program: string, size: number, prog: BpfProgram, c: SizeCase) {
  for (const family of FAMILIES)
    for (const path of PATHS) {
      const want = path === "pass" || program === "empty" ? XdpAction.PASS : XdpAction.DROP;
      const got = testRun(prog, c.frames[family][path]).retval;
      if (got !== want)
        throw new Error(`${program} with ${size} prefixes: the IPv${family} ${path} packet (source ${c.info[family][path === "pass" ? "passSource" : "dropSource"]}) got ${xdpActionName(got)}, expected ${xdpActionName(want)}`);
    }
}

// --- b: packets per second

const GEN_IF = `xg${process.pid}`;
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

/** The generator's sources for size N: SOURCES draws from the first N hosts, network byte order. */
function sourcesFile(size: number, bl4: Blocklist<Prefix4, number>): string {
  const rand = seededRandom(SEED ^ size);
  const bytes = new Uint8Array(SOURCES * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < SOURCES; i++) view.setUint32(i * 4, bl4.hosts[Math.floor(rand() * size)]!, false);
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
  const argv = inNet(gen, [process.execPath, CHILD, "generate", genObj, GEN_IF, frameFile, sources, String(seconds)]);
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

async function runAll(): Promise<Raw> {
  if (!SIZES.length || !SIZES.every((n) => Number.isInteger(n) && n >= 1 && n <= XDPF_BLOCK_V4_MAX))
    throw new Error(`BENCH_XDP_SIZES: prefix counts 1–${XDPF_BLOCK_V4_MAX} (what fos1's lists hold), got ${process.env.BENCH_XDP_SIZES}`);
  const rounds = intEnv(process.env.BENCH_XDP_ROUNDS ? "BENCH_XDP_ROUNDS" : "BENCH_ROUNDS", 5, 1);
  const repeat = intEnv("BENCH_XDP_REPEAT", 1_000_000, 1_000_000);
  const windowSeconds = intEnv("BENCH_XDP_SECONDS", 2, 1);
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
  const specs: Record<Program, ProgramSpec> = {
    fos1: { object: fos1Object, name: "xdp_filter", maps: { 4: "xdpf_block_v4", 6: "xdpf_block_v6" } },
    xdpFilterIp: { object: xdpFilterObject("xdpfilt_alw_ip.o"), name: "xdpfilt_alw_ip", maps: { 4: "filter_ipv4", 6: "filter_ipv6" } },
    xdpFilterAll: { object: xdpFilterObject("xdpfilt_alw_all.o"), name: "xdpfilt_alw_all", maps: { 4: "filter_ipv4", 6: "filter_ipv6" } },
  };
  const genObject = compileGenerator(tmp);

  const largest = Math.max(...SIZES);
  let t = performance.now();
  // No prefix may cover the packets' destination: xdp-filter checks it first, and drops on it.
  const bl4 = blocklist4(largest, SEED, [Number(parseIp(DST4)!.addr)]);
  const bl6 = blocklist6(largest, SEED + 6, [parseIp(DST6)!.addr]);
  const cases = new Map(SIZES.map((n) => [n, sizeCase(n, bl4, bl6)]));
  console.log(`xdp: ${largest} prefixes per family drawn in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // a. Load and fill every program for every size; check every verdict before timing.
  const loaded = new Map<string, Loaded>();
  for (const n of SIZES)
    for (const p of PROGRAMS) {
      const l = load(p, specs[p], n, bl4, bl6);
      loaded.set(`${p}/${n}`, l);
      checkVerdicts(p, n, l.prog, cases.get(n)!);
      console.log(`xdp: ${LABEL[p]} with ${n} entries per family loaded in ${l.instance.fillSeconds.toFixed(1)} s${Object.keys(l.instance.raised).length ? ` (maps raised: ${Object.entries(l.instance.raised).map(([m, [a, b]]) => `${m} ${a}→${b}`).join(", ")})` : ""}`);
    }
  const genBpf = BpfObject.open(genObject);
  objects.push(genBpf);
  genBpf.load();
  const empty = genBpf.program("xdp_pass");
  checkVerdicts("empty", 0, empty, cases.get(SIZES[0]!)!);

  const ns: NsSample[] = [];
  const sample = (round: number, program: Program | "empty", size: number, prog: BpfProgram, c: SizeCase) => {
    for (const family of FAMILIES)
      for (const path of PATHS) ns.push({ round, program, size, family, path, ns: testRun(prog, c.frames[family][path], { repeat }).durationNs });
  };
  for (let round = 0; round < rounds; round++) {
    for (const n of rotate(SIZES, round)) for (const p of rotate(PROGRAMS, round)) sample(round, p, n, loaded.get(`${p}/${n}`)!.prog, cases.get(n)!);
    sample(round, "empty", 0, empty, cases.get(SIZES[0]!)!);
    const last = (p: Program | "empty") => ns.filter((x) => x.round === round && x.program === p && x.family === 4 && x.path === "drop").map((x) => `${x.ns}`).join("/");
    console.log(`xdp: round ${round + 1}/${rounds} ns per IPv4 drop (sizes ${rotate(SIZES, round).join("/")}): ${PROGRAMS.map((p) => `${p} ${last(p)}`).join(", ")}, empty ${last("empty")}`);
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
  const sources = new Map(SIZES.map((n) => [n, sourcesFile(n, bl4)]));
  const progPins = new Map<string, string>();
  for (const n of SIZES)
    for (const p of ["fos1", "xdpFilterIp"] as const) {
      const l = loaded.get(`${p}/${n}`)!;
      const pin = join(l.obj.pinRoot, "prog");
      pinObject(l.prog.fd, pin);
      progPins.set(`${p}/${n}`, pin);
    }
  const nft = (command: string) => run(inNet(rx, ["nft", "-f", "-"]), "set the nft rule", command + "\n");

  const pps: PpsSample[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const n of rotate(SIZES, round))
      for (const v of rotate(PPS_VARIANTS, round)) {
        if (v === "nft") await nft(`add rule netdev ${nftTable(n)} ingress ip saddr @blocklist counter drop`);
        else await child(rx, "attach", RX_IF, progPins.get(`${v}/${n}`)!, specs[v].name);
        const threads = napiThreads();
        const received0 = await rxPackets(rx);
        const g = startGenerator(gen, genObject, frameFile, sources.get(n)!, WARMUP_S + windowSeconds + 0.3);
        await g.sending;
        await Bun.sleep(WARMUP_S * 1000);
        // nft: every source is blocked, so what the veth received is what the rule dropped
        // (checked against the rule's own counter below, where that is quick to read).
        const counters = async () => {
          if (v === "nft") return { dropped: await rxPackets(rx), other: 0 };
          const obj = loaded.get(`${v}/${n}`)!.obj;
          return v === "fos1" ? xdpCounters(obj.map("xdpf_stats")) : xdpFilterCounters(obj.map("xdp_stats_map"));
        };
        const c0 = await reading(counters, threads);
        await Bun.sleep(windowSeconds * 1000);
        const c1 = await reading(counters, threads);
        const sent = await g.done;
        if (v === "nft" && n <= NFT_CHECK_MAX) {
          const [received, counted] = [(await rxPackets(rx)) - received0, await nftCounter(rx, n)];
          if (counted !== received) throw new Error(`the nft rule dropped ${counted} of the ${received} packets the veth received (${n} prefixes): not every source is in the set`);
        }
        if (v === "nft") await nft(`flush chain netdev ${nftTable(n)} ingress`);
        else await child(rx, "detach", RX_IF, specs[v].name);
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
        if (v !== "nft") s.passed = c1.other - c0.other;
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
    settings: { sizes: SIZES, rounds, repeat, windowSeconds, warmupSeconds: WARMUP_S, generatorSources: SOURCES },
    blocklists: {
      4: { prefixLengths: lengthCounts(bl4.prefixes), sizes: SIZES.map((n) => ({ size: n, ...cases.get(n)!.info[4] })) },
      6: { prefixLengths: lengthCounts(bl6.prefixes), sizes: SIZES.map((n) => ({ size: n, ...cases.get(n)!.info[6] })) },
    },
    instances: [...loaded.values()].map((l) => l.instance),
    nftLoadSeconds,
    ns,
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
const range = (xs: number[], f: (x: number) => string) => {
  const [lo, hi] = [f(Math.min(...xs)), f(Math.max(...xs))];
  return lo === hi ? lo : `${lo}–${hi}`;
};

/** The xdp section of bench/README.md, from the raw results alone (so it can be re-rendered). */
function section(raw: Raw): string {
  const { settings: st, host } = raw;
  const date = raw.startedAt.slice(0, 10);
  const nsOf = (program: Program | "empty", size: number, family: Family, path: Path) =>
    raw.ns.filter((x) => x.program === program && x.size === size && x.family === family && x.path === path);
  const med = (program: Program | "empty", size: number, family: Family, path: Path) => median(nsOf(program, size, family, path).map((x) => x.ns));
  /** fos1 / other within each round: the spread says how far to trust the ratio of medians. */
  const perRound = (other: Program, size: number, family: Family, path: Path) =>
    Array.from({ length: st.rounds }, (_, round) => {
      const at = (p: Program) => nsOf(p, size, family, path).find((x) => x.round === round)!.ns;
      return at("fos1") / at(other);
    });
  const raisedAt = (size: number) => raw.instances.filter((i) => i.size === size && Object.keys(i.raised).length);
  const mark = (size: number) => (raisedAt(size).length ? " ¹" : "");

  const nsTable = (family: Family) =>
    [
      `| IPv${family} prefixes | fos1 pass | fos1 drop | xdp-filter -f ipv4,ipv6 pass | drop | xdp-filter (all) pass | drop | **fos1 / xdp-filter -f ipv4,ipv6, pass** (per round) | **drop** (per round) |`,
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...st.sizes.map((n) => {
        const m = (p: Program, path: Path) => med(p, n, family, path);
        const ratio = (p: Program, path: Path) => `${r2(m("fos1", path) / m(p, path))}** (${range(perRound(p, n, family, path), (x) => x.toFixed(2))})`;
        return `| ${n0(n)}${mark(n)} | ${m("fos1", "pass")} | ${m("fos1", "drop")} | ${m("xdpFilterIp", "pass")} | ${m("xdpFilterIp", "drop")} | ${m("xdpFilterAll", "pass")} | ${m("xdpFilterAll", "drop")} | **${ratio("xdpFilterIp", "pass")} | **${ratio("xdpFilterIp", "drop")} |`;
      }),
    ].join("\n");

  const ppsOf = (v: PpsVariant, size: number) => raw.pps.filter((x) => x.variant === v && x.size === size);
  type PpsKey = "droppedPps" | "droppedPerRxCpuSecond" | "rxCpuShare" | "offeredPps";
  const ppsMed = (v: PpsVariant, size: number, key: PpsKey) => median(ppsOf(v, size).map((x) => x[key]));
  /** A variant over nftables, on the medians and within each round. */
  const overNft = (v: PpsVariant, size: number, key: PpsKey) => ppsMed(v, size, key) / ppsMed("nft", size, key);
  const overNftPerRound = (v: PpsVariant, size: number, key: PpsKey) =>
    Array.from({ length: st.rounds }, (_, round) => {
      const at = (x: PpsVariant) => ppsOf(x, size).find((y) => y.round === round)![key];
      return at(v) / at("nft");
    });
  /** The filter kept up with everything sent: its wall-clock rate is the generator's, not its own limit. */
  const keptUp = (v: PpsVariant, size: number) => ppsMed(v, size, "droppedPps") >= 0.95 * ppsMed(v, size, "offeredPps");
  const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
  const ppsLabel: Record<PpsVariant, string> = { fos1: "fos1 (XDP)", xdpFilterIp: `${LABEL.xdpFilterIp} (XDP)`, nft: "nftables ingress" };
  const ppsTable = [
    "| IPv4 prefixes | dropping | dropped Mpps | offered Mpps | receiver busy | **Mpps per receiving core** | **÷ nftables, per core** (per round) | ÷ nftables, wall clock (per round) |",
    "| ---: | :--- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...st.sizes.flatMap((n) =>
      PPS_VARIANTS.map((v) => {
        const ratios = v === "nft" ? "| | " : `| **${r2(overNft(v, n, "droppedPerRxCpuSecond"))}** (${range(overNftPerRound(v, n, "droppedPerRxCpuSecond"), (x) => x.toFixed(2))}) | ${r2(overNft(v, n, "droppedPps"))} (${range(overNftPerRound(v, n, "droppedPps"), (x) => x.toFixed(2))}) `;
        return `| ${n0(n)}${mark(n)} | ${ppsLabel[v]} | ${mpps(ppsMed(v, n, "droppedPps"))}${keptUp(v, n) ? " ²" : ""} | ${mpps(ppsMed(v, n, "offeredPps"))} | ${pct(ppsMed(v, n, "rxCpuShare"))} | **${mpps(ppsMed(v, n, "droppedPerRxCpuSecond"))}** ${ratios}|`;
      }),
    ),
  ].join("\n");

  const floor = (family: Family) => med("empty", 0, family, "pass");
  // Targets, judged on the medians.
  const cells = st.sizes.flatMap((n) => FAMILIES.flatMap((family) => PATHS.map((path) => ({ n, family, path, ratio: med("fos1", n, family, path) / med("xdpFilterIp", n, family, path) }))));
  const nsMissed = cells.filter((c) => c.ratio > 1);
  const cellName = (c: (typeof cells)[number]) => `IPv${c.family} ${c.path} at ${n0(c.n)} (${r2(c.ratio)})`;
  const nsVerdict = nsMissed.length === 0
    ? `**met** in all ${cells.length} cases (IPv4 and IPv6, pass and drop, every size): fos1 at ${range(cells.map((c) => c.ratio), (x) => x.toFixed(2))}× xdp-filter's time`
    : `**not met** in ${nsMissed.length} of ${cells.length} cases: ${nsMissed.map(cellName).join(", ")}${nsMissed.length < cells.length ? `; met in the others (${range(cells.filter((c) => c.ratio <= 1).map((c) => c.ratio), (x) => x.toFixed(2))}×)` : ""}`;
  // What the figures say about where fos1's time goes.
  const [small, big] = [st.sizes[0]!, st.sizes.at(-1)!];
  const across = (program: Program, family: Family, path: Path) => range(st.sizes.map((n) => med(program, n, family, path)), String);
  const why = `fos1 passes a packet in ${across("fos1", 4, "pass")} ns (IPv4) and ${across("fos1", 6, "pass")} ns (IPv6) and drops one in ${across("fos1", 4, "drop")} and ${across("fos1", 6, "drop")} ns, from ${n0(small)} to ${n0(big)} prefixes: the index fos1 writes beside its lists says which prefix lengths to look up for a source, so a pass costs one array load (IPv4) or two bucket reads (IPv6) and a drop one hash lookup more (the prefix's counter), whatever the list's size. xdp-filter makes two hash lookups for every packet (destination, then source): ${across("xdpFilterIp", 4, "pass")} ns to pass and ${across("xdpFilterIp", 4, "drop")} ns to drop (IPv4), ${across("xdpFilterIp", 6, "pass")} and ${across("xdpFilterIp", 6, "drop")} ns (IPv6). Net of test-run's own cost (the empty program), fos1 takes ${r2((med("fos1", big, 4, "drop") - floor(4)) / (med("xdpFilterIp", big, 4, "drop") - floor(4)))} xdp-filter's time for an IPv4 drop and ${r2((med("fos1", big, 6, "drop") - floor(6)) / (med("xdpFilterIp", big, 6, "drop") - floor(6)))} for an IPv6 drop at ${n0(big)} prefixes.`;
  const ppsMissed = st.sizes.filter((n) => overNft("fos1", n, "droppedPerRxCpuSecond") < 3);
  const perCore = (n: number) => `${r2(overNft("fos1", n, "droppedPerRxCpuSecond"))} at ${n0(n)}`;
  const ppsVerdict = ppsMissed.length === 0
    ? `**met** at every size, per receiving core: ${st.sizes.map(perCore).join(", ")}`
    : `**not met** at ${ppsMissed.map(n0).join(", ")} prefixes, per receiving core: ${st.sizes.map(perCore).join(", ")}`;
  const generatorBound = st.sizes.filter((n) => keptUp("fos1", n));
  const hashRatios = st.sizes.map((n) => overNft("xdpFilterIp", n, "droppedPerRxCpuSecond"));
  const lookupNote = ppsMissed.length && hashRatios.every((x) => x >= 3)
    ? ` xdp-filter, on the same XDP path with a hash of exact addresses, stays at ${range(hashRatios, (x) => x.toFixed(2))}× nftables per core at every size: what falls behind is fos1's lookup, not XDP.`
    : "";
  const loads = raw.pps.map((x) => x.load1);
  const raisedNote = st.sizes
    .filter((n) => raisedAt(n).length)
    .map((n) => `${n0(n)}: ${raisedAt(n).map((i) => `${LABEL[i.program]} (${Object.entries(i.raised).map(([m, [a, b]]) => `${m} ${n0(a)} → ${n0(b)}`).join(", ")})`).join("; ")}`)
    .join("; ");
  const lengths = (family: Family) => Object.entries(raw.blocklists[family].prefixLengths).map(([len, c]) => `/${len}: ${n0(c)}`).join(", ");

  return `<!-- xdp:begin (written by hack/bench/xdp.ts) -->
## XDP early drop

\`hack/bench/xdp.ts\` (${date}, commit ${raw.commit}, ${st.rounds} round${st.rounds === 1 ? "" : "s"}, variants interleaved round by round; raw samples in
[results/xdp-${date}.json](results/xdp-${date}.json)). Kernel ${host.kernel}, ${host.cpus} shared cores, load average
${host.load1AtStart.toFixed(1)} at the start and ${host.load1AtEnd.toFixed(1)} at the end (${range(loads, (x) => x.toFixed(1))} during the packet-rate samples);
xdp-tools ${raw.versions.xdpTools}, libxdp ${raw.versions.libxdp}, libbpf ${raw.versions.libbpf}, ${raw.versions.nft}.

The blocklists: ${n0(Math.max(...st.sizes))} random prefixes per family, the same every run (seeded), each size the
first N of them. IPv4: non-overlapping, in the unicast space, mostly hosts and /24s (${lengths(4)}).
IPv6: in 2000::/3 (${lengths(6)}). xdp-filter matches exact addresses only, so it holds N host
addresses instead, one inside each of fos1's N prefixes, and the drop packet's source is one of
them — the same packets for every program; no prefix covers the packets' destination, which
xdp-filter looks up first.

**ns per packet** (BPF_PROG_TEST_RUN, ${n0(st.repeat)} repetitions of a 60-byte IPv4 / 66-byte IPv6
UDP frame, the kernel's mean per run, median over the rounds). **pass**: a source no prefix covers;
**drop**: a source inside one. fos1 is \`dist/bpf/xdp_filter.o\` as shipped, its lists written by
fos1's own code with the index beside them, no port deny or rate limit configured; **xdp-filter -f ipv4,ipv6** is
\`xdpfilt_alw_ip.o\`, the program \`xdp-filter load -f ipv4,ipv6\` attaches, and **xdp-filter (all)**
\`xdpfilt_alw_all.o\`, the default \`xdp-filter load\` (it also looks up MAC addresses and ports) —
Debian's objects, loaded with libbpf like fos1's and filled as \`xdp-filter ip ADDR --mode src\`
fills them. An empty program (\`return XDP_PASS\`) takes ${floor(4)} ns (IPv4) and ${floor(6)} ns (IPv6): the
cost of test-run itself, included in every figure below. Ratios: fos1's time over xdp-filter's,
with the range of the same ratio within each round.

${nsTable(4)}

${nsTable(6)}

**Packets per second dropped** on a veth pair between two network namespaces. The generator
(\`hack/bench/xdp-generator.ts\`) is BPF_PROG_TEST_RUN in live-frames mode, the technique of
xdp-tools' \`xdp-trafficgen\` (whose Debian build does not load on this kernel): it sends 60-byte
UDP frames into the receiving veth as XDP frames, as a NIC driver would hand them over, their
sources ${n0(st.generatorSources)} draws, taken in turn, from the N host addresses (one inside each blocked prefix: blocked for
all three filters). The receiving veth has GRO on (so it has NAPI, and receives the generator's
frames, without an XDP program too) and threaded NAPI; nothing is pinned (on a shared machine
that would only wait for a busy core). **fos1 (XDP)**: fos1's program attached native with
fos1's own \`attachXdp\`, N prefixes; **xdp-filter (XDP)**: its program attached the same way, its
N addresses; **nftables ingress**: no XDP program, a netdev ingress chain on the veth,
\`ip saddr @blocklist counter drop\`, the same N prefixes in a set (\`type ipv4_addr; flags interval\`).
Dropped packets per second over ${st.windowSeconds} s after ${st.warmupSeconds} s of warm-up: for XDP from the program's per-CPU
counter by reason or xdp-filter's per-action one; for nftables from the packets the veth received (every source is blocked, so
all of them; checked against the rule's own counter at ${n0(NFT_CHECK_MAX)} prefixes or fewer, since nft
reads a whole table's set elements to list a counter, which takes minutes at a million). Offered
is what the generator sent over its whole run; what the receiver could not take in time, the
veth dropped at its 256-frame ring. All of the receiving side's work runs in its NAPI thread,
so its CPU time over the window (\`/proc/PID/schedstat\`) says how busy it was (**receiver
busy**), and dropped packets per second of that CPU time — **Mpps per receiving core** — what one
core drops, however much of it the other tenants of this machine left. The wall-clock rates
depend on that share and on how soon the thread is woken to drain its ring. Medians over the
rounds; the target is judged per receiving core, the wall-clock ratio beside it.

${ppsTable}

${raisedNote ? `¹ Maps raised for this size only, since their own limit is lower: ${raisedNote}. xdp-filter's hashes hold ${n0(10000)} addresses as shipped. fos1's maps are as shipped at every size: ${n0(XDPF_BLOCK_V4_MAX)} prefixes per family (\`XDPF_BLOCK_V4_MAX\`/\`V6_MAX\` in bpf/xdp_filter.h).\n` : ""}${st.sizes.some((n) => PPS_VARIANTS.some((v) => keptUp(v, n))) ? `² Dropped at least 95 % of what was offered: the generator, not the filter, set this wall-clock rate.\n` : ""}
- **Target: at or below xdp-filter's ns per packet** (fos1 matching prefixes, xdp-filter exact addresses; against its lighter \`-f ipv4,ipv6\` program): ${nsVerdict}. ${why}
- Per receiving core, one packet costs ${PPS_VARIANTS.map((v) => `${ppsLabel[v]} ${st.sizes.map((n) => Math.round(1e9 / ppsMed(v, n, "droppedPerRxCpuSecond"))).join(" / ")} ns`).join(", ")} at ${st.sizes.map(n0).join(" / ")} prefixes — all of the receive path, not only the lookup, with a different source every packet, so the lookups run on cold caches, unlike test-run's one packet over and over.
- **Target: at least 3× nftables' drop rate**: ${ppsVerdict}.${lookupNote} On wall-clock rates: ${st.sizes.map((n) => `${r2(overNft("fos1", n, "droppedPps"))} at ${n0(n)}`).join(", ")}${generatorBound.length ? ` (at ${generatorBound.map(n0).join(", ")} fos1's program dropped everything the generator sent: a lower bound)` : ""}.
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
