// Where the built eBPF object (xdp_filter.o) is found at run time, first match wins:
//   $FOS1_BPF_DIR                    set explicitly (tests, a custom install)
//   <dir of the executable>/bpf/     dist/fos1 next to dist/bpf/, as `make build` leaves them
//   /usr/local/lib/fos1/bpf/         the lab image (hack/lab/build-initramfs) and the extension
//   <repo>/dist/bpf/                 running from source with `bun src/main.ts`
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export const INSTALLED_BPF_DIR = "/usr/local/lib/fos1/bpf";

export function bpfDirs(): string[] {
  if (process.env.FOS1_BPF_DIR) return [process.env.FOS1_BPF_DIR];
  return [join(dirname(process.execPath), "bpf"), INSTALLED_BPF_DIR, resolve(import.meta.dir, "../../../dist/bpf")];
}

/** The object's path; throws naming every place looked at when none has it. */
export function bpfObjectPath(file = "xdp_filter.o"): string {
  const dirs = bpfDirs();
  for (const d of dirs) if (existsSync(join(d, file))) return join(d, file);
  throw new Error(`${file} not found (looked in ${dirs.join(", ")}; FOS1_BPF_DIR names its folder)`);
}
