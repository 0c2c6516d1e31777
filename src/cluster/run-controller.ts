// `fos1 controller`'s engine: campaign for the Lease; while leading, run the NetworkController.
// Replicas that do not lead only campaign, so two replicas never write the same objects.
import type { Logger } from "../observe/log";
import type { BackoffPolicy } from "./backoff";
import { KubeEventRecorder } from "./events";
import type { KubeApi } from "./kube-api";
import { LeaderElector } from "./leader-election";
import { Fos1NetworkController } from "./network-controller";
import type { Translator } from "./outcomes";

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
}

/** Runs until the signal aborts ("stopped") or leadership is lost ("lost": exit and let Kubernetes restart the pod). */
export async function runController(options: ControllerRunOptions, signal: AbortSignal): Promise<"stopped" | "lost"> {
  const log = options.log.with({ identity: options.identity });
  const elector = new LeaderElector(options.api, {
    namespace: options.namespace,
    name: options.leaseName,
    identity: options.identity,
    leaseDurationMs: options.leaseDurationMs,
    renewDeadlineMs: options.renewDeadlineMs,
    retryPeriodMs: options.retryPeriodMs,
    releaseOnStop: options.releaseOnStop,
    log,
  });
  const lost = await elector.run(signal, (leading) =>
    new Fos1NetworkController({
      api: options.api,
      translate: options.translate,
      namespace: options.namespace,
      events: new KubeEventRecorder(options.api, options.identity, log),
      log,
      informerBackoff: options.informerBackoff,
      retry: options.retry,
    }).run(leading),
  );
  return lost ? "lost" : "stopped";
}
