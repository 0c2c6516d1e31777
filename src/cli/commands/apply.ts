import type { Command, CommandContext } from "../command";
import { configFileOption, readConfig, requireValid } from "../config-input";
import { printResult, table } from "../output";
import { countLine, degradedText, opRows } from "../plan-text";
import { desiredState } from "../../engine/desired";
import { applyJournaled } from "../../apply/journaled-apply";
import { Journal } from "../../journal/journal";
import { lockoutReasons } from "../../apply/lockout";
import { parseDuration } from "../../base/duration";
import { rollBack, waitForConfirmation } from "../../apply/confirm";
import { observeFor, type ApplyResult } from "../../engine/apply";
import { InvalidInputError, UsageError } from "../../base/errors";
import { ValidatedConfigs } from "../../journal/validated-configs";

import { DEFAULT_STATE_DIR } from "../../base/state-dir";
export const stateDirOption = { "state-dir": { type: "string" as const } };
export const journalOf = (ctx: CommandContext) => new Journal(String(ctx.values["state-dir"] ?? DEFAULT_STATE_DIR));

export const apply: Command = {
  name: "apply",
  summary: "apply a config (network and firewall); with --confirm DURATION roll back unless `fos1 confirm` comes in time",
  usage: "fos1 apply -f FILE [--confirm 90s] [--state-dir DIR] [--force] [-o json]",
  printsState: true,
  options: { ...configFileOption, ...stateDirOption, force: { type: "boolean" }, confirm: { type: "string" } },
  async run(ctx) {
    const confirmMs = ctx.values.confirm === undefined ? null : parseDuration(String(ctx.values.confirm));
    if (ctx.values.confirm !== undefined && confirmMs === null) throw new UsageError(`--confirm takes a duration like 90s, 5m or 1h; got "${ctx.values.confirm}"`);
    const journal = journalOf(ctx);
    const validated = new ValidatedConfigs(journal.dir);
    const input = await readConfig(ctx.values.file, this.usage, validated);
    requireValid(input);
    const desired = desiredState(input.objects);
    const observed = await observeFor(desired, { stateDir: journal.dir });
    const nics = observed.links;
    const lockout = lockoutReasons(desired, { names: new Set(nics.map((l) => l.name)), macs: new Set(nics.flatMap((l) => (l.mac ? [l.mac] : []))) });
    if (lockout.length && !ctx.values.force)
      throw new InvalidInputError(`${input.file}: refusing to apply, the operator would be locked out: ${lockout.join("; ")}. Nothing was changed; --force applies it anyway.`);
    const earlier = journal.pending();
    if (earlier?.entry.awaitingConfirmation)
      throw new InvalidInputError(`an apply from ${earlier.entry.startedAt} is waiting for confirmation until ${earlier.entry.confirmBy}: run fos1 confirm or fos1 rollback first`);
    if (earlier)
      ctx.log.warn(earlier.entry.failedAt ? "the previous apply did not converge" : "an earlier apply was interrupted; converging again", { digest: earlier.entry.digest, since: earlier.entry.startedAt });

    const confirmBy = confirmMs === null ? undefined : new Date(Date.now() + confirmMs);
    const { result, converged, entry } = await applyJournaled(journal, input.text, desired, `fos1 apply -f ${input.file}`, { observed, ...(confirmBy ? { confirmBy } : {}) });
    let outcome: "converged" | "failed" | "confirmed" | "rolled back" = converged ? "converged" : "failed";
    const keep = () => validated.remember(input.text, input.objects);
    let rolledBackTo: string | undefined;
    if (confirmBy) {
      if (ctx.output === "text") ctx.stdout(resultText(result, converged));
      if (converged) {
        if (ctx.output === "text") ctx.stdout(`\nRun "fos1 confirm" by ${confirmBy.toISOString()} to keep this config; otherwise it rolls back.\n`);
        outcome = (await waitForConfirmation(journal, entry)) === "confirmed" ? "confirmed" : "rolled back";
        if (outcome === "confirmed") keep();
      } else outcome = "rolled back";
      if (outcome === "rolled back") rolledBackTo = (await rollBack(journal, journal.pending()?.entry ?? entry, converged ? "not confirmed in time" : "did not converge")).to;
      const data = { ...result, converged, digest: entry.digest, outcome, ...(rolledBackTo ? { rolledBackTo } : {}) };
      if (ctx.output === "json") ctx.stdout(JSON.stringify(data, null, 2) + "\n");
      else ctx.stdout(outcome === "confirmed" ? "Confirmed: this config is now the last-known-good.\n" : `Rolled back to ${rolledBackTo}.\n`);
      return outcome === "confirmed" ? 0 : 1;
    }
    if (converged) keep();
    printResult(ctx, { ...result, converged, digest: entry.digest, outcome, ops: result.applied }, () => resultText(result, converged));
    return converged ? 0 : 1;
  },
};

function resultText(result: ApplyResult, converged: boolean): string {
  const head = result.writes
    ? `Applied in ${result.processes} batch${result.processes === 1 ? "" : "es"}: ${countLine(result.applied)}\n\n` + table(["", "WHAT", "DETAIL", "FOR"], opRows(result.applied))
    : "No changes: the host already matches the config.\n";
  const failed = result.failed.length ? `\nFailed:\n${result.failed.map((f) => `  ${f.op.ref}: ${f.op.subject}: ${f.error}`).join("\n")}\n` : "";
  const left = result.unconverged.length && !result.failed.length ? `\nNot converged (the kernel did not keep): ${result.unconverged.map((o) => o.subject).join(", ")}\n` : "";
  return head + failed + left + degradedText(result.degraded) + (converged ? "" : "\nThe config did not converge.\n");
}
