import type { Command } from "../command";
import { OperationError, UsageError } from "../../base/errors";
import { printResult } from "../output";
import { journalOf, stateDirOption } from "./apply";
import { configsInForce } from "./history";
import { rollBack } from "../../apply/confirm";
import { applyJournaled } from "../../apply/journaled-apply";
import { desiredState } from "../../engine/desired";
import { loadConfigText } from "../../api/load";

export const rollback: Command = {
  name: "rollback",
  summary: "drop a config waiting for confirmation, or return to the Nth earlier applied config (default 1)",
  usage: "fos1 rollback [N] [--state-dir DIR] [-o json]",
  printsState: true,
  options: stateDirOption,
  maxPositionals: 1,
  async run(ctx) {
    const journal = journalOf(ctx);
    const pending = journal.pending();
    if (pending?.entry.awaitingConfirmation && ctx.positionals.length === 0) {
      const { to } = await rollBack(journal, pending.entry, "fos1 rollback");
      printResult(ctx, { rolledBackTo: to }, () => `Dropped the unconfirmed config ${pending.entry.digest}; back to ${to}.\n`);
      return 0;
    }
    const n = ctx.positionals.length ? Number(ctx.positionals[0]) : 1;
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`N must be a whole number from 1 (the config before the current one); got "${ctx.positionals[0]}"`);
    const inForce = configsInForce(journal.history());
    const target = inForce[inForce.length - 1 - n];
    if (!target) throw new OperationError(`there are only ${Math.max(0, inForce.length - 1)} earlier configs to go back to (see fos1 history)`);
    const text = journal.archived(target.digest);
    if (!text) throw new OperationError(`the config ${target.digest} is not in the journal's archive any more`);
    const loaded = loadConfigText(text, `${target.digest} (archived)`);
    const { result, converged } = await applyJournaled(journal, text, desiredState(loaded.objects), `fos1 rollback ${n}`);
    printResult(ctx, { rolledBackTo: target.digest, converged, writes: result.writes, failed: result.failed }, () =>
      converged ? `Back to ${target.digest} (applied ${target.finishedAt} by ${target.source}): ${result.writes} changes.\n` : `Rolling back to ${target.digest} did not converge; see fos1 status.\n`,
    );
    return converged ? 0 : 1;
  },
};
