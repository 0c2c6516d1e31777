// The blocklist index (src/bpf/xdp-index.ts) is pure: a list of prefixes in, the bytes and
// slots the program reads out. These cases pin what the program will find for a source --
// the longest covering length of each /24 or /32, the longer lengths inside -- and that the
// IPv6 table's writes, applied one step after another, never hide a /32 the table keeps.
// (test/netns/xdp-prog.test.ts runs the program on the same kinds of lists.)
import { describe, expect, test } from "bun:test";
import { parsePrefix } from "../../src/api/ip";
import { XDPF_V4_HAS_HOST, XDPF_V4_HAS_MID, XDPF_V6_BUCKET_BITS, XDPF_V6_BUCKETS, XDPF_V6_HASH1, XDPF_V6_USED, XDPF_V6_WAYS } from "../../src/bpf/layout";
import { bucketsOf, indexV4, indexV6, planIndexV6, prefixes, SLOT_WORDS, type IndexV6 } from "../../src/bpf/xdp-index";

/** The index's view of CIDRs: each network's first 32 bits and its length. */
const list = (...cidrs: string[]) =>
  prefixes(
    cidrs.map((c) => {
      const p = parsePrefix(c)!;
      return { word: Number(p.family === 4 ? p.addr : p.addr >> 96n), len: p.len };
    }),
  );
const s24 = (dotted: string) => dotted.split(".").reduce((a, o) => a * 256 + Number(o), 0);

describe("IPv4: a byte per /24", () => {
  test("the longest covering prefix of length 0..24 (plus one), and flags for /32s and /25../31s inside", () => {
    const { slots, mid } = indexV4(list("198.51.100.7/32", "198.51.100.192/27", "198.51.0.0/16", "198.51.100.0/24", "10.0.0.0/8"));
    expect(slots[s24("198.51.100")]).toBe(25 | XDPF_V4_HAS_HOST | XDPF_V4_HAS_MID);
    expect(slots[s24("198.51.7")]).toBe(17);
    expect(slots[s24("198.51.255")]).toBe(17);
    expect(slots[s24("198.52.0")]).toBe(0);
    expect(slots[s24("10.200.3")]).toBe(9);
    expect(slots[s24("11.0.0")]).toBe(0);
    expect(mid).toBe(1 << 27);
    expect(slots.reduce((n, b) => n + (b ? 1 : 0), 0)).toBe(2 ** 16 + 2 ** 8);
  });

  test("the order of the list does not matter; a /32 alone flags its /24 only", () => {
    const a = indexV4(list("198.51.0.0/16", "198.51.100.0/24", "198.51.100.0/23"));
    const b = indexV4(list("198.51.100.0/23", "198.51.100.0/24", "198.51.0.0/16"));
    expect(Buffer.from(a.slots).equals(Buffer.from(b.slots))).toBe(true);
    expect([a.slots[s24("198.51.100")], a.slots[s24("198.51.101")], a.slots[s24("198.51.99")]]).toEqual([25, 24, 17]);
    const host = indexV4(list("203.0.113.9/32"));
    expect(host.slots[s24("203.0.113")]).toBe(XDPF_V4_HAS_HOST);
    expect(host.mid).toBe(0);
  });

  test("0.0.0.0/0 covers every /24 with length 0 (byte 1)", () => {
    const { slots } = indexV4(list("0.0.0.0/0"));
    expect(slots.every((b) => b === 1)).toBe(true);
  });
});

/** The slot of a /32 in an IPv6 index, as [longer_lo, longer_hi[0], longer_hi[1], cover]. */
const slotOf = (ix: IndexV6, top: number) => {
  const i = ix.tops.indexOf(top);
  return i < 0 ? null : [...ix.values.subarray(4 * i, 4 * i + 4)];
};

describe("IPv6: a slot per /32", () => {
  test("prefixes of /20../32 cover every /32 inside (the longest kept), longer ones set their length's bit, shorter ones the short mask", () => {
    const ix = indexV6(list("2001:db8::/32", "2001:db8:1::/48", "2001:db8:1::7/128", "2001:db8:2::/96", "2001:db8:3::/64", "2001:db0::/29", "2001:db0::/30", "2000::/16", "::/0"));
    expect([...ix.tops]).toEqual([0x20010db0, 0x20010db1, 0x20010db2, 0x20010db3, 0x20010db4, 0x20010db5, 0x20010db6, 0x20010db7, 0x20010db8]);
    expect(slotOf(ix, 0x20010db8)).toEqual([(1 << 16) | 1, 1, 1, XDPF_V6_USED | 32]); // /48 and /64; /128; /96
    expect(slotOf(ix, 0x20010db1)).toEqual([0, 0, 0, XDPF_V6_USED | 30]);
    expect(slotOf(ix, 0x20010db7)).toEqual([0, 0, 0, XDPF_V6_USED | 29]);
    expect(ix.short).toBe((1 << 16) | 1);
  });

  test("longer prefixes alone make a slot with no cover", () => {
    const ix = indexV6(list("2001:db8:5::/48", "2001:db8:5:1::/64", "2001:db8:5::1/127"));
    expect([...ix.tops]).toEqual([0x20010db8]);
    expect(slotOf(ix, 0x20010db8)).toEqual([(1 << 16) | 1, 2, 0, XDPF_V6_USED]);
  });
});

