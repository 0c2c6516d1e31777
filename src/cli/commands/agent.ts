// `fos1 agent`: the long-running converger the Talos extension service starts at boot. It
// runs until SIGTERM or SIGINT and then exits 0 without touching the network: stopping the
// service must never take the router's links down. While it runs it answers /healthz, /readyz
// and /metrics on a local address and, under a service manager that sets NOTIFY_SOCKET, sends
// READY=1 once the boot converge has run.
import type { Command } from "../command";
import { UsageError } from "../../base/errors";
import { DEFAULT_STATE_DIR } from "../../base/state-dir";
import { parseIp } from "../../api/ip";
import { Agent } from "../../agent/agent";
import { HealthServer, type ListenAddress } from "../../agent/health-server";
import { AgentMetrics } from "../../agent/agent-metrics";
import { registerHostMetrics } from "../../agent/router-metrics/host-metrics";
import { registerDhcpClientMetrics } from "../../agent/router-metrics/dhcp-client-metrics";
import type { ScreenedRoutes } from "../../engine/dhcp";
import type { Logger } from "../../base/log";
import { observeAll } from "../../agent/observer";
import { Readiness } from "../../agent/readiness";
import { ReadyNotifier } from "../../agent/ready-notifier";
import { hostname } from "node:os";
import type { DesiredLan } from "../../engine/lan/model";
import { managementNetworks } from "../../policy/model";
import type { ClusterObjects } from "../../agent/agent";
import type { KubeApi } from "../../cluster/kube-api";
import { MACHINED_SOCKET } from "../../talos/target";
import { createFlowMetrics } from "../../flows/metrics";
import { DEFAULT_HUBBLE_SERVER, parseServer, type HubbleServer } from "../../flows/server";
import { zoneMapFromConfig, type ZoneMap } from "../../flows/zones";

/** The node's objects from the cluster, started and stopped with the agent. */
type NodeClusterSource = ClusterObjects & { start(): void; stop(): Promise<void> };

/** Where Talos mounts the agent's ExtensionServiceConfig file. */
export const DEFAULT_AGENT_CONFIG = "/usr/local/etc/fos1/config.yaml";
/**
 * Loopback only by default: the endpoints say which config runs and why one was refused,
 * which is for the node (and a scraper on it), not for every network the router touches.
 * 9641 sits in the 9xxx range exporters use; it is not registered for fos1, hence --listen.
 */
export const DEFAULT_LISTEN = "127.0.0.1:9641";

