// `fos1 talos version|services|apply-config|logs`: the Talos API of the node (machined's socket)
// or of a cluster (apid with a talosconfig), for what an operator of a fos1 router asks Talos.
import type { Command, CommandContext } from "../command";
import { InvalidInputError, OperationError, UsageError } from "../../base/errors";
import { printResult, table } from "../output";
import { ApplyRequestError, applyRequest, machineConfigProblems } from "../../talos/apply-request";
import { ConnectFlagError, NoTalosApiError, resolveTarget, type ConnectFlags } from "../../talos/connect";
import { EndpointError, type TalosTarget } from "../../talos/target";
import { TalosconfigError } from "../../talos/talosconfig";
import type { NodeResult, TalosClient } from "../../talos/client";
import type { ApplyConfigurationMessage, ServiceInfo, ServiceListMessage, Timestamp, VersionMessage } from "../../talos/types";

const CONNECT = "[--talosconfig FILE] [--context NAME] [-e ENDPOINT] [-n NODE,…] | [--socket PATH]";
const USAGE = [
  `fos1 talos version ${CONNECT} [-o json]`,
  `       fos1 talos services ${CONNECT} [-o json]`,
  `       fos1 talos apply-config -f FILE [--mode auto|no-reboot|reboot|staged|try] [--try 90s] [--dry-run] ${CONNECT} [-o json]`,
  `       fos1 talos logs SERVICE [--follow] [--tail N] ${CONNECT}`,
  "",
  "Without --talosconfig, the talosconfig is $TALOSCONFIG or ~/.talos/config; without one, the node's",
  "machined socket (/system/run/machined/machine.sock) when fos1 runs on a Talos node.",
].join("\n");

const SUBCOMMAND_FLAGS: Record<string, string[]> = {
  version: [],
  services: [],
  "apply-config": ["file", "mode", "try", "dry-run"],
  logs: ["follow", "tail"],
};

export const talos: Command = {
  name: "talos",
  summary: "the Talos API: version, services, apply-config -f FILE [--try 90s], logs SERVICE [--follow]",
  usage: USAGE,
  printsState: true,
  options: {
    talosconfig: { type: "string" },
    context: { type: "string" },
    endpoint: { type: "string", short: "e" },
    nodes: { type: "string", short: "n" },
    socket: { type: "string" },
    file: { type: "string", short: "f" },
    mode: { type: "string" },
    try: { type: "string" },
    "dry-run": { type: "boolean" },
    follow: { type: "boolean" },
    tail: { type: "string" },
  },
  maxPositionals: 2,
  async run(ctx) {
    const [sub, service] = ctx.positionals;
    checkArguments(ctx, sub, service);
    // Everything the request needs is checked before connecting: bad input never reaches Talos.
    const prepared = sub === "apply-config" ? await prepareApply(ctx) : undefined;
    const tail = sub === "logs" ? tailArg(ctx.values.tail) : undefined;
    const target = await targetOf(ctx);
    // gRPC and the Talos schema load only now: other commands, and bad arguments, never pay for them.
    const { TalosClient } = await import("../../talos/client");
    const { TalosApiError } = await import("../../talos/errors");
    const client = new TalosClient(target);
    try {
      switch (sub) {
        case "version":
          return printVersions(ctx, await client.version());
        case "services":
          return printServices(ctx, await client.serviceList());
        case "apply-config":
          return printApplied(ctx, prepared!, await client.applyConfiguration(prepared!.request));
        default:
          return await streamLogs(ctx, client, target, service!, tail!);
      }
    } catch (err) {
      if (err instanceof TalosApiError) throw err.invalidInput ? new InvalidInputError(err.message) : new OperationError(err.message);
      throw err;
    } finally {
      client.close();
    }
  },
};

