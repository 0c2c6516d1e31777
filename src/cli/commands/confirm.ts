import type { Command } from "../command";
import { printResult } from "../output";
import { applyServiceOf, WAIT_USAGE, writerOptions } from "../state-dir";

export const confirm: Command = {
  name: "confirm",
  summary: "keep the config applied with apply --confirm (it becomes the last-known-good)",
  usage: `fos1 confirm ${WAIT_USAGE} [-o json]`,
  printsState: true,
  options: writerOptions,
  async run(ctx) {
    const entry = await applyServiceOf(ctx).confirm();
    printResult(ctx, { confirmed: entry.digest }, () => `Confirmed ${entry.digest} (applied ${entry.startedAt} by ${entry.source}).\n`);
    return 0;
  },
};
