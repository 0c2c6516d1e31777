#!/usr/bin/env bun
// fos1 — one executable, subcommands. Exit codes: 0 ok, 1 failure, 2 invalid input or usage.
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import type { Command, OutputFormat } from "./cli/command";
import { EXIT_INVALID, EXIT_OK, UsageError, exitCodeOf } from "./base/errors";
import { log } from "./base/log";

/**
 * Each command's module, loaded only when it runs: what a command imports (the Kubernetes
 * client, gRPC, Prometheus) costs the start of every other command nothing -- together they
 * took about 90 ms of each start. Only `fos1 --help` loads them all, for their summaries.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  agent: async () => (await import("./cli/commands/agent")).agent,
  apply: async () => (await import("./cli/commands/apply")).apply,
  confirm: async () => (await import("./cli/commands/confirm")).confirm,
  controller: async () => (await import("./cli/commands/controller")).controller,
  defaults: async () => (await import("./cli/commands/defaults")).defaults,
  flows: async () => (await import("./cli/commands/flows")).flows,
  history: async () => (await import("./cli/commands/history")).history,
  ids: async () => (await import("./cli/commands/ids")).ids,
  leases: async () => (await import("./cli/commands/leases")).leases,
  plan: async () => (await import("./cli/commands/plan")).plan,
  rollback: async () => (await import("./cli/commands/rollback")).rollback,
  status: async () => (await import("./cli/commands/status")).status,
  talos: async () => (await import("./cli/commands/talos")).talos,
  translate: async () => (await import("./cli/commands/translate")).translate,
  validate: async () => (await import("./cli/commands/validate")).validate,
  version: async () => (await import("./cli/commands/version")).version,
  xdp: async () => (await import("./cli/commands/xdp")).xdp,
};

async function allCommands(): Promise<Command[]> {
  return Promise.all(Object.keys(COMMANDS).sort().map((name) => findCommand(name)));
}

async function topHelp(): Promise<string> {
  const commands = await allCommands();
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

async function findCommand(name: string): Promise<Command> {
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) throw new UsageError(`unknown command "${name}"; run "fos1 --help" for the list`);
  const cmd = await load();
  if (cmd.name !== name) throw new Error(`internal: the command loaded for "${name}" calls itself "${cmd.name}"`);
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
    process.stderr.write(await topHelp());
    return EXIT_INVALID;
  }
  if (first === "--help" || first === "-h" || (first === "help" && rest.length === 0)) {
    out(await topHelp());
    return EXIT_OK;
  }
  if (first === "help") {
    out(commandHelp(await findCommand(rest[0]!)));
    return EXIT_OK;
  }
  if (first.startsWith("-")) throw new UsageError(`expected a command before "${first}"; run "fos1 --help"`);
  const cmd = await findCommand(first);
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
  // A promise, not a top-level await: the executable is compiled to bytecode, which needs a
  // module without one.
  void main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      log.error((err as Error).message);
      process.exitCode = exitCodeOf(err);
    },
  );
}
