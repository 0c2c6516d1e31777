// The truth the XDP filter's verdicts are held against (test/netns/xdp-differential.test.ts and
// its larger run, hack/bench/xdp-differential.ts): which listed prefix contains an address,
// computed the plain way -- a set of networks per length, longest length first -- knowing
// nothing of the index the program searches by, so a mistake in the index cannot hide in the
// reference too. Beside it, what to ask: random blocklists shaped like the lists that trip an
// index (prefixes nested in each other, siblings, halves, neighbours, many lengths in one /16
// or one IPv6 /32), the addresses at their edges, and the small changes an operator makes.
// Pure: no I/O, seeded randomness only.
import { bits, formatIp, formatPrefix, type Family, type Prefix } from "../../src/api/ip";

const FAMILIES: Family[] = [4, 6];

/** Addresses a /len holds. */
const span = (family: Family, len: number) => 1n << BigInt(bits(family) - len);
const top = (family: Family) => 1n << BigInt(bits(family));
const networkMask = (family: Family, len: number) => (top(family) - 1n) ^ (span(family, len) - 1n);

export const net = (family: Family, addr: bigint, len: number): Prefix => ({ family, addr: addr & networkMask(family, len), len });
export const keyOf = (p: Prefix) => `${p.family}/${p.len}/${p.addr}`;
export const prefixText = formatPrefix;
export const lastOf = (p: Prefix) => p.addr + span(p.family, p.len) - 1n;

