// `fos1 controller`: the cluster controller (a Deployment of 2 replicas, deploy/): campaigns for
// a Lease and, while leading, turns fos1's objects into Cilium's resources with status
// conditions and events. It runs until SIGTERM/SIGINT (exit 0, the Lease released), or exits 1
// when it loses leadership, so that Kubernetes restarts it as a fresh candidate. Every replica
// answers /healthz, /readyz and /metrics on --listen, leader or not.
import { hostname } from "node:os";
import type { Command } from "../command";
import { UsageError } from "../../base/errors";
import { parseListen } from "./agent";
import { parseDuration } from "../../base/duration";
import { HealthServer, hostPort } from "../../agent/health-server";
import { observeAll } from "../../cluster/controller-observer";
import { ControllerMetrics } from "../../cluster/controller-metrics";
import { ControllerReadiness } from "../../cluster/controller-readiness";
import { ClientNodeKubeApi, loadKubeConfig } from "../../cluster/kube-client";
import { CONTROLLER_LISTEN, runController } from "../../cluster/run-controller";
import { ciliumTranslator } from "../../cluster/cilium-translator";

/** client-go's defaults for leader election. */
const DEFAULTS = { leaseDuration: "15s", renewDeadline: "10s", retryPeriod: "2s" };
export const DEFAULT_NAMESPACE = "fos1-system";
export const DEFAULT_LEASE = "fos1-controller";
const DEFAULT_LISTEN = hostPort(CONTROLLER_LISTEN);

export const controller: Command = {
  name: "controller",
  summary: "cluster controller: fos1's objects (CRDs) to Cilium resources, with status conditions, events and leader election",
  usage:
    "fos1 controller [--kubeconfig FILE] [--context NAME] [--namespace NS] [--lease-name NAME] [--identity ID] " +
    `[--lease-duration 15s] [--renew-deadline 10s] [--retry-period 2s] [--listen ADDR:PORT]   (in a pod: the service account; NS defaults to $POD_NAMESPACE, else fos1-system; ID to $POD_NAME, else the host name; ADDR:PORT to ${DEFAULT_LISTEN}, where /healthz, /readyz and /metrics answer)`,
  printsState: false,
  options: {
    kubeconfig: { type: "string" },
    context: { type: "string" },
    namespace: { type: "string", short: "n" },
    "lease-name": { type: "string" },
    identity: { type: "string" },
    "lease-duration": { type: "string" },
    "renew-deadline": { type: "string" },
    "retry-period": { type: "string" },
    listen: { type: "string" },
  },
  async run(ctx) {
    const text = (name: string) => (typeof ctx.values[name] === "string" ? (ctx.values[name] as string) : undefined);
    const duration = (name: keyof typeof DEFAULTS, flag: string) => {
      const value = text(flag) ?? DEFAULTS[name];
      const ms = parseDuration(value);
      if (ms === null) throw new UsageError(`--${flag} "${value}" is not a duration: give seconds, or a number with s, m or h (e.g. ${DEFAULTS[name]})`);
      return ms;
    };
    const leaseDurationMs = duration("leaseDuration", "lease-duration");
    const renewDeadlineMs = duration("renewDeadline", "renew-deadline");
    const retryPeriodMs = duration("retryPeriod", "retry-period");
    if (!(leaseDurationMs > renewDeadlineMs && renewDeadlineMs > retryPeriodMs))
      throw new UsageError("leader election needs --lease-duration > --renew-deadline > --retry-period");
    const listen = parseListen(text("listen") ?? DEFAULT_LISTEN);
    const namespace = text("namespace") ?? process.env.POD_NAMESPACE ?? DEFAULT_NAMESPACE;
    const identity = text("identity") ?? process.env.POD_NAME ?? `${hostname()}-${process.pid}`;
    const kc = loadKubeConfig({ kubeconfig: text("kubeconfig"), context: text("context") });
    const api = new ClientNodeKubeApi(kc);

    const stop = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      ctx.log.info("stopping", { signal });
      stop.abort();
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    const metrics = new ControllerMetrics();
    const readiness = new ControllerReadiness();
    const health = new HealthServer(listen, { readiness: () => readiness.report(), metrics: () => metrics.render(), metricsContentType: metrics.contentType }, ctx.log);
    ctx.log.info("controller starting", { server: api.server, namespace, lease: text("lease-name") ?? DEFAULT_LEASE, identity });
    health.start();
    try {
      const end = await runController(
        {
          api,
          translate: ciliumTranslator(namespace),
          log: ctx.log,
          namespace,
          leaseName: text("lease-name") ?? DEFAULT_LEASE,
          identity,
          leaseDurationMs,
          renewDeadlineMs,
          retryPeriodMs,
          observer: observeAll(metrics, readiness),
        },
        stop.signal,
      );
      if (end === "lost") {
        ctx.log.error("lost leadership; exiting so that a fresh replica campaigns");
        return 1;
      }
      return 0;
    } finally {
      await health.stop();
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
  },
};
