// Reading the config a command was given (-f FILE, or -f - for stdin), with every problem
// reported at once and exit code 2 when the config is not acceptable.
import { InvalidInputError, UsageError } from "../base/errors";
import { loadConfigText, type LoadedObject } from "../api/load";
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
  let text: string;
  try {
    text = file === "-" ? await Bun.stdin.text() : await Bun.file(file).text();
  } catch (err) {
    throw new InvalidInputError(`cannot read config ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  return { file: file === "-" ? "<stdin>" : file, text };
}

/** Reads and validates the config. */
export async function readConfig(file: unknown, usage: string): Promise<ConfigInput> {
  const { file: name, text } = await readConfigText(file, usage);
  return { file: name, text, ...loadConfigText(text, name) };
}

/** Fails with every problem, one per line, when the config is not valid. */
export function requireValid(input: Pick<ConfigInput, "file" | "problems">): void {
  if (!input.problems.length) return;
  const n = input.problems.length;
  throw new InvalidInputError(
    `${input.file}: ${n} problem${n === 1 ? "" : "s"}, nothing was changed:\n${input.problems.map(formatProblem).join("\n")}`,
  );
}
