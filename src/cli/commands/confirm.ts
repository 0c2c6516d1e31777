import type { Command } from "../command";
import { OperationError } from "../../base/errors";
import { printResult } from "../output";
import { journalOf, stateDirOption } from "./apply";

export const confirm: Command = {
  name: "confirm",
  summary: "keep the config applied with apply --confirm (it becomes the last-known-good)",
  usage: "fos1 confirm [--state-dir DIR] [-o json]",
  printsState: true,
  options: stateDirOption,
  run(ctx) {
    const journal = journalOf(ctx);
    const pending = journal.pending();
    if (!pending?.entry.awaitingConfirmation) throw new OperationError("nothing waits for confirmation (no apply --confirm is pending, or it already rolled back)");
    if (Date.parse(pending.entry.confirmBy!) <= Date.now()) throw new OperationError(`too late: the confirmation deadline ${pending.entry.confirmBy} has passed and the config is being rolled back`);
    journal.commit(pending.entry, {}, "confirmed");
    printResult(ctx, { confirmed: pending.entry.digest }, () => `Confirmed ${pending.entry.digest} (applied ${pending.entry.startedAt} by ${pending.entry.source}).\n`);
    return 0;
  },
};
