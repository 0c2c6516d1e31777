// Subcommands the design names whose implementation is still an open issue. They are listed
// in --help so the CLI's shape is visible, and they fail loudly (exit 1) instead of pretending.
import type { Command } from "../command";
import { OperationError } from "../errors";

function planned(name: string, summary: string, issue: number): Command {
  return {
    name,
    summary: `${summary} (not implemented yet, issue #${issue})`,
    usage: `fos1 ${name} …`,
    printsState: false,
    options: {},
    maxPositionals: Infinity,
    run() {
      throw new OperationError(`fos1 ${name} is not implemented yet (tracked in issue #${issue})`);
    },
  };
}

export const plannedCommands: Command[] = [
  planned("controller", "cluster controller: fos1 CRDs to Cilium resources", 7),
];
