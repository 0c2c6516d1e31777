// fos1's XDP filter (bpf/xdp_filter.c) as objects: load it with its maps pinned (default
// /sys/fs/bpf/fos1/), or open the pinned maps of a filter some other process loaded, and
// read and write them in the header's terms -- blocked prefixes (with the index the program
// finds them by, xdp-index.ts), denied ports, the rate limit, the counters by reason.
// Attaching is xdp.ts's job: attachXdp(ifname, filter.program).
//
// Writers. The CLI (`fos1 xdp block`), the agent (expiry) and apply may write one filter's maps
// at the same time, and the index and xdpf_config are read, changed and written back: every
// write takes the filter's lock (flock on its pin directory) first.
import { ptr } from "bun:ffi";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BpfError, checkLibc, cstr, errnoCode } from "./errors";
import { LOCK_EX, O_CLOEXEC, O_DIRECTORY, O_RDONLY } from "../base/libc";
import type { BpfMap } from "./maps";
import { concatBytes, memoryIsEstimate, openPinnedMap } from "./maps";
import { BpfObject, type BpfProgram } from "./object";
import {
  decodeConfig,
  decodeCounter,
  decodeHits,
  decodeLong,
  decodePortKey,
  decodePrefixKey,
  decodeRateEntry,
  checkRateLimit,
  EMPTY_CONFIG,
  encodeConfig,
  encodeHits,
  encodeLong,
  encodePortKey,
  encodePrefixKey,
  keySize,
  layoutMismatches,
  MAP_NAMES,
  maps as mapSpecs,
  parseNetwork,
  REASONS,
  Reason,
  structs,
  u32Key,
  valueSize,
  DEFAULT_SIZES,
  sizesFor,
  slotPrefixKey,
  XDPF_CAPACITY_MAX,
  XDPF_F_PORTS,
  XDPF_F_SEEN,
  XDPF_INDEX_SLOTS,
  XDPF_IX_LONG,
  XDPF_IX_LONGER,
  XDPF_IX_PAGED,
  type Counter,
  type FilterConfig,
  type MapName,
  type MapSizes,
  type MapSpec,
  type PortProto,
  type RateBucket,
  type RateLimit,
  type ReasonName,
  type SeenKey,
} from "./layout";
import { addToLong, addToPage, computeIndex, crowds, indexGaps, indexWrites, longerBit, raiseCover, removeFromLong, seenBits, slotOf, type Index, type LongEntry, type Prefixes } from "./xdp-index";
import { formatPrefix, type Family, type Prefix } from "../api/ip";

export const DEFAULT_PIN_ROOT = "/sys/fs/bpf/fos1";
export const PROGRAM_NAME = "xdp_filter";

export interface LoadOptions {
  /** The built object, e.g. dist/bpf/xdp_filter.o. */
  object: string;
  /** Where the maps are pinned and found again; default /sys/fs/bpf/fos1. */
  pinRoot?: string;
  /** The sized maps' max_entries (capacity per family, rate-limited sources); default DEFAULT_SIZES. */
  sizes?: Pick<MapSizes, "v4" | "v6" | "rate"> & Partial<MapSizes>;
}

/** A loaded filter: the program (to attach) and its maps. close() leaves pins and attachments. */
export class XdpFilter {
  private constructor(
    private readonly obj: BpfObject,
    readonly program: BpfProgram,
    readonly maps: XdpFilterMaps,
  ) {}

