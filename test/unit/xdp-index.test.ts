// The blocklist index (src/bpf/xdp-index.ts) decides which prefix lengths the program looks up
// for a source; a wrong bit hides a blocked prefix (or counts a drop on the wrong one), and
// a wrong comparison makes fos1 write too much, too little, or in an order that leaves a listed
// prefix unfound. These cases pin what the program will read per /16 and per IPv6 /32, on lists
// chosen for their edges (nesting, /0, the limits of each word), and check the pure functions
// against a plain longest-match over the list. test/netns/xdp-differential.test.ts runs the
// real program on the maps fos1 writes.
import { describe, expect, test } from "bun:test";
import { parsePrefix, type Family, type Prefix } from "../../src/api/ip";
import { XDPF_INDEX_SLOTS, XDPF_IX_COVER_SHIFT, XDPF_IX_LONG, XDPF_IX_LONGER, XDPF_IX_PAGED, XDPF_PAGE_SLOTS, XDPF_PG_COVER_SHIFT } from "../../src/bpf/layout";
import {
  addLong,
  addToLong,
  addToPage,
  computeIndex,
  coverOf,
  indexGaps,
  indexWrites,
  longerBit,
  pageOf,
  prefixes,
  raiseCover,
  removeFromLong,
  sameLong,
  seenBits,
  type Index,
  type LongBits,
  type LongEntry,
} from "../../src/bpf/xdp-index";
import { XDPF_LONG_INLINE } from "../../src/bpf/layout";
import { edges, indexColumn, inside, randomList, randomProbes, ReferenceList, shortPrefixes, shuffle, slotNetwork } from "../helpers/prefix-reference";
import { seededRandom } from "../helpers/seeded-random";

const parse = (cidr: string) => parsePrefix(cidr)!;
const column = indexColumn;
const of = (family: Family, list: Prefix[]) => computeIndex(family, prefixes(list.map(column)));
const ix4 = (...cidrs: string[]) => of(4, cidrs.map(parse));
const ix6 = (...cidrs: string[]) => of(6, cidrs.map(parse));

/** The cover field of a word for a prefix of length len (≤ 16). */
const cover = (len: number) => (len + 1) << XDPF_IX_COVER_SHIFT;
const bit = longerBit;
const u32 = (n: number) => n >>> 0;
const nonZero = (slots: Uint32Array) => slots.reduce((n, w) => n + (w ? 1 : 0), 0);
const copyLong = (e: LongEntry): LongEntry => ({ bits: [...e.bits], slots: e.slots.map((s) => ({ ...s, rest: [...s.rest] })) });
const copy = (ix: Index): Index => ({ slots: ix.slots.slice(), long: new Map([...ix.long].map(([t, e]) => [t, copyLong(e)])), pages: new Map(), groups: new Map(), seenTops: new Set(ix.seenTops), seenWords: null });
const sameIndex = (a: Index, b: Index) =>
  Buffer.from(a.slots.buffer).equals(Buffer.from(b.slots.buffer)) && a.long.size === b.long.size && [...a.long].every(([t, e]) => b.long.has(t) && sameLong(e, b.long.get(t)!));
/** A /32's entry holding these prefixes in its slots, as given (longest first), or these lengths. */
const slotted = (...cidrs: string[]): LongEntry => ({ bits: [0, 0, 0], slots: cidrs.map((c) => ({ ...column(parse(c)), packets: 0n })).map(({ len, rest, packets }) => ({ len, rest, packets })) });
const lengths = (...lens: number[]): LongEntry => {
  const bits: LongBits = [0, 0, 0];
  for (const len of lens) addLong(bits, len);
  return { bits, slots: [] };
};

/**
 * The length of the listed prefix the program finds for a source, or null: as bpf/xdp_filter.c
 * searches (blocked_v6(), blocked()), read from the header's description rather than from
 * xdp-index.ts -- when the word has LONG, the /32's entry: the first of its slots that covers
 * the source (a verdict, listed or not), or when it has none, the lengths above 32 it names
 * (bit i of longer_lo: 64 - i; of longer_hi[0]: 128 - i; of longer_hi[1]: 96 - i); then 17..32
 * from the word's low bits (bit 32 - n), longest first, then the cover; the first that is listed.
 */
