import type { Command, CommandContext } from "../command";
import { InvalidInputError, OperationError, UsageError } from "../../base/errors";
import { printResult, table } from "../output";
import { opRows } from "../plan-text";
import { journalOf, stateDirOption } from "../state-dir";
import { unifiedDiff } from "../../journal/config-diff";
import type { HistoryLine, Journal } from "../../journal/journal";
import { configsInForce, previousInForce } from "../../journal/history";

const USAGE = "fos1 history [--diff [N]] [--state-dir DIR] [-o json]   (N: an entry's # in fos1 history; default the newest)";

/** "3 add, 1 change", or what an old line without counts recorded. */
export function changesText(h: HistoryLine): string {
  if (h.changes) return Object.entries(h.changes).map(([k, v]) => `${v} ${k}`).join(", ") || "none";
  return h.writes === undefined ? "-" : `${h.writes} writes`;
}

export const history: Command = {
  name: "history",
  summary: "list applied configs: when, digest, by what, what changed, outcome; --diff N: one entry's config diff and operations",
  usage: USAGE,
  printsState: true,
  options: { ...stateDirOption, diff: { type: "boolean" } },
  maxPositionals: 1,
  async run(ctx) {
    const journal = journalOf(ctx);
    const lines = journal.history();
    if (ctx.values.diff) return showDiff(ctx, journal, lines);
    if (ctx.positionals.length) throw new UsageError(`an entry number goes with --diff\nusage: ${USAGE}`);
    const inForce = configsInForce(lines);
    const back = (h: HistoryLine) => {
      const i = inForce.lastIndexOf(h);
      return i < 0 ? "" : String(inForce.length - 1 - i);
    };
    printResult(ctx, lines, () =>
      lines.length
        ? table(
            ["#", "WHEN", "OUTCOME", "ROLLBACK N", "DIGEST", "CHANGES", "BY"],
            lines.map((h, i) => [String(i + 1), h.finishedAt, h.outcome, back(h), h.digest.slice(0, 19), changesText(h), h.source]),
          )
        : "No apply recorded yet.\n",
    );
    return 0;
  },
};

async function showDiff(ctx: CommandContext, journal: Journal, lines: HistoryLine[]): Promise<number> {
  const arg = ctx.positionals[0];
  if (!lines.length) throw new OperationError("fos1 history --diff: no apply is recorded yet, so there is no entry to show");
  const n = arg === undefined ? lines.length : Number(arg);
  if (arg !== undefined && !/^\d+$/.test(arg)) throw new UsageError(`--diff takes an entry number (the # column of fos1 history), not "${arg}"\nusage: ${USAGE}`);
  if (n < 1 || n > lines.length) throw new InvalidInputError(`fos1 history --diff ${arg}: there is no entry #${n}; the entries are numbered 1 to ${lines.length}`);
  const entry = lines[n - 1]!;
  const prev = previousInForce(lines, n);
  const before = prev === null ? null : lines[prev - 1]!;
  const label = (num: number, h: HistoryLine) => `#${num} ${h.digest} (${h.outcome} ${h.finishedAt})`;
  const afterPath = journal.archivedPath(entry.digest);
  const diff = afterPath
    ? await unifiedDiff({ path: before ? journal.archivedPath(before.digest) : null, label: before ? label(prev!, before) : "(no config before)" }, { path: afterPath, label: label(n, entry) })
    : null;
  const result = {
    number: n,
    entry,
    previous: before ? { number: prev, digest: before.digest } : null,
    /** null: the entry's config was not kept (journals from before every applied config was archived). */
    diff,
    ops: entry.ops ?? null,
    opsOmitted: entry.opsOmitted ?? 0,
  };
  printResult(ctx, result, () => diffText(result));
  return 0;
}

function diffText(r: { number: number; entry: HistoryLine; previous: { number: number | null; digest: string } | null; diff: string | null; ops: HistoryLine["ops"] | null; opsOmitted: number }): string {
  const e = r.entry;
  const out = [`#${r.number}  ${e.finishedAt}  ${e.outcome}  by ${e.source}`, `config ${e.digest}`, `before ${r.previous ? `#${r.previous.number} ${r.previous.digest}` : "no config was in force"}`, ""];
  if (r.diff === null) out.push("The config of this entry was not kept in the journal's archive, so no diff can be shown.");
  else if (r.diff === "") out.push("Config: the same as the one in force before.");
  else out.push(r.diff.trimEnd());
  out.push("");
  const what = e.outcome === "rolled back" ? "Operations of the rollback" : "Operations applied";
  if (!r.ops) out.push(`${what}: not recorded (an entry from before fos1 recorded them; ${changesText(e)}).`);
  else if (!r.ops.length) out.push(`${what}: none (the host already matched).`);
  else {
    out.push(`${what} (${r.ops.length + r.opsOmitted}):`);
    out.push(table(["", "WHAT", "DETAIL", "FOR"], opRows(r.ops)).trimEnd());
    if (r.opsOmitted) out.push(`… and ${r.opsOmitted} more not recorded (the diff above has all of the config's change).`);
  }
  return out.join("\n") + "\n";
}
