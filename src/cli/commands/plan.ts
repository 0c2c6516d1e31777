import type { Command } from "../command";
import { configFileOption, readConfig, requireValid } from "../config-input";
import { printResult } from "../output";
import { planText } from "../plan-text";
import { desiredState } from "../../engine/desired";
import { observe, rendered } from "../../engine/apply";
import { plan as makePlan } from "../../engine/plan";
import { guardReasons } from "../../apply/guard";
import { DEFAULT_STATE_DIR } from "../../base/state-dir";

export const plan: Command = {
  name: "plan",
  summary: "show the changes an apply would make, and why",
  usage: "fos1 plan -f FILE [--state-dir DIR] [-o json]",
  printsState: true,
  options: { ...configFileOption, "state-dir": { type: "string" } },
  async run(ctx) {
    const input = await readConfig(ctx.values.file, this.usage);
    requireValid(input);
    const desired = desiredState(input.objects);
    const observed = await observe(desired, { stateDir: String(ctx.values["state-dir"] ?? DEFAULT_STATE_DIR) });
    const p = makePlan(desired, observed);
    const lockout = guardReasons(desired, observed);
    // -o json also says what each operation writes (its ip line, its nft transaction): scripts and benchmarks replay it.
    const writes = rendered(p.ops);
    printResult(ctx, { ...p, ops: p.ops.map((o, i) => ({ ...o, write: writes[i] })), lockout }, () => planText(p) + (lockout.length ? `\nWarning: apply will refuse this config: ${lockout.join("; ")}\n` : ""));
    return 0;
  },
};