function finds(ix: Index, listed: ReferenceList, family: Family, addr: bigint): number | null {
  const bits = family === 4 ? 32 : 128;
  const top = Number(addr >> BigInt(bits - 32));
  const word = ix.slots[top >>> 16]!;
  const lengths: number[] = [];
  const entry = family === 6 && word & XDPF_IX_LONG ? ix.long.get(top) : undefined;
  const mask = (len: number) => ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - len)) - 1n);
  const slot = entry?.slots.find((s) => slotNetwork(top, s.rest) === (addr & mask(s.len)));
  if (slot) return slot.len;
  if (entry && !entry.slots.length)
    for (let len = 128; len > 32; len--) {
      const [w, i] = len > 96 ? [entry.bits[1], 128 - len] : len > 64 ? [entry.bits[2], 96 - len] : [entry.bits[0], 64 - len];
      if ((w >>> i) & 1) lengths.push(len);
    }
  for (let len = 32; len > 16; len--) if ((word >>> (32 - len)) & 1) lengths.push(len);
  const c = (word >>> XDPF_IX_COVER_SHIFT) & 0x3f;
  if (c) lengths.push(c - 1);
  return lengths.find((len) => listed.has({ family, addr: addr & mask(len), len })) ?? null;
}

describe("computeIndex, IPv4: what the program reads for each /16", () => {
  test("the longest prefix of /16 or shorter covering the /16, and a bit for each length 17..32 inside it", () => {
    const { slots, long } = ix4("198.0.0.0/8", "198.51.0.0/16", "198.51.100.0/24", "198.51.100.128/25", "198.51.100.7/32", "198.51.128.0/17", "10.0.0.0/8");
    expect(slots[0xc633]).toBe(cover(16) | bit(17) | bit(24) | bit(25) | bit(32));
    expect([slots[0xc600], slots[0xc632], slots[0xc634], slots[0xc6ff]]).toEqual([cover(8), cover(8), cover(8), cover(8)]);
    expect([slots[0x0a00], slots[0x0aff]]).toEqual([cover(8), cover(8)]);
    expect([slots[0xc5ff], slots[0xc700], slots[0x0900], slots[0x0b00]]).toEqual([0, 0, 0, 0]);
    expect(nonZero(slots)).toBe(512); // the two /8s' words, no more
    expect(long.size).toBe(0);
  });

  test("a prefix longer than /16 sets its own /16's word only, as a bit, never a cover", () => {
    const { slots } = ix4("203.0.113.0/24", "203.0.0.0/17", "203.0.128.0/17", "203.0.113.9/32");
    expect(slots[0xcb00]).toBe(bit(17) | bit(24) | bit(32));
    expect(coverOf(slots[0xcb00]!)).toBe(0);
    expect(nonZero(slots)).toBe(1);
  });

  test("0.0.0.0/0 covers every /16 with length 0; a longer cover wins where there is one", () => {
    expect(ix4("0.0.0.0/0").slots.every((w) => w === cover(0))).toBe(true);
    const { slots } = ix4("10.1.0.0/16", "0.0.0.0/0", "10.0.0.0/8", "10.1.2.0/24");
    expect(slots[0x0a01]).toBe(cover(16) | bit(24));
    expect([slots[0x0a00], slots[0x0aff]]).toEqual([cover(8), cover(8)]);
    expect([slots[0], slots[0x0900], slots[0xffff]]).toEqual([cover(0), cover(0), cover(0)]);
  });

  test("nothing beyond /32: a longer length in an IPv4 list sets no word and no /32 entry (those are IPv6's)", () => {
    const odd = prefixes([{ word: 0xc0000200, len: 48 }]);
    const v4 = computeIndex(4, odd);
    expect(nonZero(v4.slots)).toBe(0);
    expect(v4.long.size).toBe(0);
    const v6 = computeIndex(6, odd);
    expect(v6.slots[0xc000]).toBe(XDPF_IX_LONG);
    expect(v6.long.get(0xc0000200)).toEqual({ bits: [0, 0, 0], slots: [{ len: 48, rest: [0, 0, 0], packets: 0n }] });
  });
});

