// The XDP filter against the reference (prefix-reference.ts), for the differential test
// (test/netns/xdp-differential.test.ts) and its larger run (hack/bench/xdp-differential.ts),
// which differ in sizes only: every source goes through the loaded program with
// BPF_PROG_TEST_RUN, and its verdict, the reason it was counted under and the blocklist entry
// that counted it are held against the longest listed prefix containing it -- on a random list
// written whole, then after each of a series of small changes, then whole again. Needs root
// and dist/bpf/xdp_filter.o.
import { computeIndex, coverOf, pageOf, prefixes, sameLong, type Index, type LongEntry } from "../../src/bpf/xdp-index";
import { decodeLong, REASONS, XDPF_INDEX_SLOTS, XDPF_IX_LONG, XDPF_IX_LONGER, XDPF_IX_PAGED, XDPF_PAGE_SLOTS, type ReasonName } from "../../src/bpf/layout";
import type { BpfMap } from "../../src/bpf/maps";
import { testRun, XdpAction, xdpActionName } from "../../src/bpf/test-run";
import type { XdpFilter, XdpFilterMaps } from "../../src/bpf/xdp-filter";
import { bits, type Family, type Prefix } from "../../src/api/ip";
import { ethernet, inetChecksum, ipv4, ipv6, udp } from "./packets";
import {
  applyBatch,
  BATCH_CYCLE,
  BatchMaker,
  batchProbes,
  edges,
  indexColumn,
  pick,
  prefixText,
  probeText,
  randomList,
  randomProbes,
  ReferenceList,
  shortPrefixes,
  shuffle,
  type Batch,
  type Probe,
} from "./prefix-reference";
import { seededRandom } from "./seeded-random";

const FAMILIES: Family[] = [4, 6];
const SHOWN = 20;

/** What a run of probes found; every list is empty when the program agrees with the reference. */
export interface Comparison {
  probes: number;
  /** Probes the reference drops. */
  drops: number;
  /** Probes whose verdict differs (the first 20 of verdictMismatchCount). */
  verdictMismatches: { source: string; expected: string; got: string }[];
  verdictMismatchCount: number;
  /** Reasons whose counter rose by other than the reference's count of them. */
  reasonMismatches: { reason: ReasonName; expected: number; got: number }[];
  /** Listed prefixes whose hit count rose by other than the probes they are the longest match of (first 20). */
  hitMismatches: { prefix: string; expected: number; got: number }[];
  hitMismatchCount: number;
  /** Prefixes listed in the filter and not in the reference, or the reverse (first 20 of each). */
  onlyInFilter: string[];
  onlyInReference: string[];
}

/**
 * A UDP frame per family whose source is rewritten for each probe (the IPv4 header checksum
 * with it; the program reads no transport checksum).
 */
class Frames {
  private readonly v4 = ethernet(ipv4("192.0.2.1", "198.51.100.1", udp(5000, 53)));
  private readonly v6 = ethernet(ipv6("2001:db8::1", "2001:db8:1::1", udp(5000, 53)));
  private readonly views = { 4: new DataView(this.v4.bytes.buffer), 6: new DataView(this.v6.bytes.buffer) };

  of(p: Probe): Uint8Array {
    const f = p.family === 4 ? this.v4 : this.v6;
    const v = this.views[p.family];
    if (p.family === 4) {
      const ip = f.l3Offset;
      v.setUint32(ip + 12, Number(p.addr));
      v.setUint16(ip + 10, 0);
      v.setUint16(ip + 10, inetChecksum(f.bytes.subarray(ip, ip + 20)));
    } else {
      v.setBigUint64(f.l3Offset + 8, p.addr >> 64n);
      v.setBigUint64(f.l3Offset + 16, p.addr & 0xffffffffffffffffn);
    }
    return f.bytes;
  }
}

const DROP_REASON: Record<Family, ReasonName> = { 4: "XDPF_DROP_BLOCK_V4", 6: "XDPF_DROP_BLOCK_V6" };

/**
 * Runs every probe through the filter's program and compares: the action (DROP exactly when a
 * listed prefix contains the source), the counters by reason (each drop under its family's
 * block reason, each pass under XDPF_PASS, nothing else), the hit count of every listed prefix
 * (each drop counted on the longest prefix containing its source), and the list itself. The
 * filter must have no port denies and no rate limit, and nothing else may run it meanwhile.
 */
