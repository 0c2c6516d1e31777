// The blocklists of the XDP benchmark (hack/bench/xdp.ts): N random source prefixes per family,
// the same every run (seeded), nested (the first 10 of the 10 000, the first 10 000 of the
// 1 000 000), each with one host address inside it — what xdp-filter, which matches exact
// addresses only, holds in its place. Pure: no I/O.
//
// IPv4: non-overlapping prefixes in the unicast space (1.0.0.0–223.255.255.255 without
// 127.0.0.0/8), with a length mix like a real blocklist feed's: mostly single hosts and /24s,
// a few larger networks. Non-overlapping so that fos1's list, xdp-filter's hash and an
// nftables interval set hold exactly N entries each. The first LEAD prefixes are /16–/19, so
// that even the smallest list holds the ≥ 65 536 addresses the packet-rate test draws its
// sources from (addressPool4). IPv6: distinct prefixes in 2000::/3.
//
// Beside this "best mix" (what a feed looks like), worstMix4/6 add what makes fos1's lookup
// longest: the default config's bogons, IPv4 /25–/31 and IPv6 /20–/31 prefixes spread over the
// space, and one /16 per family holding many lengths, where the probed sources lie. Lookup4/6
// model fos1's program (bpf/xdp_filter.c): which hash lookups a source costs it.
import { seededRandom } from "../../test/helpers/seeded-random";
import { XDPF_LONG_INLINE } from "../../src/bpf/layout";

export interface Prefix4 {
  /** Network address as an unsigned 32-bit number. */
  addr: number;
  len: number;
}

export interface Prefix6 {
  addr: bigint;
  len: number;
}

export interface Blocklist<P, A> {
  /** In random order: the first N are the blocklist of size N. */
  prefixes: P[];
  /** hosts[i] is a random address inside prefixes[i]. */
  hosts: A[];
}

/** Share of prefixes by length range (inclusive), summing to 1. */
const V4_MIX: [number, number, number][] = [
  [16, 19, 0.01],
  [20, 23, 0.09],
  [24, 24, 0.3],
  [32, 32, 0.6],
];
const V6_MIX: [number, number, number][] = [
  [32, 32, 0.05],
  [48, 48, 0.35],
  [56, 56, 0.1],
  [64, 64, 0.3],
  [128, 128, 0.2],
];


/** Lengths of the first LEAD IPv4 prefixes: large enough that LEAD of them hold ≥ 65 536 addresses. */
const LEAD_MIX: [number, number, number][] = [[16, 19, 1]];
export const LEAD = 10;

const u32 = (rand: () => number) => Math.floor(rand() * 4294967296) >>> 0;

function length(mix: [number, number, number][], rand: () => number): number {
  let x = rand();
  for (const [lo, hi, share] of mix) {
    if (x < share) return lo + Math.floor(rand() * (hi - lo + 1));
    x -= share;
  }
  return mix.at(-1)![0];
}

export const mask4 = (len: number) => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);
export const end4 = (p: Prefix4) => (p.addr + 2 ** (32 - p.len) - 1) >>> 0;

/** A random unicast address: first octet 1–223, not 127. */
function unicast4(rand: () => number): number {
  for (;;) {
    const a = u32(rand);
    const first = a >>> 24;
    if (first >= 1 && first <= 223 && first !== 127) return a;
  }
}

/** Which of the lengths' networks hold an address: one set of network numbers per length. */
class Cover<A extends number | bigint> {
  private readonly byLen = new Map<number, Set<A>>();
  constructor(
    private readonly net: (a: A, len: number) => A,
    prefixes: { addr: A; len: number }[],
  ) {
    for (const p of prefixes) {
      let s = this.byLen.get(p.len);
      if (!s) this.byLen.set(p.len, (s = new Set()));
      s.add(this.net(p.addr, p.len));
    }
  }
  covers(a: A): boolean {
    for (const [len, nets] of this.byLen) if (nets.has(this.net(a, len))) return true;
    return false;
  }
}

