// Struct and enum layouts read from BTF through libbpf's btf API: what the compiler actually
// laid out, so fos1 can compare its TypeScript mirror (layout.ts) with an object before it
// writes a single map entry. The raw records are read from libbpf's memory as the kernel's
// uapi/linux/btf.h defines them.
import { read, type Pointer } from "bun:ffi";
import { check, checkPtr, cstr, native, pointer } from "./errors";

const BTF_KIND_STRUCT = 4;
const BTF_KIND_ENUM = 6;
const BTF_TYPE_SIZE = 12; // struct btf_type: name_off, info, size/type
const BTF_MEMBER_SIZE = 12; // struct btf_member: name_off, type, offset
const BTF_ENUM_SIZE = 8; // struct btf_enum: name_off, val

export interface BtfMember {
  name: string;
  /** Byte offset; bitfields are reported with bits set. */
  offset: number;
  /** Byte size of the member's type (typedefs, arrays resolved). */
  size: number;
  /** Bitfield width, when the member is one. */
  bits?: number;
}

export interface BtfStruct {
  name: string;
  size: number;
  members: BtfMember[];
}

export class Btf {
  private constructor(
    private handle: Pointer | null,
    private readonly owned: boolean,
    readonly source: string,
  ) {}

  /** Parses the BTF of an ELF object (or a raw BTF file). Call close() when done. */
  static fromFile(path: string): Btf {
    const p = cstr(path);
    return new Btf(checkPtr(`read BTF of ${path}`, (lib) => lib.btf__parse(p, null)), true, path);
  }

  /** The BTF of an open bpf_object; it belongs to the object and lives as long as it does. */
  static borrowed(handle: Pointer, source: string): Btf {
    return new Btf(handle, false, source);
  }

  /** The struct's size and members, or null when the BTF has no struct of that name. */
  struct(name: string): BtfStruct | null {
    const t = this.find(name, BTF_KIND_STRUCT);
    if (!t) return null;
    const { lib } = native();
    const info = read.u32(t.ptr, 4);
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const members: BtfMember[] = [];
    for (let i = 0; i < vlen; i++) {
      const at = BTF_TYPE_SIZE + i * BTF_MEMBER_SIZE;
      const nameOff = read.u32(t.ptr, at);
      const type = read.u32(t.ptr, at + 4);
      const raw = read.u32(t.ptr, at + 8);
      // with kind_flag set, offset holds (bitfield size << 24 | bit offset)
      const bitOffset = kflag ? raw & 0xffffff : raw;
      const bits = kflag ? raw >>> 24 : 0;
      const size = check(`resolve the size of ${name} member ${i}`, (l) => Number(l.btf__resolve_size(this.ptr(), type)));
      members.push({
        name: String(lib.btf__name_by_offset(this.ptr(), nameOff)),
        offset: Math.floor(bitOffset / 8),
        size,
        ...(bits ? { bits } : {}),
      });
    }
    return { name, size: read.u32(t.ptr, 8), members };
  }

  /** The enum's constants by name, or null when the BTF has no enum of that name. */
  enum(name: string): Record<string, number> | null {
    const t = this.find(name, BTF_KIND_ENUM);
    if (!t) return null;
    const { lib } = native();
    const vlen = read.u32(t.ptr, 4) & 0xffff;
    const values: Record<string, number> = {};
    for (let i = 0; i < vlen; i++) {
      const at = BTF_TYPE_SIZE + i * BTF_ENUM_SIZE;
      values[String(lib.btf__name_by_offset(this.ptr(), read.u32(t.ptr, at)))] = read.i32(t.ptr, at + 4);
    }
    return values;
  }

  close(): void {
    if (this.owned && this.handle !== null) native().lib.btf__free(this.handle);
    this.handle = null;
  }

  private ptr(): Pointer {
    if (this.handle === null) throw new Error(`BTF of ${this.source} used after close`);
    return this.handle;
  }

  private find(name: string, kind: number): { id: number; ptr: Pointer } | null {
    const { lib } = native();
    const n = cstr(name);
    const id = lib.btf__find_by_name_kind(this.ptr(), n, kind);
    if (id < 0) return null; // -ENOENT: no such type
    const t = pointer(lib.btf__type_by_id(this.ptr(), id));
    return t === null ? null : { id, ptr: t };
  }
}
