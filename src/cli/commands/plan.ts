import type { Command } from "../command";
import { configFileOption, readConfig, requireValid } from "../config-input";
import { printResult } from "../output";
import { planText } from "../plan-text";
import { desiredState } from "../../engine/desired";
import { observeHost } from "../../engine/observe";
import { plan as makePlan } from "../../engine/plan";
import { lockoutReasons } from "../../apply/lockout";
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
    const xdp = { wanted: Boolean(desired.xdp?.filters.length), stateDir: String(ctx.values["state-dir"] ?? DEFAULT_STATE_DIR) };
    const p = makePlan(desired, await observeHost(undefined, undefined, xdp));
    const lockout = lockoutReasons(desired);
    printResult(ctx, { ...p, lockout }, () => planText(p) + (lockout.length ? `\nWarning: apply will refuse this config (the operator would be locked out): ${lockout.join("; ")}\n` : ""));
    return 0;
  },
};
