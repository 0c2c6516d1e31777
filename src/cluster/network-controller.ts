// The seed's NetworkController: fos1's objects in the cluster → Cilium's resources, with status
// conditions and events on the fos1 objects.
//
// The translation is a function of the whole set (rules sharing selectors merge into one Cilium
// object, zones and rules refer to each other), so one work-queue key, SYNC, translates and
// converges everything; every other key is a fos1 object ("Kind/name") whose own chores — its
// finalizer and its status — are done separately, so that one object's conflict or failure is
// retried alone. Informers on fos1's kinds and on the Cilium objects fos1 made (by label) feed
// the queue; a Cilium object edited or deleted by someone else is put back by the next SYNC.
import type { Logger } from "../base/log";
import type { BackoffPolicy } from "../base/backoff";
import { FIELD_MANAGER, KubeCiliumClient, MANAGED_BY_LABEL, PURPOSE_LABEL, type ApplyReport, type CiliumClient, type Purpose } from "./cilium-client";
import { checkClusterObjects } from "./cluster-objects";
import { conditionsFor, sameConditions, type Condition, type Outcome } from "./conditions";
import { observeAll, SYNC_KIND, type ControllerObserver, type ReconcileConclusion, type WatchRestartReason } from "./controller-observer";
import type { EventRecorder } from "./events";
import { Informer } from "./informer";
import { refOf, type KubeApi, type KubeObject, type ResourceType } from "./kube-api";
import { blockedOutcomes, outcomesOf, type Translator } from "./outcomes";
import { managementNetworksOf } from "./management-networks";
import { FOS1_RESOURCES, GENERATED_RESOURCES, NODE } from "./resources";
import { ROLE_LABEL, ROUTER_ROLE } from "../cilium/translate/topology";
import { WorkQueue } from "./work-queue";

export interface NetworkController {
  /** Runs until the signal aborts. */
  run(signal: AbortSignal): Promise<void>;
}

/** Held by every fos1 object that has Cilium objects, until they are gone. */
export const FINALIZER = "fos1.io/cilium-cleanup";
/** The key of the whole-set translation (no fos1 object has a name with "@"). */
const SYNC = "@sync";

export interface NetworkControllerOptions {
  api: KubeApi;
  translate: Translator;
  /** The controller's namespace: where the namespaced objects it generates (IDS ConfigMaps) live. */
  namespace: string;
  events: EventRecorder;
  log: Logger;
  /** Informers' list/watch retries. */
  informerBackoff?: BackoffPolicy;
  /** Work-queue retries of failed keys. */
  retry?: BackoffPolicy;
  /** Told how reconciles end, the queue's depth, what is translated, cache syncs and informer restarts. */
  observer?: ControllerObserver;
}

const DEFAULT_INFORMER_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000 };
const DEFAULT_RETRY: BackoffPolicy = { initialMs: 200, maxMs: 60_000 };

export class Fos1NetworkController implements NetworkController {
  private readonly sources = new Map<string, Informer>();
  /** The objects fos1 generated (by label), by kind. */
  private readonly generated = new Map<string, Informer>();
  /** The router nodes, for the management networks their agents write on them. */
  private readonly routers: Informer;
  private readonly queue: WorkQueue;
  private readonly client: CiliumClient;
  /** The last SYNC's conclusion per fos1 object. */
  private outcomes = new Map<string, Outcome>();
  /** uids of deleted objects whose Cilium objects a SYNC has removed: their finalizer may go. */
  private readonly collected = new Set<string>();
  /** Per object, what of it a translation depends on (generation, labels, deletion): other changes (status) need no SYNC. */
  private readonly fingerprints = new Map<string, string>();
  private readonly observer: ControllerObserver;

