// The apply journal in the state folder (default /var/lib/fos1), on persistent storage:
//   pending.yaml + pending.json   the config being applied (written before the first kernel write)
//   last-known-good.yaml + .json  the last config that applied and converged completely
//   history.jsonl                 one line per finished apply: when, digest, outcome, command
// Every file is replaced atomically (write, fsync, rename, fsync the folder), so a crash at
// any point leaves either the old or the new file, never half of one.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync, appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";

export interface JournalEntry {
  digest: string;
  /** ISO time the apply started. */
  startedAt: string;
  /** What asked for it: "fos1 apply -f config.yaml", "agent (config changed)". */
  source: string;
  /** Set when the apply ran to its end without converging; absent on a pending entry means it was interrupted. */
  failedAt?: string;
}

export const configDigest = (text: string) => "sha256:" + createHash("sha256").update(text).digest("hex");

export class Journal {
  constructor(readonly dir: string) {}

  begin(configText: string, source: string): JournalEntry {
    mkdirSync(this.dir, { recursive: true });
    const entry: JournalEntry = { digest: configDigest(configText), startedAt: new Date().toISOString(), source };
    this.writeAtomic("pending.yaml", configText);
    this.writeAtomic("pending.json", JSON.stringify(entry) + "\n");
    return entry;
  }

  /** The pending config converged: it becomes the last-known-good. */
  commit(entry: JournalEntry, summary: Record<string, unknown>) {
    renameSync(join(this.dir, "pending.yaml"), join(this.dir, "last-known-good.yaml"));
    renameSync(join(this.dir, "pending.json"), join(this.dir, "last-known-good.json"));
    this.syncDir();
    this.record(entry, "converged", summary);
  }

  /** The apply finished without converging: the pending config stays for the next attempt. */
  fail(entry: JournalEntry, summary: Record<string, unknown>) {
    this.writeAtomic("pending.json", JSON.stringify({ ...entry, failedAt: new Date().toISOString() }) + "\n");
    this.record(entry, "failed", summary);
  }

  pending(): { entry: JournalEntry; text: string } | null {
    return this.read("pending");
  }

  lastKnownGood(): { entry: JournalEntry; text: string } | null {
    return this.read("last-known-good");
  }

  private read(base: string): { entry: JournalEntry; text: string } | null {
    const meta = join(this.dir, `${base}.json`);
    if (!existsSync(meta)) return null;
    return { entry: JSON.parse(readFileSync(meta, "utf8")) as JournalEntry, text: readFileSync(join(this.dir, `${base}.yaml`), "utf8") };
  }

  private record(entry: JournalEntry, outcome: string, summary: Record<string, unknown>) {
    appendFileSync(join(this.dir, "history.jsonl"), JSON.stringify({ ...entry, finishedAt: new Date().toISOString(), outcome, ...summary }) + "\n");
  }

  private writeAtomic(name: string, content: string) {
    const tmp = join(this.dir, `.${name}.tmp`);
    rmSync(tmp, { force: true });
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, name));
    this.syncDir();
  }

  private syncDir() {
    const fd = openSync(this.dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
