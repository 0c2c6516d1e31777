// The controller's Prometheus metrics (prom-client), named fos1_controller_…, in a registry of
// their own (what `fos1 controller` serves on /metrics). Fed by the ControllerObserver events;
// like the agent's, no prom-client default process metrics (several are wrong under Bun).
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { RECONCILE_OUTCOMES, SYNC_KIND, type ControllerObserver, type Leadership, type ReconcileOutcome, type WatchRestartReason } from "./controller-observer";
import { GENERATED_RESOURCES } from "./resources";

/** Listens to every event but cachesSynced (readiness's). */
export class ControllerMetrics implements Partial<ControllerObserver> {
  readonly registry = new Registry();
  private readonly reconciles: Counter<"kind" | "outcome">;
  private readonly duration: Histogram<"kind">;
  private readonly errors: Counter<"kind" | "reason">;
  private readonly depth: Gauge;
  private readonly objects: Gauge<"kind">;
  private readonly leader: Gauge;
  private readonly restarts: Counter<"resource" | "reason">;

  constructor() {
    const registers = [this.registry];
    this.reconciles = new Counter({
      name: "fos1_controller_reconciles_total",
      help: "Reconciles by kind (sync: the translation of the whole set applied to Cilium; a fos1 kind: one object's finalizer and status) and outcome (success, error, and for sync invalid or refused: Cilium left as it was).",
      labelNames: ["kind", "outcome"],
      registers,
    });
    for (const outcome of RECONCILE_OUTCOMES) this.reconciles.inc({ kind: SYNC_KIND, outcome }, 0);
    this.duration = new Histogram({
      name: "fos1_controller_reconcile_duration_seconds",
      help: "How long a reconcile took, by kind (sync or a fos1 kind), API requests included.",
      labelNames: ["kind"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.errors = new Counter({
      name: "fos1_controller_errors_total",
      help: "Failed requests to the Kubernetes API, by the resource's kind and the API's reason (Conflict, Forbidden, InternalError, …; NoResponse when no answer came).",
      labelNames: ["kind", "reason"],
      registers,
    });
    this.depth = new Gauge({ name: "fos1_controller_queue_depth", help: "Keys waiting in the work queue (0 while not leading).", registers });
    this.objects = new Gauge({
      name: "fos1_controller_translated_objects",
      help: "Cilium objects (and IDS ConfigMaps), by kind, that the last applied translation wants (0 while not leading).",
      labelNames: ["kind"],
      registers,
    });
    this.translated(new Map());
    this.leader = new Gauge({ name: "fos1_controller_leader", help: "1 while this instance holds the Lease and leads, else 0.", registers });
    this.restarts = new Counter({
      name: "fos1_controller_watch_restarts_total",
      help: "Informers starting over, by resource and reason: expired (the watch's history was gone, 410: listed again) or failed (a list or watch failed: retried with backoff).",
      labelNames: ["resource", "reason"],
      registers,
    });
  }

  reconciled(kind: string, outcome: ReconcileOutcome, seconds: number): void {
    this.reconciles.inc({ kind, outcome });
    this.duration.observe({ kind }, seconds);
  }

  queueDepth(keys: number): void {
    this.depth.set(keys);
  }

  translated(objectsByKind: ReadonlyMap<string, number>): void {
    for (const { kind } of GENERATED_RESOURCES) this.objects.set({ kind }, objectsByKind.get(kind) ?? 0);
  }

  leadership(state: Leadership): void {
    const leading = state.state === "leader";
    this.leader.set(leading ? 1 : 0);
    if (leading) return;
    // What a former leader wanted is no longer this instance's: summed over replicas, only the leader counts.
    this.translated(new Map());
    this.depth.set(0);
  }

  watchRestarted(resource: string, reason: WatchRestartReason): void {
    this.restarts.inc({ resource, reason });
  }

  apiError(kind: string, reason: string): void {
    this.errors.inc({ kind, reason });
  }

  /** The text exposition format, as /metrics serves it. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
