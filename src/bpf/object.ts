// A BPF ELF object: open it (bpf_object__open_file), look at its BTF, load it into the kernel
// (bpf_object__load), then find its programs and maps. Maps declared with
// `pinning = LIBBPF_PIN_BY_NAME` are pinned under pinRoot on load, and a map already pinned
// there is reused instead of created (libbpf checks type, key/value size, max_entries and
// flags, and refuses a mismatch) -- so map contents outlive the process that loaded them.
import type { Pointer } from "bun:ffi";
import { Btf } from "./btf";
import { BpfError, check, checkPtr, cstr, native, pointer } from "./errors";
import { bpfObjectOpenOpts, CStruct } from "./cstructs";
import { BpfMap, type MapInfo } from "./maps";
import { ensureBpffsDir } from "./bpffs";

export interface OpenOptions {
  /**
   * Directory on bpffs for the object's pinned maps; created when missing. Without it libbpf
   * uses /sys/fs/bpf. fos1's default is /sys/fs/bpf/fos1 (see xdp-filter.ts).
   */
  pinRoot?: string;
}

export interface BpfProgram {
  name: string;
  fd: number;
}

export class BpfObject {
  private handle: Pointer | null;
  private loaded = false;

  private constructor(
    handle: Pointer,
    readonly path: string,
    readonly pinRoot: string | null,
  ) {
    this.handle = handle;
  }

  /** Opens (parses) the object; nothing reaches the kernel until load(). */
  static open(path: string, opts: OpenOptions = {}): BpfObject {
    const pinRoot = opts.pinRoot ?? null;
    if (pinRoot !== null) ensureBpffsDir(pinRoot);
    const o = new CStruct(bpfObjectOpenOpts);
    const pathC = cstr(path);
    const pinC = pinRoot === null ? null : cstr(pinRoot);
    if (pinC) o.set("pin_root_path", pinC);
    const handle = checkPtr(`open ${path}`, (lib) => lib.bpf_object__open_file(pathC, o.ptr));
    return new BpfObject(handle, path, pinRoot);
  }

  /** The object's BTF (struct layouts as compiled); valid until close(). */
  btf(): Btf {
    const btf = pointer(native().lib.bpf_object__btf(this.ptr()));
    if (btf === null) throw new BpfError(`read BTF of ${this.path}`, 0, "the object has no BTF (build it with clang -g)");
    return Btf.borrowed(btf, this.path);
  }

  /** Sets a declared map's max_entries before load (a map already pinned must then match it). */
  setMaxEntries(name: string, entries: number): void {
    if (this.loaded) throw new BpfError(`size map ${name} of ${this.path}`, 0, "the object is already loaded");
    const n = cstr(name);
    const m = pointer(native().lib.bpf_object__find_map_by_name(this.ptr(), n));
    if (m === null) throw new BpfError(`find map ${name} in ${this.path}`, 0, "no such map");
    check(`set max_entries of map ${name} to ${entries}`, (lib) => lib.bpf_map__set_max_entries(m, entries));
  }

  /** Creates or reuses the maps (pinning new ones), then verifies and loads the programs. */
  load(): void {
    const h = this.ptr();
    check(`load ${this.path}`, (lib) => lib.bpf_object__load(h));
    this.loaded = true;
  }

  programs(): BpfProgram[] {
    const { lib } = native();
    const out: BpfProgram[] = [];
    for (let p = pointer(lib.bpf_object__next_program(this.ptr(), null)); p !== null; p = pointer(lib.bpf_object__next_program(this.ptr(), p)))
      out.push({ name: String(lib.bpf_program__name(p)), fd: lib.bpf_program__fd(p) });
    return out;
  }

  /** A loaded program by its function name. */
  program(name: string): BpfProgram {
    this.mustBeLoaded();
    const p = this.programs().find((x) => x.name === name);
    if (!p) throw new BpfError(`find program ${name} in ${this.path}`, 0, `no such program (has: ${this.programs().map((x) => x.name).join(", ")})`);
    return p;
  }

  /** The maps as the object declares them (known after open; no kernel needed). */
  declaredMaps(): MapInfo[] {
    const { lib } = native();
    const out: MapInfo[] = [];
    for (let m = pointer(lib.bpf_object__next_map(this.ptr(), null)); m !== null; m = pointer(lib.bpf_object__next_map(this.ptr(), m)))
      out.push(declared(m));
    return out;
  }

  /** A loaded map by name; its fd belongs to the object. */
  map(name: string): BpfMap {
    this.mustBeLoaded();
    const n = cstr(name);
    const m = pointer(native().lib.bpf_object__find_map_by_name(this.ptr(), n));
    if (m === null) throw new BpfError(`find map ${name} in ${this.path}`, 0, "no such map");
    return new BpfMap(check(`get the fd of map ${name}`, (lib) => lib.bpf_map__fd(m)), declared(m), false);
  }

  /** Where each pinned map of the object is pinned (after load). */
  pins(): Record<string, string> {
    const { lib } = native();
    const out: Record<string, string> = {};
    for (let m = pointer(lib.bpf_object__next_map(this.ptr(), null)); m !== null; m = pointer(lib.bpf_object__next_map(this.ptr(), m)))
      if (lib.bpf_map__is_pinned(m)) out[String(lib.bpf_map__name(m))] = String(lib.bpf_map__pin_path(m));
    return out;
  }

  /**
   * Closes the object's fds. Pinned maps stay in bpffs, and a program attached to an
   * interface stays attached (the interface holds it), maps and all.
   */
  close(): void {
    if (this.handle !== null) native().lib.bpf_object__close(this.handle);
    this.handle = null;
  }

  private ptr(): Pointer {
    if (this.handle === null) throw new BpfError(`use ${this.path}`, 0, "object already closed");
    return this.handle;
  }

  private mustBeLoaded() {
    if (!this.loaded) throw new BpfError(`use ${this.path}`, 0, "object not loaded yet");
  }
}

function declared(m: Pointer): MapInfo {
  const { lib } = native();
  return {
    name: String(lib.bpf_map__name(m)),
    type: lib.bpf_map__type(m),
    keySize: lib.bpf_map__key_size(m),
    valueSize: lib.bpf_map__value_size(m),
    maxEntries: lib.bpf_map__max_entries(m),
  };
}
