// One journaled apply, the same for `fos1 apply` and the agent: the config is recorded as
// pending before the first kernel write, and becomes the last-known-good only when the host
// converged; otherwise it stays pending and the history says it failed. Keeping this in one
// place means both leave the same trail a crash-recovery or an operator reads.
import { converge, type ApplyOptions, type ApplyResult } from "../engine/apply";
import { applySummary } from "../journal/audit";
import type { Journal, JournalEntry } from "../journal/journal";
import type { DesiredState } from "../engine/model";

export interface JournaledApply {
  result: ApplyResult;
  /** Nothing failed and a fresh plan after applying is empty (degraded links do not count). */
  converged: boolean;
  entry: JournalEntry;
}

export const isConverged = (r: ApplyResult) => r.failed.length === 0 && r.unconverged.length === 0;

export async function applyJournaled(
  journal: Journal,
  configText: string,
  desired: DesiredState,
  source: string,
  opts: ApplyOptions & { confirmBy?: Date } = {},
): Promise<JournaledApply> {
  const begun = journal.begin(configText, source, opts.confirmBy);
  const result = await converge(desired, { stateDir: journal.dir, ...opts });
  const converged = isConverged(result);
  const summary = applySummary(result);
  // With a confirmation deadline a converged config is not yet the last-known-good: it waits.
  const entry = converged && opts.confirmBy ? journal.awaitConfirmation(begun, summary) : begun;
  if (converged && !opts.confirmBy) journal.commit(entry, summary);
  else if (!converged) journal.fail(entry, summary);
  return { result, converged, entry };
}
