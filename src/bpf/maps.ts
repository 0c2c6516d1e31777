// A BPF map by file descriptor: lookup, update, delete and iterate raw keys and values, per-CPU
// values one slot per possible CPU. Maps come from a loaded object (object.ts, which owns the
// fd) or from a pin on bpffs (openPinnedMap, which owns it: close() when done).
import { ptr } from "bun:ffi";
import { readFileSync } from "node:fs";
import { release } from "node:os";
import { BpfError, check, closeFd, cstr, errnoCode } from "./errors";
import { bpfMapBatchOpts, bpfMapInfo, CStruct } from "./cstructs";

/** The map types fos1 uses (enum bpf_map_type in linux/bpf.h). */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
} as const;

const PER_CPU: ReadonlySet<number> = new Set([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH]);

// bpf_map_update_elem flags
export const UpdateFlag = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;
export type UpdateMode = keyof typeof UpdateFlag;

let cpus: number | undefined;

/** Possible CPUs (not online ones): the number of slots in a per-CPU map value. */
export function possibleCpus(): number {
  cpus ??= check("count possible CPUs", (lib) => lib.libbpf_num_possible_cpus());
  return cpus;
}

export interface MapInfo {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

export class BpfMap {
  /** Bytes of one value as the syscall moves it: per-CPU maps carry a slot (8-aligned) per CPU. */
  readonly bufferSize: number;
  readonly perCpu: boolean;

  constructor(
    readonly fd: number,
    readonly info: MapInfo,
    private readonly ownsFd: boolean,
  ) {
    this.perCpu = PER_CPU.has(info.type);
    this.bufferSize = this.perCpu ? align8(info.valueSize) * possibleCpus() : info.valueSize;
  }

  get name(): string {
    return this.info.name;
  }

  /** The value, or null when the key is absent. Per-CPU maps: all slots, see lookupPerCpu. */
  lookup(key: Uint8Array): Uint8Array | null {
    this.checkKey(key);
    const value = new Uint8Array(this.bufferSize);
    const rc = this.call("look up", (lib) => lib.bpf_map_lookup_elem(this.fd, ptr(key), ptr(value)), [errnoCode.ENOENT]);
    return rc === null ? null : value;
  }

  /** A per-CPU map's value as one slot per possible CPU, or null when the key is absent. */
  lookupPerCpu(key: Uint8Array): Uint8Array[] | null {
    if (!this.perCpu) throw new BpfError(`look up in map ${this.name}`, 0, "not a per-CPU map");
    const all = this.lookup(key);
    if (!all) return null;
    const stride = align8(this.info.valueSize);
    return Array.from({ length: possibleCpus() }, (_, cpu) => all.slice(cpu * stride, cpu * stride + this.info.valueSize));
  }

  /** Writes the value (per-CPU maps: bufferSize bytes, every slot). */
  update(key: Uint8Array, value: Uint8Array, mode: UpdateMode = "ANY"): void {
    this.checkKey(key);
    if (value.length !== this.bufferSize)
      throw new BpfError(`update map ${this.name}`, 0, `value is ${value.length} bytes, the map takes ${this.bufferSize}`);
    this.call("update", (lib) => lib.bpf_map_update_elem(this.fd, ptr(key), ptr(value), UpdateFlag[mode]), []);
  }