function checkArguments(ctx: CommandContext, sub: string | undefined, service: string | undefined) {
  if (sub === undefined || !(sub in SUBCOMMAND_FLAGS)) throw new UsageError(`${sub === undefined ? "a subcommand is needed" : `unknown subcommand "${sub}"`}\nusage: ${USAGE}`);
  if (sub === "logs" && service === undefined) throw new UsageError(`fos1 talos logs needs the service's id (e.g. ext-fos1-agent, apid, machined)\nusage: ${USAGE}`);
  if (sub !== "logs" && service !== undefined) throw new UsageError(`fos1 talos ${sub} takes no argument; got "${service}"\nusage: ${USAGE}`);
  for (const [other, flags] of Object.entries(SUBCOMMAND_FLAGS))
    for (const flag of flags)
      if (other !== sub && ctx.values[flag] !== undefined) throw new UsageError(`--${flag} goes with fos1 talos ${other}, not ${sub}\nusage: ${USAGE}`);
  if (sub === "logs" && ctx.output === "json") throw new UsageError(`fos1 talos logs prints the log as Talos keeps it; -o json is for version, services and apply-config`);
}

async function targetOf(ctx: CommandContext): Promise<TalosTarget> {
  const flag = (name: string) => (ctx.values[name] === undefined ? undefined : String(ctx.values[name]));
  const flags: ConnectFlags = {};
  for (const name of ["talosconfig", "context", "endpoint", "nodes", "socket"] as const) {
    const value = flag(name);
    if (value !== undefined) flags[name] = value;
  }
  try {
    return await resolveTarget(flags);
  } catch (err) {
    if (err instanceof TalosconfigError || err instanceof EndpointError || err instanceof ConnectFlagError) throw new InvalidInputError(err.message);
    if (err instanceof NoTalosApiError) throw new OperationError(err.message);
    throw err;
  }
}

interface PreparedApply {
  file: string;
  request: ReturnType<typeof applyRequest>;
}

