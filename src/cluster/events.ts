// Kubernetes Events (events.k8s.io/v1) about fos1's objects, so `kubectl describe` and
// `kubectl events` show what the controller did and why something failed. Recording an event
// never fails the reconcile that records it: a lost event is logged, not retried.
import type { Logger } from "../base/log";
import type { KubeApi, KubeObject } from "./kube-api";
import { EVENT } from "./resources";

export const REPORTING_CONTROLLER = "fos1.io/controller";

export type EventType = "Normal" | "Warning";

export interface EventRecorder {
  record(regarding: KubeObject, type: EventType, reason: string, note: string): Promise<void>;
}

export class KubeEventRecorder implements EventRecorder {
  constructor(
    private readonly api: KubeApi,
    /** Which controller replica reports (its leader-election identity). */
    private readonly instance: string,
    private readonly log: Logger,
  ) {}

  async record(regarding: KubeObject, type: EventType, reason: string, note: string): Promise<void> {
    const now = new Date();
    // Cluster-scoped objects' events go to "default", as client-go's recorder puts them.
    const namespace = regarding.metadata.namespace ?? "default";
    const event: KubeObject = {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: `${regarding.metadata.name}.${now.getTime().toString(16)}${Math.floor(Math.random() * 0xfff).toString(16)}`, namespace },
      eventTime: now.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z"),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.instance,
      action: "Reconcile",
      reason,
      // The API caps note at 1 kB.
      note: note.length > 1024 ? `${note.slice(0, 1021)}...` : note,
      type,
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        name: regarding.metadata.name,
        ...(regarding.metadata.namespace ? { namespace: regarding.metadata.namespace } : {}),
        uid: regarding.metadata.uid,
        resourceVersion: regarding.metadata.resourceVersion,
      },
    };
    try {
      await this.api.create(EVENT, event);
    } catch (err) {
      this.log.warn("could not record an event", { regarding: `${regarding.kind}/${regarding.metadata.name}`, reason, error: err });
    }
  }
}