  /**
   * Opens the object, checks its BTF against layout.ts, and loads it: maps already pinned
   * under pinRoot are reused with their contents, missing ones are created and pinned.
   */
  static load(opts: LoadOptions): XdpFilter {
    const obj = BpfObject.open(opts.object, { pinRoot: opts.pinRoot ?? DEFAULT_PIN_ROOT });
    try {
      const wrong = layoutMismatches(obj.btf());
      if (wrong.length)
        throw new BpfError(`load ${opts.object}`, 0, `its layout differs from this fos1's (src/bpf/layout.ts):\n  ${wrong.join("\n  ")}`);
      const o = opts.sizes;
      const sizes: MapSizes = o ? { ...sizesFor(o.v4, o.v6, o.rate), ...o } : DEFAULT_SIZES;
      checkSizes(sizes);
      for (const name of MAP_NAMES) {
        const sized = (mapSpecs[name] as MapSpec).sized;
        if (sized) obj.setMaxEntries(name, sizes[sized]);
      }
      obj.load();
      const maps = Object.fromEntries(MAP_NAMES.map((n) => [n, obj.map(n)])) as Record<MapName, BpfMap>;
      const filterMaps = new XdpFilterMaps(maps, opts.object, opts.pinRoot ?? DEFAULT_PIN_ROOT);
      filterMaps.keepSeen();
      return new XdpFilter(obj, obj.program(PROGRAM_NAME), filterMaps);
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  /** Where each map is pinned. */
  pins(): Record<string, string> {
    return this.obj.pins();
  }

  close(): void {
    this.obj.close();
  }
}

/** What changeBlocklist did. */
export interface BlocklistChange {
  /** How many of the prefixes to add were not blocked and now are. */
  added: number;
  /** The prefixes to remove that were blocked (as given), and now are not. */
  removed: string[];
  /** Prefixes that could not be added (as given), with the reason; `full` when the list was at its capacity. */
  failed: { prefix: string; error: string; full?: true }[];
}

/** How full a filter is and what it costs the kernel. */
export interface FilterUsage {
  v4: { count: number; capacity: number };
  v6: { count: number; capacity: number };
  /** Bytes of kernel memory its maps take (the kernel's own accounting). */
  memory: number;
  /** The kernel estimates `memory` from the maps' sizes, as if full (Linux before 6.4). */
  memoryEstimated: boolean;
}

/** The filter's maps, from a loaded object or from their pins. */
export class XdpFilterMaps {
  private locks = 0;

  /**
   * lockDir: the filter's pin directory, whose flock serialises the writers of these maps
   * across processes.
   */
  constructor(
    private readonly m: Record<MapName, BpfMap>,
    source: string,
    private readonly lockDir: string,
    private readonly owned = false,
  ) {
    const wrong = shapeMismatches(m, source);
    if (wrong.length) throw new BpfError(`use the maps of ${source}`, 0, wrong.join("; "));
  }

  /**
   * Why the maps pinned under pinRoot are not the ones this fos1's filter uses -- pinned by a
   * fos1 of another layout: a map missing, or of another shape; empty when they are.
   */
  static pinnedLayoutProblems(pinRoot = DEFAULT_PIN_ROOT): string[] {
    const found: Partial<Record<MapName, BpfMap>> = {};
    try {
      for (const name of MAP_NAMES) if (existsSync(join(pinRoot, name))) found[name] = openPinnedMap(join(pinRoot, name));
      return shapeMismatches(found, pinRoot);
    } finally {
      for (const m of Object.values(found)) m.close();
    }
  }

  /** The pinned maps of a filter loaded by another process (which may have exited). */
  static openPinned(pinRoot = DEFAULT_PIN_ROOT): XdpFilterMaps {
    const opened: BpfMap[] = [];
    try {
      for (const name of MAP_NAMES) opened.push(openPinnedMap(`${pinRoot}/${name}`));
      const byName = Object.fromEntries(MAP_NAMES.map((n, i) => [n, opened[i]!])) as Record<MapName, BpfMap>;
      return new XdpFilterMaps(byName, pinRoot, pinRoot, true);
    } catch (err) {
      for (const m of opened) m.close();
      throw err;
    }
  }

  map(name: MapName): BpfMap {
    return this.m[name];
  }

  /** Drops every packet from the prefix (e.g. "203.0.113.0/24", "2001:db8::/32", "0.0.0.0/0"). An existing entry keeps its count. */
  block(prefix: string): void {
    const r = this.changeBlocklist([prefix], []);
    if (r.failed.length) throw new BpfError(`block ${prefix}`, 0, r.failed[0]!.error);
  }

  /** Removes the prefix; false when it was not blocked. */
  unblock(prefix: string): boolean {
    return this.changeBlocklist([], [prefix]).removed.length > 0;
  }

  /**
   * Blocks the prefixes in `add` and unblocks those in `remove`, then brings the index to the
   * list, once for all of them. Throws before writing anything when a prefix is not a network.
   *
   * The order keeps every moment safe for the prefixes that stay (changeFamily): while a /24
   * inside a blocked /16 is unblocked, its sources stay blocked by the /16 throughout, and a
   * killed writer leaves at worst new prefixes the index does not lead to yet, which
   * indexProblems() finds and reindex() repairs.
   */
  changeBlocklist(add: string[], remove: string[]): BlocklistChange {
    const adds = add.map((text) => ({ text, p: parseNetwork(text) }));
    const removes = remove.map((text) => ({ text, p: parseNetwork(text) }));
    return this.locked(() => {
      const out: BlocklistChange = { added: 0, removed: [], failed: [] };
      for (const family of [4, 6] as const) {
        const a = adds.filter((x) => x.p.family === family);
        const r = removes.filter((x) => x.p.family === family);
        if (a.length || r.length) this.changeFamily(family, a, r, out);
      }
      return out;
    });
  }

  /** How many prefixes are blocked (without reading them out one by one). */
  blockedCount(): number {
    return this.m.xdpf_block_v4.dump().count + this.m.xdpf_block_v6.dump().count;
  }

  /**
   * Blocked prefixes with the packets each has dropped, IPv4 first: its list entry's count,
   * plus its slot's while its /32's entry holds it (IPv6, longer than /32).
   */
  blocked(lists: Lists = this.dumpLists()): { prefix: string; packets: bigint }[] {
    const inSlots = new Map<string, bigint>();
    for (const [top, entry] of this.readLong()) for (const slot of entry.slots) if (slot.packets) inSlots.set(keyString(slotPrefixKey(top, slot)), slot.packets);
    const out: { prefix: string; packets: bigint }[] = [];
    for (const family of [4, 6] as const) {
      const { count, keys, values } = lists[family];
      const ks = this.list(family).info.keySize;
      const vs = this.list(family).info.valueSize;
      for (let i = 0; i < count; i++) {
        const key = keys.subarray(i * ks, (i + 1) * ks);
        const packets = decodeHits(values.subarray(i * vs, (i + 1) * vs)) + (family === 6 && inSlots.size ? (inSlots.get(keyString(key)) ?? 0n) : 0n);
        out.push({ prefix: formatPrefix(decodePrefixKey(family, key)), packets });
      }
    }
    return out;
  }

  /** Drops TCP or UDP packets to the destination port. */
  denyPort(proto: PortProto, port: number): void {
    const key = encodePortKey(proto, port);
    this.locked(() => {
      insertIfAbsent(this.m.xdpf_port_deny, key, encodeHits(0n));
      this.updateConfig((c) => ({ ...c, flags: c.flags | XDPF_F_PORTS }));
    });
  }

  allowPort(proto: PortProto, port: number): boolean {
    const key = encodePortKey(proto, port);
    return this.locked(() => {
      const was = this.m.xdpf_port_deny.delete(key);
      // The flag goes once the map is empty: until then the program keeps looking ports up.
      if (this.m.xdpf_port_deny.keys().next().done) this.updateConfig((c) => ({ ...c, flags: c.flags & ~XDPF_F_PORTS }));
      return was;
    });
  }

  deniedPorts(): { proto: PortProto | number; port: number; packets: bigint }[] {
    return [...this.m.xdpf_port_deny.entries()].map(([k, v]) => ({ ...decodePortKey(k), packets: decodeHits(v) }));
  }

  /** Sets the per-source rate limit, or turns it off (null). Existing buckets keep their tokens. */
  setRateLimit(r: RateLimit | null): void {
    if (r) checkRateLimit(r);
    if (r && this.sizes().rate === DEFAULT_SIZES.rate)
      throw new BpfError("set the rate limit", 0, "the filter was loaded without room for rate-limit buckets (sizes.rate): load it again with the rate limit configured");
    this.locked(() => this.updateConfig((c) => ({ ...c, rate: r })));
  }

  rateLimit(): RateLimit | null {
    return this.config().rate;
  }

  /** The token buckets the program keeps (one per source prefix seen while a rate was set). */
  rateBuckets(): (RateBucket & { prefix: string })[] {
    return [...this.m.xdpf_rate.entries()].map(([k, v]) => {
      const b = decodeRateEntry(k, v);
      return { ...b, prefix: formatPrefix(b.source) };
    });
  }

  /** The counters by reason, summed over every CPU. */
  counters(): Record<ReasonName, Counter> {
    const out = {} as Record<ReasonName, Counter>;
    for (const r of REASONS) {
      const slots = this.m.xdpf_stats.lookupPerCpu(u32Key(Reason[r])) ?? [];
      out[r] = slots.map(decodeCounter).reduce((a, c) => ({ packets: a.packets + c.packets, bytes: a.bytes + c.bytes }), { packets: 0n, bytes: 0n });
    }
    return out;
  }

  /** Closes the maps' fds when they were opened from pins (a loaded object's are its own). */
  close(): void {
    if (this.owned) for (const name of MAP_NAMES) this.m[name].close();
  }

  private list(family: Family): BpfMap {
    return family === 4 ? this.m.xdpf_block_v4 : this.m.xdpf_block_v6;
  }

  private index(family: Family): BpfMap {
    return family === 4 ? this.m.xdpf_index_v4 : this.m.xdpf_index_v6;
  }

  private pages(family: Family): BpfMap {
    return family === 4 ? this.m.xdpf_pages_v4 : this.m.xdpf_pages_v6;
  }

  /**
   * Removes, then adds, then leads the index to what was added. A few prefixes change the
   * index incrementally (the bits of removed prefixes stay: see the header); more compute the
   * whole list's index and write what differs, which also clears bits left behind. Removing
   * first makes room in a full list, and is safe: a word's bits only add lookups -- except a
   * cover, the one length the index leads to in place of several (up to /16 in a word, up to /24
   * in a page), so such prefixes leave the index before they leave the list, lest a
   * shorter prefix covering the same space be passed over.
   */
  private changeFamily(family: Family, adds: Given[], removes: Given[], out: BlocklistChange): void {
    const list = this.list(family);
    const ks = list.info.keySize;
    const few = adds.length + removes.length <= FEW;
    const removedKeys = removes.map((r) => encodePrefixKey(r.p));
    if (removes.some((r) => r.p.len <= EXCLUSIVE_UP_TO)) this.writeIndex(family, columns(list.dump().keys, ks, removedKeys));
    let now: { count: number; keys: Uint8Array } | null = null;
    if (few) {
      const gone = removes.flatMap((r, i) => (list.delete(removedKeys[i]!) ? [i] : []));
      out.removed.push(...gone.map((i) => removes[i]!.text));
      if (family === 6) this.removeFromSlots(columns(concatBytes(gone.map((i) => removedKeys[i]!)), ks, []));
    } else {
      const listed = list.dump();
      const have = new Set<string>();
      for (let i = 0; i < listed.count; i++) have.add(keyString(listed.keys.subarray(i * ks, (i + 1) * ks)));
      const gone = removes.flatMap((r, i) => (have.has(keyString(removedKeys[i]!)) ? [i] : []));
      list.deleteBatch(concatBytes(gone.map((i) => removedKeys[i]!)), gone.length);
      out.removed.push(...gone.map((i) => removes[i]!.text));
      const left = columnsKeys(listed.keys, ks, gone.map((i) => removedKeys[i]!));
      now = { count: left.length / ks, keys: left };
    }
    const inserted = now ? this.insertAbsent(list, now, adds, out) : this.insertEach(list, adds, out);
    try {
      if (now) this.writeIndex(family, columns(concatBytes([now.keys, ...inserted]), ks, []));
      else if (!this.addToIndex(family, columns(concatBytes(inserted), ks, []))) this.writeIndex(family, columns(list.dump().keys, ks, []));
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
      try {
        // Stale /32 entries may have filled xdpf_long_v6, or a read failed: the whole list's
        // index, written with the stale entries out first.
        this.writeIndex(family, columns(list.dump().keys, ks, []));
      } catch (again) {
        // The list must never hold a prefix the index does not lead to: the new ones go, and
        // the index is that of the list as it was.
        for (const key of inserted) list.delete(key);
        this.writeIndex(family, columns(list.dump().keys, ks, []));
        throw again;
      }
    }
  }

  /** Adds each prefix with a zero count, one syscall each; returns the keys that were not there. */
  private insertEach(list: BpfMap, adds: Given[], out: BlocklistChange): Uint8Array[] {
    const zero = encodeHits(0n);
    const inserted: Uint8Array[] = [];
    for (const a of adds) {
      const key = encodePrefixKey(a.p);
      try {
        list.update(key, zero, "NOEXIST");
        inserted.push(key);
      } catch (err) {
        if (!(err instanceof BpfError)) throw err;
        if (err.errno !== errnoCode.EEXIST) out.failed.push(failure(a.text, err));
      }
    }
    out.added += inserted.length;
    return inserted;
  }

  /**
   * Adds the prefixes the list lacks with a zero count (one that is there keeps its count),
   * after one pass over the list to leave out those it holds, a few thousand a syscall;
   * returns the keys written.
   */
  private insertAbsent(list: BpfMap, before: { count: number; keys: Uint8Array }, adds: Given[], out: BlocklistChange): Uint8Array[] {
    const ks = list.info.keySize;
    const inserted: Uint8Array[] = [];
    const have = new Set<string>();
    for (let i = 0; i < before.count; i++) have.add(keyString(before.keys.subarray(i * ks, (i + 1) * ks)));
    const fresh = new Map<string, Given>();
    for (const a of adds) {
      const k = keyString(encodePrefixKey(a.p));
      if (!have.has(k)) fresh.set(k, a);
    }
    const keys = new Uint8Array(fresh.size * ks);
    const given = [...fresh.values()];
    [...fresh.keys()].forEach((k, i) => keys.set(stringKey(k), i * ks));
    const refused = new Map(list.updateBatch(keys, new Uint8Array(fresh.size * list.bufferSize), fresh.size).map((r) => [r.index, r.error]));
    given.forEach((a, i) => {
      const err = refused.get(i);
      if (err) out.failed.push(failure(a.text, err));
      else inserted.push(keys.subarray(i * ks, (i + 1) * ks));
    });
    out.added += inserted.length;
    return inserted;
  }

  /** The index as the maps hold it. */
  private readIndex(family: Family): Index {
    const now = this.index(family).dump();
    const slots = new Uint32Array(XDPF_INDEX_SLOTS);
    const keys = new DataView(now.keys.buffer, now.keys.byteOffset, now.keys.byteLength);
    const values = new DataView(now.values.buffer, now.values.byteOffset, now.values.byteLength);
    for (let i = 0; i < now.count; i++) slots[keys.getUint32(i * 4, true)] = values.getUint32(i * 4, true);
    const long = family === 6 ? this.readLong() : new Map<number, LongEntry>();
    let seenWords: BigUint64Array | null = null;
    if (family === 6 && this.seenKey()) {
      const d = this.m.xdpf_seen_v6.dump();
      const dk = new DataView(d.keys.buffer, d.keys.byteOffset, d.keys.byteLength);
      const dv = new DataView(d.values.buffer, d.values.byteOffset, d.values.byteLength);
      seenWords = new BigUint64Array(this.m.xdpf_seen_v6.info.maxEntries);
      for (let i = 0; i < d.count; i++) seenWords[dk.getUint32(i * 4, true)] = dv.getBigUint64(i * 8, true);
    }
    const pages = new Map<number, Uint16Array>();
    const named = new Set<number>();
    for (const w of slots) if (w & XDPF_IX_PAGED) named.add(w & XDPF_IX_LONGER);
    if (named.size) {
      const d = this.pages(family).dump();
      const dk = new DataView(d.keys.buffer, d.keys.byteOffset, d.keys.byteLength);
      for (let i = 0; i < d.count; i++) {
        const n = dk.getUint32(i * 4, true);
        if (named.has(n)) pages.set(n, new Uint16Array(d.values.slice(i * PAGE_BYTES, (i + 1) * PAGE_BYTES).buffer));
      }
    }
    return { slots, long, pages, groups: new Map(), seenTops: new Set(), seenWords };
  }

  /** The seen filter's key once keepSeen() has set it up; undefined before. */
  private seenKey(): SeenKey | undefined {
    const { seen } = this.config();
    return seen.mask ? seen : undefined;
  }

  /**
   * Sets up the IPv6 seen filter of maps that do not keep one yet (made afresh): a random key,
   * the filter's words from the list, and only then the flag that has the program read it.
   */
  keepSeen(): void {
    this.locked(() => {
      const mask = this.m.xdpf_seen_v6.info.maxEntries - 1;
      const now = this.config();
      if (now.flags & XDPF_F_SEEN && now.seen.mask === mask) return;
      const [seed] = crypto.getRandomValues(new Uint32Array(1));
      this.updateConfig((c) => ({ ...c, flags: c.flags & ~XDPF_F_SEEN, seen: { seed: seed!, mask } }));
      const list = this.list(6);
      this.writeIndex(6, columns(list.dump().keys, list.info.keySize, []));
      this.updateConfig((c) => ({ ...c, flags: c.flags | XDPF_F_SEEN }));
    });
  }

  /** xdpf_long_v6's entries by /32. */
  private readLong(): Map<number, LongEntry> {
    const long = new Map<number, LongEntry>();
    const l = this.m.xdpf_long_v6.dump();
    const lk = new DataView(l.keys.buffer, l.keys.byteOffset, l.keys.byteLength);
    const vs = this.m.xdpf_long_v6.bufferSize;
    for (let i = 0; i < l.count; i++) long.set(lk.getUint32(i * 4, true), decodeLong(l.values.subarray(i * vs, (i + 1) * vs)));
    return long;
  }

  /** One /32's entry as the map holds it, or undefined. */
  private longEntry(top: number): LongEntry | undefined {
    const v = this.m.xdpf_long_v6.lookup(u32Key(top));
    return v ? decodeLong(v) : undefined;
  }

  /**
   * Writes /32 entries (null: delete), then adds what the slots they replace had counted to
   * their prefixes' list entries, so a prefix's count survives its entry being rewritten (less
   * what the program counted between the read of `before` and the write).
   */
  private writeLong(writes: [number, LongEntry | null][], before: (top: number) => LongEntry | undefined): void {
    const long = this.m.xdpf_long_v6;
    const deletes = writes.filter(([, e]) => !e).map(([top]) => top);
    if (deletes.length) long.deleteBatch(concatBytes(deletes.map(u32Key)), deletes.length);
    this.writeWords(long, writes.flatMap(([top, e]) => (e ? [[top, encodeLong(e)] as [number, Uint8Array]] : [])));
    const list = this.m.xdpf_block_v6;
    for (const [top] of writes)
      for (const slot of before(top)?.slots ?? []) {
        if (!slot.packets) continue;
        const key = slotPrefixKey(top, slot);
        const v = list.lookup(key);
        if (v) list.update(key, encodeHits(decodeHits(v) + slot.packets), "EXIST");
      }
  }

  /** Takes unlisted IPv6 prefixes out of their /32's slots (a slot drops whatever the list says). */
  private removeFromSlots(p: Prefixes): void {
    const byTop = new Map<number, LongEntry["slots"]>();
    for (let i = 0; i < p.count; i++) {
      if (p.len[i]! <= 32) continue;
      const top = p.word[i]!;
      const leaving = byTop.get(top) ?? [];
      leaving.push(slotOf(p, i));
      byTop.set(top, leaving);
    }
    const before = new Map<number, LongEntry>();
    const writes: [number, LongEntry | null][] = [];
    for (const [top, leaving] of byTop) {
      const entry = this.longEntry(top);
      if (!entry?.slots.length) continue;
      before.set(top, entry);
      writes.push([top, removeFromLong(entry, leaving)]);
    }
    this.writeLong(writes, (top) => before.get(top));
  }

  /** Brings the index to exactly that of the list `p`, writing only what differs (xdp-index.ts's order). */
  private writeIndex(family: Family, p: Prefixes): void {
    const actual = this.readIndex(family);
    const w = indexWrites(computeIndex(family, p), actual, this.pages(family).info.maxEntries, family === 6 ? this.seenKey() : undefined);
    this.writeWords(this.m.xdpf_seen_v6, w.seen.map(([i, bits]) => [i, u64Bytes(bits)]));
    this.writeLong([...w.longDeletes.map((top) => [top, null] as [number, null]), ...w.longPuts], (top) => actual.long.get(top));
    this.writeWords(this.pages(family), w.pages.map(([n, page]) => [n, new Uint8Array(page.buffer, page.byteOffset, PAGE_BYTES)]));
    this.writeWords(this.index(family), w.slots.map(([s, word]) => [s, u32Key(word)]));
  }

  /**
   * Sets the bits that lead to the newly listed prefixes `p`, keeping every bit already set.
   * Returns false, having written nothing, when a prefix would make a /16 crowded that has no
   * page: its page needs the /16's other prefixes, which only the whole list holds, so the
   * caller computes the whole index (once per /16 that becomes crowded; later prefixes there
   * go to its page, or to its bits when the pages ran out).
   */
  private addToIndex(family: Family, p: Prefixes): boolean {
    if (!p.count) return true;
    const index = this.index(family);
    // Few prefixes: the words they touch, one lookup each; a short one may touch every word,
    // so then the whole index is read, changed in place, and compared.
    const short = Array.from(p.len.subarray(0, p.count)).some((len) => len <= 16);
    const before = short ? this.readIndex(family).slots : null;
    const all = before?.slice() ?? null;
    const words = new Map<number, number>();
    const get = (s: number) => (all ? all[s]! : (words.get(s) ?? new DataView(index.lookup(u32Key(s))!.buffer).getUint32(0, true)));
    const set = (s: number, w: number) => (all ? (all[s] = w) : words.set(s, w));
    const long = new Map<number, LongEntry>();
    const longBefore = new Map<number, LongEntry | undefined>();
    const seen = family === 6 ? this.seenKey() : undefined;
    const seenWords = new Map<number, bigint>();
    const see = (top: number) => {
      if (!seen) return;
      const { word, bits } = seenBits(top, seen);
      const was = seenWords.get(word) ?? new DataView(this.m.xdpf_seen_v6.lookup(u32Key(word))!.buffer).getBigUint64(0, true);
      seenWords.set(word, was | bits);
    };
    const pageEdits = new Map<number, Uint16Array>();
    for (let i = 0; i < p.count; i++) {
      const len = p.len[i]!;
      const top = p.word[i]!;
      if (len >= 32) see(top);
      if (len <= 16) raiseCover(all!, top, len);
      else if (len <= 32 && get(top >>> 16) & XDPF_IX_PAGED) {
        // A crowded /16: its page says what its /24s hold.
        const n = get(top >>> 16) & XDPF_IX_LONGER;
        const page = pageEdits.get(n) ?? new Uint16Array(this.pages(family).lookup(u32Key(n))!.slice().buffer);
        addToPage(page, top, len);
        pageEdits.set(n, page);
      } else if (len <= 32) {
        if (crowds(get(top >>> 16), len)) return false;
        set(top >>> 16, (get(top >>> 16) | longerBit(len)) >>> 0);
      } else if (family === 6) {
        if (!longBefore.has(top)) longBefore.set(top, this.longEntry(top));
        long.set(top, addToLong(long.get(top) ?? longBefore.get(top), slotOf(p, i)));
        set(top >>> 16, (get(top >>> 16) | XDPF_IX_LONG) >>> 0);
      }
    }
    if (all) for (let s = 0; s < XDPF_INDEX_SLOTS; s++) if (all[s] !== before![s]) words.set(s, all[s]!);
    // The seen filter, then the /32 entries and pages, before the words that send a lookup to them.
    this.writeWords(this.m.xdpf_seen_v6, [...seenWords].map(([i, bits]) => [i, u64Bytes(bits)]));
    this.writeLong([...long], (top) => longBefore.get(top));
    this.writeWords(this.pages(family), [...pageEdits].map(([n, page]) => [n, new Uint8Array(page.buffer, page.byteOffset, PAGE_BYTES)]));
    this.writeWords(index, [...words].map(([s, w]) => [s, u32Key(w)]));
    return true;
  }

  /** Writes u32-keyed entries in batches; throws the first refusal. */
  private writeWords(map: BpfMap, entries: [number, Uint8Array][]): void {
    if (!entries.length) return;
    const values = new Uint8Array(entries.length * map.bufferSize);
    entries.forEach(([, v], i) => values.set(v, i * map.bufferSize));
    const refused = map.updateBatch(concatBytes(entries.map(([k]) => u32Key(k))), values, entries.length);
    if (refused.length) throw refused[0]!.error;
  }

  /**
   * Why the index does not lead to every listed prefix -- a writer killed between writing a
   * list and its index, or maps written by something else -- per family; empty when it does.
   */
  indexProblems(lists: Lists = this.dumpLists()): string[] {
    const out: string[] = [];
    for (const family of [4, 6] as const) {
      const gaps = indexGaps(computeIndex(family, columns(lists[family].keys, this.list(family).info.keySize, [])), this.readIndex(family), family === 6 ? this.seenKey() : undefined);
      if (gaps.slots || gaps.long)
        out.push(`the IPv${family} index is out of step with the list in ${gaps.slots} /16 word${gaps.slots === 1 ? "" : "s"}${family === 6 ? ` and ${gaps.long} /32 entr${gaps.long === 1 ? "y" : "ies"}` : ""}`);
    }
    return out;
  }

  /** Both lists as they are, for blocked() and indexProblems() to share one read. */
  dumpLists(): Lists {
    return { 4: this.list(4).dump(), 6: this.list(6).dump() };
  }

  /** Writes the index of the lists as they are (after indexProblems() found gaps). */
  reindex(): void {
    this.locked(() => {
      for (const family of [4, 6] as const) {
        const list = this.list(family);
        this.writeIndex(family, columns(list.dump().keys, list.info.keySize, []));
      }
    });
  }

  /** The sized maps' max_entries: the filter's capacity per family and its rate-limited sources. */
  sizes(): MapSizes {
    const m = this.m;
    return {
      v4: m.xdpf_block_v4.info.maxEntries,
      v6: m.xdpf_block_v6.info.maxEntries,
      rate: m.xdpf_rate.info.maxEntries,
      pagesV4: m.xdpf_pages_v4.info.maxEntries,
      pagesV6: m.xdpf_pages_v6.info.maxEntries,
      seenV6: m.xdpf_seen_v6.info.maxEntries,
    };
  }

  usage(): FilterUsage {
    const sizes = this.sizes();
    return {
      v4: { count: this.m.xdpf_block_v4.dump().count, capacity: sizes.v4 },
      v6: { count: this.m.xdpf_block_v6.dump().count, capacity: sizes.v6 },
      memory: MAP_NAMES.reduce((n, name) => n + this.m[name].memory(), 0),
      memoryEstimated: memoryIsEstimate(),
    };
  }

  private config(): FilterConfig {
    const v = this.m.xdpf_config.lookup(u32Key(0));
    return v ? decodeConfig(v) : EMPTY_CONFIG;
  }

  /** Read, change, write back xdpf_config (under the lock); nothing is written when nothing changes. */
  private updateConfig(change: (c: FilterConfig) => FilterConfig): void {
    const now = this.config();
    const before = encodeConfig(now);
    const after = encodeConfig(change(now));
    if (!sameBytes(before, after)) this.m.xdpf_config.update(u32Key(0), after);
  }

  /** Runs body holding the filter's lock (nested calls in this object hold it already). */
  private locked<T>(body: () => T): T {
    if (this.locks > 0) return body();
    const path = cstr(this.lockDir);
    const fd = checkLibc(`open ${this.lockDir} to lock the filter`, (libc) => libc.open(ptr(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
    try {
      checkLibc(`lock ${this.lockDir}`, (libc) => libc.flock(fd, LOCK_EX));
      this.locks++;
      try {
        return body();
      } finally {
        this.locks--;
      }
    } finally {
      checkLibc(`close ${this.lockDir}`, (libc) => libc.close(fd)); // and the lock with it
    }
  }
}

/** Both lists' keys and values as BpfMap.dump() reads them. */
export type Lists = Record<Family, { count: number; keys: Uint8Array; values: Uint8Array }>;

/** A prefix as the caller wrote it, and parsed. */
interface Given {
  text: string;
  p: Prefix;
}

/**
 * The longest prefixes whose length the index holds as a cover -- the one length it leads to
 * in their place, which must never name a prefix no longer listed: up to /16 in a word, up to
 * /24 in a page.
 */
const EXCLUSIVE_UP_TO = 24;

const PAGE_BYTES = structs.xdpf_page.size;

/** Up to this many prefixes to add or remove change the index incrementally (see changeFamily). */
const FEW = 64;

function failure(prefix: string, err: BpfError): BlocklistChange["failed"][number] {
  return err.errno === errnoCode.E2BIG ? { prefix, error: `the filter's list is full: ${err.message}`, full: true } : { prefix, error: err.message };
}

/** Throws, saying what is allowed, for sizes the maps cannot be loaded with. */
function checkSizes(sizes: MapSizes): void {
  for (const [what, n] of Object.entries(sizes))
    if (!Number.isInteger(n) || n < 1 || n > XDPF_CAPACITY_MAX) throw new BpfError("size the filter's maps", 0, `${what}: ${n} entries; allowed: 1 to ${XDPF_CAPACITY_MAX}`);
  if (sizes.seenV6 & (sizes.seenV6 - 1)) throw new BpfError("size the filter's maps", 0, `seenV6: ${sizes.seenV6} entries; allowed: a power of two`);
}

/** A u64 as the program reads it (xdpf_seen_word). */
function u64Bytes(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n, true);
  return out;
}

/**
 * The index's view of listed prefixes (keys back to back, struct xdpf_prefix_v4 or _v6): each
 * network's first 32 bits and length (and an IPv6 network's rest), those whose key is in
 * `leaving` left out.
 */
function columns(keys: Uint8Array, ks: number, leaving: Uint8Array[]): Prefixes {
  const f = structs.xdpf_prefix_v4.fields; // the same offsets as xdpf_prefix_v6's
  const count = keys.length / ks;
  const word = new Uint32Array(count);
  const len = new Uint8Array(count);
  const six = ks === structs.xdpf_prefix_v6.size;
  const rest = new Uint32Array(six ? 3 * count : 0);
  const view = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
  // (first word, length) of what leaves: most keys are told apart by these two numbers alone
  const pair = (l: number, w: number) => w * 256 + l;
  const leavingPairs = new Set(leaving.map((k) => pair(new DataView(k.buffer, k.byteOffset).getUint32(f.prefixlen.offset, true), new DataView(k.buffer, k.byteOffset).getUint32(f.addr.offset, false))));
  const leavingKeys = new Set(leaving.map(keyString));
  let n = 0;
  for (let i = 0; i < count; i++) {
    const at = i * ks;
    const l = view.getUint32(at + f.prefixlen.offset, true);
    const w = view.getUint32(at + f.addr.offset, false);
    if (leavingPairs.has(pair(l, w)) && leavingKeys.has(keyString(keys.subarray(at, at + ks)))) continue;
    len[n] = l;
    word[n] = w;
    if (six) for (let j = 0; j < 3; j++) rest[3 * n + j] = view.getUint32(at + f.addr.offset + 4 + 4 * j, true);
    n++;
  }
  return { count: n, word, len, rest };
}

/** The keys (back to back) without those in `leaving`. */
function columnsKeys(keys: Uint8Array, ks: number, leaving: Uint8Array[]): Uint8Array {
  if (!leaving.length) return keys;
  const out = new Uint8Array(keys.length);
  const gone = new Set(leaving.map(keyString));
  let n = 0;
  for (let at = 0; at < keys.length; at += ks) {
    const k = keys.subarray(at, at + ks);
    if (gone.has(keyString(k))) continue;
    out.set(k, n);
    n += ks;
  }
  return out.subarray(0, n);
}

/** Every way the maps differ from what this fos1 expects of them (type, key, value, entries). */
function shapeMismatches(m: Partial<Record<MapName, BpfMap>>, source: string): string[] {
  const out: string[] = [];
  for (const name of MAP_NAMES) {
    const map = m[name];
    if (!map) {
      out.push(`map ${name} is missing from ${source}`);
      continue;
    }
    const spec: MapSpec = mapSpecs[name];
    // A sized map's max_entries comes from the config (XdpFilterMaps.sizes() says which).
    const want = { type: spec.type, keySize: keySize(spec), valueSize: valueSize(spec), maxEntries: spec.sized ? map.info.maxEntries : spec.maxEntries };
    const got = { type: map.info.type, keySize: map.info.keySize, valueSize: map.info.valueSize, maxEntries: map.info.maxEntries };
    if (JSON.stringify(want) !== JSON.stringify(got)) out.push(`map ${name} is ${JSON.stringify(got)}, fos1 expects ${JSON.stringify(want)}`);
  }
  return out;
}

/**
 * Readies pinRoot for loading the filter again when its pins are of another layout: removes
 * every map pin but the counters by reason (kept when of this layout's shape), so the load
 * makes the maps afresh -- the lists, the index, the ports, the rate limit, which the caller
 * then fills from the config, as for a new filter. A program still attached keeps its own
 * maps (the kernel holds them) and filters on until it is replaced. Returns the names removed.
 */
export function removeStalePins(pinRoot: string): string[] {
  let names: string[];
  try {
    names = readdirSync(pinRoot).filter((n) => n.startsWith("xdpf_"));
  } catch {
    return [];
  }
  const stale = names.filter((name) => {
    if (name !== "xdpf_stats") return true;
    const map = openPinnedMap(join(pinRoot, name));
    try {
      return shapeMismatches({ [name]: map }, pinRoot).some((w) => w.startsWith(`map ${name} is {`));
    } finally {
      map.close();
    }
  });
  for (const name of stale) rmSync(join(pinRoot, name), { force: true });
  return stale;
}

function insertIfAbsent(map: BpfMap, key: Uint8Array, value: Uint8Array): void {
  try {
    map.update(key, value, "NOEXIST");
  } catch (err) {
    if (!(err instanceof BpfError && err.errno === errnoCode.EEXIST)) throw err;
  }
}

/** A map key as a string (one char a byte), for sets of keys. */
const keyString = (b: Uint8Array) => String.fromCharCode(...b);
const stringKey = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}