describe("computeIndex, IPv6", () => {
  test("/17../32 are bits of their /16 as in IPv4; longer prefixes set LONG, and their /32's entry holds them (up to 4) or their lengths", () => {
    const { slots, long } = ix6(
      "2c00::/12",
      "2001:db0::/29",
      "2001:db8::/32",
      "2001:db8:8000::/33",
      "2001:db8:1::/48",
      "2001:db8:1:2::/64",
      "2001:db8::/65",
      "2001:db8::/96",
      "2001:db8::/97",
      "2001:db8:1:2::7/128",
      "2001:db9::/64",
    );
    expect(slots[0x2001]).toBe(u32(XDPF_IX_LONG | bit(29) | bit(32)));
    // lengths 33..64 in longer_lo (bit 64 - n), 97..128 in longer_hi[0] (bit 128 - n), 65..96 in longer_hi[1] (bit 96 - n)
    expect(long.get(0x20010db8)).toEqual({ bits: [u32((1 << 31) | (1 << 16) | 1), u32((1 << 31) | 1), u32((1 << 31) | 1)], slots: [] });
    expect(long.get(0x20010db9)).toEqual(slotted("2001:db9::/64"));
    expect(long.size).toBe(2);
    for (let s = 0x2c00; s <= 0x2c0f; s++) expect(slots[s]).toBe(cover(12));
    expect([slots[0x2bff], slots[0x2c10], slots[0x2002]]).toEqual([0, 0, 0]);
    expect(nonZero(slots)).toBe(17);
  });

  test("::/0 covers every /16 with length 0; a /16 raises its own, and its bits and LONG stay beside the cover", () => {
    const { slots } = ix6("2001:db8::/32", "::/0", "2001::/16", "2001:db8:5::/48");
    expect(slots[0x2001]).toBe(u32(cover(16) | bit(32) | XDPF_IX_LONG));
    expect([slots[0], slots[0x2000], slots[0x2002], slots[0xffff]]).toEqual([cover(0), cover(0), cover(0), cover(0)]);
  });
});

describe("the index leads the program to the longest listed prefix", () => {
  const rand = seededRandom(20261208);
  const lists = { 4: randomList(4, 400, rand), 6: randomList(6, 400, rand) };

  for (const family of [4, 6] as const) {
    test(`IPv${family}: random nested lists with every length, /0 included, at their edges and at random`, () => {
      const list = [...lists[family].prefixes, ...shortPrefixes(family, lists[family].hot, rand)];
      const ix = of(family, list);
      const ref = new ReferenceList(list);
      const probes = [...list.flatMap(edges), ...randomProbes(family, list, 3000, rand)];
      const wrong = probes.filter((p) => finds(ix, ref, family, p.addr) !== (ref.longest(family, p.addr)?.len ?? null));
      expect(wrong.length).toBe(0);
    });
  }

  test("the same list in any order, and with repeats, gives the same index", () => {
    for (const family of [4, 6] as const) {
      const list = [...lists[family].prefixes.slice(0, 150), ...shortPrefixes(family, lists[family].hot, rand)];
      const first = of(family, list);
      for (let i = 0; i < 5; i++) expect(sameIndex(of(family, shuffle(rand, [...list, ...list.slice(0, 20)])), first)).toBe(true);
    }
  });

  test("built a prefix at a time (raiseCover, longerBit, addToLong, as fos1 adds a few), in any order, it is computeIndex's", () => {
    for (const family of [4, 6] as const) {
      const list = shuffle(rand, [...lists[family].prefixes.slice(0, 200), ...shortPrefixes(family, lists[family].hot, rand)]);
      const ix: Index = { slots: new Uint32Array(XDPF_INDEX_SLOTS), long: new Map(), pages: new Map(), groups: new Map(), seenTops: new Set(), seenWords: null };
      for (const p of list) {
        const { word, len, rest } = column(p);
        if (len <= 16) raiseCover(ix.slots, word, len);
        else if (len <= 32) ix.slots[word >>> 16]! |= longerBit(len);
        else {
          ix.slots[word >>> 16] = u32(ix.slots[word >>> 16]! | XDPF_IX_LONG);
          ix.long.set(word, addToLong(ix.long.get(word), { len, rest, packets: 0n }));
        }
      }
      expect(sameIndex(ix, of(family, list))).toBe(true);
    }
  });
});

