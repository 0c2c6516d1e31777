// The blocklist index of bpf/xdp_filter.h, computed from the whole list of blocked prefixes:
// what the program reads to know which prefix lengths to look up for a source -- a word per
// /16 and, for IPv6 prefixes longer than /32, an entry per /32 holding its few prefixes or
// their lengths -- so a source no
// prefix covers costs one array load whatever the list's size. Pure: prefixes in, index out,
// and the comparisons fos1 needs to write only what differs and to find an index that no
// longer leads to every listed prefix (a writer killed half way). Nothing is expanded: a
// length), or one /32's entry, so the index never limits how many prefixes a filter holds.
import {
  XDPF_LONG_INLINE,
  XDPF_SEEN_SALT,
  type SeenKey,
  XDPF_INDEX_SLOTS,
  XDPF_IX_COVER,
  XDPF_IX_COVER_SHIFT,
  XDPF_IX_LONG,
  XDPF_IX_LONGER,
  XDPF_IX_PAGED,
  XDPF_PAGE_SLOTS,
  XDPF_PG_COVER,
  XDPF_PG_COVER_SHIFT,
  XDPF_PG_INSIDE,
} from "./layout";
import type { Family } from "../api/ip";

/**
 * Prefixes of one family as far as the index needs them: the first 32 bits of each network
 * (an IPv4 network whole; an IPv6 network's /32) as a u32, its length, and for IPv6 the rest of
 * the network (bytes 4..15) as the /32's entry holds it in a slot.
 */
export interface Prefixes {
  count: number;
  word: Uint32Array;
  len: Uint8Array;
  /** IPv6: three u32s per prefix, its bytes 4..15 read little-endian -- compared, never computed with. */
  rest?: Uint32Array;
}

export function prefixes(list: { word: number; len: number; rest?: Rest }[]): Prefixes {
  return { count: list.length, word: Uint32Array.from(list, (p) => p.word), len: Uint8Array.from(list, (p) => p.len), rest: Uint32Array.from(list.flatMap((p) => p.rest ?? [0, 0, 0])) };
}

/** The lengths above 32 of the prefixes inside one IPv6 /32 (struct xdpf_long_v6's words). */
export type LongBits = [lo: number, hi0: number, hi1: number];

/** An IPv6 network's bytes 4..15, as three u32s read little-endian (struct xdpf_long_slot's addr). */
export type Rest = [number, number, number];

/** A prefix longer than /32 held in its /32's entry (struct xdpf_long_slot). */
export interface LongSlot {
  len: number;
  rest: Rest;
  /** What the program counted in the slot (read from the maps; 0 in a computed index). */
  packets: bigint;
}

/**
 * struct xdpf_long_v6: a /32's prefixes longer than /32 in its slots, longest first, when they
 * are XDPF_LONG_INLINE or fewer (bits all 0); their lengths in `bits` otherwise (no slots).
 */
export interface LongEntry {
  bits: LongBits;
  slots: LongSlot[];
}

export interface Index {
  /**
   * xdpf_index_v4 or _v6: one word per /16 (XDPF_IX_* in the header). A computed index has no
   * pages: its words carry the lengths; the maps' words may name a page instead.
   */
  slots: Uint32Array;
  /** xdpf_long_v6's entries by /32 (IPv6; empty for IPv4). */
  long: Map<number, LongEntry>;
  /** The maps' pages by number (read from the maps; empty in a computed index). */
  pages: Map<number, Uint16Array>;
  /** A computed index: the prefixes of length 17..32 in each /16 (what its page would say). */
  groups: Map<number, { word: number; len: number }[]>;
  /** A computed index: the /32s the seen filter must have seen (IPv6: holding or being a prefix of /32 or longer). */
  seenTops: Set<number>;
  /** The maps' seen filter, its words (read from the maps; null in a computed index, and for IPv4). */
  seenWords: BigUint64Array | null;
}

const fmix32 = (x: number) => {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
};

/** The seen filter's word for the /32 `top`, and the three bits it sets there (seen_v6 in bpf/xdp_filter.c). */
export function seenBits(top: number, key: SeenKey): { word: number; bits: bigint } {
  const h = fmix32(top ^ key.seed);
  const g = fmix32(h ^ XDPF_SEEN_SALT);
  return { word: h & key.mask, bits: (1n << BigInt(g & 63)) | (1n << BigInt((g >>> 6) & 63)) | (1n << BigInt((g >>> 12) & 63)) };
}

