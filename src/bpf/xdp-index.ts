// The blocklist index of bpf/xdp_filter.h, computed from the whole list of blocked prefixes:
// what the program reads to know which prefix lengths to look up for a source, so a source no
// prefix covers costs one array load (IPv4) or two bucket reads (IPv6), whatever the list's
// size. Pure: the prefixes in, the index out (and for IPv6, the bucket writes that get the
// table there); xdp-filter.ts reads the list from its map and writes only what differs. The
// index is a function of the list alone, so overlapping prefixes need no bookkeeping:
// unblocking a /16 leaves a /24 inside it blocked because the /24 is still in the list the
// index is computed from. Lists run to a million prefixes: everything here is typed arrays.
import {
  XDPF_INDEX_V4_PAGE,
  XDPF_INDEX_V4_PAGES,
  XDPF_V4_HAS_HOST,
  XDPF_V4_HAS_MID,
  XDPF_V6_BUCKET_BITS,
  XDPF_V6_BUCKETS,
  XDPF_V6_EXPAND_MIN,
  XDPF_V6_HASH1,
  XDPF_V6_HASH2,
  XDPF_V6_USED,
  XDPF_V6_WAYS,
} from "./layout";

/**
 * Prefixes of one family as far as the index needs them: the first 32 bits of each network
 * (an IPv4 network whole; an IPv6 network's /32) as a u32, and its length.
 */
export interface Prefixes {
  count: number;
  word: Uint32Array;
  len: Uint8Array;
}

export function prefixes(list: { word: number; len: number }[]): Prefixes {
  return { count: list.length, word: Uint32Array.from(list, (p) => p.word), len: Uint8Array.from(list, (p) => p.len) };
}

export interface IndexV4 {
  /** One byte per /24 (XDPF_V4_* in the header), xdpf_index_v4's pages back to back. */
  slots: Uint8Array;
  /** xdpf_config.v4_mid: bit n set when a /n with 25 ≤ n ≤ 31 is blocked. */
  mid: number;
}

export function indexV4(p: Prefixes): IndexV4 {
  const slots = new Uint8Array(XDPF_INDEX_V4_PAGE * XDPF_INDEX_V4_PAGES);
  let mid = 0;
  for (let i = 0; i < p.count; i++) {
    const len = p.len[i]!;
    const s24 = p.word[i]! >>> 8;
    if (len === 32) slots[s24]! |= XDPF_V4_HAS_HOST;
    else if (len > 24) {
      slots[s24]! |= XDPF_V4_HAS_MID;
      mid = (mid | (1 << len)) >>> 0;
    }
  }
  // Covers shortest first, so where prefixes nest the longest is written last.
  const covers = [...Array(p.count).keys()].filter((i) => p.len[i]! <= 24).sort((a, b) => p.len[a]! - p.len[b]!);
  for (const i of covers) {
    const len = p.len[i]!;
    const first = p.word[i]! >>> 8;
    for (let s = first; s < first + 2 ** (24 - len); s++) slots[s] = (slots[s]! & (XDPF_V4_HAS_HOST | XDPF_V4_HAS_MID)) | (len + 1);
  }
  return { slots, mid };
}

/** u32 words of a slot of the IPv6 table (struct xdpf_index_v6_slot): top, longer_lo, longer_hi[0], longer_hi[1], cover. */
export const SLOT_WORDS = 5;

export interface IndexV6 {
  /** The /32s that get a slot, ascending. */
  tops: Uint32Array;
  /** Slot i's words but its top: longer_lo, longer_hi[0], longer_hi[1], cover (XDPF_V6_USED set). */
  values: Uint32Array;
  /** xdpf_config.v6_short: bit n set when a /n shorter than XDPF_V6_EXPAND_MIN is blocked. */
  short: number;
}

