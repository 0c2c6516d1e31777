// The TypeScript mirror of bpf/xdp_filter.h: constants, the reason enum, every struct's size
// and field offsets, the maps, and the byte codecs fos1 writes and reads them with. The
// header is the one definition; layoutMismatches() compares this mirror with an object's BTF,
// and the filter refuses an object that disagrees (xdp-filter.ts).
import type { Btf } from "./btf";
import type { LongEntry } from "./xdp-index";
import { MapType } from "./maps";
import { bits, formatIp, network, parsePrefix, type Family, type Prefix } from "../api/ip";

export const XDPF_VLAN_MAX = 2;
export const XDPF_IPV6_EXT_MAX = 6;
export const XDPF_NANO = 1_000_000_000n;
export const XDPF_CAPACITY_DEFAULT = 65536;
export const XDPF_CAPACITY_MAX = 16777216;
export const XDPF_INDEX_SLOTS = 65536;
export const XDPF_IX_LONGER = 0xffff;
export const XDPF_IX_COVER_SHIFT = 16;
export const XDPF_IX_COVER = 0x3f0000;
export const XDPF_IX_PAGED = 0x40000000;
export const XDPF_IX_LONG = 0x80000000;
export const XDPF_PAGE_SLOTS = 256;
export const XDPF_PAGES_DEFAULT = 4096;
export const XDPF_PAGES_V6_DEFAULT = 1024;
export const XDPF_PG_INSIDE = 0xff;
export const XDPF_PG_COVER_SHIFT = 8;
export const XDPF_PG_COVER = 0x1f00;
export const XDPF_LONG_INLINE = 4;
export const XDPF_SEEN_V6_DEFAULT = 16384;
export const XDPF_SEEN_SALT = 0x9e3779b9;
export const XDPF_PORT_DENY_MAX = 1024;
export const XDPF_RATE_DEFAULT = 65536;
/** xdpf_config.flags */
export const XDPF_F_PORTS = 0x1;
export const XDPF_F_SEEN = 0x2;

/** enum xdpf_reason: the index of each counter in xdpf_stats. */
export const Reason = {
  XDPF_PASS: 0,
  XDPF_PASS_NOT_IP: 1,
  XDPF_PASS_FRAGMENT: 2,
  XDPF_PASS_EXT_LIMIT: 3,
  XDPF_MALFORMED: 4,
  XDPF_DROP_BLOCK_V4: 5,
  XDPF_DROP_BLOCK_V6: 6,
  XDPF_DROP_PORT: 7,
  XDPF_DROP_RATE: 8,
  XDPF_REASON_MAX: 9,
} as const;

export type ReasonName = Exclude<keyof typeof Reason, "XDPF_REASON_MAX">;
export const REASON_COUNT = Reason.XDPF_REASON_MAX;
export const REASONS = (Object.keys(Reason) as (keyof typeof Reason)[]).filter((k): k is ReasonName => k !== "XDPF_REASON_MAX");

/** "XDPF_DROP_BLOCK_V4" → "drop_block_v4", for output. */
export const reasonLabel = (r: ReasonName) => r.slice("XDPF_".length).toLowerCase();

export interface FieldLayout {
  offset: number;
  size: number;
}

export interface StructLayout {
  size: number;
  fields: Readonly<Record<string, FieldLayout>>;
}

const f = (offset: number, size: number): FieldLayout => ({ offset, size });

export const structs = {
  xdpf_prefix_v4: { size: 8, fields: { prefixlen: f(0, 4), addr: f(4, 4) } },
  xdpf_prefix_v6: { size: 20, fields: { prefixlen: f(0, 4), addr: f(4, 16) } },
  xdpf_hits: { size: 8, fields: { packets: f(0, 8) } },
  xdpf_index_slot: { size: 4, fields: { bits: f(0, 4) } },
  xdpf_page: { size: 2 * XDPF_PAGE_SLOTS, fields: { slot: f(0, 2 * XDPF_PAGE_SLOTS) } },
  xdpf_long_slot: { size: 24, fields: { prefixlen: f(0, 4), addr: f(4, 12), packets: f(16, 8) } },
  xdpf_long_v6: { size: 16 + 24 * XDPF_LONG_INLINE, fields: { longer_lo: f(0, 4), longer_hi: f(4, 8), pad: f(12, 4), slot: f(16, 24 * XDPF_LONG_INLINE) } },
  xdpf_port_key: { size: 4, fields: { port: f(0, 2), proto: f(2, 1), pad: f(3, 1) } },
  xdpf_config: {
    size: 40,
    fields: {
      flags: f(0, 4),
      rate_v4_prefix: f(4, 4),
      rate_v6_prefix: f(8, 4),
      seen_seed: f(12, 4),
      rate_pps: f(16, 8),
      burst: f(24, 8),
      seen_mask: f(32, 4),
      pad: f(36, 4),
    },
  },
  xdpf_seen_word: { size: 8, fields: { bits: f(0, 8) } },
  xdpf_rate_key: { size: 20, fields: { family: f(0, 1), prefixlen: f(1, 1), pad: f(2, 2), addr: f(4, 16) } },
  xdpf_rate_state: { size: 16, fields: { tokens: f(0, 8), last_ns: f(8, 8) } },
  xdpf_counter: { size: 16, fields: { packets: f(0, 8), bytes: f(8, 8) } },
} as const satisfies Record<string, StructLayout>;

