// libbpf reached through bun:ffi (ffi-napi does not work on Bun). The library is opened
// lazily: the CLI must work on machines without it and say so plainly.
import { dlopen, FFIType, suffix } from "bun:ffi";

const symbols = {
  libbpf_version_string: { args: [], returns: FFIType.cstring },
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
