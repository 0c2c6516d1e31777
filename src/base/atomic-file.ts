// Replacing a file so that a crash at any moment leaves either the old content or the new,
// never half of either: write a temporary file beside it (every byte, looping on short writes),
// fsync it, rename it over the old one, and fsync the folder so the rename itself is on disk.
// A log line is appended the same way: every byte, then fsync (appendDurably).
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** Permissions of the new file (default 0644; secrets and the journal use 0600). */
  mode?: number;
  /** Create the folder when it is missing. */
  mkdir?: boolean;
  /** Called with the new content on disk under its temporary name (crash tests kill the process there). */
  beforeRename?: () => void;
}

export function writeFileAtomic(path: string, content: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  if (opts.mkdir) {
    // A folder made here is itself an entry of its parent, to be made durable like the rename.
    const created = mkdirSync(dir, { recursive: true });
    if (created) syncDir(dirname(created));
  }
  const tmp = join(dir, `.${basename(path)}.tmp`);
  rmSync(tmp, { force: true });
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  writeDurably(tmp, "w", bytes, opts.mode ?? 0o644);
  opts.beforeRename?.();
  renameSync(tmp, path);
  syncDir(dir);
}

/** Appends every byte to path and fsyncs it (a line of a log that must survive a power cut). */
export function appendDurably(path: string, content: string): void {
  writeDurably(path, "a", new TextEncoder().encode(content), 0o600);
}

function writeDurably(path: string, flags: "w" | "a", bytes: Uint8Array, mode: number): void {
  const fd = openSync(path, flags, mode);
  try {
    // write(2) may write less than asked (a signal, a nearly full disk): loop until all is written.
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes the folder's entries (a rename, a removal) durable. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