export type StructName = keyof typeof structs;

export interface MapSpec {
  type: number;
  /** A struct of the header, or a plain u32 (array indexes, an IPv6 /32). */
  key: StructName | "u32";
  value: StructName;
  /** As the object declares it; a sized map's is set at load (MapSizes). */
  maxEntries: number;
  /** Which of a filter's sizes sets max_entries at load. */
  sized?: keyof MapSizes;
}

/**
 * The max_entries a filter's maps are loaded with, from its config: the capacity per family
 * (the lists; xdpf_long_v6 holds at most one entry per IPv6 prefix) and the rate limit's
 * tracked sources (1 without a rate limit).
 */
export interface MapSizes {
  v4: number;
  v6: number;
  rate: number;
  /** Pages for crowded /16s per family (pagesFor: from the family's capacity). */
  pagesV4: number;
  pagesV6: number;
  /** Words of the IPv6 seen filter (seenFor: from the IPv6 capacity). */
  seenV6: number;
}

/**
 * Pages for a family's capacity, from 16 to one per /16: one per 16 prefixes of IPv4 (4 096 at
 * the default, 2 MiB), one per 64 of IPv6 (1 024, 512 KiB), whose lists crowd fewer /16s.
 */
export const pagesFor = (family: Family, capacity: number) => Math.min(65536, Math.max(16, Math.ceil(capacity / (family === 4 ? 16 : 64))));

/**
 * Words of the seen filter for an IPv6 capacity: the power of two at or above 10 bits per unit
 * of capacity (16 384 words, 128 KiB, at the default), at least 64. Full, three bits per /32 in
 * a 64-bit word let about 2 % of unseen /32s through to their lookups.
 */
export const seenFor = (capacity: number) => 2 ** Math.max(6, Math.ceil(Math.log2(Math.ceil((capacity * 10) / 64))));

/** The sizes of a filter with these capacities and rate-limited sources, its pages and seen filter from them. */
export const sizesFor = (v4: number, v6: number, rate: number): MapSizes => ({ v4, v6, rate, pagesV4: pagesFor(4, v4), pagesV6: pagesFor(6, v6), seenV6: seenFor(v6) });

export const DEFAULT_SIZES: MapSizes = sizesFor(XDPF_CAPACITY_DEFAULT, XDPF_CAPACITY_DEFAULT, 1);

export const maps = {
  xdpf_block_v4: { type: MapType.HASH, key: "xdpf_prefix_v4", value: "xdpf_hits", maxEntries: XDPF_CAPACITY_DEFAULT, sized: "v4" },
  xdpf_block_v6: { type: MapType.HASH, key: "xdpf_prefix_v6", value: "xdpf_hits", maxEntries: XDPF_CAPACITY_DEFAULT, sized: "v6" },
  xdpf_index_v4: { type: MapType.ARRAY, key: "u32", value: "xdpf_index_slot", maxEntries: XDPF_INDEX_SLOTS },
  xdpf_index_v6: { type: MapType.ARRAY, key: "u32", value: "xdpf_index_slot", maxEntries: XDPF_INDEX_SLOTS },
  xdpf_long_v6: { type: MapType.HASH, key: "u32", value: "xdpf_long_v6", maxEntries: XDPF_CAPACITY_DEFAULT, sized: "v6" },
  xdpf_pages_v4: { type: MapType.ARRAY, key: "u32", value: "xdpf_page", maxEntries: XDPF_PAGES_DEFAULT, sized: "pagesV4" },
  xdpf_pages_v6: { type: MapType.ARRAY, key: "u32", value: "xdpf_page", maxEntries: XDPF_PAGES_V6_DEFAULT, sized: "pagesV6" },
  xdpf_seen_v6: { type: MapType.ARRAY, key: "u32", value: "xdpf_seen_word", maxEntries: XDPF_SEEN_V6_DEFAULT, sized: "seenV6" },
  xdpf_port_deny: { type: MapType.HASH, key: "xdpf_port_key", value: "xdpf_hits", maxEntries: XDPF_PORT_DENY_MAX },
  xdpf_config: { type: MapType.ARRAY, key: "u32", value: "xdpf_config", maxEntries: 1 },
  xdpf_rate: { type: MapType.LRU_HASH, key: "xdpf_rate_key", value: "xdpf_rate_state", maxEntries: XDPF_RATE_DEFAULT, sized: "rate" },
  xdpf_stats: { type: MapType.PERCPU_ARRAY, key: "u32", value: "xdpf_counter", maxEntries: REASON_COUNT },
} as const satisfies Record<string, MapSpec>;

