import type { Command } from "../command";
import { configFileOption, readConfig, requireValid } from "../config-input";
import { printResult } from "../output";
import { planText } from "../plan-text";
import { desiredState } from "../../host/desired";
import { observeHost } from "../../host/observe";
import { plan as makePlan } from "../../host/plan";

export const plan: Command = {
  name: "plan",
  summary: "show the changes an apply would make, and why",
  usage: "fos1 plan -f FILE [-o json]",
  printsState: true,
  options: configFileOption,
  async run(ctx) {
    const input = await readConfig(ctx.values.file, this.usage);
    requireValid(input);
    const p = makePlan(desiredState(input.objects), await observeHost());
    printResult(ctx, p, () => planText(p));
    return 0;
  },
};