export function compareWithProgram(filter: XdpFilter, ref: ReferenceList, probes: Probe[]): Comparison {
  const frames = new Frames();
  const countersBefore = filter.maps.counters();
  const hitsBefore = hitCounts(filter.maps);
  const expectedHits = new Map<string, number>();
  const expectedReasons = new Map<ReasonName, number>();
  const out: Comparison = {
    probes: probes.length,
    drops: 0,
    verdictMismatches: [],
    verdictMismatchCount: 0,
    reasonMismatches: [],
    hitMismatches: [],
    hitMismatchCount: 0,
    onlyInFilter: [],
    onlyInReference: [],
  };
  for (const probe of probes) {
    const want = ref.longest(probe.family, probe.addr);
    const reason = want ? DROP_REASON[probe.family] : "XDPF_PASS";
    expectedReasons.set(reason, (expectedReasons.get(reason) ?? 0) + 1);
    if (want) {
      out.drops++;
      expectedHits.set(prefixText(want), (expectedHits.get(prefixText(want)) ?? 0) + 1);
    }
    const got = testRun(filter.program, frames.of(probe)).retval;
    if (got !== (want ? XdpAction.DROP : XdpAction.PASS) && out.verdictMismatchCount++ < SHOWN)
      out.verdictMismatches.push({ source: probeText(probe), expected: want ? `DROP (${prefixText(want)})` : "PASS", got: xdpActionName(got) });
  }
  const countersAfter = filter.maps.counters();
  for (const r of REASONS) {
    const got = Number(countersAfter[r].packets - countersBefore[r].packets);
    const expected = expectedReasons.get(r) ?? 0;
    if (got !== expected) out.reasonMismatches.push({ reason: r, expected, got });
  }
  const hitsAfter = hitCounts(filter.maps);
  for (const [prefix, after] of hitsAfter) {
    const got = after - (hitsBefore.get(prefix) ?? 0);
    const expected = expectedHits.get(prefix) ?? 0;
    if (got !== expected && out.hitMismatchCount++ < SHOWN) out.hitMismatches.push({ prefix, expected, got });
  }
  const inRef = new Set(ref.list().map(prefixText));
  out.onlyInFilter = [...hitsAfter.keys()].filter((p) => !inRef.has(p)).slice(0, SHOWN);
  out.onlyInReference = [...inRef].filter((p) => !hitsAfter.has(p)).slice(0, SHOWN);
  return out;
}

function hitCounts(maps: XdpFilterMaps): Map<string, number> {
  return new Map(maps.blocked().map((b) => [b.prefix, Number(b.packets)]));
}

/**
 * Makes the batch's change on the filter -- one changeBlocklist call, or block() and unblock()
 * for a "single" batch -- and returns why the filter's answer is not the expected one (every
 * prefix added, every one removed, none failed); empty when it is.
 */
export function applyToFilter(maps: XdpFilterMaps, b: Batch): string[] {
  const add = b.add.map(prefixText);
  const remove = b.remove.map(prefixText);
  if (b.kind === "single") {
    add.forEach((p) => maps.block(p));
    const kept = remove.filter((p) => !maps.unblock(p));
    return kept.length ? [`unblock() said false for ${kept.join(", ")}`] : [];
  }
  const r = maps.changeBlocklist(add, remove);
  const problems: string[] = [];
  if (r.added !== add.length) problems.push(`added ${r.added} of ${add.length}`);
  if (r.removed.length !== remove.length) problems.push(`removed ${r.removed.length} of ${remove.length}`);
  for (const f of r.failed) problems.push(`${f.prefix}: ${f.error}`);
  return problems;
}

