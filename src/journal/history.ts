// Reading the journal's history: which configs were in force, in order.
import type { HistoryLine } from "./journal";

const inForce = (h: HistoryLine) => h.outcome === "converged" || h.outcome === "confirmed";

/** The configs that were in force, oldest first: each converged or confirmed apply, repeats folded. */
export function configsInForce(history: HistoryLine[]): HistoryLine[] {
  const out: HistoryLine[] = [];
  for (const h of history) {
    if (!inForce(h)) continue;
    if (out.at(-1)?.digest === h.digest) continue;
    out.push(h);
  }
  return out;
}

/** The entry (1-based #) whose config was in force when entry n was applied: the last converged or confirmed one before it. */
export function previousInForce(history: HistoryLine[], n: number): number | null {
  for (let i = n - 2; i >= 0; i--) if (inForce(history[i]!)) return i + 1;
  return null;
}