/** The seen filter's words for these /32s, by word. */
export function seenWordsOf(tops: Iterable<number>, key: SeenKey): Map<number, bigint> {
  const words = new Map<number, bigint>();
  for (const top of tops) {
    const { word, bits } = seenBits(top, key);
    words.set(word, (words.get(word) ?? 0n) | bits);
  }
  return words;
}

const pageCover = (e: number) => (e & XDPF_PG_COVER) >>> XDPF_PG_COVER_SHIFT;

/** The page of a /16 holding these prefixes (each of length 17..32, inside the /16). */
export function pageOf(members: { word: number; len: number }[]): Uint16Array {
  const page = new Uint16Array(XDPF_PAGE_SLOTS);
  for (const { word, len } of members) addToPage(page, word, len);
  return page;
}

/** Adds one prefix of length 17..32 to a page: a bit inside its /24, or the cover of its /24s where no longer one is. */
export function addToPage(page: Uint16Array, word: number, len: number): void {
  const s24 = (word >>> 8) & 0xff;
  if (len > 24) page[s24]! |= 1 << (32 - len);
  else
    for (let t = s24; t < s24 + 2 ** (24 - len); t++)
      if (pageCover(page[t]!) < len - 16) page[t] = (page[t]! & XDPF_PG_INSIDE) | ((len - 16) << XDPF_PG_COVER_SHIFT);
}

/** How many lengths a /16 word names (what a source in it would cost without a page). */
const lengthsNamed = (word: number) => {
  let n = 0;
  for (let b = word & XDPF_IX_LONGER; b; b &= b - 1) n++;
  return n;
};

/** Whether a /len (17..32) makes the unpaged /16 whose word is `word` crowded: from one length named to two or more. */
export const crowds = (word: number, len: number) => !(word & XDPF_IX_PAGED) && lengthsNamed(word) < 2 && lengthsNamed(word | longerBit(len)) >= 2;

export const coverOf = (slot: number) => (slot & XDPF_IX_COVER) >>> XDPF_IX_COVER_SHIFT;

/** The index of a list: exactly the bits its prefixes need, no more. */
export function computeIndex(family: Family, p: Prefixes): Index {
  const slots = new Uint32Array(XDPF_INDEX_SLOTS);
  const members = new Map<number, LongSlot[]>();
  const groups = new Map<number, { word: number; len: number }[]>();
  const seenTops = new Set<number>();
  for (let i = 0; i < p.count; i++) {
    const len = p.len[i]!;
    const word = p.word[i]!;
    if (len <= 16) raiseCover(slots, word, len);
    else if (len <= 32) {
      if (len === 32 && family === 6) seenTops.add(word);
      slots[word >>> 16]! |= 1 << (32 - len);
      const g = groups.get(word >>> 16);
      if (g) g.push({ word, len });
      else groups.set(word >>> 16, [{ word, len }]);
    }
    else if (family === 6) {
      slots[word >>> 16] = (slots[word >>> 16]! | XDPF_IX_LONG) >>> 0;
      seenTops.add(word);
      const m = members.get(word);
      const slot = slotOf(p, i);
      if (m) m.push(slot);
      else members.set(word, [slot]);
    }
  }
  const long = new Map<number, LongEntry>();
  for (const [top, m] of members) long.set(top, longEntry(m));
  return { slots, long, pages: new Map(), groups, seenTops, seenWords: null };
}

/** The i-th of the prefixes as a /32's entry holds it in a slot (IPv6, longer than /32). */
export const slotOf = (p: Prefixes, i: number): LongSlot => ({ len: p.len[i]!, rest: [p.rest![3 * i]!, p.rest![3 * i + 1]!, p.rest![3 * i + 2]!], packets: 0n });

/**
 * The entry of a /32 holding these prefixes longer than /32, whatever their order and repeats;
 * its slots count from 0 (what the slots it replaces counted goes to the list: writeLong).
 */
function longEntry(given: LongSlot[]): LongEntry {
  const members = given.length <= 16 ? given.filter((m, i) => given.findIndex((o) => sameSlot(o, m)) === i) : distinct(given);
  if (members.length <= XDPF_LONG_INLINE) {
    const slots = members.map((m) => ({ len: m.len, rest: m.rest, packets: 0n }));
    slots.sort((x, y) => y.len - x.len || x.rest[0] - y.rest[0] || x.rest[1] - y.rest[1] || x.rest[2] - y.rest[2]);
    return { bits: [0, 0, 0], slots };
  }
  const bits: LongBits = [0, 0, 0];
  for (const { len } of members) addLong(bits, len);
  return { bits, slots: [] };
}

