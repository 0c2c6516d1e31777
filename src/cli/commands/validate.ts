import type { Command } from "../command";
import { configFileOption, readConfig } from "../config-input";
import { printResult } from "../output";
import { formatProblem } from "../../api/problems";

export const validate: Command = {
  name: "validate",
  summary: "check a config file and report every problem with file, path and line",
  usage: "fos1 validate -f FILE [-o json]",
  printsState: true,
  options: configFileOption,
  async run(ctx) {
    const input = await readConfig(ctx.values.file, this.usage);
    const data = { file: input.file, valid: input.problems.length === 0, objects: input.objects.map((o) => o.ref), problems: input.problems };
    printResult(ctx, data, () =>
      data.valid
        ? `${input.file}: valid (${input.objects.length} object${input.objects.length === 1 ? "" : "s"})\n`
        : input.problems.map(formatProblem).join("\n") + `\n${input.file}: ${input.problems.length} problem(s)\n`,
    );
    return data.valid ? 0 : 2;
  },
};
