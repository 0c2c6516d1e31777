// libbpf reached through bun:ffi (ffi-napi does not work on Bun): the symbol table (the libc
// calls the binding needs beside it are in src/base/libc.ts). The library is opened lazily: the CLI must work on
// machines without it and say so plainly. Everything here is the raw C API; callers go
// through errors.ts (return codes and errno become BpfError) and the modules built on it.
import { dlopen, FFIType, suffix } from "bun:ffi";

const { ptr, i32, u32, u64, i64, bool, cstring, function: fn } = FFIType;

// Signatures as in libbpf 1.1's headers (/usr/include/bpf/libbpf.h, bpf.h, btf.h). Strings
// are passed as pointers to NUL-terminated buffers (cstr() in errors.ts), never as JS strings.
const symbols = {
  libbpf_version_string: { args: [], returns: cstring },
  libbpf_strerror: { args: [i32, ptr, u64], returns: i32 },
  libbpf_set_print: { args: [fn], returns: ptr },
  libbpf_num_possible_cpus: { args: [], returns: i32 },

  bpf_object__open_file: { args: [ptr, ptr], returns: ptr },
  bpf_object__load: { args: [ptr], returns: i32 },
  bpf_object__close: { args: [ptr], returns: FFIType.void },
  bpf_object__btf: { args: [ptr], returns: ptr },
  bpf_object__next_program: { args: [ptr, ptr], returns: ptr },
  bpf_object__next_map: { args: [ptr, ptr], returns: ptr },
  bpf_object__find_map_by_name: { args: [ptr, ptr], returns: ptr },

  bpf_program__name: { args: [ptr], returns: cstring },
  bpf_program__fd: { args: [ptr], returns: i32 },

  bpf_map__name: { args: [ptr], returns: cstring },
  bpf_map__fd: { args: [ptr], returns: i32 },
  bpf_map__type: { args: [ptr], returns: u32 },
  bpf_map__key_size: { args: [ptr], returns: u32 },
  bpf_map__value_size: { args: [ptr], returns: u32 },
  bpf_map__max_entries: { args: [ptr], returns: u32 },
  bpf_map__pin_path: { args: [ptr], returns: cstring },
  bpf_map__is_pinned: { args: [ptr], returns: bool },
  bpf_map__set_max_entries: { args: [ptr, u32], returns: i32 },

  bpf_map_update_elem: { args: [i32, ptr, ptr, u64], returns: i32 },
  bpf_map_lookup_elem: { args: [i32, ptr, ptr], returns: i32 },
  bpf_map_delete_elem: { args: [i32, ptr], returns: i32 },
  bpf_map_get_next_key: { args: [i32, ptr, ptr], returns: i32 },
  bpf_map_lookup_batch: { args: [i32, ptr, ptr, ptr, ptr, ptr, ptr], returns: i32 },
  bpf_map_update_batch: { args: [i32, ptr, ptr, ptr, ptr], returns: i32 },
  bpf_map_delete_batch: { args: [i32, ptr, ptr, ptr], returns: i32 },
  bpf_obj_get: { args: [ptr], returns: i32 },
  bpf_obj_pin: { args: [i32, ptr], returns: i32 },
  bpf_obj_get_info_by_fd: { args: [i32, ptr, ptr], returns: i32 },
  bpf_prog_get_fd_by_id: { args: [u32], returns: i32 },
  bpf_prog_test_run_opts: { args: [i32, ptr], returns: i32 },

  bpf_xdp_attach: { args: [i32, i32, u32, ptr], returns: i32 },
  bpf_xdp_detach: { args: [i32, u32, ptr], returns: i32 },
  bpf_xdp_query: { args: [i32, i32, ptr], returns: i32 },

  btf__parse: { args: [ptr, ptr], returns: ptr },
  btf__free: { args: [ptr], returns: FFIType.void },
  btf__find_by_name_kind: { args: [ptr, ptr, u32], returns: i32 },
  btf__type_by_id: { args: [ptr, u32], returns: ptr },
  btf__name_by_offset: { args: [ptr, u32], returns: cstring },
  btf__resolve_size: { args: [ptr, u32], returns: i64 },
} as const;

export type Libbpf = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

// FOS1_LIBBPF names the library exactly (no fallback), e.g. the copy inside the extension.
const candidates = process.env.FOS1_LIBBPF ? [process.env.FOS1_LIBBPF] : [`libbpf.${suffix}.1`, `libbpf.${suffix}`];

let opened: { lib: Libbpf } | { error: string } | undefined;

export function openLibbpf(): { lib: Libbpf } | { error: string } {
  if (opened) return opened;
  const failures: string[] = [];
  for (const path of candidates) {
    try {
      opened = { lib: dlopen(path, symbols).symbols };
      return opened;
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message}`);
    }
  }
  opened = { error: `libbpf not found (${failures.join("; ")})` };
  return opened;
}

/** "v1.1" style version of the libbpf this process would use, or null when none is found. */
export function libbpfVersion(): string | null {
  const r = openLibbpf();
  return "lib" in r ? String(r.lib.libbpf_version_string()) : null;
}
