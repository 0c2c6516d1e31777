// Whether a controller instance is ready, and why not: what its /readyz answers. Pure: fed the
// ControllerObserver's leadership and cache events.
//
// The leader is ready once its informers hold their first lists (before that it would act on
// empty caches). A standby is ready once the API server has answered its campaign: it is what
// it should be, a candidate that can take over. Were standbys never ready, a rolling update of
// the Deployment (new pods must be ready before old ones go) would never finish.
import type { ControllerObserver, Leadership } from "./controller-observer";

export interface ControllerReadinessReport {
  ready: boolean;
  /** One line for people. */
  status: string;
  /** "starting" until the first campaign attempt ended. */
  leadership: Leadership["state"] | "starting";
  /** Who leads, when a standby knows. */
  leader?: string;
  cachesSynced: boolean;
}

export class ControllerReadiness implements Partial<ControllerObserver> {
  private state: Leadership | undefined;
  private synced = false;

  leadership(state: Leadership): void {
    this.state = state;
    if (state.state !== "leader") this.synced = false;
  }

  cachesSynced(synced: boolean): void {
    this.synced = synced;
  }

  report(): ControllerReadinessReport {
    const s = this.state;
    const base = { leadership: s?.state ?? ("starting" as const), cachesSynced: this.synced };
    switch (s?.state) {
      case undefined:
        return { ...base, ready: false, status: "starting: campaigning for the Lease, no answer from the API server yet" };
      case "unknown":
        return { ...base, ready: false, status: `cannot campaign for the Lease: ${s.error}` };
      case "stopped":
        return { ...base, ready: false, status: "stopped" };
      case "standby":
        return { ...base, ready: true, status: s.holder ? `standby: ${s.holder} leads` : "standby: another instance leads", ...(s.holder ? { leader: s.holder } : {}) };
      case "leader":
        return this.synced
          ? { ...base, ready: true, status: "leading; caches synced" }
          : { ...base, ready: false, status: "leading; waiting for the informers' first lists" };
    }
  }
}