describe("the word and entry helpers", () => {
  test("raiseCover raises the cover of exactly its /16s, never lowers one, and keeps the other bits", () => {
    const { slots } = ix4("198.51.0.0/16", "198.52.1.0/24");
    raiseCover(slots, 0xc6000000, 8);
    expect(slots[0xc633]).toBe(cover(16));
    expect(slots[0xc634]).toBe(cover(8) | bit(24));
    expect([slots[0xc600], slots[0xc6ff], slots[0xc5ff], slots[0xc700]]).toEqual([cover(8), cover(8), 0, 0]);
    raiseCover(slots, 0, 0);
    expect([slots[0xc633], slots[0xc634], slots[0xc600], slots[0], slots[0xffff]]).toEqual([cover(16), cover(8) | bit(24), cover(8), cover(0), cover(0)]);
    expect(nonZero(slots)).toBe(XDPF_INDEX_SLOTS);
  });

  test("longerBit: bit 32 - n for 17..32, nothing for other lengths", () => {
    expect([0, 8, 16, 17, 24, 31, 32, 33, 64, 128].map(longerBit)).toEqual([0, 0, 0, 1 << 15, 1 << 8, 2, 1, 0, 0, 0]);
    for (let len = 17; len <= 32; len++) expect(longerBit(len) & ~XDPF_IX_LONGER).toBe(0);
  });

  test("addLong: each of 33..128 sets its own bit where the program reads it, and all of them fill the three words", () => {
    const one = (len: number) => {
      const b: LongBits = [0, 0, 0];
      addLong(b, len);
      return b;
    };
    expect([33, 64, 65, 96, 97, 128].map(one)).toEqual([
      [u32(1 << 31), 0, 0],
      [1, 0, 0],
      [0, 0, u32(1 << 31)],
      [0, 0, 1],
      [0, u32(1 << 31), 0],
      [0, 1, 0],
    ]);
    const all: LongBits = [0, 0, 0];
    for (let len = 33; len <= 128; len++) addLong(all, len);
    expect(all).toEqual([0xffffffff, 0xffffffff, 0xffffffff]);
  });

  test("addToLong: slots, longest first, up to XDPF_LONG_INLINE prefixes; one more turns them all into lengths; a prefix held stays once", () => {
    const cidrs = ["2001:db8:1::/64", "2001:db8::1/128", "2001:db8:2::/48", "2001:db8:3::/56", "2001:db8:4::/64"];
    let e: LongEntry | undefined;
    for (const c of cidrs.slice(0, XDPF_LONG_INLINE)) e = addToLong(e, { ...column(parse(c)), packets: 5n });
    expect(e).toEqual(slotted("2001:db8::1/128", "2001:db8:1::/64", "2001:db8:3::/56", "2001:db8:2::/48")); // counting from 0
    expect(addToLong(e, { ...column(parse("2001:db8::1/128")), packets: 0n })).toBe(e!);
    expect(addToLong(e, { ...column(parse(cidrs[4]!)), packets: 0n })).toEqual(lengths(128, 64, 56, 48));
    expect(addToLong(lengths(48), { ...column(parse("2001:db8::1/128")), packets: 0n })).toEqual(lengths(48, 128));
  });

  test("removeFromLong: a slot goes with its prefix (null when none is left); lengths stay, a lookup and never a verdict", () => {
    const two = slotted("2001:db8::1/128", "2001:db8:1::/64");
    expect(removeFromLong(two, [{ ...column(parse("2001:db8::1/128")), packets: 0n }])).toEqual(slotted("2001:db8:1::/64"));
    expect(removeFromLong(two, [{ ...column(parse("2001:db8:9::/64")), packets: 0n }])).toEqual(two);
    expect(removeFromLong(slotted("2001:db8:1::/64"), [{ ...column(parse("2001:db8:1::/64")), packets: 0n }])).toBeNull();
    expect(removeFromLong(lengths(64, 128), [{ ...column(parse("2001:db8:1::/64")), packets: 0n }])).toEqual(lengths(64, 128));
  });

  test("coverOf reads the cover field alone", () => {
    expect(coverOf(u32(cover(16) | bit(17) | bit(32) | XDPF_IX_LONG))).toBe(17);
    expect(coverOf(cover(0))).toBe(1);
    expect(coverOf(u32(XDPF_IX_LONGER | XDPF_IX_LONG))).toBe(0);
  });
});