/** The index as the filter's maps hold it. */
export function indexInMaps(maps: XdpFilterMaps, family: Family): Index {
  const slots = new Uint32Array(XDPF_INDEX_SLOTS);
  words(maps.map(family === 4 ? "xdpf_index_v4" : "xdpf_index_v6"), (k, v) => (slots[k] = v(0)));
  const long = new Map<number, LongEntry>();
  if (family === 6) {
    const m = maps.map("xdpf_long_v6");
    const { count, keys, values } = m.dump();
    const k = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
    for (let i = 0; i < count; i++) long.set(k.getUint32(i * 4, true), decodeLong(values.subarray(i * m.bufferSize, (i + 1) * m.bufferSize)));
  }
  const pages = new Map<number, Uint16Array>();
  words(maps.map(family === 4 ? "xdpf_pages_v4" : "xdpf_pages_v6"), (k, v) => {
    if (slots.some((w) => (w & XDPF_IX_PAGED) !== 0 && (w & XDPF_IX_LONGER) === k)) pages.set(k, Uint16Array.from({ length: XDPF_PAGE_SLOTS }, (_, t) => (v(2 * (t & ~1)) >>> (16 * (t & 1))) & 0xffff));
  });
  return { slots, long, pages, groups: new Map(), seenTops: new Set(), seenWords: null };
}

/** Each entry of a map keyed by a u32 (read a few thousand a syscall): the key, and the value's u32 at a byte offset. */
function words(map: BpfMap, each: (key: number, value: (at: number) => number) => void): void {
  const { count, keys, values } = map.dump();
  const k = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
  const v = new DataView(values.buffer, values.byteOffset, values.byteLength);
  for (let i = 0; i < count; i++) each(k.getUint32(i * 4, true), (at) => v.getUint32(i * map.bufferSize + at, true));
}

/** The index of the reference's list of a family: what a whole-list write leaves in the maps. */
export function referenceIndex(ref: ReferenceList, family: Family): Index {
  return computeIndex(family, prefixes(ref.list(family).map(indexColumn)));
}

/**
 * How far the maps' index is from the list's own: the /16 words and /32 entries that differ
 * (compared here, not through indexWrites, which is under test) -- bits left by removed
 * prefixes after a few-prefix change, none after a whole-list one.
 */
export function indexDrift(maps: XdpFilterMaps, ref: ReferenceList, family: Family): number {
  const want = referenceIndex(ref, family);
  const got = indexInMaps(maps, family);
  // A word that names a page holds the list's cover (and for IPv6 its long flag), and its page exactly what the /16's prefixes say.
  const same = (w: number, s: number) => {
    const g = got.slots[s]!;
    if (!(g & XDPF_IX_PAGED)) return w === g;
    const page = got.pages.get(g & XDPF_IX_LONGER);
    const wantPage = pageOf(want.groups.get(s) ?? []);
    return coverOf(w) === coverOf(g) && (w & XDPF_IX_LONG) === (g & XDPF_IX_LONG) && page !== undefined && wantPage.every((e, t) => e === page[t]);
  };
  let n = want.slots.reduce((d, w, s) => d + (same(w, s) ? 0 : 1), 0);
  for (const top of new Set([...want.long.keys(), ...got.long.keys()])) {
    const w = want.long.get(top);
    const g = got.long.get(top);
    if (!w || !g || !sameLong(w, g)) n++;
  }
  return n;
}

/** Whether the batch makes the filter write the family's whole index (changeFamily in src/bpf/xdp-filter.ts). */
const recomputes = (b: Batch, family: Family) =>
  b.add.filter((p) => p.family === family).length + b.remove.filter((p) => p.family === family).length > 64 ||
  b.remove.some((p) => p.family === family && p.len <= 24);

// --- a whole run

export interface RunOptions {
  seed: number;
  /** Prefixes per family in the first list (the batches add a few: give the filter room for twice as many). */
  count: number;
  /** Random sources per family besides the edges of every prefix, on each whole list. */
  randomWhole: number;
  /** After each batch: random sources per family, and listed prefixes whose edges are probed too. */
  randomBatch: number;
  aroundBatch: number;
  /** Times through BATCH_CYCLE (two covers each); 4 use every short prefix (/0 to /6) of each family. */
  cycles: number;
}

/** One step of a run: a write (or none), then the comparisons after it. Everything is empty or 0 when all agree. */
export interface Step {
  step: string;
  added: number;
  removed: number;
  /** What the filter said that it should not have (applyToFilter) and indexProblems(). */
  problems: string[];
  comparison: Comparison;
  /** Per family: indexDrift after the step, and whether the step should have left it 0 (a whole-index write). */
  drift: Record<Family, number>;
  driftShouldBeZero: Record<Family, boolean>;
  seconds: number;
}

