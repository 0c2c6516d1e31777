// `fos1 flows`: the flows Hubble observed, with fos1's zone names, for the operator. Verdicts
// are filtered by Hubble; zones by fos1 (Hubble does not know them).
import type { Command, CommandContext } from "../command";
import { InvalidInputError, OperationError, UsageError } from "../../base/errors";
import { readConfig, requireValid } from "../config-input";
import { journalOf, stateDirOption } from "../state-dir";
import { parseDuration } from "../../base/duration";
import { observeLinks } from "../../engine/host-reader";
import { loadConfigText } from "../../api/load";
import { flowLine } from "../../flows/format";
import { flowsRequest, isVerdict, VERDICTS, type Verdict } from "../../flows/request";
import { DEFAULT_HUBBLE_SERVER, parseServer, ServerAddressError, type HubbleServer, type TlsFiles } from "../../flows/server";
import { summarizeFlow } from "../../flows/summary";
import { HOST_ZONE, UNKNOWN_ZONE, zoneMapFromConfig, type ZoneMap } from "../../flows/zones";
import type { GetFlowsResponse } from "../../flows/types";

const USAGE =
  "fos1 flows [--follow] [--zone Z] [--verdict V]... [--since 5m|TIME | --last N] [--server unix:///PATH | HOST:PORT] " +
  "[--tls] [--tls-ca FILE] [--tls-cert FILE --tls-key FILE] [--tls-server-name NAME] [-f CONFIG | --state-dir DIR] [-o json]";

