// The C structs fos1 passes to libbpf and the kernel, as byte layouts (x86-64, LP64):
// libbpf's *_opts blocks (size_t sz first, so libbpf knows which fields this caller has) and
// the prefixes of the kernel's bpf_map_info / bpf_prog_info that fos1 reads. Offsets are from
// libbpf 1.1's /usr/include/bpf/{libbpf,bpf}.h and linux/bpf.h; test/unit/xdp-layout.test.ts
// compiles a C program against those headers and compares every offset and size here.
import { ptr, type Pointer } from "bun:ffi";

export type CType = "u8" | "u32" | "i32" | "u64" | "ptr";

export interface CStructDef {
  /** C name, e.g. "bpf_test_run_opts" (struct tag). */
  readonly name: string;
  /** Bytes fos1 allocates: sizeof(struct) for opts; the prefix it reads for info structs. */
  readonly size: number;
  /** True when size must equal sizeof(struct) (opts: it is written into sz). */
  readonly whole: boolean;
  readonly fields: Readonly<Record<string, { offset: number; type: CType }>>;
}

const def = <D extends CStructDef>(d: D) => d;

export const bpfObjectOpenOpts = def({
  name: "bpf_object_open_opts",
  size: 80,
  whole: true,
  fields: {
    sz: { offset: 0, type: "u64" },
    object_name: { offset: 8, type: "ptr" },
    relaxed_maps: { offset: 16, type: "u8" },
    pin_root_path: { offset: 24, type: "ptr" },
    kconfig: { offset: 40, type: "ptr" },
    btf_custom_path: { offset: 48, type: "ptr" },
    kernel_log_buf: { offset: 56, type: "ptr" },
    kernel_log_size: { offset: 64, type: "u64" },
    kernel_log_level: { offset: 72, type: "u32" },
  },
});

export const bpfTestRunOpts = def({
  name: "bpf_test_run_opts",
  size: 80,
  whole: true,
  fields: {
    sz: { offset: 0, type: "u64" },
    data_in: { offset: 8, type: "ptr" },
    data_out: { offset: 16, type: "ptr" },
    data_size_in: { offset: 24, type: "u32" },
    data_size_out: { offset: 28, type: "u32" },
    ctx_in: { offset: 32, type: "ptr" },
    ctx_out: { offset: 40, type: "ptr" },
    ctx_size_in: { offset: 48, type: "u32" },
    ctx_size_out: { offset: 52, type: "u32" },
    retval: { offset: 56, type: "u32" },
    repeat: { offset: 60, type: "i32" },
    duration: { offset: 64, type: "u32" },
    flags: { offset: 68, type: "u32" },
    cpu: { offset: 72, type: "u32" },
    batch_size: { offset: 76, type: "u32" },
  },
});

export const bpfMapBatchOpts = def({
  name: "bpf_map_batch_opts",
  size: 24,
  whole: true,
  fields: {
    sz: { offset: 0, type: "u64" },
    elem_flags: { offset: 8, type: "u64" },
    flags: { offset: 16, type: "u64" },
  },
});

export const bpfXdpAttachOpts = def({
  name: "bpf_xdp_attach_opts",
  size: 16,
  whole: true,
  fields: {
    sz: { offset: 0, type: "u64" },
    old_prog_fd: { offset: 8, type: "i32" },
  },
});

export const bpfXdpQueryOpts = def({
  name: "bpf_xdp_query_opts",
  size: 32,
  whole: true,
  fields: {
    sz: { offset: 0, type: "u64" },
    prog_id: { offset: 8, type: "u32" },
    drv_prog_id: { offset: 12, type: "u32" },
    hw_prog_id: { offset: 16, type: "u32" },
    skb_prog_id: { offset: 20, type: "u32" },
    attach_mode: { offset: 24, type: "u8" },
  },
});

// The kernel copies min(its size, info_len) and accepts a shorter buffer: fos1 asks for the
// prefix up to the last field it reads.
export const bpfMapInfo = def({
  name: "bpf_map_info",
  size: 40,
  whole: false,
  fields: {
    type: { offset: 0, type: "u32" },
    id: { offset: 4, type: "u32" },
    key_size: { offset: 8, type: "u32" },
    value_size: { offset: 12, type: "u32" },
    max_entries: { offset: 16, type: "u32" },
    map_flags: { offset: 20, type: "u32" },
    name: { offset: 24, type: "u8" }, // char name[16]
  },
});

export const bpfProgInfo = def({
  name: "bpf_prog_info",
  size: 80,
  whole: false,
  fields: {
    type: { offset: 0, type: "u32" },
    id: { offset: 4, type: "u32" },
    name: { offset: 64, type: "u8" }, // char name[16]
  },
});

export const OBJ_NAME_LEN = 16; // BPF_OBJ_NAME_LEN

/** A zeroed C struct in a byte buffer; for opts, sz is filled in. */
export class CStruct<D extends CStructDef> {
  readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(readonly def: D) {
    this.bytes = new Uint8Array(def.size);
    this.view = new DataView(this.bytes.buffer);
    if (def.whole && "sz" in def.fields) this.set("sz" as keyof D["fields"] & string, def.size);
  }

  /** Pointer to the struct, for the call; the CStruct must stay referenced until it returns. */
  get ptr(): Pointer {
    return ptr(this.bytes);
  }

  /** Sets a field; a byte array stands for a pointer to it (keep it referenced meanwhile). */
  set(field: keyof D["fields"] & string, value: number | bigint | Pointer | Uint8Array | null): this {
    const f = this.field(field);
    const n = value === null ? 0 : value instanceof Uint8Array ? ptr(value) : value;
    switch (f.type) {
      case "u8":
        this.view.setUint8(f.offset, Number(n));
        break;
      case "u32":
        this.view.setUint32(f.offset, Number(n), true);
        break;
      case "i32":
        this.view.setInt32(f.offset, Number(n), true);
        break;
      case "u64":
      case "ptr":
        this.view.setBigUint64(f.offset, BigInt(n), true);
        break;
    }
    return this;
  }

  get(field: keyof D["fields"] & string): number {
    const f = this.field(field);
    switch (f.type) {
      case "u8":
        return this.view.getUint8(f.offset);
      case "u32":
        return this.view.getUint32(f.offset, true);
      case "i32":
        return this.view.getInt32(f.offset, true);
      case "u64":
      case "ptr":
        return Number(this.view.getBigUint64(f.offset, true));
    }
  }

  /** A NUL-terminated char array field (e.g. a map or program name). */
  string(field: keyof D["fields"] & string, max = OBJ_NAME_LEN): string {
    const start = this.field(field).offset;
    const raw = this.bytes.subarray(start, start + max);
    const end = raw.indexOf(0);
    return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
  }

  private field(name: string) {
    const f = this.def.fields[name];
    if (!f) throw new Error(`${this.def.name} has no field ${name}`);
    return f;
  }
}
