// Reading the config a command was given (-f FILE, or -f - for stdin), with every problem
// reported at once and exit code 2 when the config is not acceptable.
import { InvalidInputError, UsageError } from "../base/errors";
import { loadConfigText, MAX_CONFIG_BYTES, tooLargeProblem, type LoadedObject } from "../api/load";
import { readTextBounded, type BoundedText } from "../base/bounded-read";
import { formatProblem, type ConfigProblem } from "../api/problems";
import type { ConfigObject } from "../api/kinds";

export interface ConfigInput {
  file: string;
  text: string;
  objects: LoadedObject<ConfigObject>[];
  problems: ConfigProblem[];
}

export const configFileOption = { file: { type: "string" as const, short: "f" } };

/** Reads the config's text (-f FILE, or -f - for standard input); the file is named as the user gave it. */
export async function readConfigText(file: unknown, usage: string): Promise<{ file: string; text: string }> {
  if (typeof file !== "string") throw new UsageError(`-f FILE is required (use -f - for standard input)\nusage: ${usage}`);
  const name = file === "-" ? "<stdin>" : file;
  let read: BoundedText;
  try {
    read = await readTextBounded(file, MAX_CONFIG_BYTES);
  } catch (err) {
    throw new InvalidInputError(`cannot read config ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  if ("tooLarge" in read) throw invalidConfig(name, [tooLargeProblem(name, read.tooLarge)]);
  return { file: name, text: read.text };
}

/** Reads and validates the config. */
export async function readConfig(file: unknown, usage: string): Promise<ConfigInput> {
  const { file: name, text } = await readConfigText(file, usage);
  return { file: name, text, ...loadConfigText(text, name) };
}

/** Fails with every problem, one per line, when the config is not valid. */
export function requireValid(input: Pick<ConfigInput, "file" | "problems">): void {
  if (input.problems.length) throw invalidConfig(input.file, input.problems);
}

function invalidConfig(file: string, problems: ConfigProblem[]): InvalidInputError {
  const n = problems.length;
  return new InvalidInputError(`${file}: ${n} problem${n === 1 ? "" : "s"}, nothing was changed:\n${problems.map(formatProblem).join("\n")}`);
}
