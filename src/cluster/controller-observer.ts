// What the controller tells the parts that report on it (metrics, readiness): how each reconcile
// ended, the work queue's depth, what the last translation wants of Cilium, leadership, informer
// restarts and failed API requests. The controller's parts only call these; the reporting parts
// never reach back into them.

/**
 * How a reconcile ended. `invalid` and `refused` are the whole-set translation's: the set was
 * invalid, or the translation refused part of it, so Cilium was left as it was (not an error of
 * the controller's; the objects' status says why).
 */
export type ReconcileOutcome = ReconcileConclusion | "error";
/** What a reconcile that did not fail concludes. */
export type ReconcileConclusion = "success" | "invalid" | "refused";
export const RECONCILE_OUTCOMES: readonly ReconcileOutcome[] = ["success", "error", "invalid", "refused"];

/** The work-queue key of the whole-set translation reports as this kind; objects' own keys as their fos1 kind. */
export const SYNC_KIND = "sync";

/**
 * `leader`: this instance holds the Lease. `standby`: the API server answered and another
 * instance holds it (`holder`, when known: a lost race to write the Lease does not say who won). `unknown`: the last attempt got no answer (or a failure) from the API server.
 * `stopped`: the instance no longer campaigns.
 */
export type Leadership = { state: "leader" } | { state: "standby"; holder?: string } | { state: "unknown"; error: string } | { state: "stopped" };

/** Why an informer started over: its watch history expired (410 Gone, listed again), or its list or watch failed. */
export type WatchRestartReason = "expired" | "failed";

export interface ControllerObserver {
  reconciled(kind: string, outcome: ReconcileOutcome, seconds: number): void;
  /** Keys waiting in the work queue (not those being reconciled or waiting out a retry delay). */
  queueDepth(keys: number): void;
  /** The Cilium objects, by kind, that the last translation applied wants; none while not leading. */
  translated(objectsByKind: ReadonlyMap<string, number>): void;
  leadership(state: Leadership): void;
  /** Every informer holds its first list (the leader can act on the caches), or, false, they stopped. */
  cachesSynced(synced: boolean): void;
  watchRestarted(resource: string, reason: WatchRestartReason): void;
  /** A request to the API server failed: the resource's kind and the Status reason (apiErrorReason). */
  apiError(kind: string, reason: string): void;
}

/** One observer passing every event on to each of observers (each may listen to only some), in order. */
export function observeAll(...observers: Partial<ControllerObserver>[]): ControllerObserver {
  return {
    reconciled: (kind, outcome, seconds) => observers.forEach((o) => o.reconciled?.(kind, outcome, seconds)),
    queueDepth: (keys) => observers.forEach((o) => o.queueDepth?.(keys)),
    translated: (objectsByKind) => observers.forEach((o) => o.translated?.(objectsByKind)),
    leadership: (state) => observers.forEach((o) => o.leadership?.(state)),
    cachesSynced: (synced) => observers.forEach((o) => o.cachesSynced?.(synced)),
    watchRestarted: (resource, reason) => observers.forEach((o) => o.watchRestarted?.(resource, reason)),
    apiError: (kind, reason) => observers.forEach((o) => o.apiError?.(kind, reason)),
  };
}
