// xdp-filter's BPF objects for the XDP benchmark, through src/bpf's libbpf binding, with their
// maps' max_entries raised before load where the benchmark needs more (libbpf's
// bpf_map__set_max_entries). xdp-filter's hashes hold 10 000 addresses as shipped and the
// benchmark puts 65 536 to 1 000 000 in them: only maps whose own limit is lower are raised, and
// the report says so (a hash map's limit sets its bucket count). fos1's filter is loaded the
// way fos1 loads it (XdpFilter.load, its capacity set from the list's size), not through here.
import { dlopen, FFIType, suffix, type Pointer } from "bun:ffi";
import { BpfError, check, checkPtr, cstr, native, pointer } from "../../src/bpf/errors";
import { bpfObjectOpenOpts, CStruct } from "../../src/bpf/cstructs";
import { BpfMap, mapInfo } from "../../src/bpf/maps";
import type { BpfProgram } from "../../src/bpf/object";
import { ensureBpffsDir } from "../../src/bpf/bpffs";

let resizer: { bpf_map__set_max_entries: (map: Pointer, n: number) => number } | undefined;

// The same library src/bpf/libbpf.ts opens (dlopen hands back the loaded copy), for one symbol.
function setMaxEntries(map: Pointer, n: number): number {
  resizer ??= dlopen(process.env.FOS1_LIBBPF ?? `libbpf.${suffix}.1`, {
    bpf_map__set_max_entries: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  }).symbols;
  return resizer.bpf_map__set_max_entries(map, n);
}

export class BenchObject {
  /** Maps whose max_entries was raised: name → [as the object declares it, as loaded]. */
  readonly raised: Record<string, [number, number]> = {};

  private constructor(
    private handle: Pointer | null,
    readonly path: string,
    readonly pinRoot: string,
  ) {}

  /**
   * Opens and loads the object with its pinned-by-name maps under pinRoot (a directory of
   * its own: a second object pinning there would share the first one's maps), after raising
   * the named maps' max_entries to at least the given counts.
   */
  static load(path: string, pinRoot: string, atLeast: Record<string, number> = {}): BenchObject {
    ensureBpffsDir(pinRoot);
    const { lib } = native();
    const pathC = cstr(path);
    const pinC = cstr(pinRoot);
    const opts = new CStruct(bpfObjectOpenOpts).set("pin_root_path", pinC);
    const h = checkPtr(`open ${path}`, (l) => l.bpf_object__open_file(pathC, opts.ptr));
    const obj = new BenchObject(h, path, pinRoot);
    try {
      for (const [name, n] of Object.entries(atLeast)) {
        const m = obj.mapPtr(name);
        const declared = lib.bpf_map__max_entries(m);
        if (declared >= n) continue;
        check(`raise max_entries of map ${name} in ${path} to ${n}`, () => setMaxEntries(m, n));
        obj.raised[name] = [declared, n];
      }
      check(`load ${path}`, (l) => l.bpf_object__load(h));
      return obj;
    } catch (err) {
      obj.close();
      throw err;
    }
  }

  program(name: string): BpfProgram {
    const { lib } = native();
    const names: string[] = [];
    for (let p = pointer(lib.bpf_object__next_program(this.ptr(), null)); p !== null; p = pointer(lib.bpf_object__next_program(this.ptr(), p))) {
      const n = String(lib.bpf_program__name(p));
      if (n === name) return { name, fd: lib.bpf_program__fd(p) };
      names.push(n);
    }
    throw new BpfError(`find program ${name} in ${this.path}`, 0, `no such program (has: ${names.join(", ")})`);
  }

  /** A loaded map (its fd belongs to the object), as the kernel describes it. */
  map(name: string): BpfMap {
    const m = this.mapPtr(name);
    const fd = check(`get the fd of map ${name}`, (lib) => lib.bpf_map__fd(m));
    return new BpfMap(fd, mapInfo(fd, `map ${name} of ${this.path}`), false);
  }

  /** Bytes of kernel memory each of the object's maps takes (fdinfo memlock), by name. */
  memory(): Record<string, number> {
    const { lib } = native();
    const out: Record<string, number> = {};
    for (let m = pointer(lib.bpf_object__next_map(this.ptr(), null)); m !== null; m = pointer(lib.bpf_object__next_map(this.ptr(), m))) {
      const name = String(lib.bpf_map__name(m));
      const fd = lib.bpf_map__fd(m);
      if (fd >= 0) out[name] = this.map(name).memory();
    }
    return out;
  }

  /** Closes the object: its programs and maps go unless attached or pinned. */
  close(): void {
    if (this.handle !== null) native().lib.bpf_object__close(this.handle);
    this.handle = null;
  }

  private mapPtr(name: string): Pointer {
    const n = cstr(name);
    const m = pointer(native().lib.bpf_object__find_map_by_name(this.ptr(), n));
    if (m === null) throw new BpfError(`find map ${name} in ${this.path}`, 0, "no such map");
    return m;
  }

  private ptr(): Pointer {
    if (this.handle === null) throw new BpfError(`use ${this.path}`, 0, "object already closed");
    return this.handle;
  }
}