describe("indexGaps: what an index fails to lead to", () => {
  const A4 = ["10.0.0.0/8", "10.1.0.0/16", "198.51.100.0/24", "198.51.100.7/32"];
  const A6 = ["2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::7/128", "2001:db9::/64"];

  test("none: the same index, or one with extra bits, covers equal, and extra lengths in /32 entries (left by unblocked prefixes)", () => {
    expect(indexGaps(ix4(...A4), ix4(...A4))).toEqual({ slots: 0, long: 0 });
    expect(indexGaps(ix4(...A4), ix4(...A4, "198.51.100.128/25", "10.1.0.0/17", "203.0.113.0/24"))).toEqual({ slots: 0, long: 0 });
    const extra = copy(ix6(...A6, "2001:db8::/31"));
    extra.long.set(0x20010db8, lengths(48, 128, 64));
    extra.long.set(0x20020000, lengths(56));
    expect(indexGaps(ix6(...A6), extra)).toEqual({ slots: 0, long: 0 });
  });

  test("a slot is a verdict: a /32 entry holding a prefix the list does not, or lacking one, counts once", () => {
    expect(indexGaps(ix6(...A6), ix6(...A6, "2001:db8:1::/64"))).toEqual({ slots: 0, long: 1 }); // the stale /64 would drop
    expect(indexGaps(ix6(...A6), ix6(...A6, "2001:dba::/56"))).toEqual({ slots: 0, long: 1 }); // a whole stale entry
    const swapped = copy(ix6(...A6));
    swapped.long.set(0x20010db8, slotted("2001:db8:1::7/128", "2001:db8:2::/48"));
    expect(indexGaps(ix6(...A6), swapped)).toEqual({ slots: 0, long: 1 });
    // the list's five prefixes in one /32 go by their lengths; slots holding four of them miss the fifth
    const five = ["2001:db8:1::/48", "2001:db8:2::/48", "2001:db8:3::/56", "2001:db8:4::/64", "2001:db8::1/128"];
    expect(ix6(...five).long.get(0x20010db8)!.slots.length).toBe(0);
    expect(indexGaps(ix6(...five), ix6(...five.slice(0, 4)))).toEqual({ slots: 0, long: 1 });
    expect(indexGaps(ix6(...five.slice(0, 4)), ix6(...five))).toEqual({ slots: 0, long: 0 }); // lengths of more: lookups, not verdicts
  });

  test("a /16 missing a length's bit, or LONG, counts once; a /32 entry missing, or missing a bit, counts once", () => {
    expect(indexGaps(ix4(...A4), ix4(...A4.filter((c) => c !== "198.51.100.0/24")))).toEqual({ slots: 1, long: 0 });
    expect(indexGaps(ix4(...A4), ix4("10.0.0.0/8", "10.1.0.0/16"))).toEqual({ slots: 1, long: 0 }); // both bits of one word
    const noLong = copy(ix6(...A6));
    noLong.slots[0x2001] = u32(noLong.slots[0x2001]! & ~XDPF_IX_LONG);
    expect(indexGaps(ix6(...A6), noLong)).toEqual({ slots: 1, long: 0 });
    const noEntry = copy(ix6(...A6));
    noEntry.long.delete(0x20010db9);
    expect(indexGaps(ix6(...A6), noEntry)).toEqual({ slots: 0, long: 1 });
    expect(indexGaps(ix6(...A6), ix6(...A6.filter((c) => c !== "2001:db8:1::7/128")))).toEqual({ slots: 0, long: 1 });
  });

  test("a cover that differs counts, higher or lower: the program looks up the cover's length only", () => {
    const want = ix4("10.0.0.0/8", "10.1.0.0/16");
    expect(indexGaps(want, ix4("10.0.0.0/8", "10.1.0.0/16", "10.2.0.0/16"))).toEqual({ slots: 1, long: 0 }); // a stale /16 hides the /8 in 10.2/16
    expect(indexGaps(want, ix4("10.0.0.0/8"))).toEqual({ slots: 1, long: 0 });
    // a /7 cover where the /8 is listed (10/8 but 10.1/16: 255 words) and where nothing is (11/8: 256)
    expect(indexGaps(want, ix4("10.0.0.0/7", "10.1.0.0/16"))).toEqual({ slots: 511, long: 0 });
    expect(indexGaps(want, ix4())).toEqual({ slots: 256, long: 0 });
  });
});

