// Pins live on bpffs. A node where nothing mounted it at /sys/fs/bpf gets it mounted by fos1,
// as Cilium's agent does for itself: a router must not lose its XDP filter over a mount that
// any program may make. Elsewhere (a test's pin root) fos1 mounts nothing and says what is missing.
import { mkdirSync, statfsSync } from "node:fs";
import { cString, errnoText, libc } from "../base/libc";
import { BpfError } from "./errors";

const BPF_FS_MAGIC = 0xcafe4a11;
export const BPFFS_ROOT = "/sys/fs/bpf";

function onBpffs(path: string): boolean {
  try {
    return statfsSync(path).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

const under = (dir: string, root: string) => dir === root || dir.startsWith(root + "/");

/** Creates dir (and parents) on a BPF filesystem, mounting bpffs at /sys/fs/bpf when dir is there and nothing is mounted. */
export function ensureBpffsDir(dir: string): void {
  if (under(dir, BPFFS_ROOT) && !onBpffs(BPFFS_ROOT)) mountBpffs(BPFFS_ROOT);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new BpfError(`create pin directory ${dir}`, 0, `${(err as Error).message} (is bpffs mounted? mount -t bpf bpf ${BPFFS_ROOT})`);
  }
  if (!onBpffs(dir)) throw new BpfError(`use pin directory ${dir}`, 0, `not on a BPF filesystem (mount -t bpf bpf ${BPFFS_ROOT})`);
}

function mountBpffs(at: string): void {
  const c = libc();
  if (c.mount(cString("bpf"), cString(at), cString("bpf"), 0, null) !== 0)
    throw new BpfError(`mount bpffs on ${at}`, 0, `${errnoText()}; nothing was mounted there, and fos1's XDP filters keep their maps on it (mount -t bpf bpf ${at})`);
}
