// `fos1 ids run`: Suricata's EVE alerts → time-limited blocks (XDP dynamic blocks, and with
// --cluster a Cilium deny policy), in the foreground until SIGTERM/SIGINT.
// `fos1 ids rules`: the DPIProfiles' Suricata rules as the node's rules file.
import { writeFileAtomic } from "../../base/atomic-file";
import { Registry } from "prom-client";
import type { Command, CommandContext } from "../command";
import { InvalidInputError, OperationError, UsageError } from "../../base/errors";
import { printResult } from "../output";
import { readConfig, requireValid } from "../config-input";
import { journalOf, stateDirOption } from "../state-dir";
import { parseListen } from "./agent";
import { parseDuration } from "../../base/duration";
import { loadedFilters } from "../../engine/xdp/admin";
import { desiredXdp } from "../../engine/xdp/model";
import { DEFAULT_STATE_DIR } from "../../base/state-dir";
import { loadConfigText, type LoadedObject } from "../../api/load";
import type { ConfigObject } from "../../api/kinds";
import { FIELD_MANAGER, KubeCiliumClient, MANAGED_BY_LABEL, PURPOSE_LABEL } from "../../cluster/cilium-client";
import { ClientNodeKubeApi, loadKubeConfig } from "../../cluster/kube-client";
import type { Logger } from "../../base/log";
import { buildAllowlist, operatorAllowlist, type AllowEntry } from "../../ids/allowlist";
import { CiliumSink, DEFAULT_CLUSTER_MAX_BLOCKS } from "../../ids/cilium-sink";
import { DEFAULT_BLOCK_ON, parseBlockOn } from "../../ids/category";
import { EveFile } from "../../ids/eve-file";
import { clusterNodeAddresses, DEFAULT_LEASE_DIR, hostFactsReader } from "../../ids/host-facts";
import { DEFAULT_RATE_LIMITS } from "../../ids/rate-limit";
import { EveStreamSocket } from "../../ids/eve-socket";
import { createIdsMetrics } from "../../ids/metrics";
import { BlockPolicy } from "../../ids/policy";
import { dpiRulesFile } from "../../ids/rules";
import { startIds } from "../../ids/runner";
import type { BlockSink } from "../../ids/sink";
import { parseEveAddress, type EveSource } from "../../ids/source";
import { XdpSink } from "../../ids/xdp-sink";

const USAGE =
  "fos1 ids run --eve PATH|unix:PATH [--severity 2] [--ttl 1h] [--block-on tcp-established] [--allow CIDR]... [-f CONFIG | --state-dir DIR] [--lease-dir /var/lib/dhcpcd] [--no-xdp] " +
  "[--cluster [--kubeconfig FILE] [--context NAME] [--cluster-max-blocks 1000]] [--max-blocks 16384] [--rate-per-network 8] [--rate-total 256] [--listen ADDR:PORT]\n" +
  "       fos1 ids rules -f CONFIG [--out FILE] [-o json]";

const DEFAULT_SEVERITY = 2;
const DEFAULT_TTL = "1h";
const DEFAULT_MAX_BLOCKS = 16_384;
const MAX_PENDING = 4096;
/** Addresses, leases and routes change with DHCP and the agent: the allowlist is read again this often. */
const ALLOWLIST_REFRESH_MS = 10_000;

export const ids: Command = {
  name: "ids",
  summary: "IDS: run (Suricata EVE alerts → time-limited XDP and Cilium blocks), rules (DPIProfiles → Suricata rules file)",
  usage: USAGE,
  printsState: true,
  maxPositionals: 1,
  options: {
    eve: { type: "string" },
    severity: { type: "string" },
    ttl: { type: "string" },
    allow: { type: "string", multiple: true },
    file: { type: "string", short: "f" },
    ...stateDirOption,
    "no-xdp": { type: "boolean" },
    cluster: { type: "boolean" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
    "cluster-max-blocks": { type: "string" },
    "max-blocks": { type: "string" },
    "block-on": { type: "string" },
    "lease-dir": { type: "string" },
    "rate-per-network": { type: "string" },
    "rate-total": { type: "string" },
    listen: { type: "string" },
    out: { type: "string" },
  },
  async run(ctx) {
    const [sub] = ctx.positionals;
    if (sub === "run") return run(ctx);
    if (sub === "rules") return rules(ctx);
    throw new UsageError(`${sub === undefined ? "a subcommand is needed" : `unknown subcommand "${sub}"`}\nusage: ${USAGE}`);
  },
};

const RUN_ONLY = ["eve", "severity", "ttl", "allow", "state-dir", "no-xdp", "cluster", "kubeconfig", "context", "cluster-max-blocks", "max-blocks", "block-on", "lease-dir", "rate-per-network", "rate-total", "listen"];

function onlyFor(ctx: CommandContext, sub: string, names: string[]): void {
  const wrong = Object.keys(ctx.values).filter((k) => ctx.values[k] !== undefined && names.includes(k));
  if (wrong.length) throw new UsageError(`--${wrong[0]} does not go with fos1 ids ${sub}\nusage: ${USAGE}`);
}

function count(ctx: CommandContext, name: string, fallback: number, max: number): number {
  const v = ctx.values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(String(v)) || n < 1 || n > max) throw new InvalidInputError(`--${name} takes a whole number from 1 to ${max}; got "${v}"`);
  return n;
}

