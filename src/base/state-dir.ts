// Where fos1 keeps its state on a node: the apply journal, XDP blocks made by `fos1 xdp block`,
// the DHCP client's files. On Talos /var is the persistent EPHEMERAL partition.
//
// That disk can fill up or turn read-only, and the network must not stop with it: what the
// daemons need to run (their generated configs, pid records, leases) then goes to a folder of
// the state dir's own under /run, a tmpfs, until the agent starts again (fallbackDir).
import { realpathSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "./atomic-file";

export const DEFAULT_STATE_DIR = "/var/lib/fos1";

/** Where state dirs fall back to: a tmpfs on every Linux. */
export const RUNTIME_ROOT = "/run/fos1";

/** The runtime folder standing in for stateDir (one per state dir, so tests and nodes never share one). */
export function fallbackDir(stateDir: string, root = RUNTIME_ROOT): string {
  let canonical: string;
  try {
    canonical = realpathSync(stateDir);
  } catch {
    canonical = resolve(stateDir);
  }
  return join(root, `state-${createHash("sha256").update(canonical).digest("hex").slice(0, 16)}`);
}

/** Null when a file can be written into dir now (it is created if missing), else why not. */
export function writeProblem(dir: string): string | null {
  const probe = join(dir, ".fos1-write-probe");
  try {
    writeFileAtomic(probe, "fos1 checks that its state dir can be written\n", { mkdir: true });
    rmSync(probe, { force: true });
    return null;
  } catch (err) {
    try {
      rmSync(join(dir, ".fos1-write-probe.tmp"), { force: true });
    } catch {
      // read-only: nothing was left there
    }
    return diskErrorText(err);
  }
}

/** A write error in an operator's words. */
export function diskErrorText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOSPC: "the disk is full",
    EDQUOT: "the disk quota is used up",
    EROFS: "the disk is read-only",
    EACCES: "permission denied",
    EPERM: "permission denied",
    EIO: "the disk reported an I/O error",
  };
  return code && words[code] ? `${words[code]} (${code})` : (err as Error).message;
}
