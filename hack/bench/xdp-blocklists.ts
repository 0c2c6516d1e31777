// The blocklists of the XDP benchmark (hack/bench/xdp.ts): N random source prefixes per family,
// the same every run (seeded), nested (the first 10 of the 10 000, the first 10 000 of the
// 1 000 000), each with one host address inside it — what xdp-filter, which matches exact
// addresses only, holds in its place. Pure: no I/O.
//
// IPv4: non-overlapping prefixes in the unicast space (1.0.0.0–223.255.255.255 without
// 127.0.0.0/8), with a length mix like a real blocklist feed's: mostly single hosts and /24s,
// a few larger networks. Non-overlapping so that fos1's list, xdp-filter's hash and an
// nftables interval set hold exactly N entries each. IPv6: distinct prefixes in 2000::/3.
import { seededRandom } from "../../test/helpers/seeded-random";

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


const u32 = (rand: () => number) => Math.floor(rand() * 4294967296) >>> 0;

function length(mix: [number, number, number][], rand: () => number): number {
  let x = rand();
  for (const [lo, hi, share] of mix) {
    if (x < share) return lo + Math.floor(rand() * (hi - lo + 1));
    x -= share;
  }
  return mix.at(-1)![0];
}

const mask4 = (len: number) => (len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);
const end4 = (p: Prefix4) => (p.addr + 2 ** (32 - p.len) - 1) >>> 0;

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

const net4 = (a: number, len: number) => (a & mask4(len)) >>> 0;
const net6 = (a: bigint, len: number) => a >> BigInt(128 - len);

/**
 * count non-overlapping IPv4 prefixes, none covering an address in `avoid`, in random order.
 * Candidates are drawn, swept in address order (one that starts inside the previous kept one
 * is dropped), and the survivors taken in the order they were drawn.
 */
export function blocklist4(count: number, seed: number, avoid: number[] = []): Blocklist<Prefix4, number> {
  const rand = seededRandom(seed); // every run blocks the same prefixes
  const avoided = (p: Prefix4) => avoid.some((a) => net4(a, p.len) === p.addr);
  for (let factor = 1.3; ; factor *= 1.5) {
    const n = Math.ceil(count * factor) + 16;
    if (n >= 2 ** 21) throw new Error(`blocklist4: ${count} prefixes do not fit the address space here`);
    const cands: Prefix4[] = [];
    for (let i = 0; i < n; i++) {
      const len = length(V4_MIX, rand);
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