async function run(ctx: CommandContext): Promise<number> {
  onlyFor(ctx, "run", ["out"]);
  const v = ctx.values;
  if (typeof v.eve !== "string") throw new UsageError(`--eve PATH or --eve unix:PATH is required\nusage: ${USAGE}`);
  let source: EveSource;
  try {
    const address = parseEveAddress(v.eve);
    source = address.kind === "file" ? new EveFile(address.path) : new EveStreamSocket(address.path);
  } catch (err) {
    throw new InvalidInputError((err as Error).message);
  }
  const severity = count(ctx, "severity", DEFAULT_SEVERITY, 255);
  const ttlText = String(v.ttl ?? DEFAULT_TTL);
  const ttlMs = parseDuration(ttlText);
  if (ttlMs === null || ttlMs <= 0) throw new InvalidInputError(`--ttl takes a duration like 90s, 30m or 1h; got "${ttlText}"`);
  let operator: AllowEntry[];
  try {
    operator = operatorAllowlist((v.allow as string[] | undefined) ?? []);
  } catch (err) {
    throw new InvalidInputError((err as Error).message);
  }
  const listen = v.listen === undefined ? undefined : parseListen(String(v.listen));
  const maxBlocks = count(ctx, "max-blocks", DEFAULT_MAX_BLOCKS, 65_536);
  const rate = { ...DEFAULT_RATE_LIMITS, perAggregate: count(ctx, "rate-per-network", DEFAULT_RATE_LIMITS.perAggregate, 65_536), total: count(ctx, "rate-total", DEFAULT_RATE_LIMITS.total, 65_536) };
  let blockOn = DEFAULT_BLOCK_ON;
  try {
    if (v["block-on"] !== undefined) blockOn = parseBlockOn(String(v["block-on"]));
  } catch (err) {
    throw new InvalidInputError((err as Error).message);
  }
  const objects = await configObjects(ctx);

  const stateDir = String(v["state-dir"] ?? DEFAULT_STATE_DIR);
  const sinks: BlockSink[] = [];
  if (v["no-xdp"] !== true) {
    if (!loadedFilters().length) ctx.log.warn("no XDP filter is loaded on this host: blocks cannot be written to XDP until one is (configure an XDPFilter and apply it)");
    sinks.push(new XdpSink(stateDir, desiredXdp(objects)));
  }
  let nodes: (() => Promise<string[]>) | undefined;
  if (v.cluster === true || v.kubeconfig !== undefined || v.context !== undefined) {
    const cluster = clusterSink(ctx, ctx.log);
    sinks.push(cluster.sink);
    nodes = () => clusterNodeAddresses(cluster.api);
  } else if (v["cluster-max-blocks"] !== undefined) throw new UsageError(`--cluster-max-blocks goes with --cluster\nusage: ${USAGE}`);
  if (!sinks.length) throw new UsageError(`with --no-xdp, --cluster is needed: blocks must go somewhere\nusage: ${USAGE}`);

  const facts = hostFactsReader({ leaseDir: String(v["lease-dir"] ?? DEFAULT_LEASE_DIR), ...(nodes ? { nodes } : {}), log: ctx.log });
  const allowlist = async () => buildAllowlist(objects, await facts.read(), operator);
  const first = await allowlist();
  if (!first.entries.some((e) => e.class === "management"))
    ctx.log.warn("the config has no management zone with known networks: only the router's own addresses, its gateways, next hops and resolvers, and --allow are never blocked");

  const registry = new Registry();
  const metrics = createIdsMetrics(registry, sinks.map((s) => s.name));
  const policy = new BlockPolicy({ severity, ttlMs, allowlist: first, blockOn, rate, maxPending: MAX_PENDING, maxBlocks });
  const handle = startIds({ source, policy, sinks, metrics, log: ctx.log, refreshAllowlist: { read: allowlist, everyMs: ALLOWLIST_REFRESH_MS } });
  const server = listen && serveMetrics(listen.host, listen.port, registry, ctx.log);
  const stop = (signal: NodeJS.Signals) => {
    ctx.log.info("stopping", { signal });
    void handle.stop();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  ctx.log.info("IDS reader started", { eve: source.address, severity: `1–${severity}`, ttl: ttlText, blockOn, rate: `${rate.perAggregate} per /24 or /48, ${rate.total} in all, per minute`, sinks: sinks.map((s) => s.name), allowlisted: first.counts() });
  try {
    await handle.done;
  } catch (err) {
    throw new OperationError((err as Error).message);
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    await server?.stop(true);
  }
  return 0;
}

/** The config of -f, else the node's last-known-good: the management networks must be known. */
async function configObjects(ctx: CommandContext): Promise<LoadedObject<ConfigObject>[]> {
  if (ctx.values.file !== undefined) {
    const input = await readConfig(ctx.values.file, USAGE);
    requireValid(input);
    return input.objects;
  }
  const lkg = journalOf(ctx).lastKnownGood();
  if (!lkg) throw new InvalidInputError("no config has been applied on this node: give the config with -f FILE, so that its management networks are never blocked");
  return loadConfigText(lkg.text, "last-known-good.yaml").objects;
}

function clusterSink(ctx: CommandContext, log: Logger): { sink: CiliumSink; api: ClientNodeKubeApi } {
  const text = (name: string) => (typeof ctx.values[name] === "string" ? (ctx.values[name] as string) : undefined);
  const maxBlocks = count(ctx, "cluster-max-blocks", DEFAULT_CLUSTER_MAX_BLOCKS, 10_000);
  let api: ClientNodeKubeApi;
  try {
    api = new ClientNodeKubeApi(loadKubeConfig({ kubeconfig: text("kubeconfig"), context: text("context") }));
  } catch (err) {
    throw new InvalidInputError(`--cluster: ${(err as Error).message}`);
  }
  const client = new KubeCiliumClient(api, async (type, purpose) => (await api.list(type, { labelSelector: `${MANAGED_BY_LABEL}=${FIELD_MANAGER},${PURPOSE_LABEL}=${purpose}` })).items, log);
  return { sink: new CiliumSink(client, api, log, maxBlocks), api };
}

/** /metrics (and /healthz) of the reader, read-only. */
function serveMetrics(hostname: string, port: number, registry: Registry, log: Logger) {
  const server = Bun.serve({
    hostname,
    port,
    fetch: async (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/metrics") return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
      if (path === "/healthz") return Response.json({ status: "ok" });
      return Response.json({ error: `no such endpoint ${path}`, endpoints: ["/healthz", "/metrics"] }, { status: 404 });
    },
  });
  log.info("metrics endpoint listening", { url: server.url.href });
  return server;
}

async function rules(ctx: CommandContext): Promise<number> {
  onlyFor(ctx, "rules", RUN_ONLY);
  const input = await readConfig(ctx.values.file, USAGE);
  requireValid(input);
  const file = dpiRulesFile(input.objects);
  if (file.clashes.length)
    throw new InvalidInputError(`${input.file}: the rules cannot be loaded together, nothing was written:\n${file.clashes.join("\n")}\n(a rule's sid derives from its profile's name and text: renaming one of the profiles moves its sids)`);
  for (const p of file.profiles) for (const note of p.notes) ctx.log.warn(note, { profile: `DPIProfile/${p.name}` });
  const out = ctx.values.out === undefined ? undefined : String(ctx.values.out);
  if (out !== undefined) {
    // Suricata may reload its rules at any moment: it must never read half a file.
    try {
      writeFileAtomic(out, file.text);
    } catch (err) {
      throw new InvalidInputError(`--out ${out}: cannot write it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  const total = file.profiles.reduce((n, p) => n + p.rules, 0);
  if (out === undefined && ctx.output === "text") ctx.stdout(file.text);
  else
    printResult(ctx, { ...(out ? { out } : { rules: file.text }), profiles: file.profiles }, () =>
      `Wrote ${total} Suricata rule${total === 1 ? "" : "s"} from ${file.profiles.length} DPIProfile${file.profiles.length === 1 ? "" : "s"} to ${out}.\n`,
    );
  return 0;
}