export const net4 = (a: number, len: number) => (a & mask4(len)) >>> 0;
export const net6 = (a: bigint, len: number) => a >> BigInt(128 - len);

/**
 * count non-overlapping IPv4 prefixes, none covering an address in `avoid`, in random order.
 * Candidates are drawn, swept in address order (one that starts inside the previous kept one
 * is dropped), and the survivors taken in the order they were drawn; the first LEAD candidates
 * are /16–/19 (LEAD_MIX), so they lead the list unless an overlap drops one.
 */
export function blocklist4(count: number, seed: number, avoid: number[] = []): Blocklist<Prefix4, number> {
  const rand = seededRandom(seed); // every run blocks the same prefixes
  const avoided = (p: Prefix4) => avoid.some((a) => net4(a, p.len) === p.addr);
  for (let factor = 1.3; ; factor *= 1.5) {
    const n = Math.ceil(count * factor) + 16;
    if (n >= 2 ** 21) throw new Error(`blocklist4: ${count} prefixes do not fit the address space here`);
    const cands: Prefix4[] = [];
    for (let i = 0; i < n; i++) {
      const len = length(i < LEAD ? LEAD_MIX : V4_MIX, rand);
      cands.push({ addr: net4(unicast4(rand), len), len });
    }
    // start · 2^21 + draw index: exact in a double, and a plain numeric sort orders by address.
    const order = Float64Array.from(cands, (p, i) => p.addr * 2 ** 21 + i).sort();
    const kept = new Uint8Array(n);
    let lastEnd = -1;
    for (const key of order) {
      const i = key % 2 ** 21;
      const p = cands[i]!;
      if (p.addr <= lastEnd || avoided(p)) continue;
      kept[i] = 1;
      lastEnd = end4(p);
    }
    const prefixes = cands.filter((_, i) => kept[i]).slice(0, count);
    if (prefixes.length < count) continue;
    return { prefixes, hosts: prefixes.map((p) => (p.addr | (u32(rand) & ~mask4(p.len))) >>> 0) };
  }
}

/** count distinct IPv6 prefixes in 2000::/3, none covering an address in `avoid`, in random order. */
export function blocklist6(count: number, seed: number, avoid: bigint[] = []): Blocklist<Prefix6, bigint> {
  const rand = seededRandom(seed); // every run blocks the same prefixes
  const seen = new Set<string>();
  const prefixes: Prefix6[] = [];
  while (prefixes.length < count) {
    const len = length(V6_MIX, rand);
    const addr = net6(global6(rand), len) << BigInt(128 - len);
    const key = `${addr}/${len}`;
    if (seen.has(key) || avoid.some((a) => net6(a, len) === net6(addr, len))) continue;
    seen.add(key);
    prefixes.push({ addr, len });
  }
  const hosts = prefixes.map((p) => p.addr | (random128(rand) & ((1n << BigInt(128 - p.len)) - 1n)));
  return { prefixes, hosts };
}

function random128(rand: () => number): bigint {
  let a = 0n;
  for (let i = 0; i < 4; i++) a = (a << 32n) | BigInt(u32(rand));
  return a;
}

/** A random address in 2000::/3 (global unicast). */
function global6(rand: () => number): bigint {
  return (1n << 125n) | (random128(rand) & ((1n << 125n) - 1n));
}

/** A random address no prefix of the list covers (a source the filter must pass). */
export function uncovered4(prefixes: Prefix4[], rand: () => number): number {
  const cover = new Cover(net4, prefixes);
  for (;;) {
    const a = unicast4(rand);
    if (!cover.covers(a)) return a;
  }
}

export function uncovered6(prefixes: Prefix6[], rand: () => number): bigint {
  const cover = new Cover(net6, prefixes);
  for (;;) {
    const a = global6(rand);
    if (!cover.covers(a)) return a;
  }
}

/** Prefix lengths and how many prefixes have each, for the report. */
export function lengthCounts(prefixes: { len: number }[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const p of prefixes) out[p.len] = (out[p.len] ?? 0) + 1;
  return out;
}

