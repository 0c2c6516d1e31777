import type { Command } from "../command";
import { configFileOption, readConfig, requireValid } from "../config-input";
import { printResult, table } from "../output";
import { countLine, degradedText, opRows } from "../plan-text";
import { desiredState } from "../../host/desired";
import { applyJournaled } from "../../host/journaled-apply";
import { Journal } from "../../host/journal";
import { plan as makePlan } from "../../host/plan";
import { observeHost } from "../../host/observe";
import { lockoutReasons } from "../../host/firewall/lockout";
import { InvalidInputError } from "../errors";

export const DEFAULT_STATE_DIR = "/var/lib/fos1";

export const apply: Command = {
  name: "apply",
  summary: "apply a config: converge links, addresses, routes and rules with batched kernel writes",
  usage: "fos1 apply -f FILE [--state-dir DIR] [--force] [-o json]",
  printsState: true,
  options: { ...configFileOption, "state-dir": { type: "string" }, force: { type: "boolean" } },
  async run(ctx) {
    const input = await readConfig(ctx.values.file, this.usage);
    requireValid(input);
    const desired = desiredState(input.objects);
    const lockout = lockoutReasons(desired);
    if (lockout.length && !ctx.values.force)
      throw new InvalidInputError(`${input.file}: refusing to apply, the operator would be locked out: ${lockout.join("; ")}. Nothing was changed; --force applies it anyway.`);
    const journal = new Journal(String(ctx.values["state-dir"] ?? DEFAULT_STATE_DIR));
    const interrupted = journal.pending();
    if (interrupted)
      ctx.log.warn(interrupted.entry.failedAt ? "the previous apply did not converge" : "an earlier apply was interrupted; converging again", {
        digest: interrupted.entry.digest,
        since: interrupted.entry.startedAt,
      });
    // The plan is shown as applied; converge() plans again from a fresh observation.
    const intended = makePlan(desired, await observeHost());
    const { result, converged, entry } = await applyJournaled(journal, input.text, desired, `fos1 apply -f ${input.file}`);
    const data = { ...result, converged, digest: entry.digest, ops: intended.ops };
    printResult(ctx, data, () => {
      const head = result.writes
        ? `Applied in ${result.processes} ip batch${result.processes === 1 ? "" : "es"}: ${countLine(intended.ops)}\n\n` +
          table(["", "WHAT", "DETAIL", "FOR"], opRows(intended.ops))
        : "No changes: the host already matches the config.\n";
      const failed = result.failed.length ? `\nFailed:\n${result.failed.map((f) => `  ${f.op.ref}: ${f.op.subject}: ${f.error}`).join("\n")}\n` : "";
      const left = result.unconverged.length && !result.failed.length ? `\nNot converged (the kernel did not keep): ${result.unconverged.map((o) => o.subject).join(", ")}\n` : "";
      return head + failed + left + degradedText(result.degraded) + (converged ? "" : "\nThe config stays pending; run apply again once the cause is fixed.\n");
    });
    return converged ? 0 : 1;
  },
};
