// One writer of the state dir at a time: `fos1 apply`, `confirm`, `rollback` from a shell and
// the agent all take an exclusive flock(2) on <state dir>/lock for as long as they read and
// write the journal and the host. flock is released by the kernel when its holder dies, so a
// crashed writer never leaves the box locked. The holder writes who it is into the file, so a
// writer that waited in vain can say who holds it.
//
// A state dir on a read-only disk still takes the lock (flock needs no write access to an
// existing file); where not even the lock file can be made there, every writer locks the one
// in the state dir's folder under /run instead (src/base/state-dir.ts). Who holds it is best effort: a full disk leaves the
// file empty, never the writer without its lock.
import { ftruncateSync, mkdirSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fallbackDir } from "../base/state-dir";
import { ptr } from "bun:ffi";
import { cString, errno, errnoText, EWOULDBLOCK, libc, LOCK_EX, LOCK_NB, LOCK_UN, O_CLOEXEC, O_CREAT, O_RDONLY, O_RDWR } from "../base/libc";
import { OperationError } from "../base/errors";
import { sleep } from "../base/sleep";

export interface LockHolder {
  pid: number;
  /** What it is doing: "fos1 apply -f router.yaml", "fos1 agent (config changed)". */
  command: string;
  since: string;
}

/** The state dir stayed locked for the whole wait. */
export class StateDirBusy extends OperationError {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder | null,
    waitedMs: number,
  ) {
    const who = holder ? `pid ${holder.pid} (${holder.command}), since ${holder.since}` : "another process";
    super(`the state dir ${dir} is in use by ${who}; waited ${Math.round(waitedMs / 1000)} s. Try again when it is done`);
  }
}

const POLL_MS = 50;

export class StateLock {
  private constructor(
    private fd: number,
    readonly path: string,
  ) {}

  /**
   * Takes the lock, waiting up to waitMs for the holder to let go (onWait is told who it waits
   * for, once); throws StateDirBusy naming the holder.
   */
  static async acquire(dir: string, command: string, waitMs: number, onWait?: (holder: LockHolder | null) => void): Promise<StateLock> {
    const { fd, path } = openLockFile(dir);
    const c = libc();
    const started = Date.now();
    for (;;) {
      if (c.flock(fd, LOCK_EX | LOCK_NB) === 0) break;
      const code = errno();
      if (code !== EWOULDBLOCK) {
        c.close(fd);
        throw new OperationError(`cannot lock ${path}: ${errnoText(code)}`);
      }
      if (Date.now() - started >= waitMs) {
        c.close(fd);
        throw new StateDirBusy(dir, readHolder(path), Date.now() - started);
      }
      if (onWait) onWait(readHolder(path));
      onWait = undefined;
      await sleep(POLL_MS);
    }
    const holder: LockHolder = { pid: process.pid, command, since: new Date().toISOString() };
    bestEffort(() => (ftruncateSync(fd, 0), writeSync(fd, JSON.stringify(holder) + "\n", 0)));
    return new StateLock(fd, path);
  }

  release(): void {
    if (this.fd < 0) return;
    const c = libc();
    bestEffort(() => ftruncateSync(this.fd, 0));
    c.flock(this.fd, LOCK_UN);
    c.close(this.fd);
    this.fd = -1;
  }
}

function openLockFile(dir: string): { fd: number; path: string } {
  const c = libc();
  const tryOpen = (path: string, flags: number) => c.open(ptr(cString(path)), flags | O_CLOEXEC, 0o600);
  const own = join(dir, "lock");
  let fd = bestEffort(() => mkdirSync(dir, { recursive: true })) === false ? -1 : tryOpen(own, O_RDWR | O_CREAT);
  if (fd >= 0) return { fd, path: own };
  // Read-only: the lock file an earlier run made can still be locked.
  fd = tryOpen(own, O_RDONLY);
  if (fd >= 0) return { fd, path: own };
  const runtime = fallbackDir(dir);
  const path = join(runtime, "lock");
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  fd = tryOpen(path, O_RDWR | O_CREAT);
  if (fd < 0) throw new OperationError(`cannot open a lock for the state dir ${dir}: not there (${own}) and not in its runtime folder (${path}: ${errnoText()})`);
  return { fd, path };
}

/** fn's result, or false when it threw. */
function bestEffort<T>(fn: () => T): T | false {
  try {
    return fn();
  } catch {
    return false;
  }
}

/** Who holds the lock, as it wrote itself into the file (null while it is writing, or for an older fos1). */
export function readHolder(path: string): LockHolder | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as LockHolder;
  } catch {
    return null;
  }
}

/** Runs body holding the state dir's lock. */
export async function withStateLock<T>(dir: string, command: string, waitMs: number, body: () => Promise<T>, onWait?: (holder: LockHolder | null) => void): Promise<T> {
  const lock = await StateLock.acquire(dir, command, waitMs, onWait);
  try {
    return await body();
  } finally {
    lock.release();
  }
}