export const agent: Command = {
  name: "agent",
  summary: "boot-time host configuration service: converge, then watch the kernel and the config file; health and metrics endpoints",
  usage:
    `fos1 agent [-f FILE] [--state-dir DIR] [--debounce-ms N] [--listen ADDR:PORT] [--hubble SERVER|off] [--kubeconfig FILE | --cluster talos [--talos-socket PATH]] [--node NAME]\n` +
    `  FILE defaults to ${DEFAULT_AGENT_CONFIG}, ADDR:PORT to ${DEFAULT_LISTEN}, SERVER (flow metrics) to ${DEFAULT_HUBBLE_SERVER};\n` +
    "  with --kubeconfig or --cluster talos the node's objects in the cluster are merged over FILE (NAME defaults to the host name);\n" +
    `  --cluster talos: a token of the fos1-agent service account, minted with the kubeconfig machined (PATH, default ${MACHINED_SOCKET}) hands out on a control plane, renewed before it expires`,
  printsState: false,
  options: {
    file: { type: "string", short: "f" },
    "state-dir": { type: "string" },
    "debounce-ms": { type: "string" },
    listen: { type: "string" },
    hubble: { type: "string" },
    kubeconfig: { type: "string" },
    cluster: { type: "string" },
    "talos-socket": { type: "string" },
    node: { type: "string" },
  },
  async run(ctx) {
    const file = typeof ctx.values.file === "string" ? ctx.values.file : DEFAULT_AGENT_CONFIG;
    if (file === "-") throw new UsageError("the agent re-reads its config when it changes, so it needs a file, not standard input");
    const debounceMs = parseDebounce(ctx.values["debounce-ms"]);
    const listen = parseListen(String(ctx.values.listen ?? DEFAULT_LISTEN));
    const stateDir = String(ctx.values["state-dir"] ?? DEFAULT_STATE_DIR);
    const hubbleText = String(ctx.values.hubble ?? DEFAULT_HUBBLE_SERVER);
    const hubble = hubbleText === "off" ? null : parseHubble(hubbleText);
    const access = clusterAccess(ctx.values);
    let management: () => string[] = () => [];
    const cluster = access && (await clusterSource(access, String(ctx.values.node ?? hostname()), ctx.log, () => management()));

    // Installed before the first converge so a stop request during it is not lost.
    let stopRequested: (signal: string) => void = () => {};
    const stopped = new Promise<string>((resolve) => (stopRequested = resolve));
    const onSignal = (signal: NodeJS.Signals) => stopRequested(signal);
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);

    const readiness = new Readiness();
    let lanServing: () => DesiredLan | undefined = () => undefined;
    let dhcpRoutes: () => ReadonlyMap<string, ScreenedRoutes> = () => new Map();
    const metrics = agentMetrics(() => readiness.report().ready, stateDir, ctx.log, () => lanServing(), () => dhcpRoutes());
    const notifier = new ReadyNotifier(readiness, ctx.log);
    const health = new HealthServer(listen, { readiness: () => readiness.report(), metrics: () => metrics.render(), metricsContentType: metrics.contentType }, ctx.log);
    const a = new Agent({ configFile: file, stateDir, log: ctx.log, observer: observeAll(readiness, metrics, notifier), ...(debounceMs !== undefined ? { debounceMs } : {}), ...(cluster ? { cluster } : {}) });
    lanServing = () => a.lanServing();
    dhcpRoutes = () => a.dhcpRoutes();
    management = () => managementNetworks(a.configObjects()?.objects ?? []);
    // gRPC and the Kubernetes client load only when used: every other command starts without them.
    const flows = hubble && (await import("../../flows/feed")).startFlowFeed({ server: hubble, zones: zonesInForce(a), metrics: createFlowMetrics(metrics.registry), log: ctx.log });
    ctx.log.info("agent starting", { config: file, stateDir, pid: process.pid });
    try {
      // Listening before the boot converge: /readyz says what it is waiting for meanwhile.
      health.start();
      cluster?.start();
      const first = await Promise.race([a.start().then(() => "started" as const), stopped]);
      if (first === "started") {
        notifier.ready();
        const { ready, status } = readiness.report();
        ctx.log.info("boot converge done", { ready, status });
      }
      const signal = await stopped;
      ctx.log.info("stopping; the network is left as it is", { signal });
    } finally {
      readiness.stop();
      notifier.stopping();
      await a.stop();
      await Promise.all([flows?.stop(), cluster?.stop()]);
      await health.stop();
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
    return 0;
  },
};

/** What /metrics serves: the agent's own metrics and the router's, read from the kernel at each scrape. */
export function agentMetrics(
  isReady: () => boolean,
  stateDir: string,
  log: Logger,
  lan?: () => DesiredLan | undefined,
  dhcpRoutes: () => ReadonlyMap<string, ScreenedRoutes> = () => new Map(),
): AgentMetrics {
  const metrics = new AgentMetrics(isReady);
  registerHostMetrics(metrics.registry, { stateDir, log, ...(lan ? { lan } : {}) });
  registerDhcpClientMetrics(metrics.registry, dhcpRoutes);
  return metrics;
}

/** The zones of the config in force, for placing flows; rebuilt only when the config changes. */
function zonesInForce(agent: Agent): () => ZoneMap | undefined {
  let cached: { digest: string; zones: ZoneMap } | undefined;
  return () => {
    const config = agent.configObjects();
    if (!config) return undefined;
    if (cached?.digest !== config.digest) cached = { digest: config.digest, zones: zoneMapFromConfig(config.objects) };
    return cached.zones;
  };
}