export interface RunSummary {
  probes: number;
  /** Sum of every step's drift: 0 would mean the small batches never left bits behind. */
  drift: number;
  /** "4/0" ... "6/128": the lengths listed at some point. */
  lengthsListed: Set<string>;
  /** Of random sources anywhere in the address space, on the first list: how many dropped. */
  anywhere: { probes: number; drops: number };
  listedAtEnd: number;
}

/**
 * The whole comparison on a fresh filter: the seed's random list written with one
 * changeBlocklist (the whole index computed), compared at every prefix's edges and at random,
 * and at random sources from anywhere (how much of the address space the list drops); then cycles × BATCH_CYCLE small batches (a few bits at a time, stale ones left; covers
 * raised and recomputed), each compared around what it touched; then every prefix's edges again.
 * onStep sees each step as it ends (a test asserts there).
 */
export function runDifferential(filter: XdpFilter, o: RunOptions, onStep: (s: Step) => void): RunSummary {
  const rand = seededRandom(o.seed);
  const maps = filter.maps;
  const ref = new ReferenceList();
  const lists = { 4: randomList(4, o.count, rand), 6: randomList(6, o.count, rand) };
  const summary: RunSummary = { probes: 0, drift: 0, lengthsListed: new Set(), anywhere: { probes: 0, drops: 0 }, listedAtEnd: 0 };
  const randomSources = (n: number): Probe[] => FAMILIES.flatMap((f) => randomProbes(f, ref.list(f), n, rand));
  const step = (name: string, b: Batch, probes: () => Probe[]): Comparison => {
    const started = performance.now();
    const problems = applyToFilter(maps, b);
    applyBatch(ref, b);
    for (const p of b.add) summary.lengthsListed.add(`${p.family}/${p.len}`);
    problems.push(...maps.indexProblems());
    const drift = { 4: indexDrift(maps, ref, 4), 6: indexDrift(maps, ref, 6) };
    summary.drift += drift[4] + drift[6];
    const comparison = compareWithProgram(filter, ref, probes());
    summary.probes += comparison.probes;
    const driftShouldBeZero = { 4: recomputes(b, 4), 6: recomputes(b, 6) };
    onStep({ step: name, added: b.add.length, removed: b.remove.length, problems, comparison, drift, driftShouldBeZero, seconds: (performance.now() - started) / 1000 });
    return comparison;
  };
  const none: Batch = { kind: "bulk", add: [], remove: [] };

  step("whole list", { kind: "bulk", add: [...lists[4].prefixes, ...lists[6].prefixes], remove: [] }, () => [...ref.list().flatMap(edges), ...randomSources(o.randomWhole)]);
  const anywhere = step("sources from anywhere", none, () => FAMILIES.flatMap((f) => randomProbes(f, [], o.randomWhole, rand)));
  summary.anywhere = { probes: anywhere.probes, drops: anywhere.drops };

  // The short prefixes in a different order per family: a /0 or /1 of one family at a time.
  const shorts = { 4: shuffle(rand, shortPrefixes(4, lists[4].hot, rand)), 6: shuffle(rand, shortPrefixes(6, lists[6].hot, rand)) };
  const maker = new BatchMaker(ref, shorts, rand);
  Array.from({ length: o.cycles }, () => BATCH_CYCLE)
    .flat()
    .forEach((kind, i) => {
      const b = maker.next(kind);
      step(`batch ${i + 1} (${kind}: +${b.add.length} -${b.remove.length})`, b, () => {
        const listed = ref.list();
        const around = Array.from({ length: o.aroundBatch }, () => pick(rand, listed)).flatMap(edges);
        return [...batchProbes(b), ...around, ...randomSources(o.randomBatch)];
      });
    });

  step("after the batches", none, () => [...ref.list().flatMap(edges), ...randomSources(o.randomWhole)]);
  summary.listedAtEnd = ref.size;
  return summary;
}

/** Every length of both families, as RunSummary.lengthsListed names them. */
export const everyLength = () => FAMILIES.flatMap((f) => Array.from({ length: bits(f) + 1 }, (_, len) => `${f}/${len}`));
