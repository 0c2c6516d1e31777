import type { Command } from "../command";
import { UsageError } from "../../base/errors";
import { printResult } from "../output";
import { applyServiceOf, WAIT_USAGE, writerOptions } from "../state-dir";
import { resultJson, settled } from "./apply";

export const rollback: Command = {
  name: "rollback",
  summary: "drop a config waiting for confirmation, or return to the Nth earlier applied config (default 1)",
  usage: `fos1 rollback [N] ${WAIT_USAGE} [--force] [-o json]`,
  printsState: true,
  options: { ...writerOptions, force: { type: "boolean" } },
  maxPositionals: 1,
  async run(ctx) {
    const service = applyServiceOf(ctx);
    const pending = service.journal.pending();
    if (pending?.entry.awaitingConfirmation && ctx.positionals.length === 0) {
      const r = await service.rollBack(pending.entry, "fos1 rollback", "fos1 rollback");
      printResult(ctx, { rolledBackTo: r.to }, () =>
        r.already === "confirmed" ? `${pending.entry.digest} was confirmed meanwhile; nothing was rolled back.\n` : `Dropped the unconfirmed config ${pending.entry.digest}; back to ${r.to}.\n`,
      );
      return r.already === "confirmed" ? 1 : 0;
    }
    const n = ctx.positionals.length ? Number(ctx.positionals[0]) : 1;
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`N must be a whole number from 1 (the config before the current one); got "${ctx.positionals[0]}"`);
    const outcome = await service.rollBackTo(n, { source: `fos1 rollback ${n}`, force: ctx.values.force === true });
    const { result, converged } = settled(outcome, outcome.target.digest);
    const target = outcome.target;
    printResult(ctx, { rolledBackTo: target.digest, converged, writes: result.writes, failed: resultJson(result).failed }, () =>
      converged ? `Back to ${target.digest} (applied ${target.finishedAt} by ${target.source}): ${result.writes} changes.\n` : `Rolling back to ${target.digest} did not converge; see fos1 status.\n`,
    );
    return converged ? 0 : 1;
  },
};