describe("indexWrites: from the index in the maps to the list's", () => {
  test("nothing to write for the same index", () => {
    const ix = ix6("::/0", "2001:db8::/32", "2001:db8:1::/48");
    expect(indexWrites(ix, copy(ix))).toEqual({ seen: [], longDeletes: [], longPuts: [], pages: [], slots: [] });
  });

  test("only the words and /32 entries that differ, with the list's values: stale bits and entries cleared, a kept /32 overwritten, never deleted", () => {
    const want = ix6("2001:db8::/32", "2001:db8:1::/48", "2001:db9::/64", "2c00::/12");
    const have = ix6("2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::7/128", "2001:db9::/64", "2c00::/12", "2002:1::/48", "3000::/24");
    const w = indexWrites(want, have);
    expect(w.longDeletes).toEqual([0x20020001]);
    expect(w.longPuts).toEqual([[0x20010db8, slotted("2001:db8:1::/48")]]); // the /128 goes, the /48 stays
    expect(w.slots).toEqual([
      [0x2002, 0],
      [0x3000, 0],
    ]);
    // what grows: a new word, a new entry
    const more = indexWrites(have, want);
    expect(more.longDeletes).toEqual([]);
    expect(more.longPuts).toEqual([
      [0x20010db8, slotted("2001:db8:1::7/128", "2001:db8:1::/48")],
      [0x20020001, slotted("2002:1::/48")],
    ]);
    expect(more.slots).toEqual([
      [0x2002, XDPF_IX_LONG],
      [0x3000, bit(24)],
    ]);
  });

  test("applied in their order -- /32 deletes, /32 puts, then words -- the prefixes both lists hold are found after every write, and every listed one at the end", () => {
    const rand = seededRandom(7);
    for (const family of [4, 6] as const) {
      const base = randomList(family, 300, rand);
      const kept = base.prefixes.slice(0, 200);
      const before = [...kept, ...base.prefixes.slice(200)];
      const deeper = (p: Prefix) => (p.len < (family === 4 ? 32 : 128) ? [inside(p, rand)] : []);
      const after = [...kept, ...kept.slice(0, 60).flatMap(deeper)];
      if (family === 6) after.push(...shortPrefixes(6, base.hot, rand).slice(3)); // covers of /3../6 raised
      // The maps' index: the old list's, with bits left by prefixes longer than /16 unblocked earlier.
      const stale = base.prefixes.slice(0, 80).flatMap(deeper).filter((p) => p.len > 16);
      const state = of(family, [...before, ...stale]);
      const w = indexWrites(of(family, after), state);
      const listed = new ReferenceList([...before, ...after]); // while the index is written, the list holds both
      // The sources inside kept prefixes, by /16: a write changes what the program finds there only.
      const keptRef = new ReferenceList(kept);
      const sources = Map.groupBy(kept.flatMap(edges).filter((s) => keptRef.longest(family, s.addr)), (s) => Number(s.addr >> BigInt(family === 4 ? 16 : 112)));
      const lost = (s16: number) => (sources.get(s16) ?? []).filter((s) => finds(state, listed, family, s.addr) === null).length;
      let checked = 0;
      const steps: [s16: number, write: () => void][] = [
        ...w.longDeletes.map((t) => [t >>> 16, () => state.long.delete(t)] as [number, () => void]),
        ...w.longPuts.map(([t, entry]) => [t >>> 16, () => state.long.set(t, copyLong(entry))] as [number, () => void]),
        ...w.slots.map(([s, word]) => [s, () => (state.slots[s] = word)] as [number, () => void]),
      ];
      for (const [s16, write] of steps) {
        write();
        checked += sources.get(s16)?.length ?? 0;
        expect(lost(s16)).toBe(0);
      }
      expect(checked).toBeGreaterThan(100);
      expect(sameIndex(state, of(family, after))).toBe(true);
      const ref = new ReferenceList(after);
      const probes = [...after.flatMap(edges), ...randomProbes(family, after, 1000, rand)];
      expect(probes.filter((p) => finds(state, ref, family, p.addr) !== (ref.longest(family, p.addr)?.len ?? null)).length).toBe(0);
    }
  });
});

