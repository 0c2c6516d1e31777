#!/usr/bin/env bun
// fos1 — one executable, subcommands. Exit codes: 0 ok, 1 failure, 2 invalid input or usage.
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import type { Command, OutputFormat } from "./cli/command";
import { EXIT_INVALID, EXIT_OK, UsageError, exitCodeOf } from "./base/errors";
import { agent } from "./cli/commands/agent";
import { apply } from "./cli/commands/apply";
import { confirm } from "./cli/commands/confirm";
import { controller } from "./cli/commands/controller";
import { defaults } from "./cli/commands/defaults";
import { flows } from "./cli/commands/flows";
import { history } from "./cli/commands/history";
import { ids } from "./cli/commands/ids";
import { leases } from "./cli/commands/leases";
import { rollback } from "./cli/commands/rollback";
import { plan } from "./cli/commands/plan";
import { status } from "./cli/commands/status";
import { talos } from "./cli/commands/talos";
import { validate } from "./cli/commands/validate";
import { version } from "./cli/commands/version";
import { translate } from "./cli/commands/translate";
import { xdp } from "./cli/commands/xdp";
import { log } from "./base/log";

const commands: Command[] = [agent, apply, confirm, controller, defaults, flows, history, ids, leases, rollback, plan, status, translate, talos, validate, version, xdp].sort((a, b) => a.name.localeCompare(b.name));

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "fos1 — router/firewall appliance: host networking, firewall, NAT and XDP on Talos + Cilium",
    "",
    "usage: fos1 COMMAND [options]",
    "",
    "commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${"help".padEnd(width)}  show this help, or a command's with: fos1 help COMMAND`,
    "",
    "options of every command that prints state:",
    "  -o, --output text|json   output format (default text)",
    "",
    "exit codes: 0 ok, 1 failure, 2 invalid input or usage",
    "",
  ].join("\n");
}

function commandHelp(cmd: Command): string {
  const opts = Object.entries(cmd.options ?? {}).map(
    ([name, o]) => `  ${o.short ? `-${o.short}, ` : "    "}--${name}${o.type === "string" ? " VALUE" : ""}`,
  );
  return [`usage: ${cmd.usage}`, "", cmd.summary, ...(opts.length ? ["", "options:", ...opts] : []), ""].join("\n");
}

function findCommand(name: string): Command {
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) throw new UsageError(`unknown command "${name}"; run "fos1 --help" for the list`);
  return cmd;
}

function parseCommandArgs(cmd: Command, args: string[]) {
  const options: ParseArgsOptionsConfig = { ...cmd.options, help: { type: "boolean", short: "h" } };
  if (cmd.printsState) options.output = { type: "string", short: "o" };
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/\. To specify.*$/s, "")}\nusage: ${cmd.usage}`);
  }
  // A command that prints objects rather than state (translate: -o yaml|json) reads -o itself.
  const output = cmd.printsState ? (parsed.values.output ?? "text") : "text";
  if (output !== "text" && output !== "json") throw new UsageError(`-o must be "text" or "json", not "${output}"`);
  if (parsed.positionals.length > (cmd.maxPositionals ?? 0))
    throw new UsageError(`unexpected argument "${parsed.positionals[cmd.maxPositionals ?? 0]}"\nusage: ${cmd.usage}`);
  return { values: parsed.values, positionals: parsed.positionals, output: output as OutputFormat };
}

export async function main(argv: string[]): Promise<number> {
  const out = (text: string) => void process.stdout.write(text);
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stderr.write(topHelp());
    return EXIT_INVALID;
  }
  if (first === "--help" || first === "-h" || (first === "help" && rest.length === 0)) {
    out(topHelp());
    return EXIT_OK;
  }
  if (first === "help") {
    out(commandHelp(findCommand(rest[0]!)));
    return EXIT_OK;
  }
  if (first.startsWith("-")) throw new UsageError(`expected a command before "${first}"; run "fos1 --help"`);
  const cmd = findCommand(first);
  const { values, positionals, output } = parseCommandArgs(cmd, rest);
  if (values.help) {
    out(commandHelp(cmd));
    return EXIT_OK;
  }
  return cmd.run({ values, positionals, output, log: log.with({ command: cmd.name }), stdout: out });
}

if (import.meta.main) {
  // `fos1 status | head` closes the pipe early: that is not an error of fos1's.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (err) {
    log.error((err as Error).message);
    process.exitCode = exitCodeOf(err);
  }
}
