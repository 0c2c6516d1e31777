// `fos1 controller`'s engine: campaign for the Lease; while leading, run the NetworkController.
// Replicas that do not lead only campaign, so two replicas never write the same objects.
import type { Logger } from "../base/log";
import type { BackoffPolicy } from "../base/backoff";
import { observeAll, type ControllerObserver } from "./controller-observer";
import { KubeEventRecorder } from "./events";
import type { KubeApi } from "./kube-api";
import { LeaderElector } from "./leader-election";
import { Fos1NetworkController } from "./network-controller";
import { observeApiErrors } from "./observed-kube-api";
import type { Translator } from "./outcomes";

/**
 * Where `fos1 controller` serves /healthz, /readyz and /metrics unless --listen says otherwise:
 * every address of its pod, so that Prometheus can scrape it and the kubelet probe it. 9642,
 * next to the agent's 9641, is not registered for fos1.
 */
export const CONTROLLER_LISTEN = { host: "0.0.0.0", port: 9642 } as const;

export interface ControllerRunOptions {
  api: KubeApi;
  translate: Translator;
  log: Logger;
  /** The controller's namespace: its Lease and the namespaced objects it generates. */
  namespace: string;
  leaseName: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Give the Lease up when stopped (default true). */
  releaseOnStop?: boolean;
  informerBackoff?: BackoffPolicy;
  retry?: BackoffPolicy;
  /** Told what happens (metrics, readiness): leadership, reconciles, the queue, failed API requests. */
  observer?: ControllerObserver;
}

/** Runs until the signal aborts ("stopped") or leadership is lost ("lost": exit and let Kubernetes restart the pod). */
export async function runController(options: ControllerRunOptions, signal: AbortSignal): Promise<"stopped" | "lost"> {
  const log = options.log.with({ identity: options.identity });
  const observer = options.observer ?? observeAll();
  const api = observeApiErrors(options.api, (kind, reason) => observer.apiError(kind, reason));
  const elector = new LeaderElector(api, {
    namespace: options.namespace,
    name: options.leaseName,
    identity: options.identity,
    leaseDurationMs: options.leaseDurationMs,
    renewDeadlineMs: options.renewDeadlineMs,
    retryPeriodMs: options.retryPeriodMs,
    releaseOnStop: options.releaseOnStop,
    log,
    onLeadership: (state) => observer.leadership(state),
  });
  const lost = await elector.run(signal, (leading) =>
    new Fos1NetworkController({
      api,
      translate: options.translate,
      namespace: options.namespace,
      events: new KubeEventRecorder(api, options.identity, log),
      log,
      informerBackoff: options.informerBackoff,
      retry: options.retry,
      observer,
    }).run(leading),
  );
  return lost ? "lost" : "stopped";
}