export type MapName = keyof typeof maps;
export const MAP_NAMES = Object.keys(maps) as MapName[];

export const keySize = (m: MapSpec) => (m.key === "u32" ? 4 : structs[m.key].size);
export const valueSize = (m: MapSpec) => structs[m.value].size;

/**
 * Every difference between this mirror and the BTF of a built xdp_filter.o, one line each;
 * empty when they agree.
 */
export function layoutMismatches(btf: Btf): string[] {
  const out: string[] = [];
  for (const [name, want] of Object.entries(structs) as [StructName, StructLayout][]) {
    const got = btf.struct(name);
    if (!got) {
      out.push(`struct ${name}: missing from the object's BTF`);
      continue;
    }
    if (got.size !== want.size) out.push(`struct ${name}: size ${got.size}, mirror says ${want.size}`);
    const gotNames = got.members.map((m) => m.name);
    const wantNames = Object.keys(want.fields);
    if (gotNames.join(",") !== wantNames.join(","))
      out.push(`struct ${name}: members ${gotNames.join(", ")}, mirror says ${wantNames.join(", ")}`);
    for (const m of got.members) {
      const w = want.fields[m.name];
      if (!w) continue;
      if (m.bits) out.push(`struct ${name}.${m.name}: a bitfield, the mirror has no bitfields`);
      if (m.offset !== w.offset || m.size !== w.size)
        out.push(`struct ${name}.${m.name}: offset ${m.offset} size ${m.size}, mirror says offset ${w.offset} size ${w.size}`);
    }
  }
  const got = btf.enum("xdpf_reason");
  if (!got) out.push("enum xdpf_reason: missing from the object's BTF");
  else {
    const names = new Set([...Object.keys(got), ...Object.keys(Reason)]);
    for (const n of names) {
      const g = got[n];
      const w = (Reason as Record<string, number>)[n];
      if (g !== w) out.push(`enum xdpf_reason ${n}: ${g ?? "absent"} in the object, mirror says ${w ?? "absent"}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Codecs. Addresses go in network byte order; every other integer in the host's (little-endian
// on every platform fos1 runs on), as the program reads them.

/** A prefix with no host bits set, e.g. "203.0.113.0/24"; throws on anything else. */
export function parseNetwork(text: string): Prefix {
  const p = parsePrefix(text);
  if (!p) throw new Error(`${text}: not an IPv4 or IPv6 prefix (address/length)`);
  if (network(p).addr !== p.addr) throw new Error(`${text}: host bits set (the network is ${formatIp(p.family, network(p).addr)}/${p.len})`);
  return p;
}

// Through hex text: a blocklist of a million prefixes goes through here, and a BigInt shift
// per byte is several times slower.
function addrBytes(family: Family, addr: bigint): Uint8Array {
  const hex = addr.toString(16).padStart(bits(family) / 4, "0");
  return Uint8Array.from({ length: hex.length / 2 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}

function bytesAddr(bytes: Uint8Array): bigint {
  let hex = "0x";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return BigInt(hex);
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The blocklist key (xdpf_prefix_v4 or xdpf_prefix_v6) of a prefix. */
export function encodePrefixKey(p: Prefix): Uint8Array {
  const s = p.family === 4 ? structs.xdpf_prefix_v4 : structs.xdpf_prefix_v6;
  const out = new Uint8Array(s.size);
  view(out).setUint32(s.fields.prefixlen.offset, p.len, true);
  out.set(addrBytes(p.family, p.addr), s.fields.addr.offset);
  return out;
}

export function decodePrefixKey(family: Family, key: Uint8Array): Prefix {
  const s = family === 4 ? structs.xdpf_prefix_v4 : structs.xdpf_prefix_v6;
  const a = s.fields.addr;
  return { family, len: view(key).getUint32(s.fields.prefixlen.offset, true), addr: bytesAddr(key.subarray(a.offset, a.offset + a.size)) };
}

export function encodeHits(packets: bigint): Uint8Array {
  const out = new Uint8Array(structs.xdpf_hits.size);
  view(out).setBigUint64(structs.xdpf_hits.fields.packets.offset, packets, true);
  return out;
}

export function decodeHits(value: Uint8Array): bigint {
  return view(value).getBigUint64(structs.xdpf_hits.fields.packets.offset, true);
}

/** struct xdpf_long_v6's bytes. */
export function encodeLong(entry: LongEntry): Uint8Array {
  const s = structs.xdpf_long_v6.fields;
  const out = new Uint8Array(structs.xdpf_long_v6.size);
  const v = view(out);
  v.setUint32(s.longer_lo.offset, entry.bits[0], true);
  v.setUint32(s.longer_hi.offset, entry.bits[1], true);
  v.setUint32(s.longer_hi.offset + 4, entry.bits[2], true);
  entry.slots.forEach((slot, i) => {
    const at = s.slot.offset + i * structs.xdpf_long_slot.size;
    const f = structs.xdpf_long_slot.fields;
    v.setUint32(at + f.prefixlen.offset, slot.len, true);
    slot.rest.forEach((w, j) => v.setUint32(at + f.addr.offset + 4 * j, w, true));
    v.setBigUint64(at + f.packets.offset, slot.packets, true);
  });
  return out;
}

export function decodeLong(value: Uint8Array): LongEntry {
  const s = structs.xdpf_long_v6.fields;
  const f = structs.xdpf_long_slot.fields;
  const v = view(value);
  const slots: LongEntry["slots"] = [];
  for (let i = 0; i < XDPF_LONG_INLINE; i++) {
    const at = s.slot.offset + i * structs.xdpf_long_slot.size;
    const len = v.getUint32(at + f.prefixlen.offset, true);
    if (!len) break;
    const w = (j: number) => v.getUint32(at + f.addr.offset + 4 * j, true);
    slots.push({ len, rest: [w(0), w(1), w(2)], packets: v.getBigUint64(at + f.packets.offset, true) });
  }
  return { bits: [v.getUint32(s.longer_lo.offset, true), v.getUint32(s.longer_hi.offset, true), v.getUint32(s.longer_hi.offset + 4, true)], slots };
}

/** The blocklist key of the IPv6 prefix held in a slot of the /32 `top` (host byte order). */
export function slotPrefixKey(top: number, slot: LongEntry["slots"][number]): Uint8Array {
  const s = structs.xdpf_prefix_v6.fields;
  const out = new Uint8Array(structs.xdpf_prefix_v6.size);
  const v = view(out);
  v.setUint32(s.prefixlen.offset, slot.len, true);
  v.setUint32(s.addr.offset, top, false);
  slot.rest.forEach((w, j) => v.setUint32(s.addr.offset + 4 + 4 * j, w, true));
  return out;
}

export const IPPROTO = { tcp: 6, udp: 17 } as const;
export type PortProto = keyof typeof IPPROTO;

export function encodePortKey(proto: PortProto, port: number): Uint8Array {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${port}: not a port number (0-65535)`);
  const s = structs.xdpf_port_key;
  const out = new Uint8Array(s.size);
  view(out).setUint16(s.fields.port.offset, port, true);
  out[s.fields.proto.offset] = IPPROTO[proto];
  return out;
}

export function decodePortKey(key: Uint8Array): { proto: PortProto | number; port: number } {
  const s = structs.xdpf_port_key;
  const num = key[s.fields.proto.offset]!;
  const proto = (Object.keys(IPPROTO) as PortProto[]).find((k) => IPPROTO[k] === num) ?? num;
  return { proto, port: view(key).getUint16(s.fields.port.offset, true) };
}

export interface RateLimit {
  /** Packets per second each source prefix may send on average. */
  pps: number;
  /** Packets a source may send at once (the bucket size). */
  burst: number;
  /** Source prefix length one bucket covers (IPv4, default 32). */
  v4Prefix: number;
  /** Same for IPv6 (default 64: one host usually owns a whole /64). */
  v6Prefix: number;
}

// Bounds that keep burst * XDPF_NANO and the refill arithmetic inside 64 bits.
export const RATE_MAX_PPS = 1_000_000_000;
export const RATE_MAX_BURST = 1_000_000_000;

/** Throws, saying what is wrong, when the program could not use the rate limit as given. */
export function checkRateLimit(r: RateLimit): void {
  const checkInt = (what: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`rate limit ${what} ${v}: must be an integer from ${lo} to ${hi}`);
  };
  checkInt("pps", r.pps, 1, RATE_MAX_PPS);
  checkInt("burst", r.burst, 1, RATE_MAX_BURST);
  checkInt("IPv4 prefix", r.v4Prefix, 0, 32);
  checkInt("IPv6 prefix", r.v6Prefix, 0, 128);
}

/** struct xdpf_config as fos1 reads and writes it. */
export interface FilterConfig {
  /** XDPF_F_* */
  flags: number;
  /** null: off (rate_pps 0). */
  rate: RateLimit | null;
  /** The seen filter's hash key and word mask (both 0 until fos1 sets them up). */
  seen: SeenKey;
}

export interface SeenKey {
  seed: number;
  mask: number;
}

export const EMPTY_CONFIG: FilterConfig = { flags: 0, rate: null, seen: { seed: 0, mask: 0 } };

export function encodeConfig(c: FilterConfig): Uint8Array {
  const s = structs.xdpf_config.fields;
  const out = new Uint8Array(structs.xdpf_config.size);
  const v = view(out);
  v.setUint32(s.flags.offset, c.flags, true);
  v.setUint32(s.seen_seed.offset, c.seen.seed, true);
  v.setUint32(s.seen_mask.offset, c.seen.mask, true);
  if (c.rate) {
    checkRateLimit(c.rate);
    v.setBigUint64(s.rate_pps.offset, BigInt(c.rate.pps), true);
    v.setBigUint64(s.burst.offset, BigInt(c.rate.burst), true);
    v.setUint32(s.rate_v4_prefix.offset, c.rate.v4Prefix, true);
    v.setUint32(s.rate_v6_prefix.offset, c.rate.v6Prefix, true);
  }
  return out;
}

export function decodeConfig(value: Uint8Array): FilterConfig {
  const s = structs.xdpf_config.fields;
  const v = view(value);
  const pps = Number(v.getBigUint64(s.rate_pps.offset, true));
  return {
    flags: v.getUint32(s.flags.offset, true),
    rate:
      pps === 0
        ? null
        : {
            pps,
            burst: Number(v.getBigUint64(s.burst.offset, true)),
            v4Prefix: v.getUint32(s.rate_v4_prefix.offset, true),
            v6Prefix: v.getUint32(s.rate_v6_prefix.offset, true),
          },
    seen: { seed: v.getUint32(s.seen_seed.offset, true), mask: v.getUint32(s.seen_mask.offset, true) },
  };
}

export interface RateBucket {
  source: Prefix;
  /** Whole tokens left at the last packet (refill happens when the next one arrives). */
  tokens: number;
  lastNs: bigint;
}

export function decodeRateEntry(key: Uint8Array, value: Uint8Array): RateBucket {
  const k = structs.xdpf_rate_key.fields;
  const s = structs.xdpf_rate_state.fields;
  const family: Family = key[k.family.offset] === 4 ? 4 : 6;
  const addr = key.subarray(k.addr.offset, k.addr.offset + (family === 4 ? 4 : 16));
  return {
    source: { family, len: key[k.prefixlen.offset]!, addr: bytesAddr(addr) },
    tokens: Number(view(value).getBigUint64(s.tokens.offset, true) / XDPF_NANO),
    lastNs: view(value).getBigUint64(s.last_ns.offset, true),
  };
}

export interface Counter {
  packets: bigint;
  bytes: bigint;
}

export function decodeCounter(value: Uint8Array): Counter {
  const s = structs.xdpf_counter.fields;
  return { packets: view(value).getBigUint64(s.packets.offset, true), bytes: view(value).getBigUint64(s.bytes.offset, true) };
}

export function u32Key(n: number): Uint8Array {
  const out = new Uint8Array(4);
  view(out).setUint32(0, n, true);
  return out;
}
