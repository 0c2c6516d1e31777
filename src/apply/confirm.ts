// Commit-confirm, the JunOS/VyOS way: `fos1 apply --confirm 90s` applies, then the pending
// config rolls back to the last-known-good unless `fos1 confirm` arrives in time. The deadline
// lives in the journal on disk, so if the applying process dies, `fos1 agent` finds it on start
// and rolls back when it is due.
import { loadConfigText } from "../api/load";
import { converge, type ApplyOptions, type ApplyResult } from "../engine/apply";
import { applySummary } from "../journal/audit";
import { desiredState } from "../engine/desired";
import type { Journal, JournalEntry } from "../journal/journal";

/**
 * Converges the host back to the last-known-good config (or, when there never was one, to
 * nothing of fos1's: no links, routes or firewall of its own) and drops the pending config.
 */
export async function rollBack(journal: Journal, pending: JournalEntry, reason: string, opts: ApplyOptions = {}): Promise<{ result: ApplyResult; to: string }> {
  const lkg = journal.lastKnownGood();
  const objects = lkg ? loadConfigText(lkg.text, "last-known-good.yaml").objects : [];
  const result = await converge(desiredState(objects), { stateDir: journal.dir, ...opts });
  journal.discard(pending, { reason, ...applySummary(result) });
  return { result, to: lkg ? lkg.entry.digest : "no config (nothing of fos1's)" };
}

/** Waits until the pending entry is confirmed (it became the last-known-good) or its deadline passes. */
export async function waitForConfirmation(journal: Journal, entry: JournalEntry, pollMs = 200): Promise<"confirmed" | "expired"> {
  const deadline = Date.parse(entry.confirmBy!);
  for (;;) {
    const pending = journal.pending();
    if (!pending || pending.entry.digest !== entry.digest || pending.entry.startedAt !== entry.startedAt)
      return journal.lastKnownGood()?.entry.digest === entry.digest ? "confirmed" : "expired";
    if (Date.now() >= deadline) return "expired";
    await Bun.sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
  }
}

/**
 * For the agent: a pending config with a confirmation deadline that has passed is rolled back.
 * Returns the milliseconds until a future deadline (to check again then), or null.
 */
export async function expireUnconfirmed(journal: Journal, opts: ApplyOptions & { onRollback?: (to: string, entry: JournalEntry) => void } = {}): Promise<number | null> {
  const pending = journal.pending();
  if (!pending?.entry.confirmBy) return null;
  const left = Date.parse(pending.entry.confirmBy) - Date.now();
  if (left > 0) return left;
  const { to } = await rollBack(journal, pending.entry, "not confirmed in time", opts);
  opts.onRollback?.(to, pending.entry);
  return null;
}
