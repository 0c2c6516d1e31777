// Reading the config a command was given (-f FILE, or -f - for stdin), with every problem
// reported at once and exit code 2 when the config is not acceptable.
import { InvalidInputError, UsageError } from "../base/errors";
import { loadConfigText, type LoadedObject } from "../api/load";
import { formatProblem, type ConfigProblem } from "../api/problems";
import type { ConfigObject } from "../api/kinds";
import type { ValidatedConfigs } from "../journal/validated-configs";

export interface ConfigInput {
  file: string;
  text: string;
  objects: LoadedObject<ConfigObject>[];
  problems: ConfigProblem[];
}

export const configFileOption = { file: { type: "string" as const, short: "f" } };

/** Reads and validates the config; `validated` offers objects read from the same bytes before. */
export async function readConfig(file: unknown, usage: string, validated?: ValidatedConfigs): Promise<ConfigInput> {
  if (typeof file !== "string") throw new UsageError(`-f FILE is required (use -f - for standard input)\nusage: ${usage}`);
  let text: string;
  try {
    text = file === "-" ? await Bun.stdin.text() : await Bun.file(file).text();
  } catch (err) {
    throw new InvalidInputError(`cannot read config ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  const name = file === "-" ? "<stdin>" : file;
  const known = validated?.get(text, name);
  return { file: name, text, ...(known ? { objects: known, problems: [] } : loadConfigText(text, name)) };
}

/** Fails with every problem, one per line, when the config is not valid. */
export function requireValid(input: ConfigInput): void {
  if (!input.problems.length) return;
  const n = input.problems.length;
  throw new InvalidInputError(
    `${input.file}: ${n} problem${n === 1 ? "" : "s"}, nothing was changed:\n${input.problems.map(formatProblem).join("\n")}`,
  );
}
