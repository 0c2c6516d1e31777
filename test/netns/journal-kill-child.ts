// Run by test/netns/state-disk.test.ts inside a namespace: applies a config through the one
// apply path (src/apply/service.ts, from source) and SIGKILLs itself when the journal reaches
// the step named, as a crash or a power cut at that moment would.
//   bun journal-kill-child.ts STATE_DIR CONFIG_FILE STEP
import { readFileSync } from "node:fs";
import { ApplyService } from "../../src/apply/service";

const [stateDir, configFile, step] = process.argv.slice(2) as [string, string, string];
const service = new ApplyService({
  stateDir,
  onJournalStep: (reached) => {
    if (reached === step) process.kill(process.pid, "SIGKILL");
  },
});
const outcome = await service.apply({ text: readFileSync(configFile, "utf8"), file: configFile }, { source: "journal-kill-child" });
// Reaching here means the step was never reached: the test fails on this exit code.
console.error(`ran to the end (${outcome.status}) without reaching the step "${step}"`);
process.exit(3);
