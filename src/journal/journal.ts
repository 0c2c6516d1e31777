// The apply journal in the state folder (default /var/lib/fos1), on persistent storage:
//   pending.yaml + pending.json   the config being applied (written before the first kernel write)
//   last-known-good.yaml + .json  the last config that applied and converged completely
//   history.jsonl                 one line per finished apply, confirmation, rollback and agent
//                                 repair: when, digest, outcome, command, and what it changed
//                                 (the operations applied; src/journal/audit.ts)
//   configs/<digest>.yaml         every config that was applied (converged or not), for
//                                 `fos1 rollback N` (converged ones) and `fos1 history --diff`
// Every file is replaced atomically (write, fsync, rename, fsync the folder), so a crash at
// any point leaves either the old or the new file, never half of one.
import { mkdirSync, renameSync, rmSync, appendFileSync, existsSync, readFileSync, statSync, openSync, readSync, closeSync } from "node:fs";
import { join } from "node:path";
import { syncDir, writeFileAtomic } from "../base/atomic-file";
import { createHash } from "node:crypto";
import type { OpRecord } from "./audit";

export interface JournalEntry {
  digest: string;
  /** ISO time the apply started. */
  startedAt: string;
  /** What asked for it: "fos1 apply -f config.yaml", "agent (config changed)". */
  source: string;
  /** Set when the apply ran to its end without converging; absent on a pending entry means it was interrupted. */
  failedAt?: string;
  /** apply --confirm: unless confirmed by then (ISO time), the pending config is rolled back. */
  confirmBy?: string;
  /** apply --confirm: the config converged and waits for `fos1 confirm`. */
  awaitingConfirmation?: boolean;
}

export interface HistoryLine extends JournalEntry {
  finishedAt: string;
  /**
   * applied unconfirmed: apply --confirm converged and waits (a later line says confirmed or
   * rolled back); reapplied: the agent wrote the config in force again (a NIC appeared, someone
   * changed what fos1 owns).
   */
  outcome: "converged" | "failed" | "rolled back" | "confirmed" | "applied unconfirmed" | "reapplied" | "refused";
  /** refused: why the guard kept the config out of force (it would lock the operator out, or open the router). */
  reasons?: string[];
  writes?: number;
  changes?: Record<string, number>;
  /** The operations applied (absent on lines written before fos1 recorded them). */
  ops?: OpRecord[];
  opsOmitted?: number;
}

export const configDigest = (text: string) => "sha256:" + createHash("sha256").update(text).digest("hex");

function endsWithNewline(file: string): boolean {
  const size = statSync(file).size;
  if (size === 0) return true;
  const fd = openSync(file, "r");
  try {
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    closeSync(fd);
  }
}

export class Journal {
  constructor(readonly dir: string) {}

  begin(configText: string, source: string, confirmBy?: Date): JournalEntry {
    mkdirSync(this.dir, { recursive: true });
    const entry: JournalEntry = { digest: configDigest(configText), startedAt: new Date().toISOString(), source, ...(confirmBy ? { confirmBy: confirmBy.toISOString() } : {}) };
    this.writeAtomic("pending.yaml", configText);
    this.writeAtomic("pending.json", JSON.stringify(entry) + "\n");
    return entry;
  }

  /** The pending config converged: it becomes the last-known-good (and is archived for rollback). */
  commit(entry: JournalEntry, summary: Record<string, unknown>, outcome: HistoryLine["outcome"] = "converged") {
    this.archivePending(entry);
    renameSync(join(this.dir, "pending.yaml"), join(this.dir, "last-known-good.yaml"));
    const { confirmBy: _c, awaitingConfirmation: _a, failedAt: _f, ...clean } = entry;
    this.writeAtomic("pending.json", JSON.stringify(clean) + "\n");
    renameSync(join(this.dir, "pending.json"), join(this.dir, "last-known-good.json"));
    syncDir(this.dir);
    this.record(entry, outcome, summary);
  }

  /** apply --confirm converged: the pending config now waits for `fos1 confirm` until its deadline. */
  awaitConfirmation(entry: JournalEntry, summary: Record<string, unknown> = {}): JournalEntry {
    const waiting = { ...entry, awaitingConfirmation: true };
    this.writeAtomic("pending.json", JSON.stringify(waiting) + "\n");
    this.archivePending(entry);
    this.record(waiting, "applied unconfirmed", summary);
    return waiting;
  }

  /** The pending config was abandoned (rolled back): it is no longer pending. */
  discard(entry: JournalEntry, summary: Record<string, unknown>) {
    this.archivePending(entry);
    rmSync(join(this.dir, "pending.json"), { force: true });
    rmSync(join(this.dir, "pending.yaml"), { force: true });
    syncDir(this.dir);
    this.record(entry, "rolled back", summary);
  }

  /**
   * The finished entries, oldest first. A line that is not JSON is one a crash or a full disk
   * cut short while it was appended: it is skipped, never a reason to refuse the rest (the
   * apply path reads the history to know what is in force).
   */
  history(): HistoryLine[] {
    const file = join(this.dir, "history.jsonl");
    if (!existsSync(file)) return [];
    return readFileSync(file, "utf8")
      .split("\n")
      .filter(Boolean)
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as HistoryLine];
        } catch {
          return [];
        }
      });
  }

  /** An archived config by digest, if this journal kept it. */
  archived(digest: string): string | null {
    const file = this.archivedPath(digest);
    return file ? readFileSync(file, "utf8") : null;
  }

  /** Where the archived config of digest is, or null when this journal did not keep it. */
  archivedPath(digest: string): string | null {
    const file = join(this.dir, "configs", `${digest.replace(":", "-")}.yaml`);
    return existsSync(file) ? file : null;
  }

  /** The apply finished without converging: the pending config stays for the next attempt. */
  fail(entry: JournalEntry, summary: Record<string, unknown>) {
    this.writeAtomic("pending.json", JSON.stringify({ ...entry, failedAt: new Date().toISOString() }) + "\n");
    this.archivePending(entry);
    this.record(entry, "failed", summary);
  }

  /** A config the guard kept out of force; nothing was written, pending and last-known-good are as they were. */
  refused(configText: string, source: string, reasons: string[]) {
    mkdirSync(this.dir, { recursive: true });
    this.record({ digest: configDigest(configText), startedAt: new Date().toISOString(), source }, "refused", { reasons });
  }

  /** The agent wrote the config in force (entry: its digest, the trigger) again: the host had drifted from it. */
  reapplied(entry: JournalEntry, summary: Record<string, unknown>) {
    this.record(entry, "reapplied", summary);
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

  private record(entry: JournalEntry, outcome: HistoryLine["outcome"] | "failed", summary: Record<string, unknown>) {
    const file = join(this.dir, "history.jsonl");
    // After a torn last line the new one starts on a line of its own, not glued to the torn one.
    const torn = existsSync(file) && !endsWithNewline(file);
    appendFileSync(file, (torn ? "\n" : "") + JSON.stringify({ ...entry, finishedAt: new Date().toISOString(), outcome, ...summary }) + "\n");
  }

  /** Keeps the pending config's text under its digest, so history can show what any entry applied. */
  private archivePending(entry: JournalEntry) {
    if (this.archivedPath(entry.digest)) return;
    mkdirSync(join(this.dir, "configs"), { recursive: true });
    this.writeAtomic(join("configs", `${entry.digest.replace(":", "-")}.yaml`), readFileSync(join(this.dir, "pending.yaml"), "utf8"));
  }

  private writeAtomic(name: string, content: string) {
    writeFileAtomic(join(this.dir, name), content, { mode: 0o600 });
  }
}
