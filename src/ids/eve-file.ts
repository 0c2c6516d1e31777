// Tails Suricata's eve.json the way `tail -F` does, by polling (a stat every pollMs: cheap, and
// it works where inotify does not, on overlay and bind mounts):
//   - a file that exists at start is read from its end (old alerts are not acted on again), a
//     file that appears later from its beginning;
//   - rotation (logrotate renames eve.json and Suricata reopens it on SIGHUP): when the path
//     names another inode, the old file is read until it has stopped growing for one poll —
//     Suricata may still write to it until it reopens — and then the new one from its start;
//   - truncation (copytruncate): a file shorter than what was read is read again from 0;
//   - the file missing for a while is waited for, never an error.
// Reads go in chunks into one buffer; lines are bounded by the LineSplitter.
import { open, stat, type FileHandle } from "node:fs/promises";
import { sleep } from "../base/sleep";
import { DEFAULT_MAX_LINE_BYTES, LineSplitter } from "./lines";
import type { EveHandler, EveSource } from "./source";

export interface EveFileOptions {
  pollMs?: number;
  maxLineBytes?: number;
}

interface Open {
  fh: FileHandle;
  ino: number;
  dev: number;
  offset: number;
  lines: LineSplitter;
}

const CHUNK = 64 * 1024;

export class EveFile implements EveSource {
  private readonly buffer = Buffer.alloc(CHUNK);

  constructor(
    readonly address: string,
    private readonly options: EveFileOptions = {},
  ) {}

  async run(handler: EveHandler, signal: AbortSignal): Promise<void> {
    const pollMs = this.options.pollMs ?? 250;
    let current: Open | null = null;
    let startup = true;
    let waiting = false;
    try {
      while (!signal.aborted) {
        if (!current) {
          current = await this.openFile(handler, startup);
          startup = false;
          if (!current) {
            if (!waiting) handler.up(false, `${this.address} does not exist (yet); waiting for it`);
            waiting = true;
            await sleep(pollMs, signal);
            continue;
          }
          waiting = false;
        }
        await this.drain(current);
        const now = await stat(this.address).catch(() => null);
        if (!now || now.ino !== current.ino || now.dev !== current.dev) {
          // Rotated away: the old file is finished once a poll finds nothing new in it.
          await sleep(pollMs, signal);
          if ((await this.drain(current)) > 0) continue;
          await this.close(current);
          current = null;
          handler.up(false, `${this.address} was rotated; ${now ? "reading the new file" : "waiting for the new file"}`);
          continue;
        }
        if (now.size < current.offset) {
          current.offset = 0;
          current.lines = new LineSplitter(handler, this.options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
          handler.up(true, `${this.address} was truncated; reading it again from the start`);
        }
        await sleep(pollMs, signal);
      }
    } finally {
      if (current) await this.close(current);
    }
  }

  private async openFile(handler: EveHandler, atEnd: boolean): Promise<Open | null> {
    let fh: FileHandle;
    try {
      fh = await open(this.address, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new Error(`cannot read ${this.address}: ${(err as Error).message}`);
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw new Error(`${this.address} is not a regular file; for a unix socket give unix:${this.address}`);
    }
    const offset = atEnd ? st.size : 0;
    handler.up(true, `reading ${this.address} from byte ${offset}`);
    return { fh, ino: st.ino, dev: st.dev, offset, lines: new LineSplitter(handler, this.options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES) };
  }

  /** Reads to the end of the file; the bytes read. */
  private async drain(f: Open): Promise<number> {
    let total = 0;
    for (;;) {
      const { bytesRead } = await f.fh.read(this.buffer, 0, CHUNK, f.offset);
      if (bytesRead === 0) return total;
      f.offset += bytesRead;
      total += bytesRead;
      f.lines.push(this.buffer.subarray(0, bytesRead));
    }
  }

  private async close(f: Open): Promise<void> {
    f.lines.end();
    await f.fh.close();
  }
}