export function indexV6(p: Prefixes): IndexV6 {
  // (top, length) pairs as top * 256 + length, sorted: each /32's pairs end up together.
  const pairs: number[] = [];
  let short = 0;
  for (let i = 0; i < p.count; i++) {
    const len = p.len[i]!;
    const top = p.word[i]!;
    if (len < XDPF_V6_EXPAND_MIN) short = (short | (1 << len)) >>> 0;
    else for (let t = top; t < top + 2 ** Math.max(0, 32 - len); t++) pairs.push(t * 256 + len);
  }
  const sorted = Float64Array.from(pairs).sort();
  const tops: number[] = [];
  const values: number[] = [];
  for (const pair of sorted) {
    const top = Math.floor(pair / 256);
    const len = pair % 256;
    if (tops.at(-1) !== top) {
      tops.push(top);
      values.push(0, 0, 0, XDPF_V6_USED);
    }
    const v = values.length - 4;
    if (len <= 32) values[v + 3] = XDPF_V6_USED | Math.max(values[v + 3]! & 0xff, len);
    else if (len <= 64) values[v] = (values[v]! | (1 << (64 - len))) >>> 0;
    else if (len > 96) values[v + 1] = (values[v + 1]! | (1 << (128 - len))) >>> 0;
    else values[v + 2] = (values[v + 2]! | (1 << (96 - len))) >>> 0;
  }
  return { tops: Uint32Array.from(tops), values: Uint32Array.from(values), short };
}