  /**
   * Writes count entries (BPF_ANY), their keys and values back to back, a few thousand per
   * syscall (BPF_MAP_UPDATE_BATCH; kernel 5.6). Every entry is tried: those the kernel refuses
   * (E2BIG when the map is full, …) are returned with the reason, the rest written. The kernel
   * takes no NOEXIST here: a caller that must not overwrite looks first.
   */
  updateBatch(keys: Uint8Array, values: Uint8Array, count: number): { index: number; error: BpfError }[] {
    const ks = this.info.keySize;
    const vs = this.bufferSize;
    if (keys.length !== count * ks || values.length !== count * vs)
      throw new BpfError(`update map ${this.name}`, 0, `${count} entries need ${count * ks} bytes of keys and ${count * vs} of values, got ${keys.length} and ${values.length}`);
    const opts = new CStruct(bpfMapBatchOpts);
    const refused: { index: number; error: BpfError }[] = [];
    for (let at = 0; at < count; at += BATCH) {
      const n = Math.min(count - at, BATCH);
      const k = keys.subarray(at * ks, (at + n) * ks);
      const v = values.subarray(at * vs, (at + n) * vs);
      try {
        check(`update map ${this.name}`, (lib) => lib.bpf_map_update_batch(this.fd, ptr(k), ptr(v), ptr(new Uint32Array([n])), opts.ptr));
      } catch (err) {
        if (!(err instanceof BpfError)) throw err;
        // Which entry failed, and whether the kernel got that far, is not reliably said:
        // the chunk again one by one (rewriting an entry that made it is harmless).
        for (let i = 0; i < n; i++)
          try {
            this.update(k.subarray(i * ks, (i + 1) * ks), v.subarray(i * vs, (i + 1) * vs));
          } catch (e) {
            if (!(e instanceof BpfError)) throw e;
            refused.push({ index: at + i, error: e });
          }
      }
    }
    return refused;
  }

  /**
   * Removes the keys (back to back), a few thousand per syscall (BPF_MAP_DELETE_BATCH; kernel
   * 5.6); keys that are not there are skipped. Returns how many were removed.
   */
  deleteBatch(keys: Uint8Array, count: number): number {
    const ks = this.info.keySize;
    if (keys.length !== count * ks) throw new BpfError(`delete from map ${this.name}`, 0, `${count} keys need ${count * ks} bytes, got ${keys.length}`);
    const opts = new CStruct(bpfMapBatchOpts);
    let removed = 0;
    for (let at = 0; at < count; at += BATCH) {
      const n = Math.min(count - at, BATCH);
      const k = keys.subarray(at * ks, (at + n) * ks);
      try {
        check(`delete from map ${this.name}`, (lib) => lib.bpf_map_delete_batch(this.fd, ptr(k), ptr(new Uint32Array([n])), opts.ptr));
        removed += n;
      } catch (err) {
        // The kernel stops at the first key that is not there (ENOENT): the chunk one by one.
        if (!(err instanceof BpfError && err.errno === errnoCode.ENOENT)) throw err;
        for (let i = 0; i < n; i++) if (this.delete(k.subarray(i * ks, (i + 1) * ks))) removed++;
      }
    }
    return removed;
  }

