// fos1's XDP filter (bpf/xdp_filter.c) as objects: load it with its maps pinned (default
// /sys/fs/bpf/fos1/), or open the pinned maps of a filter some other process loaded, and
// read and write them in the header's terms -- blocked prefixes, denied ports, the rate
// limit, the counters by reason. Attaching is xdp.ts's job: attachXdp(ifname, filter.program).
import { BpfError, errnoCode } from "./errors";
import type { BpfMap } from "./maps";
import { openPinnedMap } from "./maps";
import { BpfObject, type BpfProgram } from "./object";
import {
  decodeConfig,
  decodeCounter,
  decodeHits,
  decodeLpmKey,
  decodePortKey,
  decodeRateEntry,
  encodeConfig,
  encodeHits,
  encodeLpmKey,
  encodePortKey,
  keySize,
  layoutMismatches,
  MAP_NAMES,
  maps as mapSpecs,
  parseNetwork,
  REASONS,
  Reason,
  u32Key,
  valueSize,
  type Counter,
  type MapName,
  type PortProto,
  type RateBucket,
  type RateLimit,
  type ReasonName,
} from "./layout";
import { formatPrefix } from "../api/ip";

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
      return new XdpFilter(obj, obj.program(PROGRAM_NAME), new XdpFilterMaps(maps, opts.object));
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

/** The filter's maps, from a loaded object or from their pins. */
export class XdpFilterMaps {
  constructor(
    private readonly m: Record<MapName, BpfMap>,
    source: string,
    private readonly owned = false,
  ) {
    for (const name of MAP_NAMES) {
      const spec = mapSpecs[name];
      const info = m[name].info;
      const want = { type: spec.type, keySize: keySize(spec), valueSize: valueSize(spec), maxEntries: spec.maxEntries };
      const got = { type: info.type, keySize: info.keySize, valueSize: info.valueSize, maxEntries: info.maxEntries };
      if (JSON.stringify(want) !== JSON.stringify(got))
        throw new BpfError(`use map ${name} of ${source}`, 0, `it is ${JSON.stringify(got)}, fos1 expects ${JSON.stringify(want)}`);
    }
  }

  /** The pinned maps of a filter loaded by another process (which may have exited). */
  static openPinned(pinRoot = DEFAULT_PIN_ROOT): XdpFilterMaps {
    const opened: BpfMap[] = [];
    try {
      for (const name of MAP_NAMES) opened.push(openPinnedMap(`${pinRoot}/${name}`));
      const byName = Object.fromEntries(MAP_NAMES.map((n, i) => [n, opened[i]!])) as Record<MapName, BpfMap>;
      return new XdpFilterMaps(byName, pinRoot, true);
    } catch (err) {
      for (const m of opened) m.close();
      throw err;
    }
  }

  map(name: MapName): BpfMap {
    return this.m[name];
  }

  /** Drops every packet from the prefix (e.g. "203.0.113.0/24", "2001:db8::/32", "0.0.0.0/0"). */
  block(prefix: string): void {
    const p = parseNetwork(prefix);
    const key = encodeLpmKey(p);
    insertIfAbsent(this.lpm(p.family), key, encodeHits(0n)); // an existing entry keeps its count
  }

  /** Removes the prefix; false when it was not blocked. */
  unblock(prefix: string): boolean {
    const p = parseNetwork(prefix);
    return this.lpm(p.family).delete(encodeLpmKey(p));
  }

  /** Blocked prefixes with the packets each has dropped, IPv4 first. */
  blocked(): { prefix: string; packets: bigint }[] {
    const out: { prefix: string; packets: bigint }[] = [];
    for (const family of [4, 6] as const)
      for (const [k, v] of this.lpm(family).entries()) out.push({ prefix: formatPrefix(decodeLpmKey(family, k)), packets: decodeHits(v) });
    return out;
  }

  /** Drops TCP or UDP packets to the destination port. */
  denyPort(proto: PortProto, port: number): void {
    insertIfAbsent(this.m.xdpf_port_deny, encodePortKey(proto, port), encodeHits(0n));
  }

  allowPort(proto: PortProto, port: number): boolean {
    return this.m.xdpf_port_deny.delete(encodePortKey(proto, port));
  }

  deniedPorts(): { proto: PortProto | number; port: number; packets: bigint }[] {
    return [...this.m.xdpf_port_deny.entries()].map(([k, v]) => ({ ...decodePortKey(k), packets: decodeHits(v) }));
  }

  /** Sets the per-source rate limit, or turns it off (null). Existing buckets keep their tokens. */
  setRateLimit(r: RateLimit | null): void {
    this.m.xdpf_config.update(u32Key(0), encodeConfig(r));
  }

  rateLimit(): RateLimit | null {
    const v = this.m.xdpf_config.lookup(u32Key(0));
    return v ? decodeConfig(v) : null;
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

  private lpm(family: 4 | 6): BpfMap {
    return family === 4 ? this.m.xdpf_block_v4 : this.m.xdpf_block_v6;
  }
}

function insertIfAbsent(map: BpfMap, key: Uint8Array, value: Uint8Array): void {
  try {
    map.update(key, value, "NOEXIST");
  } catch (err) {
    if (!(err instanceof BpfError && err.errno === errnoCode.EEXIST)) throw err;
  }
}