// --- the table

const EMPTY = () => new Uint32Array(XDPF_V6_BUCKETS * XDPF_V6_WAYS * SLOT_WORDS);
const BUCKET_WORDS = XDPF_V6_WAYS * SLOT_WORDS;

function apply(table: Uint32Array, steps: { bucket: number; words: Uint32Array }[][], after?: (t: Uint32Array) => void) {
  for (const step of steps) {
    for (const w of step) table.set(w.words, w.bucket * BUCKET_WORDS);
    after?.(table);
  }
}

/** What the program finds for a /32: its slot's words but the top, or null. */
function lookup(table: Uint32Array, top: number): number[] | null {
  for (const b of bucketsOf(top))
    for (let s = 0; s < XDPF_V6_WAYS; s++) {
      const at = (b * XDPF_V6_WAYS + s) * SLOT_WORDS;
      if (table[at] === top && table[at + 4]! & XDPF_V6_USED) return [...table.subarray(at + 1, at + SLOT_WORDS)];
    }
  return null;
}

/** n /32s whose first bucket is `bucket`. */
function topsIn(bucket: number, n: number, from: number): number[] {
  const out: number[] = [];
  for (let t = from; out.length < n; t++) if (Math.imul(t, XDPF_V6_HASH1) >>> (32 - XDPF_V6_BUCKET_BITS) === bucket) out.push(t >>> 0);
  return out;
}

const entries = (tops: number[], len = 48) => list(...tops.map((t) => `${(t >>> 16).toString(16)}:${(t & 0xffff).toString(16)}::/${len}`));

describe("the IPv6 table (cuckoo hashing)", () => {
  test("the program finds every /32 with its value once the steps are done; a second plan writes nothing", () => {
    const ix = indexV6(entries([0x20010db8, 0x20010db9, 0x2a020000, 0x3fffffff]));
    const table = EMPTY();
    apply(table, planIndexV6(table, ix)!);
    for (const top of ix.tops) expect(lookup(table, top)).toEqual(slotOf(ix, top));
    expect(lookup(table, 0x20010dba)).toBeNull();
    expect(planIndexV6(table, ix)).toEqual([]);
  });

  test("what leaves is cleared, what changes is rewritten where it is, nothing else is written", () => {
    const table = EMPTY();
    apply(table, planIndexV6(table, indexV6(entries([0x20010db8, 0x20010db9, 0x2a020000])))!);
    const next = indexV6(list("2001:db8::/48", "2001:db8::/64", "2a02::/48"));
    const steps = planIndexV6(table, next)!;
    expect(steps).toHaveLength(1); // nothing moves: one step of independent writes
    const touched = steps[0]!.map((w) => w.bucket).sort((a, b) => a - b);
    const want = [...new Set([bucketsOf(0x20010db8)[0], bucketsOf(0x20010db9)[0]])].sort((a, b) => a - b);
    expect(touched).toEqual(want);
    apply(table, steps);
    expect(lookup(table, 0x20010db9)).toBeNull();
    expect(lookup(table, 0x20010db8)).toEqual(slotOf(next, 0x20010db8));
    expect(lookup(table, 0x2a020000)).toEqual(slotOf(next, 0x2a020000));
  });

  test("a /32 whose two buckets are full makes room by moving another, and no kept /32 is ever missing between steps", () => {
    // X's two buckets filled by 8 /32s each (all of them there first), then X comes in.
    const x = 0x20010db8;
    const [b1, b2] = bucketsOf(x);
    const crowd = [...topsIn(b1, XDPF_V6_WAYS, 0x24000000), ...topsIn(b2, XDPF_V6_WAYS, 0x26000000)];
    const table = EMPTY();
    apply(table, planIndexV6(table, indexV6(entries(crowd)))!);
    for (const top of crowd) expect(lookup(table, top)).not.toBeNull();

    const next = indexV6(entries([...crowd, x]));
    const steps = planIndexV6(table, next)!;
    expect(steps.length).toBeGreaterThan(1); // the move is ordered: copy first, then the slot reused
    apply(table, steps, (t) => {
      for (const top of crowd) if (lookup(t, top) === null) throw new Error(`${top.toString(16)} missing between steps`);
    });
    for (const top of [...crowd, x]) expect(lookup(table, top)).toEqual(slotOf(next, top));
    expect(planIndexV6(table, next)).toEqual([]);
  });

  test("a table a cut-short move left with a /32 twice, or in a bucket not its own, is put right", () => {
    const top = 0x20010db8;
    const ix = indexV6(entries([top]));
    const table = EMPTY();
    const [b1, b2] = bucketsOf(top);
    const other = (b1 + 1) % XDPF_V6_BUCKETS === b2 ? (b1 + 2) % XDPF_V6_BUCKETS : (b1 + 1) % XDPF_V6_BUCKETS;
    for (const b of [b1, b2, other]) table.set([top, ...slotOf(ix, top)!], b * BUCKET_WORDS);
    apply(table, planIndexV6(table, ix)!);
    let copies = 0;
    for (let at = 0; at < table.length; at += SLOT_WORDS) if (table[at] === top && table[at + 4]! & XDPF_V6_USED) copies++;
    expect(copies).toBe(1);
    expect(lookup(table, top)).toEqual(slotOf(ix, top));
  });
});