/** The prefixes without repeats, for a /32 holding many (a string key each: linear, not quadratic). */
function distinct(given: LongSlot[]): LongSlot[] {
  const seen = new Map<string, LongSlot>();
  for (const m of given) seen.set(`${m.len} ${m.rest.join(" ")}`, m);
  return [...seen.values()];
}

/** The entry with one more prefix: into its slots while there is room (a prefix it holds stays once), else among its lengths. */
export function addToLong(entry: LongEntry | undefined, slot: LongSlot): LongEntry {
  if (!entry) return longEntry([slot]);
  if (!entry.slots.length && entry.bits.some((w) => w !== 0)) {
    const bits: LongBits = [...entry.bits];
    addLong(bits, slot.len);
    return { bits, slots: [] };
  }
  if (entry.slots.some((s) => sameSlot(s, slot))) return entry;
  return longEntry([...entry.slots, slot]);
}

/** The entry without the prefixes `leaving` (null when nothing is left): slots lose theirs; lengths stay (a bit costs a lookup, never a verdict). */
export function removeFromLong(entry: LongEntry, leaving: LongSlot[]): LongEntry | null {
  if (!entry.slots.length) return entry;
  const kept = entry.slots.filter((s) => !leaving.some((l) => sameSlot(s, l)));
  return kept.length ? longEntry(kept) : null;
}

export const sameSlot = (a: LongSlot, b: LongSlot) => a.len === b.len && a.rest[0] === b.rest[0] && a.rest[1] === b.rest[1] && a.rest[2] === b.rest[2];

/** Whether two entries send the program the same way (the slots' counts aside). */
export const sameLong = (a: LongEntry, b: LongEntry) =>
  a.bits.every((w, i) => w === b.bits[i]) && a.slots.length === b.slots.length && a.slots.every((s, i) => sameSlot(s, b.slots[i]!));

/**
 * Whether the entry `got` fails to lead to exactly the prefixes of `want` (the list's own): a
 * slot is a verdict, so slots must hold the list's prefixes and no other; lengths must include
 * every listed one's (an extra length costs a lookup, never a verdict).
 */
function longGap(want: LongEntry | undefined, got: LongEntry | undefined): boolean {
  if (!got) return want !== undefined;
  if (got.slots.length) return !want || want.slots.length !== got.slots.length || !want.slots.every((w) => got.slots.some((g) => sameSlot(w, g)));
  if (!want) return false;
  const needs: LongBits = [...want.bits];
  for (const s of want.slots) addLong(needs, s.len);
  return needs.some((w, i) => ((w & ~got.bits[i]!) >>> 0) !== 0);
}

/** Makes the /len at `word` (len ≤ 16) the cover of its /16s where no longer one is. */
export function raiseCover(slots: Uint32Array, word: number, len: number): void {
  const first = len === 0 ? 0 : word >>> 16;
  const end = first + 2 ** (16 - len);
  for (let s = first; s < end; s++) if (coverOf(slots[s]!) < len + 1) slots[s] = ((slots[s]! & ~XDPF_IX_COVER) | ((len + 1) << XDPF_IX_COVER_SHIFT)) >>> 0;
}

/** Sets length `len` (33..128) in a /32's long bits, as the program reads them. */
export function addLong(bits: LongBits, len: number): void {
  if (len <= 64) bits[0] = (bits[0] | (1 << (64 - len))) >>> 0;
  else if (len > 96) bits[1] = (bits[1] | (1 << (128 - len))) >>> 0;
  else bits[2] = (bits[2] | (1 << (96 - len))) >>> 0;
}

/** The index word's bits for a prefix of length 17..32 (0 for any other length). */
export const longerBit = (len: number) => (len > 16 && len <= 32 ? 1 << (32 - len) : 0);

/**
 * What the index `actual` fails to lead to, as the program would search it, compared with
 * `required` (the list's own index): /16s whose cover differs or that lack a length's bit,
 * and /32s whose entry lacks a listed prefix or holds one in a slot that is not listed. Extra
 * bits left by unblocked prefixes are fine (they cost a lookup, never a verdict) and are not
 * counted. Empty when every listed prefix is found and only those are.
 */