// --- the packet-rate test's sources

/** Addresses in the prefix (2^(32 - len)). */
export const size4 = (p: Prefix4) => 2 ** (32 - p.len);

/**
 * `want` distinct blocked addresses, in random order: every host of `hosts` (one inside each
 * prefix), then random addresses of the prefixes (each address of the blocked space as likely
 * as any other) until there are `want`, or as many as the prefixes hold.
 */
export function addressPool4(prefixes: Prefix4[], hosts: number[], want: number, rand: () => number): Uint32Array {
  const total = prefixes.reduce((n, p) => n + size4(p), 0);
  const n = Math.min(Math.max(want, hosts.length), total);
  const seen = new Set<number>(hosts);
  const out = new Uint32Array(n);
  out.set(hosts.slice(0, n));
  let filled = Math.min(n, hosts.length);
  const cumulative = new Float64Array(prefixes.length);
  prefixes.reduce((sum, p, i) => (cumulative[i] = sum + size4(p)), 0);
  while (filled < n) {
    // the prefix holding the x-th blocked address (binary search), then the address
    const x = rand() * total;
    let lo = 0, hi = prefixes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    const p = prefixes[lo]!;
    const a = (p.addr | (u32(rand) & ~mask4(p.len))) >>> 0;
    if (seen.has(a)) continue;
    seen.add(a);
    out[filled++] = a;
  }
  // random order (Fisher–Yates): hosts first would put the /32s at the front
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// --- fos1's lookup, modelled (bpf/xdp_filter.c blocked_v4/blocked_v6 over src/bpf/xdp-index.ts's index)

/** What fos1's program does for one source: the hash lookups it makes, the length that matched (null: passed). */
export interface Probe {
  lookups: number;
  hit: number | null;
}

/** Bit 32 - len for each length 17..32 inside a /16 (`longer`) or a /24 (`inside24`), keyed by the network's first 32 bits. */
class ShortLengths {
  private readonly longer = new Map<number, number>();
  private readonly inside24 = new Map<number, number>();

  add(top: number, len: number): void {
    this.longer.set(top >>> 16, (this.longer.get(top >>> 16) ?? 0) | (1 << (32 - len)));
    if (len > 24) this.inside24.set(top >>> 8, (this.inside24.get(top >>> 8) ?? 0) | (1 << (32 - len)));
  }

  /**
   * The lengths 17..32 the index leads a source (first 32 bits `top`) to, longest first: every
   * one its /16 names; or, when the /16 names two or more (it has a page; the bench's filters
   * have pages enough), the /25–/32 inside its /24, then the longest /17–/24 covering it
   * (`covers(len)`: a blocked /len covers the source).
   */
  lengths(top: number, covers: (len: number) => boolean): number[] {
    const bits = this.longer.get(top >>> 16) ?? 0;
    const named = (b: number, from: number, to: number) => {
      const out: number[] = [];
      for (let len = from; len >= to; len--) if (b & (1 << (32 - len))) out.push(len);
      return out;
    };
    const all = named(bits, 32, 17);
    if (all.length < 2) return all;
    const cover = [24, 23, 22, 21, 20, 19, 18, 17].find(covers);
    return [...named(this.inside24.get(top >>> 8) ?? 0, 32, 25), ...(cover === undefined ? [] : [cover])];
  }
}

/**
 * fos1 reads the index word of the source's /16 (an array load, not counted) and looks up, in
 * the list, each length it names — the lengths 17..32 of the prefixes inside the /16 (through
 * its page when it has one, another array load), longest first, then the longest prefix of
 * length ≤ 16 covering it — until one matches.
 */
export class Lookup4 {
  private readonly nets = new Map<number, Set<number>>();
  private readonly short = new ShortLengths();

  constructor(prefixes: Prefix4[]) {
    for (const p of prefixes) this.add(p);
  }

  add(p: Prefix4): void {
    let s = this.nets.get(p.len);
    if (!s) this.nets.set(p.len, (s = new Set()));
    s.add(net4(p.addr, p.len));
    if (p.len > 16) this.short.add(p.addr, p.len);
  }

  has(len: number, a: number): boolean {
    return this.nets.get(len)?.has(net4(a, len)) ?? false;
  }

  /** The longest blocked prefix of length 0..16 covering the source's /16, or null. */
  cover(a: number): number | null {
    for (let len = 16; len >= 0; len--) if (this.has(len, a)) return len;
    return null;
  }

  /** Lengths 17..32 the index names for the source, longest first. */
  lengths(a: number): number[] {
    return this.short.lengths(a, (len) => this.has(len, a));
  }

  probe(a: number): Probe {
    let lookups = 0;
    for (const len of this.lengths(a)) {
      lookups++;
      if (this.has(len, a)) return { lookups, hit: len };
    }
    const c = this.cover(a);
    return c === null ? { lookups, hit: null } : { lookups: lookups + 1, hit: c };
  }
}

/**
 * As Lookup4, and for a /16 holding prefixes longer than /32, first one lookup of the
 * source's /32 in xdpf_long_v6: when the /32 holds at most XDPF_LONG_INLINE of them, the entry
 * holds them and that lookup alone finds the source's; otherwise one more for each length
 * above 32 the entry names, longest first. The seen filter (an array load, not counted) spares
 * that lookup, and length 32's, for a /32 that neither holds such a prefix nor is one; this
 * model counts none of its false positives (about 2 % of unseen /32s at full capacity).
 */
export class Lookup6 {
  private readonly nets = new Map<number, Set<bigint>>();
  private readonly short = new ShortLengths();
  /** /16s holding prefixes longer than /32. */
  private readonly longSlots = new Set<number>();
  /** /32 → its prefixes longer than /32, as length → networks. */
  private readonly long = new Map<number, Map<number, Set<bigint>>>();

  constructor(prefixes: Prefix6[]) {
    for (const p of prefixes) this.add(p);
  }

  add(p: Prefix6): void {
    let s = this.nets.get(p.len);
    if (!s) this.nets.set(p.len, (s = new Set()));
    s.add(net6(p.addr, p.len));
    const top = Number(p.addr >> 96n);
    if (p.len > 32) {
      this.longSlots.add(top >>> 16);
      let l = this.long.get(top);
      if (!l) this.long.set(top, (l = new Map()));
      l.set(p.len, (l.get(p.len) ?? new Set()).add(net6(p.addr, p.len)));
    } else if (p.len > 16) this.short.add(top, p.len);
  }

  has(len: number, a: bigint): boolean {
    return this.nets.get(len)?.has(net6(a, len)) ?? false;
  }

  probe(a: bigint): Probe {
    const top = Number(a >> 96n);
    const lens: number[] = [];
    let lookups = 0;
    const seen = this.long.has(top) || this.has(32, a);
    if (this.longSlots.has(top >>> 16) && seen) {
      lookups++;
      const held = this.long.get(top) ?? new Map<number, Set<bigint>>();
      const longest = [...held.keys()].sort((x, y) => y - x);
      if ([...held.values()].reduce((n, nets) => n + nets.size, 0) <= XDPF_LONG_INLINE) {
        const hit = longest.find((len) => this.has(len, a));
        if (hit !== undefined) return { lookups, hit };
      } else lens.push(...longest);
    }
    lens.push(...this.short.lengths(top, (len) => this.has(len, a)).filter((len) => seen || len !== 32));
    for (const len of lens) {
      lookups++;
      if (this.has(len, a)) return { lookups, hit: len };
    }
    for (let len = 16; len >= 0; len--) if (this.has(len, a)) return { lookups: lookups + 1, hit: len };
    return { lookups, hit: null };
  }
}

// --- the worst realistic mix

/** A source probed in a mix, with what it costs fos1. */
export interface Probed<A> extends Probe {
  source: A;
}

export interface Mix<P, A> {
  /** Added to the best mix's N prefixes (which stay). */
  extras: P[];
  /** What each kind of extra contributed, for the report. */
  parts: Record<string, number>;
  /** Lengths in the probed sources' /16 (for IPv6, with those in the probed /32s). */
  probeLengths: number[];
  pass: Probed<A>;
  drop: Probed<A> & { prefix: P };
}

/** Lengths the worst mix puts in the probed IPv4 /16, beside what the best mix has there. */
export const WORST_V4_LENGTHS = [32, 31, 30, 29, 28, 27, 26, 25, 24, 20];
/** In the probed IPv6 /16: these up to /32 (all but the /20 away from the sources' /32s)… */
export const WORST_V6_SHORT = [32, 31, 28, 24, 20];
/** …and these inside each probed /32. */
export const WORST_V6_LONG = [128, 64, 56, 48];

/** Draws until `ok`; throws after many tries (a mix that cannot be built is a bug here). */
function drawUntil<T>(what: string, draw: () => T, ok: (x: T) => boolean): T {
  for (let i = 0; i < 100_000; i++) {
    const x = draw();
    if (ok(x)) return x;
  }
  throw new Error(`xdp-blocklists: no ${what} found`);
}

/**
 * The worst realistic IPv4 mix at a size: the best mix (`best`) plus `defaults` (the default
 * config's bogons), ⌈N/100⌉ random /25–/31 prefixes, and, in one random /16 no prefix of /16
 * or shorter covers, one prefix of each of WORST_V4_LENGTHS. The probed sources lie in that /16:
 * the pass source outside every prefix, the drop source inside its /20 and nothing longer —
 * so fos1 looks up every length the /16 names for both, the drop's match last.
 */
export function worstMix4(best: Prefix4[], defaults: Prefix4[], rand: () => number, avoid: number[]): Mix<Prefix4, number> {
  const model = new Lookup4([...best, ...defaults]);
  const avoided = (p: Prefix4) => avoid.some((a) => net4(a, p.len) === p.addr);
  const spread: Prefix4[] = [];
  const want = Math.ceil(best.length / 100);
  while (spread.length < want) {
    const len = 25 + Math.floor(rand() * 7);
    const p = { addr: net4(unicast4(rand), len), len };
    if (!avoided(p)) spread.push(p);
  }
  for (const p of spread) model.add(p);
  const slot = drawUntil("IPv4 /16 to probe", () => net4(unicast4(rand), 16), (s) => model.cover(s) === null && !avoid.some((a) => net4(a, 16) === s));
  // the /20 at the start of the /16, the others past it, one after another
  const probed: Prefix4[] = [];
  let at = slot + 0x1000;
  for (const len of WORST_V4_LENGTHS) {
    if (len === 20) {
      probed.push({ addr: slot, len });
      continue;
    }
    const size = 2 ** (32 - len);
    at = Math.ceil(at / size) * size;
    probed.push({ addr: at >>> 0, len });
    at += size;
  }
  for (const p of probed) model.add(p);
  const twenty = probed.find((p) => p.len === 20)!;
  const inSlot = () => (slot | (u32(rand) & 0xffff)) >>> 0;
  const pass = drawUntil("IPv4 pass source", inSlot, (a) => model.probe(a).hit === null);
  const drop = drawUntil("IPv4 drop source", () => (twenty.addr | (u32(rand) & 0xfff)) >>> 0, (a) => model.probe(a).hit === 20);
  return {
    extras: [...defaults, ...spread, ...probed],
    parts: { defaults: defaults.length, spread: spread.length, probed: probed.length },
    probeLengths: [...new Set([...model.lengths(pass), ...WORST_V4_LENGTHS])].sort((a, b) => b - a),
    pass: { source: pass, ...model.probe(pass) },
    drop: { source: drop, ...model.probe(drop), prefix: twenty },
  };
}

/**
 * The worst realistic IPv6 mix: the best mix plus `defaults`, ⌈N/100⌉ random /20–/31 prefixes
 * in 2000::/3, and in one random /16 of it one prefix of each of WORST_V6_SHORT and, inside
 * the pass source's /32 and inside the drop source's, one of each of WORST_V6_LONG. The drop
 * source lies in the /20 and nothing longer, the pass source in nothing.
 */
export function worstMix6(best: Prefix6[], defaults: Prefix6[], rand: () => number, avoid: bigint[]): Mix<Prefix6, bigint> {
  const model = new Lookup6([...best, ...defaults]);
  const spread: Prefix6[] = [];
  const want = Math.ceil(best.length / 100);
  while (spread.length < want) {
    const len = 20 + Math.floor(rand() * 12);
    const p = { addr: net6(global6(rand), len) << BigInt(128 - len), len };
    if (!avoid.some((a) => net6(a, len) === net6(p.addr, len))) spread.push(p);
  }
  for (const p of spread) model.add(p);
  const covered = (s: bigint) => {
    for (let len = 0; len <= 16; len++) if (model.has(len, s)) return true;
    return false;
  };
  const slot = drawUntil("IPv6 /16 to probe", () => net6(global6(rand), 16) << 112n, (s) => !covered(s) && !avoid.some((a) => net6(a, 16) === net6(s, 16)));
  const at32 = (word: number) => slot | (BigInt(word) << 96n);
  // the /20 covers the /16's words 0x0000–0x0fff, the drop source's /32 (word 0x0001) inside it;
  // the other short ones from word 0xf000 on; the pass source's /32 at word 0x8000
  const [dropNet, passNet] = [at32(0x0001), at32(0x8000)];
  const probed: Prefix6[] = WORST_V6_SHORT.map((len, i) => (len === 20 ? { addr: slot, len } : { addr: at32(0xf000 + 0x100 * i), len }));
  for (const net of [dropNet, passNet])
    for (const len of WORST_V6_LONG) probed.push({ addr: net6(net | (random128(rand) & ((1n << 96n) - 1n)), len) << BigInt(128 - len), len });
  for (const p of probed) model.add(p);
  const inNet = (net: bigint) => () => net | (random128(rand) & ((1n << 96n) - 1n));
  const pass = drawUntil("IPv6 pass source", inNet(passNet), (a) => model.probe(a).hit === null);
  const drop = drawUntil("IPv6 drop source", inNet(dropNet), (a) => model.probe(a).hit === 20);
  return {
    extras: [...defaults, ...spread, ...probed],
    parts: { defaults: defaults.length, spread: spread.length, probed: probed.length },
    probeLengths: [...WORST_V6_LONG, ...WORST_V6_SHORT],
    pass: { source: pass, ...model.probe(pass) },
    drop: { source: drop, ...model.probe(drop), prefix: probed.find((p) => p.len === 20)! },
  };
}

/**
 * For the lengths sweep: one /16 per count k in `counts` (10.k.0.0/16), holding k nested
 * prefixes of lengths 32, 31, …, 25 at its top end, all in its last /24, and a source in that
 * /24 (10.k.255.1) none covers — so fos1 looks up k lengths to pass it, whether the /16 has a
 * page (which names the lengths inside the source's /24) or not.
 */
export function sweep4(counts: number[]): { prefixes: Prefix4[]; sources: { lengths: number; source: number }[] } {
  const prefixes: Prefix4[] = [];
  const sources: { lengths: number; source: number }[] = [];
  for (const k of counts) {
    if (k > 8) throw new Error(`sweep4: a /24 holds at most 8 lengths above /24, not ${k}`);
    const slot = ((10 << 24) | (k << 16)) >>> 0;
    for (let i = 0; i < k; i++) prefixes.push({ addr: (slot + 65536 - 2 ** i) >>> 0, len: 32 - i });
    sources.push({ lengths: k, source: (slot + 0xff01) >>> 0 });
  }
  return { prefixes, sources };
}