/** Where the /32 is in the index's tops; -1 when it has no slot. */
function find(index: IndexV6, top: number): number {
  let lo = 0;
  let hi = index.tops.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const t = index.tops[mid]!;
    if (t === top) return mid;
    if (t < top) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

// --- the IPv6 table: cuckoo hashing in xdpf_index_v6's buckets

const BUCKET_WORDS = XDPF_V6_WAYS * SLOT_WORDS;
/** Buckets a search for room may visit before a /32 is declared not to fit. */
const SEARCH_LIMIT = 8192;

/** The two buckets a /32 may sit in, as the program computes them. */
export function bucketsOf(top: number): [number, number] {
  const shift = 32 - XDPF_V6_BUCKET_BITS;
  return [Math.imul(top, XDPF_V6_HASH1) >>> shift, Math.imul(top, XDPF_V6_HASH2) >>> shift];
}

/** One bucket's new contents (SLOT_WORDS words a slot). */
export interface BucketWrite {
  bucket: number;
  words: Uint32Array;
}

/**
 * The writes that turn the table `current` (all XDPF_V6_BUCKETS buckets' words, as the map
 * holds them) into one holding exactly the index's slots, as steps: the writes of a step in
 * any order (or at once), the steps one after the other. null when the slots do not fit.
 *
 * Done in order, the steps never hide a /32 the map holds and the index keeps: a /32 and its
 * value change in place, and one that must make room for another is first written into its
 * other bucket, then taken out of the first -- the only writes that must wait for others. A
 * lookup may meanwhile find a /32 twice, or one still to come, which changes nothing: the
 * program drops only what the list holds. Nothing is written where nothing changes.
 */
export function planIndexV6(current: Uint32Array, index: IndexV6): BucketWrite[][] | null {
  const t = current.slice();
  /** The table as the map will hold it once the steps so far are done. */
  const kernel = current.slice();
  const steps: BucketWrite[][] = [];
  const dirty = new Set<number>();
  const flush = () => {
    if (!dirty.size) return;
    steps.push([...dirty].sort((x, y) => x - y).map((b) => ({ bucket: b, words: t.slice(b * BUCKET_WORDS, (b + 1) * BUCKET_WORDS) })));
    for (const b of dirty) kernel.set(t.subarray(b * BUCKET_WORDS, (b + 1) * BUCKET_WORDS), b * BUCKET_WORDS);
    dirty.clear();
  };
  const inKernel = (at: number) => (kernel[at + 4]! & XDPF_V6_USED) !== 0 && kernel[at] === t[at];

  // What is no longer wanted goes (so does a second copy, as a move cut short leaves one);
  // what stays gets its value.
  const placed = new Uint8Array(index.tops.length);
  for (let b = 0; b < XDPF_V6_BUCKETS; b++)
    for (let s = 0; s < XDPF_V6_WAYS; s++) {
      const at = slotAt(b, s);
      if (!(t[at + 4]! & XDPF_V6_USED)) continue;
      const top = t[at]!;
      const i = find(index, top);
      if (i < 0 || placed[i] || !bucketsOf(top).includes(b)) {
        t.fill(0, at, at + SLOT_WORDS);
        dirty.add(b);
        continue;
      }
      placed[i] = 1;
      if (!holds(t, at, index, i)) {
        put(t, at, index, i);
        dirty.add(b);
      }
    }

  for (let i = 0; i < index.tops.length; i++) {
    if (placed[i]) continue;
    const [b1, b2] = bucketsOf(index.tops[i]!);
    const room = freeSlot(t, b1) ?? freeSlot(t, b2);
    if (room !== null) {
      put(t, room, index, i);
      dirty.add(Math.floor(room / BUCKET_WORDS));
      continue;
    }
    const path = pathToRoom(t, b1, b2);
    if (!path) return null;
    // A /32 the map holds moves in its own step, after the step that copies it: last first.
    const ordered = path.slice(0, -1).some(inKernel);
    if (ordered) flush();
    for (let k = path.length - 2; k >= 0; k--) {
      t.copyWithin(path[k + 1]!, path[k]!, path[k]! + SLOT_WORDS);
      dirty.add(Math.floor(path[k + 1]! / BUCKET_WORDS));
      if (ordered) flush();
    }
    put(t, path[0]!, index, i);
    dirty.add(Math.floor(path[0]! / BUCKET_WORDS));
  }
  flush();
  return steps;
}

const slotAt = (bucket: number, slot: number) => (bucket * XDPF_V6_WAYS + slot) * SLOT_WORDS;

function freeSlot(t: Uint32Array, bucket: number): number | null {
  for (let s = 0; s < XDPF_V6_WAYS; s++) if (!(t[slotAt(bucket, s) + 4]! & XDPF_V6_USED)) return slotAt(bucket, s);
  return null;
}

function put(t: Uint32Array, at: number, index: IndexV6, i: number): void {
  t[at] = index.tops[i]!;
  t.set(index.values.subarray(4 * i, 4 * i + 4), at + 1);
}

function holds(t: Uint32Array, at: number, index: IndexV6, i: number): boolean {
  for (let w = 0; w < 4; w++) if (t[at + 1 + w] !== index.values[4 * i + w]) return false;
  return t[at] === index.tops[i];
}

/**
 * Breadth first from the two full buckets: the slots (word offsets) of a chain of /32s, each
 * able to move to the next one's bucket, the last a free slot; the first is in b1 or b2.
 */
function pathToRoom(t: Uint32Array, b1: number, b2: number): number[] | null {
  // bucket → the slot whose /32 would move into it
  const via = new Map<number, number | null>([
    [b1, null],
    [b2, null],
  ]);
  const queue = [b1, b2];
  for (let head = 0; head < queue.length && via.size < SEARCH_LIMIT; head++) {
    const u = queue[head]!;
    for (let s = 0; s < XDPF_V6_WAYS; s++) {
      const at = slotAt(u, s);
      const [c1, c2] = bucketsOf(t[at]!);
      const alt = c1 === u ? c2 : c1;
      if (alt === u || via.has(alt)) continue;
      via.set(alt, at);
      const room = freeSlot(t, alt);
      if (room !== null) {
        const path = [room];
        for (let from = via.get(alt); from != null; from = via.get(Math.floor(from / BUCKET_WORDS))) path.unshift(from);
        return path;
      }
      queue.push(alt);
    }
  }
  return null;
}