describe("the seen filter: which IPv6 /32s hold a prefix of /32 or longer", () => {
  const key = { seed: 0x5eed1234, mask: 1023 };

  test("seenBits: one word under the mask, three bits in it, fixed for a key and moved by another seed", () => {
    const words = new Set<number>();
    for (let top = 0x20010000; top < 0x20010000 + 512; top++) {
      const { word, bits } = seenBits(top, key);
      expect(word).toBeLessThanOrEqual(key.mask);
      expect(bits.toString(2).replaceAll("0", "").length).toBeGreaterThanOrEqual(1);
      expect(bits.toString(2).replaceAll("0", "").length).toBeLessThanOrEqual(3);
      expect(seenBits(top, key)).toEqual({ word, bits });
      words.add(word);
    }
    expect(words.size).toBeGreaterThan(300); // 512 neighbouring /32s spread over the words, not in a run
    const moved = Array.from({ length: 64 }, (_, i) => 0x20010000 + i).filter((t) => seenBits(t, key).word !== seenBits(t, { ...key, seed: key.seed ^ 1 }).word);
    expect(moved.length).toBeGreaterThan(55);
  });

  test("computeIndex: a /32 that is a listed prefix or holds a longer one; not a /31 or the /32s a shorter prefix covers", () => {
    expect([...ix6("2001:db8::/32", "2001:db9:1::/48", "2001:dba::/31", "2c00::/12").seenTops].sort()).toEqual([0x20010db8, 0x20010db9]);
    expect(ix4("10.0.0.0/8", "198.51.100.7/32").seenTops.size).toBe(0);
  });

  test("indexWrites writes the words that differ, stale bits cleared; indexGaps counts a listed /32 whose bits are missing", () => {
    const want = ix6("2001:db8::/32", "2001:db9:1::/48");
    const maps = { ...ix6(), seenWords: new BigUint64Array(key.mask + 1) };
    const stale = seenBits(0x20020000, key);
    maps.seenWords[stale.word] = stale.bits;
    expect(indexGaps(want, maps, key)).toEqual({ slots: 1, long: 3 }); // the word, the /48's entry, two /32s unseen
    const w = indexWrites(want, maps, 0, key);
    for (const [i, bits] of w.seen) maps.seenWords[i] = bits;
    for (const top of [0x20010db8, 0x20010db9]) expect(maps.seenWords[seenBits(top, key).word]! & seenBits(top, key).bits).toBe(seenBits(top, key).bits);
    const wanted = new Set([0x20010db8, 0x20010db9].map((t) => seenBits(t, key).word));
    if (!wanted.has(stale.word)) expect(maps.seenWords[stale.word]).toBe(0n);
    expect(maps.seenWords.reduce((n, b) => n + (b ? 1 : 0), 0)).toBe(wanted.size);
    expect(indexWrites(want, maps, 0, key).seen).toEqual([]);
  });
});

