// bpffs for tests that load BPF objects (root): mounted at /sys/fs/bpf when it is not yet, and
// one pin directory per test process (/sys/fs/bpf/fos1-test-<pid>-<tag>), removed by the test
// and, when a killed run left them, by the next run. Never fos1's real /sys/fs/bpf/fos1.
import { existsSync, readdirSync, rmSync, statfsSync } from "node:fs";

const BPF_FS_MAGIC = 0xcafe4a11;
export const BPFFS = "/sys/fs/bpf";

export function ensureBpffs(): void {
  if (existsSync(BPFFS) && statfsSync(BPFFS).type === BPF_FS_MAGIC) return;
  const r = Bun.spawnSync(["mount", "-t", "bpf", "bpf", BPFFS], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`mount -t bpf bpf ${BPFFS} failed: ${r.stderr.toString()}`);
}

function reapStale() {
  for (const name of readdirSync(BPFFS)) {
    const m = /^fos1-test-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid || existsSync(`/proc/${m[1]}`)) continue;
    rmSync(`${BPFFS}/${name}`, { recursive: true, force: true });
  }
}

/** A fresh pin directory path for this process (not created: the loader creates it). */
export function testPinRoot(tag: string): string {
  ensureBpffs();
  reapStale();
  const dir = `${BPFFS}/fos1-test-${process.pid}-${tag}`;
  rmSync(dir, { recursive: true, force: true });
  return dir;
}

export function removePinRoot(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
