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
import { concatBytes, openPinnedMap } from "./maps";
import { BpfObject, type BpfProgram } from "./object";
import {
  decodeConfig,
  decodeCounter,
  decodeHits,
  decodePortKey,
  decodePrefixKey,
  decodeRateEntry,
  checkRateLimit,
  EMPTY_CONFIG,
  encodeConfig,
  encodeHits,
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
  XDPF_F_PORTS,
  XDPF_INDEX_V4_PAGE,
  XDPF_V6_BUCKETS,
  XDPF_V6_EXPAND_MIN,
  XDPF_V6_WAYS,
  type Counter,
  type FilterConfig,
  type MapName,
  type PortProto,
  type RateBucket,
  type RateLimit,
  type ReasonName,
} from "./layout";
import { indexV4, indexV6, planIndexV6, SLOT_WORDS, type Prefixes } from "./xdp-index";
import { formatPrefix, type Family, type Prefix } from "../api/ip";

export const DEFAULT_PIN_ROOT = "/sys/fs/bpf/fos1";
export const PROGRAM_NAME = "xdp_filter";

export interface LoadOptions {
  /** The built object, e.g. dist/bpf/xdp_filter.o. */
  object: string;
  /** Where the maps are pinned and found again; default /sys/fs/bpf/fos1. */
  pinRoot?: string;
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
      obj.load();
      const maps = Object.fromEntries(MAP_NAMES.map((n) => [n, obj.map(n)])) as Record<MapName, BpfMap>;
      return new XdpFilter(obj, obj.program(PROGRAM_NAME), new XdpFilterMaps(maps, opts.object, opts.pinRoot ?? DEFAULT_PIN_ROOT));
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
  /** Prefixes that could not be added (as given), with the reason (the list is full, …). */
  failed: { prefix: string; error: string }[];
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
   * The order keeps every moment safe for packets: new entries go in before the index points
   * at them, and entries go out only after the index no longer does -- so while a /24 inside a
   * blocked /16 is unblocked, its sources stay blocked by the /16 throughout.
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

  /** Blocked prefixes with the packets each has dropped, IPv4 first. */
  blocked(): { prefix: string; packets: bigint }[] {
    const out: { prefix: string; packets: bigint }[] = [];
    for (const family of [4, 6] as const) {
      const { count, keys, values } = this.list(family).dump();
      const ks = this.list(family).info.keySize;
      const vs = this.list(family).info.valueSize;
      for (let i = 0; i < count; i++)
        out.push({ prefix: formatPrefix(decodePrefixKey(family, keys.subarray(i * ks, (i + 1) * ks))), packets: decodeHits(values.subarray(i * vs, (i + 1) * vs)) });
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

  private changeFamily(family: Family, adds: Given[], removes: Given[], out: BlocklistChange): void {
    const list = this.list(family);
    const ks = list.info.keySize;
    const before = list.dump();
    const inserted = this.insertAbsent(list, before, adds, out);
    // The list as it will be: what it held and what went in, but what goes out.
    const after = columns(concatBytes([before.keys, ...inserted]), ks, removes.map((r) => encodePrefixKey(r.p)));
    try {
      this.writeIndex(family, after);
    } catch (err) {
      // The list must never hold a prefix the index does not lead to: take the new ones out
      // and write the index of the list as it was.
      for (const key of inserted) list.delete(key);
      this.writeIndex(family, columns(before.keys, ks, []));
      throw err;
    }
    for (const r of removes) if (list.delete(encodePrefixKey(r.p))) out.removed.push(r.text);
  }

  /**
   * Adds the prefixes the list lacks with a zero count (one that is there keeps its count);
   * returns the keys written. A few go one syscall each; many, after one pass over the list
   * to leave out those it holds, a few thousand a syscall.
   */
  private insertAbsent(list: BpfMap, before: { count: number; keys: Uint8Array }, adds: Given[], out: BlocklistChange): Uint8Array[] {
    const ks = list.info.keySize;
    const zero = encodeHits(0n);
    const inserted: Uint8Array[] = [];
    if (adds.length <= FEW) {
      for (const a of adds) {
        const key = encodePrefixKey(a.p);
        try {
          list.update(key, zero, "NOEXIST");
          inserted.push(key);
        } catch (err) {
          if (!(err instanceof BpfError)) throw err;
          if (err.errno !== errnoCode.EEXIST) out.failed.push({ prefix: a.text, error: err.message });
        }
      }
    } else {
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
        if (err) out.failed.push({ prefix: a.text, error: err.message });
        else inserted.push(keys.subarray(i * ks, (i + 1) * ks));
      });
    }
    out.added += inserted.length;
    return inserted;
  }

