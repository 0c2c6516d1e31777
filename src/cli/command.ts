import type { ParseArgsConfig } from "node:util";
import type { Logger } from "../base/log";

export type OutputFormat = "text" | "json";

export interface CommandContext {
  /** Arguments after the subcommand, already parsed against the command's options. */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  output: OutputFormat;
  log: Logger;
  stdout: (text: string) => void;
}

export interface Command {
  name: string;
  /** One line for `fos1 --help`. */
  summary: string;
  /** Shown by `fos1 COMMAND --help`, after the usage line. */
  usage: string;
  /** Commands that print state accept `-o json`. */
  printsState: boolean;
  options?: ParseArgsConfig["options"];
  /** Highest number of positional arguments accepted. */
  maxPositionals?: number;
  run(ctx: CommandContext): Promise<number> | number;
}
