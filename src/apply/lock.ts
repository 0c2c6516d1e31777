// One writer of the state dir at a time: `fos1 apply`, `confirm`, `rollback` from a shell and
// the agent all take an exclusive flock(2) on <state dir>/lock for as long as they read and
// write the journal and the host. flock is released by the kernel when its holder dies, so a
// crashed writer never leaves the box locked. The holder writes who it is into the file, so a
// writer that waited in vain can say who holds it.
import { ftruncateSync, mkdirSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ptr } from "bun:ffi";
import { cString, errno, errnoText, EWOULDBLOCK, libc, LOCK_EX, LOCK_NB, LOCK_UN, O_CLOEXEC, O_CREAT, O_RDWR } from "../base/libc";
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
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "lock");
    const c = libc();
    const fd = c.open(ptr(cString(path)), O_RDWR | O_CREAT | O_CLOEXEC, 0o600);
    if (fd < 0) throw new OperationError(`cannot open ${path}: ${errnoText()}`);
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
    ftruncateSync(fd, 0);
    writeSync(fd, JSON.stringify(holder) + "\n", 0);
    return new StateLock(fd, path);
  }

  release(): void {
    if (this.fd < 0) return;
    const c = libc();
    ftruncateSync(this.fd, 0);
    c.flock(this.fd, LOCK_UN);
    c.close(this.fd);
    this.fd = -1;
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