/** A u32's bytes the other way round: a big-endian word as a little-endian read of its bytes gives it. */
const swap32 = (w: number) => (((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24)) >>> 0;

/** The blocklist index's view of a prefix (src/bpf/xdp-index.ts Prefixes): its first 32 bits, its length, an IPv6 network's bytes 4..15. */
export function indexColumn(p: Prefix): { word: number; len: number; rest: [number, number, number] } {
  if (p.family === 4) return { word: Number(p.addr), len: p.len, rest: [0, 0, 0] };
  const w = (shift: bigint) => swap32(Number((p.addr >> shift) & 0xffffffffn));
  return { word: Number(p.addr >> 96n), len: p.len, rest: [w(64n), w(32n), w(0n)] };
}

/** The IPv6 network a /32's entry holds in a slot (indexColumn backwards). */
export const slotNetwork = (top: number, rest: readonly number[]) =>
  (BigInt(top) << 96n) | (BigInt(swap32(rest[0]!)) << 64n) | (BigInt(swap32(rest[1]!)) << 32n) | BigInt(swap32(rest[2]!));

/** The blocked prefixes, and for an address the longest of them that contains it. */
export class ReferenceList {
  private readonly nets = new Map<Family, Map<number, Set<bigint>>>(FAMILIES.map((f) => [f, new Map()]));
  private readonly masks = new Map<Family, bigint[]>(FAMILIES.map((f) => [f, Array.from({ length: bits(f) + 1 }, (_, len) => networkMask(f, len))]));
  /** Per family, the lengths listed, longest first (recomputed after a change). */
  private lengths = new Map<Family, number[]>();
  size = 0;

  constructor(list: Prefix[] = []) {
    for (const p of list) this.add(p);
  }

  has(p: Prefix): boolean {
    return this.nets.get(p.family)!.get(p.len)?.has(p.addr) ?? false;
  }

  /** false when it was listed already. */
  add(p: Prefix): boolean {
    if (!(p.len >= 0 && p.len <= bits(p.family)) || p.addr !== net(p.family, p.addr, p.len).addr) throw new Error(`ReferenceList: ${formatPrefix(p)} is not a network`);
    const byLen = this.nets.get(p.family)!;
    let set = byLen.get(p.len);
    if (!set) byLen.set(p.len, (set = new Set()));
    if (set.has(p.addr)) return false;
    set.add(p.addr);
    this.size++;
    this.lengths.delete(p.family);
    return true;
  }

  /** false when it was not listed. */
  delete(p: Prefix): boolean {
    const set = this.nets.get(p.family)!.get(p.len);
    if (!set?.delete(p.addr)) return false;
    if (!set.size) this.nets.get(p.family)!.delete(p.len);
    this.size--;
    this.lengths.delete(p.family);
    return true;
  }

  /** The longest listed prefix containing addr, or null when none does (the source passes). */
  longest(family: Family, addr: bigint): Prefix | null {
    let lens = this.lengths.get(family);
    if (!lens) this.lengths.set(family, (lens = [...this.nets.get(family)!.keys()].sort((a, b) => b - a)));
    const masks = this.masks.get(family)!;
    const byLen = this.nets.get(family)!;
    for (const len of lens) {
      const n = addr & masks[len]!;
      if (byLen.get(len)!.has(n)) return { family, addr: n, len };
    }
    return null;
  }

  list(family?: Family): Prefix[] {
    const out: Prefix[] = [];
    for (const f of family ? [family] : FAMILIES) for (const [len, set] of this.nets.get(f)!) for (const addr of set) out.push({ family: f, addr, len });
    return out;
  }
}

// --- randomness

/** n random bits as a bigint. */
export function randomBits(rand: () => number, n: number): bigint {
  let out = 0n;
  for (let got = 0; got < n; got += 32) out = (out << 32n) | BigInt(Math.floor(rand() * 2 ** 32));
  return out >> BigInt(((n + 31) & ~31) - n);
}

export const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const between = (rand: () => number, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

export function shuffle<T>(rand: () => number, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/**
 * The shortest length a random list holds, and how many of a length it may hold: at most
 * 2^len / 128 prefixes of each length (one /7, two /8s, ... no cap from about /20 on), so that
 * each length covers under 1/128 of the address space and the random sources a list drops are
 * a minority however long the list -- a list that drops nearly everything hides a missing
 * prefix behind another. Lengths 0 to 6 come only through shortPrefixes(), one at a time.
 */
export const SHORTEST_RANDOM = 7;
const capOf = (len: number) => Math.floor(2 ** len / 128);

export interface RandomList {
  prefixes: Prefix[];
  /** The addresses the prefixes crowd around: most of them hold a chain of nested prefixes. */
  hot: bigint[];
}

/**
 * `count` distinct prefixes of one family, of every length from SHORTEST_RANDOM to the longest
 * (a uniform draw, capped as above). Most are networks of a few "hot" addresses, keeping a
 * random number of its leading bits, so they nest and share /16 words and IPv6 /32 entries;
 * some are anywhere. About every third comes with a relative (relatives()).
 */
export function randomList(family: Family, count: number, rand: () => number): RandomList {
  const B = bits(family);
  const hot = Array.from({ length: Math.max(8, Math.ceil(count / 150)) }, () => randomBits(rand, B));
  const out = new Map<string, Prefix>();
  const perLen = new Array<number>(B + 1).fill(0);
  const add = (p: Prefix) => {
    const k = keyOf(p);
    if (p.len < SHORTEST_RANDOM || perLen[p.len]! >= capOf(p.len) || out.has(k)) return false;
    out.set(k, p);
    perLen[p.len]!++;
    return true;
  };
  for (let tries = 0; out.size < count; tries++) {
    if (tries > 50 * count) throw new Error(`randomList: cannot draw ${count} distinct IPv${family} prefixes under the caps`);
    const base = rand() < 0.15 ? randomBits(rand, B) : pick(rand, hot);
    const p = net(family, around(family, base, rand), between(rand, SHORTEST_RANDOM, B));
    if (!add(p)) continue;
    if (rand() < 0.35) for (const r of relatives(p, rand)) if (out.size < count) add(r);
  }
  return { prefixes: [...out.values()], hot };
}

/** base with a random number of its trailing bits drawn anew. */
function around(family: Family, base: bigint, rand: () => number): bigint {
  const fresh = between(rand, 0, bits(family));
  if (!fresh) return base;
  return ((base >> BigInt(fresh)) << BigInt(fresh)) | randomBits(rand, fresh);
}

/**
 * Prefixes next to p, of the kinds an index gets wrong: both halves, its sibling, the prefix
 * just before or just after it (across a /16 or /32 boundary when p ends on one), its parent,
 * or a longer prefix somewhere inside it. One kind, drawn.
 */
export function relatives(p: Prefix, rand: () => number): Prefix[] {
  const B = bits(p.family);
  const size = span(p.family, p.len);
  const kinds: (() => Prefix[])[] = [
    () => (p.len < B ? [net(p.family, p.addr, p.len + 1), net(p.family, p.addr + size / 2n, p.len + 1)] : []),
    () => (p.len > 0 ? [net(p.family, p.addr ^ size, p.len)] : []),
    () => (p.addr + size < top(p.family) ? [net(p.family, p.addr + size, p.len)] : []),
    () => (p.addr >= size ? [net(p.family, p.addr - size, p.len)] : []),
    () => (p.len > 0 ? [net(p.family, p.addr, p.len - 1)] : []),
    () => (p.len < B ? [inside(p, rand)] : []),
  ];
  return pick(rand, kinds)();
}

/** A random prefix strictly inside p (p shorter than the family's length). */
export function inside(p: Prefix, rand: () => number): Prefix {
  if (p.len >= bits(p.family)) throw new Error(`inside: ${formatPrefix(p)} holds no longer prefix`);
  const len = between(rand, p.len + 1, bits(p.family));
  return net(p.family, p.addr | randomBits(rand, bits(p.family) - p.len), len);
}

/** One prefix of each length 0..6 (/0 is the whole family), around the list's hot addresses. */
export function shortPrefixes(family: Family, hot: bigint[], rand: () => number): Prefix[] {
  return Array.from({ length: SHORTEST_RANDOM }, (_, len) => net(family, pick(rand, hot), len));
}

// --- probes

export interface Probe {
  family: Family;
  addr: bigint;
}

export const probeText = (p: Probe) => formatIp(p.family, p.addr);

/** p's first and last address, and the addresses just outside it (those that exist). */
export function edges(p: Prefix): Probe[] {
  const last = lastOf(p);
  const out = [p.addr, last];
  if (p.addr > 0n) out.push(p.addr - 1n);
  if (last + 1n < top(p.family)) out.push(last + 1n);
  return out.map((addr) => ({ family: p.family, addr }));
}

/**
 * n random sources of a family: a third anywhere, a third inside a listed prefix, a third near
 * one (inside the network a few bits shorter than it), so that drops and passes both come up
 * often whatever the list's coverage.
 */
export function randomProbes(family: Family, listed: Prefix[], n: number, rand: () => number): Probe[] {
  const B = bits(family);
  const out: Probe[] = [];
  for (let i = 0; i < n; i++) {
    const kind = listed.length ? i % 3 : 0;
    let addr: bigint;
    if (kind === 0) addr = randomBits(rand, B);
    else {
      const p = pick(rand, listed);
      const len = kind === 1 ? p.len : Math.max(0, p.len - between(rand, 1, 8));
      addr = net(family, p.addr, len).addr | randomBits(rand, B - len);
    }
    out.push({ family, addr });
  }
  return out;
}

// --- changes

/** One call of changeBlocklist (or block()/unblock() when `single`): what to add, what to remove. */
export interface Batch {
  kind: BatchKind;
  add: Prefix[];
  remove: Prefix[];
}

/**
 * The kinds of small change, each ≤ 64 prefixes per family unless said:
 *   unblock  prefixes longer than /16 go (their index bits stay behind);
 *   block    relatives of listed prefixes come;
 *   swap     some of each;
 *   cover    a prefix of /16 or shorter and a few longer ones inside it, in random order (the
 *            short one raises the covers of its /16 words);
 *   uncover  the cover's short prefix goes, with a few longer ones;
 *   single   one prefix blocked and one unblocked, through block() and unblock();
 *   bulk     over 64 prefixes of a family, added and removed: the whole index is recomputed.
 */
export type BatchKind = "unblock" | "block" | "swap" | "cover" | "uncover" | "single" | "bulk";

/** The order batches come in: every kind, and each cover taken off again three batches later. */
export const BATCH_CYCLE: BatchKind[] = ["unblock", "block", "cover", "swap", "single", "uncover", "unblock", "cover", "unblock", "block", "uncover", "bulk"];

/**
 * Draws batches against the list as it stands. `shorts` are the short prefixes the covers
 * use, in turn; each cover is taken off again by the next uncover, so a list holds at most
 * one of them at a time (a /0 or /1 drops most sources while it is listed).
 */
export class BatchMaker {
  private readonly covers: Prefix[] = [];

  constructor(
    private readonly ref: ReferenceList,
    private readonly shorts: Record<Family, Prefix[]>,
    private readonly rand: () => number,
  ) {}

  next(kind: BatchKind): Batch {
    const b: Batch = { kind, add: [], remove: [] };
    const single = pick(this.rand, FAMILIES);
    for (const family of FAMILIES) {
      const listed = this.ref.list(family);
      const longer = listed.filter((p) => p.len > 16);
      const few = () => between(this.rand, 1, 30);
      switch (kind) {
        case "unblock":
          b.remove.push(...this.take(longer, few()));
          break;
        case "block":
          b.add.push(...this.fresh(listed, few()));
          break;
        case "swap":
          b.remove.push(...this.take(longer, few()));
          b.add.push(...this.fresh(listed, few()));
          break;
        case "single":
          if (family === single) {
            b.remove.push(...this.take(longer, 1));
            b.add.push(...this.fresh(listed, 1));
          }
          break;
        case "cover": {
          const short = this.shorts[family].shift() ?? net(family, pick(this.rand, listed).addr, between(this.rand, SHORTEST_RANDOM, 16));
          if (this.ref.has(short)) break;
          this.covers.push(short);
          const within = new Map(Array.from({ length: between(this.rand, 1, 12) }, () => inside(short, this.rand)).map((p) => [keyOf(p), p]));
          b.add.push(...shuffle(this.rand, [short, ...[...within.values()].filter((p) => !this.ref.has(p))]));
          break;
        }
        case "uncover": {
          const i = this.covers.findIndex((c) => c.family === family);
          if (i >= 0) b.remove.push(...this.covers.splice(i, 1));
          b.remove.push(...this.take(longer, between(this.rand, 0, 8)));
          break;
        }
        case "bulk":
          b.remove.push(...this.take(longer, between(this.rand, 40, 80)));
          b.add.push(...this.fresh(listed, between(this.rand, 40, 80)));
          break;
      }
    }
    return b;
  }

  /** Up to n distinct prefixes of `from`, at random. */
  private take(from: Prefix[], n: number): Prefix[] {
    return shuffle(this.rand, from.slice()).slice(0, n);
  }

  /** Up to n distinct unlisted relatives of listed prefixes, /8 or longer. */
  private fresh(listed: Prefix[], n: number): Prefix[] {
    const out = new Map<string, Prefix>();
    for (let tries = 0; out.size < n && tries < 20 * n && listed.length; tries++)
      for (const r of relatives(pick(this.rand, listed), this.rand)) if (r.len >= 8 && !this.ref.has(r)) out.set(keyOf(r), r);
    return [...out.values()].slice(0, n);
  }
}

/** Applies a batch to the reference (no prefix is both added and removed in one batch). */
export function applyBatch(ref: ReferenceList, b: Batch): void {
  for (const p of b.remove) ref.delete(p);
  for (const p of b.add) ref.add(p);
}

/** Sources worth asking about after a batch: the edges of what it touched and of the prefixes around. */
export function batchProbes(b: Batch): Probe[] {
  return [...b.add, ...b.remove].flatMap((p) => [...edges(p), ...(p.len > 0 ? edges(net(p.family, p.addr, p.len - 1)) : [])]);
}

/** How many prefixes of each length, for reports. */
export function lengthCounts(list: Prefix[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of list) out[`v${p.family}/${p.len}`] = (out[`v${p.family}/${p.len}`] ?? 0) + 1;
  return out;
}