describe("pages: a crowded /16 says per /24 what can hold the source", () => {
  const members = (...cidrs: string[]) => cidrs.map((c) => column(parse(c)));
  const slot = (cover24: number, ...inside: number[]) => (cover24 << XDPF_PG_COVER_SHIFT) | inside.reduce((b, n) => b | (1 << (32 - n)), 0);

  test("pageOf: the longest /17-/24 covering each /24, and the /25-/32 inside it; nothing elsewhere", () => {
    const page = pageOf(members("10.1.0.0/20", "10.1.4.0/22", "10.1.5.0/24", "10.1.5.128/25", "10.1.5.7/32", "10.1.200.64/26"));
    expect(page[0]).toBe(slot(4)); // 10.1.0.x: the /20
    expect(page[4]).toBe(slot(6)); // the /22
    expect(page[5]).toBe(slot(8, 25, 32)); // the /24, with a /25 and a /32 inside
    expect(page[15]).toBe(slot(4));
    expect(page[16]).toBe(0);
    expect(page[200]).toBe(slot(0, 26));
    expect(page.reduce((n, e) => n + (e ? 1 : 0), 0)).toBe(17);
  });

  test("addToPage gives what pageOf gives, whatever the order", () => {
    const list = members("10.1.0.0/17", "10.1.64.0/18", "10.1.64.0/24", "10.1.64.9/32", "10.1.70.0/23", "10.1.70.128/27");
    for (const order of [list, [...list].reverse()]) {
      const page = new Uint16Array(XDPF_PAGE_SLOTS);
      for (const m of order) addToPage(page, m.word, m.len);
      expect([...page]).toEqual([...pageOf(list)]);
    }
  });

  test("indexWrites: the /16s naming the most lengths get the pages there are; a word names its page after the page is written", () => {
    const want = ix4("10.1.0.0/20", "10.1.5.0/24", "10.1.5.7/32", "10.2.0.0/24", "10.2.0.1/32", "10.2.9.0/25", "10.3.0.0/24", "10.0.0.0/8");
    const w = indexWrites(want, ix4(), 1);
    expect(w.pages.map(([n]) => n)).toEqual([0]);
    expect([...w.pages[0]![1]]).toEqual([...pageOf(want.groups.get(0x0a01)!)]); // 10.1 and 10.2 both name 3 lengths: the lower /16 first
    const words = new Map(w.slots);
    expect(words.get(0x0a01)).toBe(u32(XDPF_IX_PAGED | cover(8) | 0));
    expect(words.get(0x0a02)).toBe(u32(cover(8) | bit(24) | bit(32) | bit(25))); // no page left: its lengths
    expect(words.get(0x0a03)).toBe(u32(cover(8) | bit(24))); // one length: no page needed
  });

  test("indexWrites keeps a page's number, gives a new /16 only a number no word names, and then the maps lead to every listed prefix", () => {
    const before = ix4("10.1.0.0/20", "10.1.5.0/24", "10.1.5.7/32");
    const maps = ix4();
    const apply = (w: ReturnType<typeof indexWrites>) => {
      for (const [n, page] of w.pages) maps.pages.set(n, page.slice());
      for (const [s, word] of w.slots) maps.slots[s] = word;
    };
    apply(indexWrites(before, maps, 4));
    expect(maps.slots[0x0a01]! & XDPF_IX_LONGER).toBe(0);
    const after = ix4("10.1.0.0/20", "10.1.5.0/24", "10.1.6.0/24", "10.9.0.0/24", "10.9.0.0/25");
    const w = indexWrites(after, maps, 4);
    expect(w.pages.map(([n]) => n)).toEqual([0, 1]); // 10.1 keeps page 0 (rewritten), 10.9 takes page 1
    apply(w);
    expect(maps.slots[0x0a09]! & XDPF_IX_LONGER).toBe(1);
    expect(indexGaps(after, maps)).toEqual({ slots: 0, long: 0 });
    // A page that misses a /24's length, or whose cover is off, is a gap.
    const broken = { ...maps, pages: new Map([...maps.pages].map(([n, p]) => [n, p.slice()])) };
    broken.pages.get(0)![6] = 0;
    expect(indexGaps(after, broken)).toEqual({ slots: 1, long: 0 });
  });

  test("an IPv6 word that names a page keeps its long flag, and a paged word without it is a gap", () => {
    const want = ix6("2001:d00::/24", "2001:db8::/29", "2001:db8:1::/48");
    const maps = ix6();
    const w = indexWrites(want, maps, 4);
    expect(new Map(w.slots).get(0x2001)).toBe(u32(XDPF_IX_PAGED | XDPF_IX_LONG | 0));
    for (const [n, page] of w.pages) maps.pages.set(n, page.slice());
    for (const [top, e] of w.longPuts) maps.long.set(top, copyLong(e));
    for (const [s, word] of w.slots) maps.slots[s] = word;
    expect(indexGaps(want, maps)).toEqual({ slots: 0, long: 0 });
    maps.slots[0x2001] = u32(maps.slots[0x2001]! & ~XDPF_IX_LONG);
    expect(indexGaps(want, maps)).toEqual({ slots: 1, long: 0 });
  });
});