  constructor(private readonly options: NetworkControllerOptions) {
    const observer = (this.observer = options.observer ?? observeAll());
    const backoff = options.informerBackoff ?? DEFAULT_INFORMER_BACKOFF;
    const informerOptions = (type: ResourceType) => ({ backoff, log: options.log, onRestart: (reason: WatchRestartReason) => observer.watchRestarted(type.plural, reason) });
    for (const type of FOS1_RESOURCES) this.sources.set(type.kind, new Informer(options.api, type, informerOptions(type)));
    for (const type of GENERATED_RESOURCES) {
      const selection = { labelSelector: `${MANAGED_BY_LABEL}=${FIELD_MANAGER}`, ...(type.namespaced ? { namespace: options.namespace } : {}) };
      this.generated.set(type.kind, new Informer(options.api, type, { ...informerOptions(type), selection }));
    }
    this.routers = new Informer(options.api, NODE, { ...informerOptions(NODE), selection: { labelSelector: `${ROLE_LABEL}=${ROUTER_ROLE}` } });
    this.client = new KubeCiliumClient(
      options.api,
      async (type, purpose) => (this.generated.get(type.kind)?.list() ?? []).filter((o) => o.metadata.labels?.[PURPOSE_LABEL] === purpose),
      options.log,
    );
    this.queue = new WorkQueue((key) => (key === SYNC ? this.sync() : this.reconcileObject(key)), {
      retry: options.retry ?? DEFAULT_RETRY,
      log: options.log,
      observer: { reconciled: (key, outcome, seconds) => observer.reconciled(kindOfKey(key), outcome, seconds), depth: (keys) => observer.queueDepth(keys) },
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    const log = this.options.log;
    for (const informer of this.sources.values()) informer.onChange((_change, o) => this.sourceChanged(o));
    for (const informer of this.generated.values()) informer.onChange(() => this.queue.add(SYNC));
    let managementSeen = "";
    this.routers.onChange(() => {
      const now = this.managementNetworks().join(",");
      if (now !== managementSeen) this.queue.add(SYNC);
      managementSeen = now;
    });
    const informers = [...this.sources.values(), ...this.generated.values(), this.routers];
    for (const i of informers) i.start();
    // GC must not run before the caches hold what exists, or it would see nothing to collect.
    await Promise.race([Promise.all(informers.map((i) => i.synced)), new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }))]);
    if (!signal.aborted) {
      log.info("caches synced; reconciling");
      this.observer.cachesSynced(true);
      this.queue.add(SYNC);
      this.queue.start();
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    }
    this.observer.cachesSynced(false);
    await this.queue.stop();
    await Promise.all(informers.map((i) => i.stop()));
  }

  private sourceChanged(o: KubeObject): void {
    const ref = refOf(o);
    this.queue.add(ref);
    const fingerprint = JSON.stringify([o.metadata.generation, o.metadata.labels, o.metadata.deletionTimestamp, o.metadata.uid]);
    const gone = !this.sources.get(o.kind)?.get(o.metadata.name);
    if (gone) this.fingerprints.delete(ref);
    else if (this.fingerprints.get(ref) === fingerprint) return;
    else this.fingerprints.set(ref, fingerprint);
    this.queue.add(SYNC);
  }

  /** Translates every live fos1 object and makes Cilium hold exactly the result. */
  private async sync(): Promise<ReconcileConclusion> {
    const all = [...this.sources.values()].flatMap((i) => i.list());
    const live = all.filter((o) => !o.metadata.deletionTimestamp);
    const deleting = all.filter((o) => o.metadata.deletionTimestamp && o.metadata.finalizers?.includes(FINALIZER));
    const generations = new Map(live.map((o) => [refOf(o), o.metadata.generation ?? 0]));
    const checked = checkClusterObjects(live);
    if (checked.problems.size) {
      // Like `fos1 apply`, an invalid set changes nothing. Said on the culprits and on the
      // objects Cilium holds something for (they carry the finalizer); node-local ones are the agent's.
      const concerned = new Map([...generations].filter(([ref]) => checked.problems.has(ref) || this.holdsFinalizer(ref)));
      const problems = new Map([...checked.problems].map(([ref, lines]) => [ref, lines.join("; ")]));
      this.options.log.warn("fos1 objects in the cluster are invalid; Cilium keeps what it had", { problems: Object.fromEntries(problems) });
      this.outcomes = blockedOutcomes(concerned, problems, { own: "Invalid", other: "OtherObjectInvalid" });
      this.requeueObjects(all);
      return "invalid";
    }
    const translation = this.options.translate(checked.objects, { managementNetworks: this.managementNetworks() });
    if (translation.refused.size) {
      // A partial translation could allow more than the config does: Cilium keeps what it had.
      this.options.log.warn("the translation refused objects; Cilium keeps what it had", { refused: Object.fromEntries(translation.refused) });
      const concerned = new Map([...generations].filter(([ref]) => translation.sources.has(ref)));
      this.outcomes = blockedOutcomes(concerned, translation.refused, { own: "Refused", other: "OtherObjectRefused" });
      this.requeueObjects(all);
      return "refused";
    }
    this.observer.translated(countByKind(translation.pieces.map((p) => p.object)));
    const byPurpose = (purpose: Purpose) => translation.pieces.filter((p) => p.purpose === purpose).map((p) => p.object);
    const reports: ApplyReport[] = [
      await this.client.applyNetworkPolicy(byPurpose("network-policy")),
      await this.client.createNAT(byPurpose("nat")),
      await this.client.configureVLANRouting(byPurpose("vlan-routing")),
      await this.client.configureDPIIntegration(byPurpose("dpi")),
    ];
    this.outcomes = outcomesOf(generations, translation, reports);
    const failed = reports.flatMap((r) => r.failed);
    if (!failed.length) for (const o of deleting) if (o.metadata.uid) this.collected.add(o.metadata.uid);
    this.requeueObjects(all);
    if (failed.length) throw new Error(`${failed.length} generated object(s) not applied: ${failed.map((f) => `${f.ref}: ${f.error}`).join("; ")}`);
    return "success";
  }

  private managementNetworks(): string[] {
    return managementNetworksOf(this.routers.list());
  }

  private holdsFinalizer(ref: string): boolean {
    const [kind = "", name = ""] = ref.split("/");
    return Boolean(this.sources.get(kind)?.get(name)?.metadata.finalizers?.includes(FINALIZER));
  }

  private requeueObjects(objects: KubeObject[]): void {
    for (const o of objects) this.queue.add(refOf(o));
  }

  /** One fos1 object's finalizer and status. */
  private async reconcileObject(ref: string): Promise<void> {
    const [kind = "", name = ""] = ref.split("/");
    const informer = this.sources.get(kind);
    const o = informer?.get(name);
    if (!informer || !o) return;
    const finalizers = o.metadata.finalizers ?? [];
    if (o.metadata.deletionTimestamp) {
      if (!finalizers.includes(FINALIZER)) return;
      if (!o.metadata.uid || !this.collected.has(o.metadata.uid)) {
        this.queue.add(SYNC); // the SYNC puts this key back when it has cleaned up
        return;
      }
      await this.options.api.replace(informer.type, { ...o, metadata: { ...o.metadata, finalizers: finalizers.filter((f) => f !== FINALIZER) } });
      this.collected.delete(o.metadata.uid);
      await this.options.events.record(o, "Normal", "CleanedUp", "its Cilium objects are deleted");
      return;
    }
    const outcome = this.outcomes.get(ref);
    const previous = (o.status as { conditions?: Condition[] } | undefined)?.conditions;
    if (!outcome) {
      // Not a source of anything in Cilium (or not yet translated). Conditions left from when
      // the set was invalid would be stale: only this controller writes them, so they go.
      if (previous?.length && this.outcomes.size) await this.options.api.patchStatus(informer.type, name, undefined, { conditions: null, placements: null });
      return;
    }
    const current = finalizers.includes(FINALIZER)
      ? o
      : await this.options.api.replace(informer.type, { ...o, metadata: { ...o.metadata, finalizers: [...finalizers, FINALIZER] } });
    const next = conditionsFor(outcome, previous, new Date());
    const placementsChanged = outcome.placements !== undefined && JSON.stringify(outcome.placements) !== JSON.stringify((o.status as { placements?: unknown } | undefined)?.placements);
    if (sameConditions(previous, next) && !placementsChanged) return;
    await this.options.api.patchStatus(informer.type, name, undefined, { conditions: next, ...(outcome.placements ? { placements: outcome.placements } : {}) });
    await this.recordTransition(current, previous, next);
  }

  /** An event when Ready changes, or its reason does: what a person running kubectl describe wants to see. */
  private async recordTransition(o: KubeObject, previous: Condition[] | undefined, next: Condition[]): Promise<void> {
    const was = previous?.find((c) => c.type === "Ready");
    const now = next.find((c) => c.type === "Ready");
    if (!now || (was && was.status === now.status && was.reason === now.reason)) return;
    if (now.status === "True") await this.options.events.record(o, "Normal", "Applied", now.message);
    else if (now.status === "False") await this.options.events.record(o, "Warning", now.reason, now.message);
  }
}

/** A work-queue key's kind, as reconciles are reported: "Kind/name" → Kind, the whole-set key → sync. */
function kindOfKey(key: string): string {
  return key === SYNC ? SYNC_KIND : (key.split("/")[0] ?? key);
}

function countByKind(objects: KubeObject[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const o of objects) counts.set(o.kind, (counts.get(o.kind) ?? 0) + 1);
  return counts;
}
