import type { Command } from "../command";
import { printResult, table } from "../output";
import { journalOf, stateDirOption } from "./apply";
import type { HistoryLine } from "../../host/journal";

/** The configs that were in force, oldest first: each converged or confirmed apply, repeats folded. */
export function configsInForce(history: HistoryLine[]): HistoryLine[] {
  const out: HistoryLine[] = [];
  for (const h of history) {
    if (h.outcome !== "converged" && h.outcome !== "confirmed") continue;
    if (out.at(-1)?.digest === h.digest) continue;
    out.push(h);
  }
  return out;
}

export const history: Command = {
  name: "history",
  summary: "list applied configs: when, digest, by what, what changed, outcome",
  usage: "fos1 history [--state-dir DIR] [-o json]",
  printsState: true,
  options: stateDirOption,
  run(ctx) {
    const lines = journalOf(ctx).history();
    const inForce = configsInForce(lines);
    const back = (h: HistoryLine) => {
      const i = inForce.lastIndexOf(h);
      return i < 0 ? "" : String(inForce.length - 1 - i);
    };
    printResult(ctx, lines, () =>
      lines.length
        ? table(
            ["WHEN", "OUTCOME", "ROLLBACK N", "DIGEST", "CHANGES", "BY"],
            lines.map((h) => [
              h.finishedAt,
              h.outcome,
              back(h),
              h.digest.slice(0, 19),
              h.changes ? Object.entries(h.changes).map(([k, v]) => `${v} ${k}`).join(", ") || "none" : h.writes === undefined ? "-" : `${h.writes} writes`,
              h.source,
            ]),
          )
        : "No apply recorded yet.\n",
    );
    return 0;
  },
};