function parseHubble(text: string): HubbleServer {
  try {
    return parseServer(text);
  } catch (err) {
    throw new UsageError(`--hubble: ${(err as Error).message}; or off`);
  }
}

/** How the agent reaches the cluster: a kubeconfig file, or a token minted through machined. */
type ClusterAccess = { kind: "kubeconfig"; file: string } | { kind: "talos"; socket: string };

function clusterAccess(values: Record<string, unknown>): ClusterAccess | undefined {
  const text = (name: string) => (values[name] === undefined ? undefined : String(values[name]));
  const [kubeconfig, mode, socket] = [text("kubeconfig"), text("cluster"), text("talos-socket")];
  if (mode !== undefined && mode !== "talos") throw new UsageError(`--cluster takes talos (a token through machined on this node), not "${mode}"; for a kubeconfig file give --kubeconfig FILE`);
  if (mode !== undefined && kubeconfig !== undefined) throw new UsageError("--cluster talos and --kubeconfig FILE are two ways to reach the cluster: give one");
  if (socket !== undefined && mode === undefined) throw new UsageError("--talos-socket is machined's socket for --cluster talos: it needs --cluster talos");
  if (socket !== undefined && !socket.startsWith("/")) throw new UsageError(`--talos-socket takes an absolute path (machined's is ${MACHINED_SOCKET}); got "${socket}"`);
  if (values.node !== undefined && kubeconfig === undefined && mode === undefined) throw new UsageError("--node names this node in the cluster: it needs --kubeconfig FILE or --cluster talos");
  if (mode !== undefined) return { kind: "talos", socket: socket ?? MACHINED_SOCKET };
  return kubeconfig === undefined ? undefined : { kind: "kubeconfig", file: kubeconfig };
}

async function clusterSource(access: ClusterAccess, node: string, log: Logger, managementNetworks: () => string[]): Promise<NodeClusterSource> {
  const [{ ClientNodeKubeApi, loadKubeConfig }, { ClusterSource }] = await Promise.all([import("../../cluster/kube-client"), import("../../cluster/node-source")]);
  const source = (api: KubeApi) => new ClusterSource({ api, node, log, managementNetworks });
  if (access.kind === "kubeconfig") {
    try {
      return source(new ClientNodeKubeApi(loadKubeConfig({ kubeconfig: access.file })));
    } catch (err) {
      throw new UsageError(`--kubeconfig ${access.file}: ${(err as Error).message}`);
    }
  }
  const [{ AgentCredential }, { CredentialedClusterSource }, { TalosClient }] = await Promise.all([
    import("../../cluster/agent-credential"),
    import("../../cluster/credentialed-source"),
    import("../../talos/client"),
  ]);
  const adminKubeconfig = async () => {
    const talos = new TalosClient({ kind: "socket", path: access.socket });
    try {
      return await talos.kubeconfig();
    } finally {
      talos.close();
    }
  };
  return new CredentialedClusterSource(new AgentCredential({ adminKubeconfig, log }), source);
}

function parseDebounce(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !/^\d+$/.test(v) || n > 60_000) throw new UsageError(`--debounce-ms must be a whole number of milliseconds from 0 to 60000, not "${String(v)}"`);
  return n;
}

/** "127.0.0.1:9641", "[::1]:9641" or "0.0.0.0:9641": an IP literal and a port (0: any free port). */
export function parseListen(text: string): ListenAddress {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  const host = m?.[1];
  const port = Number(m?.[2]);
  if (!m || !host || port > 65535)
    throw new UsageError(`--listen must be ADDRESS:PORT with an IP address and a port from 0 to 65535 (IPv6 in brackets: [::1]:9641), not "${text}"`);
  const ip = parseIp(host);
  if (!ip) throw new UsageError(`--listen "${text}": "${host}" is not an IP address (a host name is not accepted: the agent may run before name resolution works)`);
  if (m[0].startsWith("[") !== (ip.family === 6)) throw new UsageError(`--listen "${text}": write an IPv6 address in brackets ([${host}]:${m[2]}) and an IPv4 one without`);
  return { host, port };
}
