// One journaled apply, the same for `fos1 apply` and the agent: the config is recorded as
// pending before the first kernel write, and becomes the last-known-good only when the host
// converged; otherwise it stays pending and the history says it failed. Keeping this in one
// place means both leave the same trail a crash-recovery or an operator reads.
import { converge, type ApplyOptions, type ApplyResult } from "./apply";
import type { Journal, JournalEntry } from "./journal";
import type { DesiredState } from "./model";

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
  opts: ApplyOptions = {},
): Promise<JournaledApply> {
  const entry = journal.begin(configText, source);
  const result = await converge(desired, opts);
  const converged = isConverged(result);
  const summary = { writes: result.writes, processes: result.processes, failed: result.failed.length, degraded: result.degraded.length };
  if (converged) journal.commit(entry, summary);
  else journal.fail(entry, summary);
  return { result, converged, entry };
}