export function indexGaps(required: Index, actual: Index, seen?: SeenKey): { slots: number; long: number } {
  let slots = 0;
  for (let s = 0; s < XDPF_INDEX_SLOTS; s++) {
    const want = required.slots[s]!;
    const got = actual.slots[s]!;
    if (coverOf(want) !== coverOf(got) || ((want & XDPF_IX_LONG & ~got) >>> 0) !== 0) slots++;
    else if (got & XDPF_IX_PAGED) {
      const page = actual.pages.get(got & XDPF_IX_LONGER);
      if (!page || pageGaps(pageOf(required.groups.get(s) ?? []), page)) slots++;
    } else if ((want & XDPF_IX_LONGER & ~got) !== 0) slots++;
  }
  let long = 0;
  for (const top of new Set([...required.long.keys(), ...actual.long.keys()])) if (longGap(required.long.get(top), actual.long.get(top))) long++;
  // a /32 the seen filter lacks is skipped as if its entry were missing
  if (seen && actual.seenWords)
    for (const top of required.seenTops) {
      const { word, bits } = seenBits(top, seen);
      if ((actual.seenWords[word]! & bits) !== bits) long++;
    }
  return { slots, long };
}

/** Whether a page fails to lead to what `want` says: a /24 whose cover differs, or lacks a length inside. */
function pageGaps(want: Uint16Array, got: Uint16Array): boolean {
  for (let t = 0; t < XDPF_PAGE_SLOTS; t++) if (pageCover(want[t]!) !== pageCover(got[t]!) || (want[t]! & XDPF_PG_INSIDE & ~got[t]!) !== 0) return true;
  return false;
}

/**
 * The writes that turn the index `actual` into `required`, in the order that keeps every
 * listed prefix found throughout: the seen filter's words first (with `seen`, its key: each
 * word written whole holds the bits of every /32 the list needs, so only stale bits go), then
 * /32 entries no prefix needs (room for the new ones; a /16 word still pointing there finds
 * nothing, which the list no longer needs), then the /32 entries and the pages, then the /16
 * words (a word names a page, or /32 lengths, only once they are written).
 *
 * Pages (`pages` of them): the /16s naming the most lengths get one, those that had one
 * keep its number; a new one takes a number no word names now, so no page changes under a
 * word that still names it for something else.
 */
export function indexWrites(
  required: Index,
  actual: Index,
  pages = 0,
  seen?: SeenKey,
): { seen: [number, bigint][]; longDeletes: number[]; longPuts: [number, LongEntry][]; pages: [number, Uint16Array][]; slots: [number, number][] } {
  const seenWrites: [number, bigint][] = [];
  if (seen && actual.seenWords) {
    const want = seenWordsOf(required.seenTops, seen);
    actual.seenWords.forEach((got, i) => {
      if (got !== (want.get(i) ?? 0n)) seenWrites.push([i, want.get(i) ?? 0n]);
    });
  }
  const longDeletes = [...actual.long.keys()].filter((t) => !required.long.has(t));
  const longPuts = [...required.long].filter(([t, entry]) => {
    const got = actual.long.get(t);
    return !got || !sameLong(got, entry);
  });
  const paged = new Map<number, number>(); // /16 → page number
  const named = new Set<number>();
  for (let s = 0; s < XDPF_INDEX_SLOTS; s++) if (actual.slots[s]! & XDPF_IX_PAGED) named.add(actual.slots[s]! & XDPF_IX_LONGER);
  if (pages > 0) {
    const crowded = [...required.groups.keys()].filter((s) => lengthsNamed(required.slots[s]!) >= 2);
    crowded.sort((x, y) => lengthsNamed(required.slots[y]!) - lengthsNamed(required.slots[x]!) || x - y);
    for (const s of crowded) {
      const got = actual.slots[s]!;
      if (got & XDPF_IX_PAGED && (got & XDPF_IX_LONGER) < pages) paged.set(s, got & XDPF_IX_LONGER);
    }
    let next = 0;
    for (const s of crowded) {
      if (paged.has(s)) continue;
      while (next < pages && named.has(next)) next++;
      if (next >= pages) break;
      paged.set(s, next++);
    }
  }
  const pageWrites: [number, Uint16Array][] = [];
  for (const [s, n] of paged) {
    const want = pageOf(required.groups.get(s)!);
    const got = actual.slots[s]! & XDPF_IX_PAGED && (actual.slots[s]! & XDPF_IX_LONGER) === n ? actual.pages.get(n) : undefined;
    if (!got || want.some((e, t) => e !== got[t])) pageWrites.push([n, want]);
  }
  const slots: [number, number][] = [];
  for (let s = 0; s < XDPF_INDEX_SLOTS; s++) {
    const n = paged.get(s);
    const want = n === undefined ? required.slots[s]! : ((required.slots[s]! & (XDPF_IX_COVER | XDPF_IX_LONG)) | XDPF_IX_PAGED | n) >>> 0;
    if (want !== actual.slots[s]) slots.push([s, want]);
  }
  return { seen: seenWrites, longDeletes, longPuts, pages: pageWrites, slots };
}