export const flows: Command = {
  name: "flows",
  summary: "flows Hubble observed, with fos1 zones: [--follow] [--zone Z] [--verdict dropped|forwarded|…] [--server …]",
  usage: USAGE,
  printsState: true,
  options: {
    follow: { type: "boolean" },
    zone: { type: "string" },
    verdict: { type: "string", multiple: true },
    since: { type: "string" },
    last: { type: "string" },
    server: { type: "string" },
    tls: { type: "boolean" },
    "tls-ca": { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "tls-server-name": { type: "string" },
    file: { type: "string", short: "f" },
    ...stateDirOption,
  },
  async run(ctx) {
    const follow = ctx.values.follow === true;
    const verdicts = verdictsArg(ctx.values.verdict);
    const { since, last } = rangeArgs(ctx);
    const server = await serverArg(ctx);
    const zones = await zonesOf(ctx, server);
    const zone = zoneArg(ctx.values.zone, zones);

    const abort = new AbortController();
    const stop = () => abort.abort();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    const print = (r: GetFlowsResponse) => {
      if (r.lost_events) return ctx.log.warn(`Hubble lost ${r.lost_events.num_events_lost ?? "some"} flow events (${r.lost_events.source ?? "unknown source"})`);
      if (r.node_status) return ctx.log.warn(`Hubble Relay: ${r.node_status.state_change ?? "node status"} ${(r.node_status.node_names ?? []).join(", ")} ${r.node_status.message ?? ""}`.trim());
      if (!r.flow) return;
      const s = summarizeFlow(r.flow, zones);
      if (zone && s.source.zone !== zone && s.destination.zone !== zone) return;
      ctx.stdout(ctx.output === "json" ? JSON.stringify(s) + "\n" : flowLine(s) + "\n");
    };
    // gRPC and the Hubble schema load only now: other commands, and bad arguments, never pay for them.
    const { HubbleError, watchFlows } = await import("../../flows/client");
    try {
      await watchFlows({
        server,
        request: flowsRequest({ follow, verdicts, ...(since ? { since } : {}), ...(last !== undefined ? { last } : {}) }),
        signal: abort.signal,
        onResponse: print,
        onRetry: (err, ms) => ctx.log.warn(`${err.message}; retrying in ${ms} ms`),
      });
    } catch (err) {
      if (err instanceof HubbleError) throw new OperationError(err.message);
      throw err;
    } finally {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    }
    return 0;
  },
};

function verdictsArg(value: unknown): Verdict[] {
  const given = (Array.isArray(value) ? value : value === undefined ? [] : [value]).flatMap((v) => String(v).split(","));
  for (const v of given)
    if (!isVerdict(v.toLowerCase())) throw new InvalidInputError(`--verdict "${v}" is not a Hubble verdict; allowed: ${VERDICTS.join(", ")}`);
  return [...new Set(given.map((v) => v.toLowerCase() as Verdict))];
}

function rangeArgs(ctx: CommandContext): { since?: Date; last?: number } {
  const { since, last } = ctx.values;
  if (since !== undefined && last !== undefined) throw new UsageError(`--since and --last are alternatives; give one\nusage: ${USAGE}`);
  if (last !== undefined) {
    if (!/^\d+$/.test(String(last)) || Number(last) < 1) throw new InvalidInputError(`--last takes a number of flows (1 or more); got "${last}"`);
    return { last: Number(last) };
  }
  if (since === undefined) return {};
  const text = String(since);
  const ago = parseDuration(text);
  if (ago !== null) return { since: new Date(Date.now() - ago) };
  const at = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(text) ? new Date(text) : null;
  if (!at || Number.isNaN(at.getTime())) throw new InvalidInputError(`--since takes a duration (90s, 30m, 2h) or an RFC 3339 time (2025-03-14T09:00:00Z); got "${text}"`);
  return { since: at };
}

async function serverArg(ctx: CommandContext): Promise<HubbleServer> {
  const v = ctx.values;
  const read = async (option: string): Promise<Buffer | undefined> => {
    const path = v[option];
    if (path === undefined) return undefined;
    try {
      return Buffer.from(await Bun.file(String(path)).arrayBuffer());
    } catch (err) {
      throw new InvalidInputError(`--${option} ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const wantsTls = v.tls === true || ["tls-ca", "tls-cert", "tls-key", "tls-server-name"].some((o) => v[o] !== undefined);
  let tls: TlsFiles | undefined;
  if (wantsTls) {
    const [ca, cert, key] = await Promise.all([read("tls-ca"), read("tls-cert"), read("tls-key")]);
    tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(v["tls-server-name"] ? { serverName: String(v["tls-server-name"]) } : {}) };
  }
  try {
    return parseServer(String(v.server ?? DEFAULT_HUBBLE_SERVER), tls);
  } catch (err) {
    if (err instanceof ServerAddressError) throw new InvalidInputError(`--server: ${err.message}`);
    throw err;
  }
}

/**
 * The zones of the config given with -f, else of the config in force on this node (the state
 * dir's last-known-good). When Hubble is this node's own socket, the kernel's addresses of the
 * zones' interfaces count too (DHCP and delegated prefixes are in no config).
 */
async function zonesOf(ctx: CommandContext, server: HubbleServer): Promise<ZoneMap | undefined> {
  let objects;
  if (ctx.values.file !== undefined) {
    const input = await readConfig(ctx.values.file, USAGE);
    requireValid(input);
    objects = input.objects;
  } else {
    const lkg = journalOf(ctx).lastKnownGood();
    if (!lkg) {
      ctx.log.warn("no config applied on this node and none given with -f: zones are shown as unknown");
      return undefined;
    }
    objects = loadConfigText(lkg.text, "last-known-good.yaml").objects;
  }
  const host = server.unix ? await observeLinks().catch(() => []) : [];
  return zoneMapFromConfig(objects, host);
}

function zoneArg(value: unknown, zones: ZoneMap | undefined): string | undefined {
  if (value === undefined) return undefined;
  const zone = String(value);
  if (!zones) throw new InvalidInputError(`--zone ${zone}: no config to take zones from; apply one, or give it with -f FILE`);
  const known = [...zones.zones, HOST_ZONE, UNKNOWN_ZONE];
  if (!known.includes(zone)) throw new InvalidInputError(`--zone "${zone}" is not a zone of the config; zones: ${known.join(", ")}`);
  return zone;
}