  /**
   * Kernel memory the map takes, as the kernel accounts it (fdinfo "memlock": since Linux 6.4
   * what the map has allocated, its entries included; before, an estimate from its sizes).
   */
  memory(): number {
    const m = /^memlock:\s+(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${this.fd}`, "utf8"));
    return m ? Number(m[1]) : 0;
  }


  /** Removes the key; false when it was not there. */
  delete(key: Uint8Array): boolean {
    this.checkKey(key);
    return this.call("delete from", (lib) => lib.bpf_map_delete_elem(this.fd, ptr(key)), [errnoCode.ENOENT]) !== null;
  }

  /**
   * Every key, in the kernel's order. Deleting the current key while iterating is safe for
   * hash maps (the next call restarts or continues as the kernel defines).
   */
  *keys(): Generator<Uint8Array> {
    let prev: Uint8Array | null = null;
    for (;;) {
      const next = new Uint8Array(this.info.keySize);
      const prevPtr = prev ? ptr(prev) : null;
      const rc = this.call("iterate", (lib) => lib.bpf_map_get_next_key(this.fd, prevPtr, ptr(next)), [errnoCode.ENOENT]);
      if (rc === null) return;
      yield next;
      prev = next;
    }
  }

  /** Every key with its value (entries deleted meanwhile are skipped). */
  *entries(): Generator<[Uint8Array, Uint8Array]> {
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value) yield [key, value];
    }
  }

  /**
   * Every key and value, a few thousand per syscall (BPF_MAP_LOOKUP_BATCH; kernel 5.6): entry
   * i's key at keys[i * keySize], its value at values[i * bufferSize]. For maps of many
   * entries, where entries() would take two syscalls each.
   */
  dump(): { count: number; keys: Uint8Array; values: Uint8Array } {
    const ks = this.info.keySize;
    const vs = this.bufferSize;
    const keyParts: Uint8Array[] = [];
    const valueParts: Uint8Array[] = [];
    // The position token is a key for arrays, a bucket number for hashes.
    let from: Uint8Array | null = null;
    let chunk = 4096;
    for (let done = false; !done; ) {
      const keys = new Uint8Array(chunk * ks);
      const values = new Uint8Array(chunk * vs);
      const next = new Uint8Array(Math.max(ks, 8));
      const count = new Uint32Array([chunk]);
      const fromPtr = from ? ptr(from) : null;
      try {
        check(`read map ${this.name}`, (lib) => lib.bpf_map_lookup_batch(this.fd, fromPtr, ptr(next), ptr(keys), ptr(values), ptr(count), null));
      } catch (err) {
        if (!(err instanceof BpfError)) throw err;
        // A hash bucket holds more entries than the chunk: the same position again, larger.
        if (err.errno === errnoCode.ENOSPC && count[0] === 0) {
          chunk *= 4;
          continue;
        }
        if (err.errno !== errnoCode.ENOENT) throw err;
        done = true; // the last entries came with the end
      }
      keyParts.push(keys.subarray(0, count[0]! * ks));
      valueParts.push(values.subarray(0, count[0]! * vs));
      from = next;
    }
    const count = keyParts.reduce((n, k) => n + k.length / ks, 0);
    return { count, keys: concatBytes(keyParts), values: concatBytes(valueParts) };
  }

  close(): void {
    if (this.ownsFd) closeFd(this.fd);
  }

  private checkKey(key: Uint8Array) {
    if (key.length !== this.info.keySize)
      throw new BpfError(`use map ${this.name}`, 0, `key is ${key.length} bytes, the map's keys are ${this.info.keySize}`);
  }

  /** The call's result, or null when it failed with one of the expected errnos. */
  private call(what: string, fn: Parameters<typeof check>[1], expected: number[]): number | null {
    try {
      return check(`${what} map ${this.name}`, fn);
    } catch (err) {
      if (err instanceof BpfError && expected.includes(err.errno)) return null;
      throw err;
    }
  }
}

/** Opens a map pinned on bpffs; the caller owns the returned map's fd (close()). */
export function openPinnedMap(path: string): BpfMap {
  const p = cstr(path);
  const fd = check(`open pinned map ${path}`, (lib) => lib.bpf_obj_get(p));
  try {
    return new BpfMap(fd, mapInfo(fd, path), true);
  } catch (err) {
    closeFd(fd);
    throw err;
  }
}

/** What the kernel says about the map behind fd (BPF_OBJ_GET_INFO_BY_FD). */
export function mapInfo(fd: number, what: string): MapInfo {
  const info = new CStruct(bpfMapInfo);
  const len = new Uint32Array([bpfMapInfo.size]);
  check(`read map info of ${what}`, (lib) => lib.bpf_obj_get_info_by_fd(fd, info.ptr, ptr(len)));
  return {
    name: info.string("name"),
    type: info.get("type"),
    keySize: info.get("key_size"),
    valueSize: info.get("value_size"),
    maxEntries: info.get("max_entries"),
  };
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Entries per batch syscall. */
const BATCH = 8192;

/** The arrays back to back in one. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Whether this kernel reports a map's memory (BpfMap.memory) as an estimate from its sizes --
 * max_entries times an entry, as if the map were full -- rather than what it has allocated:
 * Linux before 6.4.
 */
export function memoryIsEstimate(kernel = release()): boolean {
  const [major = 0, minor = 0] = kernel.split(".").map((x) => parseInt(x, 10));
  return major < 6 || (major === 6 && minor < 4);
}
