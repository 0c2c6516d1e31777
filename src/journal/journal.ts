// The apply journal in the state folder (default /var/lib/fos1), on persistent storage:
//   journal.json                  which config is pending (being applied, or awaiting
//                                 confirmation) and which is the last-known-good: their
//                                 entries, each naming its config by digest
//   configs/<digest>.yaml         every config that was applied (converged or not), for the
//                                 entries above, `fos1 rollback N` and `fos1 history --diff`
//   pending.yaml, last-known-good.yaml
//                                 symlinks into configs/ for people; fos1 reads journal.json
//   history.jsonl                 one line per finished apply, confirmation, rollback and agent
//                                 repair: when, digest, outcome, command, and what it changed
//                                 (the operations applied; src/journal/audit.ts)
// Every change of state is one rename of journal.json (written, fsync'd, renamed, folder
// fsync'd: src/base/atomic-file.ts) after the config it names is in configs/, so a crash at
// any point leaves the old state or the new one, never a pending entry without its config.
// A journal written by an earlier fos1 (pending.json/.yaml and last-known-good.json/.yaml as
// files) is read as such, and replaced by journal.json at its first change.
//
// Writing can fail (a full or read-only disk): every method that writes throws then, and the
// apply path (src/apply/service.ts) turns that into a warning, never a reason to leave the
// network unconfigured.
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, openSync, readSync, closeSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { appendDurably, syncDir, writeFileAtomic } from "../base/atomic-file";
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

/** journal.json. */
interface Manifest {
  pending: JournalEntry | null;
  lastKnownGood: JournalEntry | null;
}

export interface JournalOptions {
  /** Told each step of a change of state as it is reached (crash tests kill the process there). */
  onStep?: (step: string) => void;
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
  constructor(
    readonly dir: string,
    private readonly opts: JournalOptions = {},
  ) {}

  /** The entry for applying configText; begin() records it as pending. */
  static entryFor(configText: string, source: string, confirmBy?: Date): JournalEntry {
    return { digest: configDigest(configText), startedAt: new Date().toISOString(), source, ...(confirmBy ? { confirmBy: confirmBy.toISOString() } : {}) };
  }

  /** Before the first kernel write: the config is archived, then recorded as pending. */
  begin(entry: JournalEntry, configText: string): void {
    mkdirSync(this.dir, { recursive: true });
    this.archive(entry.digest, configText);
    this.step("begin: config archived");
    this.save({ ...this.manifest(), pending: entry }, "begin");
  }

  /** The pending config converged (or was confirmed): it becomes the last-known-good, in one rename. */
  commit(entry: JournalEntry, summary: Record<string, unknown>, outcome: HistoryLine["outcome"] = "converged") {
    const { confirmBy: _c, awaitingConfirmation: _a, failedAt: _f, ...clean } = entry;
    this.save({ pending: null, lastKnownGood: clean }, "commit");
    this.record(entry, outcome, summary);
    this.step("commit: history appended");
  }

  /** apply --confirm converged: the pending config now waits for `fos1 confirm` until its deadline. */
  awaitConfirmation(entry: JournalEntry, summary: Record<string, unknown> = {}): JournalEntry {
    const waiting = { ...entry, awaitingConfirmation: true };
    this.save({ ...this.manifest(), pending: waiting }, "await confirmation");
    this.record(waiting, "applied unconfirmed", summary);
    return waiting;
  }

  /** The pending config was abandoned (rolled back): it is no longer pending. */
  discard(entry: JournalEntry, summary: Record<string, unknown>) {
    this.save({ ...this.manifest(), pending: null }, "discard");
    this.record(entry, "rolled back", summary);
  }

  /** The apply finished without converging: the pending config stays for the next attempt. */
  fail(entry: JournalEntry, summary: Record<string, unknown>) {
    this.save({ ...this.manifest(), pending: { ...entry, failedAt: new Date().toISOString() } }, "fail");
    this.record(entry, "failed", summary);
  }

  /** A config the guard kept out of force; nothing was written, pending and last-known-good are as they were. */
  refused(configText: string, source: string, reasons: string[]) {
    mkdirSync(this.dir, { recursive: true });
    this.record(Journal.entryFor(configText, source), "refused", { reasons });
  }