  private writeIndex(family: Family, p: Prefixes): void {
    if (family === 4) this.writeIndexV4(p);
    else this.writeIndexV6(p);
  }

  private writeIndexV4(p: Prefixes): void {
    const { slots, mid } = indexV4(p);
    const map = this.m.xdpf_index_v4;
    const now = map.dump();
    for (let i = 0; i < now.count; i++) {
      const page = new DataView(now.keys.buffer, now.keys.byteOffset + i * 4, 4).getUint32(0, true);
      const want = slots.subarray(page * XDPF_INDEX_V4_PAGE, (page + 1) * XDPF_INDEX_V4_PAGE);
      if (!sameBytes(want, now.values.subarray(i * XDPF_INDEX_V4_PAGE, (i + 1) * XDPF_INDEX_V4_PAGE))) map.update(u32Key(page), want);
    }
    this.updateConfig((c) => ({ ...c, v4Mid: mid }));
  }

  private writeIndexV6(p: Prefixes): void {
    const index = indexV6(p);
    const map = this.m.xdpf_index_v6;
    const now = map.dump();
    const bucketWords = XDPF_V6_WAYS * SLOT_WORDS;
    const table = new Uint32Array(XDPF_V6_BUCKETS * bucketWords);
    const keys = new DataView(now.keys.buffer, now.keys.byteOffset, now.keys.byteLength);
    for (let i = 0; i < now.count; i++) table.set(new Uint32Array(now.values.buffer, now.values.byteOffset + i * bucketWords * 4, bucketWords), keys.getUint32(i * 4, true) * bucketWords);
    const writes = planIndexV6(table, index);
    if (!writes)
      throw new BpfError("index the IPv6 blocklist", 0, `its prefixes of /${XDPF_V6_EXPAND_MIN} or longer make ${index.tops.length} /32s, more than the index's ${XDPF_V6_BUCKETS * XDPF_V6_WAYS} slots can take`);
    for (const step of writes) {
      const keys = new Uint8Array(step.length * 4);
      const values = new Uint8Array(step.length * map.bufferSize);
      step.forEach((w, i) => {
        keys.set(u32Key(w.bucket), i * 4);
        values.set(new Uint8Array(w.words.buffer, w.words.byteOffset, w.words.byteLength), i * map.bufferSize);
      });
      const refused = map.updateBatch(keys, values, step.length);
      if (refused.length) throw refused[0]!.error;
    }
    this.updateConfig((c) => ({ ...c, v6Short: index.short }));
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

/** A prefix as the caller wrote it, and parsed. */
interface Given {
  text: string;
  p: Prefix;
}

/** Up to this many prefixes to add go in one syscall each (see insertAbsent). */
const FEW = 64;

/**
 * The index's view of listed prefixes (keys back to back, struct xdpf_prefix_v4 or _v6): each
 * network's first 32 bits and length, those whose key is in `leaving` left out.
 */
function columns(keys: Uint8Array, ks: number, leaving: Uint8Array[]): Prefixes {
  const f = structs.xdpf_prefix_v4.fields; // the same offsets as xdpf_prefix_v6's
  const count = keys.length / ks;
  const word = new Uint32Array(count);
  const len = new Uint8Array(count);
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
    n++;
  }
  return { count: n, word, len };
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
    const spec = mapSpecs[name];
    const want = { type: spec.type, keySize: keySize(spec), valueSize: valueSize(spec), maxEntries: spec.maxEntries };
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
