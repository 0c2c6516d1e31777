import type { Command } from "../command";
import { configFileOption, readConfigText, requireValid } from "../config-input";
import { printResult, table } from "../output";
import { countLine, degradedText, opRows } from "../plan-text";
import { applyServiceOf, WAIT_USAGE, writerOptions } from "../state-dir";
import type { ApplyResult } from "../../engine/apply";
import type { Op } from "../../engine/op";
import { parseDuration } from "../../base/duration";
import { InvalidInputError, UsageError } from "../../base/errors";
import type { ApplyOutcome } from "../../apply/service";

export const apply: Command = {
  name: "apply",
  summary: "apply a config (network and firewall); with --confirm DURATION roll back unless `fos1 confirm` comes in time",
  usage: `fos1 apply -f FILE [--confirm 90s] ${WAIT_USAGE} [--force] [-o json]`,
  printsState: true,
  options: { ...configFileOption, ...writerOptions, force: { type: "boolean" }, confirm: { type: "string" } },
  async run(ctx) {
    const confirmMs = ctx.values.confirm === undefined ? null : parseDuration(String(ctx.values.confirm));
    if (ctx.values.confirm !== undefined && confirmMs === null) throw new UsageError(`--confirm takes a duration like 90s, 5m or 1h; got "${ctx.values.confirm}"`);
    const service = applyServiceOf(ctx);
    const config = await readConfigText(ctx.values.file, this.usage);
    const known = service.knownObjects(config.text, config.file);
    const confirmBy = confirmMs === null ? undefined : new Date(Date.now() + confirmMs);
    const source = `fos1 apply -f ${config.file}`;
    const earlier = service.journal.pending();
    if (earlier && !earlier.entry.awaitingConfirmation)
      ctx.log.warn(earlier.entry.failedAt ? "the previous apply did not converge" : "an earlier apply was interrupted; converging again", { digest: earlier.entry.digest, since: earlier.entry.startedAt });
    const outcome = await service.apply({ ...config, ...(known ? { objects: known } : {}) }, { source, force: ctx.values.force === true, ...(confirmBy ? { confirmBy } : {}) });
    const applied = settled(outcome, config.file);
    const { result, converged, entry } = applied;
    if (!confirmBy) {
      const json = resultJson(result);
      printResult(ctx, { ...json, converged, digest: entry.digest, outcome: converged ? "converged" : "failed", ops: json.applied }, () => resultText(result, converged));
      return converged ? 0 : 1;
    }
    if (ctx.output === "text") ctx.stdout(resultText(result, converged));
    let final: "confirmed" | "rolled back" = "rolled back";
    if (converged) {
      if (ctx.output === "text") ctx.stdout(`\nRun "fos1 confirm" by ${confirmBy.toISOString()} to keep this config; otherwise it rolls back.\n`);
      if ((await service.waitForConfirmation(entry)) === "confirmed") final = "confirmed";
    }
    let rolledBackTo: string | undefined;
    if (final === "rolled back") {
      // The lock is taken again here, and `fos1 confirm` may have won the race for it.
      const r = await service.rollBack(entry, converged ? "not confirmed in time" : "did not converge", source);
      if (r.already === "confirmed") final = "confirmed";
      else rolledBackTo = r.to;
    }
    const data = { ...resultJson(result), converged, digest: entry.digest, outcome: final, ...(rolledBackTo ? { rolledBackTo } : {}) };
    if (ctx.output === "json") ctx.stdout(JSON.stringify(data, null, 2) + "\n");
    else ctx.stdout(final === "confirmed" ? "Confirmed: this config is now the last-known-good.\n" : `Rolled back to ${rolledBackTo}.\n`);
    return final === "confirmed" ? 0 : 1;
  },
};

/** The applied outcome, or the error the CLI exits with (2: nothing was changed). */
export function settled(outcome: ApplyOutcome, file: string): Extract<ApplyOutcome, { status: "applied" }> {
  switch (outcome.status) {
    case "applied":
      return outcome;
    case "invalid":
      return requireValid({ file, problems: outcome.problems }) as never;
    case "refused":
      throw new InvalidInputError(`${file}: refusing to apply: ${outcome.reasons.join("; ")}. Nothing was changed; --force applies it anyway.`);
    case "awaiting confirmation":
      throw new InvalidInputError(`an apply from ${outcome.pending.startedAt} is waiting for confirmation until ${outcome.pending.confirmBy}: run fos1 confirm or fos1 rollback first`);
  }
}

/**
 * The result as -o json prints it: each operation as what it did and what for, without its
 * typed change (a firewall's is its whole transaction; `fos1 plan -o json` shows what each writes).
 */
export function resultJson(result: ApplyResult) {
  const record = ({ change: _change, ...op }: Op) => op;
  return { ...result, applied: result.applied.map(record), unconverged: result.unconverged.map(record), failed: result.failed.map((f) => ({ op: record(f.op), error: f.error })) };
}

export function resultText(result: ApplyResult, converged: boolean): string {
  const head = result.writes
    ? `Applied in ${result.processes} batch${result.processes === 1 ? "" : "es"}: ${countLine(result.applied)}\n\n` + table(["", "WHAT", "DETAIL", "FOR"], opRows(result.applied))
    : "No changes: the host already matches the config.\n";
  const failed = result.failed.length ? `\nFailed:\n${result.failed.map((f) => `  ${f.op.ref}: ${f.op.subject}: ${f.error}`).join("\n")}\n` : "";
  const left = result.unconverged.length && !result.failed.length ? `\nNot converged (the kernel did not keep): ${result.unconverged.map((o) => o.subject).join(", ")}\n` : "";
  return head + failed + left + degradedText(result.degraded) + (converged ? "" : "\nThe config did not converge.\n");
}