  /** The agent wrote the config in force (entry: its digest, the trigger) again: the host had drifted from it. */
  reapplied(entry: JournalEntry, summary: Record<string, unknown>) {
    this.record(entry, "reapplied", summary);
  }

  pending(): { entry: JournalEntry; text: string } | null {
    return this.withText(this.manifest().pending, "pending");
  }

  lastKnownGood(): { entry: JournalEntry; text: string } | null {
    return this.withText(this.manifest().lastKnownGood, "last-known-good");
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
    const file = join(this.dir, archiveName(digest));
    return existsSync(file) ? file : null;
  }

  /** The entry with its config: archived, or (in an earlier fos1's journal) in its own file. */
  private withText(entry: JournalEntry | null, legacyBase: string): { entry: JournalEntry; text: string } | null {
    if (!entry) return null;
    const text = this.archived(entry.digest) ?? this.legacy(legacyBase)?.text;
    return text === undefined || text === null ? null : { entry, text };
  }

  /**
   * The state: journal.json, or an earlier fos1's files. A config whose text is missing (the
   * earlier fos1's crash between its two renames left pending.json without pending.yaml) is
   * treated as not there, not as a reason to stop.
   */
  private manifest(): Manifest {
    const file = join(this.dir, "journal.json");
    if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as Manifest;
    return { pending: this.legacy("pending")?.entry ?? null, lastKnownGood: this.legacy("last-known-good")?.entry ?? null };
  }

  private legacy(base: string): { entry: JournalEntry; text: string } | null {
    const meta = join(this.dir, `${base}.json`);
    const text = join(this.dir, `${base}.yaml`);
    if (!existsSync(meta) || !existsSync(text) || lstatSync(text).isSymbolicLink()) return null;
    try {
      return { entry: JSON.parse(readFileSync(meta, "utf8")) as JournalEntry, text: readFileSync(text, "utf8") };
    } catch {
      return null;
    }
  }

  /** The one rename that changes the state, then the views for people. */
  private save(next: Manifest, change: string): void {
    const upgrading = !existsSync(join(this.dir, "journal.json"));
    if (upgrading) for (const base of ["pending", "last-known-good"]) {
      const old = this.legacy(base);
      if (old) this.archive(old.entry.digest, old.text);
    }
    writeFileAtomic(join(this.dir, "journal.json"), JSON.stringify(next) + "\n", { mode: 0o600, beforeRename: () => this.step(`${change}: journal.json written, not yet renamed`) });
    this.step(`${change}: journal.json renamed`);
    if (upgrading) for (const base of ["pending", "last-known-good"]) rmSync(join(this.dir, `${base}.json`), { force: true });
    this.view("pending.yaml", next.pending);
    this.view("last-known-good.yaml", next.lastKnownGood);
    syncDir(this.dir);
    this.step(`${change}: views updated`);
  }

  /** name → configs/<digest>.yaml, or no name when there is no such config. */
  private view(name: string, entry: JournalEntry | null): void {
    const path = join(this.dir, name);
    if (!entry) return rmSync(path, { force: true });
    const tmp = join(this.dir, `.${name}.tmp`);
    rmSync(tmp, { force: true });
    symlinkSync(archiveName(entry.digest), tmp);
    renameSync(tmp, path);
  }

  /** Configs are named by digest, so one already there is this very text. */
  private archive(digest: string, text: string): void {
    if (this.archivedPath(digest)) return;
    writeFileAtomic(join(this.dir, archiveName(digest)), text, { mode: 0o600, mkdir: true });
  }

  private step(name: string): void {
    this.opts.onStep?.(name);
  }

  private record(entry: JournalEntry, outcome: HistoryLine["outcome"] | "failed", summary: Record<string, unknown>) {
    const file = join(this.dir, "history.jsonl");
    // After a torn last line the new one starts on a line of its own, not glued to the torn one.
    const torn = existsSync(file) && !endsWithNewline(file);
    appendDurably(file, (torn ? "\n" : "") + JSON.stringify({ ...entry, finishedAt: new Date().toISOString(), outcome, ...summary }) + "\n");
  }
}

const archiveName = (digest: string) => join("configs", `${digest.replace(":", "-")}.yaml`);