async function prepareApply(ctx: CommandContext): Promise<PreparedApply> {
  const file = ctx.values.file;
  if (typeof file !== "string") throw new UsageError(`fos1 talos apply-config needs -f FILE, the machine config (-f - for standard input)\nusage: ${USAGE}`);
  let bytes: Uint8Array;
  try {
    bytes = file === "-" ? await Bun.stdin.bytes() : await Bun.file(file).bytes();
  } catch (err) {
    throw new InvalidInputError(`cannot read machine config ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  const name = file === "-" ? "<stdin>" : file;
  const problems = machineConfigProblems(new TextDecoder().decode(bytes), name);
  if (problems.length) throw new InvalidInputError(`${name}: not sent to Talos:\n${problems.join("\n")}`);
  try {
    const request = applyRequest(bytes, {
      dryRun: ctx.values["dry-run"] === true,
      ...(ctx.values.mode !== undefined ? { mode: String(ctx.values.mode) } : {}),
      ...(ctx.values.try !== undefined ? { tryTimeout: String(ctx.values.try) } : {}),
    });
    return { file: name, request };
  } catch (err) {
    if (err instanceof ApplyRequestError) throw new InvalidInputError(err.message);
    throw err;
  }
}

function tailArg(value: unknown): number {
  if (value === undefined) return -1;
  if (!/^\d+$/.test(String(value))) throw new InvalidInputError(`--tail takes a number of lines (0 or more); got "${value}"`);
  return Number(value);
}

/** Reports the nodes apid could not get an answer from; the exit code is 1 when there are any. */
function reportFailures(ctx: CommandContext, results: NodeResult<unknown>[]): number {
  const failed = results.filter((r) => r.error !== undefined);
  for (const f of failed) ctx.log.error(`node ${f.node}: ${f.error}`);
  return failed.length ? 1 : 0;
}

function printVersions(ctx: CommandContext, results: NodeResult<VersionMessage>[]): number {
  const nodes = results.map((r) =>
    r.reply
      ? {
          node: r.node,
          tag: r.reply.version?.tag ?? "",
          sha: r.reply.version?.sha ?? "",
          built: r.reply.version?.built ?? "",
          goVersion: r.reply.version?.go_version ?? "",
          os: r.reply.version?.os ?? "",
          arch: r.reply.version?.arch ?? "",
          platform: r.reply.platform?.name ?? "",
          platformMode: r.reply.platform?.mode ?? "",
          rbac: r.reply.features?.rbac ?? false,
        }
      : { node: r.node, error: r.error },
  );
  printResult(ctx, { nodes }, () => {
    const ok = nodes.filter((n) => !("error" in n)) as Exclude<(typeof nodes)[number], { error: unknown }>[];
    return ok.length ? table(["NODE", "TALOS", "SHA", "OS/ARCH", "PLATFORM", "GO"], ok.map((n) => [n.node, n.tag, n.sha, `${n.os}/${n.arch}`, [n.platform, n.platformMode].filter(Boolean).join(" "), n.goVersion])) : "";
  });
  return reportFailures(ctx, results);
}

function printServices(ctx: CommandContext, results: NodeResult<ServiceListMessage>[]): number {
  const rows = results.flatMap((r) => (r.reply ? r.reply.services.map((s) => ({ node: r.node, ...serviceRow(s) })) : []));
  const json = results.map((r) => (r.reply ? { node: r.node, services: r.reply.services.map(serviceRow) } : { node: r.node, error: r.error }));
  printResult(ctx, { nodes: json }, () =>
    rows.length ? table(["NODE", "SERVICE", "STATE", "HEALTH", "LAST CHANGE", "LAST EVENT"], rows.map((s) => [s.node, s.id, s.state, s.health, s.lastChange ?? "-", s.lastEvent ?? "-"])) : "",
  );
  return reportFailures(ctx, results);
}

function serviceRow(s: ServiceInfo) {
  const h = s.health;
  const health = !h || h.unknown ? "?" : h.healthy ? "OK" : `FAIL${h.last_message ? `: ${h.last_message}` : ""}`;
  const last = s.events?.events.at(-1);
  return { id: s.id, state: s.state, health, lastChange: iso(h?.last_change), lastEvent: last?.msg || undefined };
}

function iso(t: Timestamp | null | undefined): string | undefined {
  if (!t || (Number(t.seconds) === 0 && !t.nanos)) return undefined;
  return new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)).toISOString();
}

function printApplied(ctx: CommandContext, prepared: PreparedApply, results: NodeResult<ApplyConfigurationMessage>[]): number {
  const { request } = prepared;
  const trySeconds = request.try_mode_timeout ? Number(request.try_mode_timeout.seconds) : undefined;
  const nodes = results.map((r) => (r.reply ? { node: r.node, mode: r.reply.mode, modeDetails: r.reply.mode_details, warnings: r.reply.warnings } : { node: r.node, error: r.error }));
  printResult(ctx, { file: prepared.file, requestedMode: request.mode, dryRun: request.dry_run, ...(trySeconds !== undefined ? { tryTimeoutSeconds: trySeconds } : {}), nodes }, () =>
    results
      .filter((r) => r.reply)
      .map((r) => {
        const m = r.reply!;
        const head = `${r.node}: ${request.dry_run ? "dry run, nothing applied" : "applied"} (mode ${m.mode})${m.mode_details ? `: ${m.mode_details}` : ""}`;
        const warnings = m.warnings.map((w) => `${r.node}: warning: ${w}`);
        const revert =
          m.mode === "TRY" && !request.dry_run
            ? [`${r.node}: Talos reverts this config after ${trySeconds}s unless it is applied again in another mode (fos1 talos apply-config -f ${prepared.file})`]
            : [];
        return [head, ...warnings, ...revert].join("\n") + "\n";
      })
      .join(""),
  );
  return reportFailures(ctx, results);
}

async function streamLogs(ctx: CommandContext, client: TalosClient, target: TalosTarget, service: string, tail: number): Promise<number> {
  const follow = ctx.values.follow === true;
  // With several nodes each line says whose it is, as talosctl does; a chunk may end mid-line.
  const prefixed = target.kind === "apid" && target.nodes.length > 1;
  const partial = new Map<string, string>();
  const decoders = new Map<string, TextDecoder>();
  const onChunk = (node: string, bytes: Uint8Array) => {
    const decoder = decoders.get(node) ?? decoders.set(node, new TextDecoder()).get(node)!;
    const text = decoder.decode(bytes, { stream: true });
    if (!prefixed) return ctx.stdout(text);
    const lines = ((partial.get(node) ?? "") + text).split("\n");
    partial.set(node, lines.pop()!);
    if (lines.length) ctx.stdout(lines.map((l) => `${node}: ${l}\n`).join(""));
  };
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const failed = await client.logs({ namespace: "system", id: service, driver: "CONTAINERD", follow, tail_lines: tail }, onChunk, abort.signal);
    for (const [node, rest] of partial) if (rest) ctx.stdout(`${node}: ${rest}\n`);
    return reportFailures(ctx, failed);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
