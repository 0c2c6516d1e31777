// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection: a
// candidate takes the Lease when it is free or its holder has not renewed it for
// leaseDuration — measured on this process's clock from when this candidate last saw the record
// change, so clocks of different nodes never need to agree — and the leader renews it every
// retryPeriod. Every write is a PUT with the resourceVersion read, so of two candidates only one
// wins (the other gets 409). A leader that cannot renew within renewDeadline stops leading.
import type { Logger } from "../base/log";
import { sleep } from "../base/sleep";
import type { Leadership } from "./controller-observer";
import { isConflict, type KubeApi, type KubeObject } from "./kube-api";
import { LEASE } from "./resources";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Empty the Lease when stopped (default true), so the next candidate need not wait it out. */
  releaseOnStop?: boolean;
  log: Logger;
  /**
   * Told the outcome of each campaign attempt until this candidate leads, then "stopped" when
   * leading ended (or the campaign was stopped). A leader's renewals are not told: one that
   * fails is not yet a lost leadership.
   */
  onLeadership?: (state: Leadership) => void;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

export class LeaderElector {
  private observed: { record: string; at: number } | undefined;
  private leading = false;

  constructor(
    private readonly api: KubeApi,
    private readonly options: LeaderElectionOptions,
  ) {
    if (!(options.leaseDurationMs > options.renewDeadlineMs && options.renewDeadlineMs > options.retryPeriodMs))
      throw new Error("leader election needs lease duration > renew deadline > retry period");
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until elected, then leads: `lead` runs with a signal that aborts when leadership
   * is lost or `signal` aborts. Resolves when leading ended; true if it ended because
   * leadership was lost (the caller should exit, as client-go's users do), false if stopped.
   * On a stop the Lease is released so that another candidate takes over at once.
   */
  async run(signal: AbortSignal, lead: (leading: AbortSignal) => Promise<void>): Promise<boolean> {
    const log = this.options.log.with({ lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity });
    const told = this.options.onLeadership ?? (() => {});
    while (!signal.aborted) {
      const attempt = await this.tryAcquireOrRenew(log);
      told(attempt);
      if (attempt.state === "leader") break;
      await sleep(jittered(this.options.retryPeriodMs), signal);
    }
    if (signal.aborted) {
      told({ state: "stopped" });
      return false;
    }
    this.leading = true;
    log.info("became leader");
    const leadership = new AbortController();
    const stopLeading = () => leadership.abort();
    signal.addEventListener("abort", stopLeading, { once: true });
    const work = lead(leadership.signal).catch((err: unknown) => {
      log.error("leader's work failed", { error: err });
      leadership.abort();
    });
    const lost = await this.renewWhile(leadership.signal, log);
    leadership.abort();
    signal.removeEventListener("abort", stopLeading);
    await work;
    this.leading = false;
    told({ state: "stopped" });
    if (lost) log.warn("lost leadership");
    else if (this.options.releaseOnStop !== false) await this.release(log);
    return lost;
  }

  /** Renews every retry period; true when the renew deadline passed without a successful renewal. */
  private async renewWhile(leading: AbortSignal, log: Logger): Promise<boolean> {
    let lastRenew = Date.now();
    while (!leading.aborted) {
      await sleep(this.options.retryPeriodMs, leading);
      if (leading.aborted) return false;
      if ((await this.tryAcquireOrRenew(log)).state === "leader") lastRenew = Date.now();
      else if (Date.now() - lastRenew > this.options.renewDeadlineMs) return true;
    }
    return false;
  }

  /** One attempt: whether this candidate holds the Lease afterwards, and if not, who does. */
  private async tryAcquireOrRenew(log: Logger): Promise<Exclude<Leadership, { state: "stopped" }>> {
    const { namespace, name, identity } = this.options;
    const now = new Date();
    try {
      const current = (await this.api.get(LEASE, name, namespace)) as Lease | undefined;
      if (!current) {
        await this.api.create(LEASE, { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace }, spec: this.spec(now, undefined) });
        return { state: "leader" };
      }
      const spec = current.spec ?? {};
      const record = JSON.stringify(spec);
      if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
      const heldByOther = Boolean(spec.holderIdentity) && spec.holderIdentity !== identity;
      const expired = this.observed.at + (spec.leaseDurationSeconds ?? 0) * 1000 <= Date.now();
      if (heldByOther && !expired) return { state: "standby", holder: spec.holderIdentity };
      await this.api.replace(LEASE, { ...current, spec: this.spec(now, spec) });
      return { state: "leader" };
    } catch (err) {
      // A conflict: another candidate wrote the Lease first.
      if (isConflict(err)) return { state: "standby" };
      log.warn("lease update failed", { error: err });
      return { state: "unknown", error: (err as Error).message };
    }
  }

  private spec(now: Date, previous: LeaseSpec | undefined): LeaseSpec {
    const identity = this.options.identity;
    const keeps = previous?.holderIdentity === identity;
    return {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      acquireTime: keeps && previous?.acquireTime ? previous.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (previous?.leaseTransitions ?? 0) + (previous && !keeps ? 1 : 0),
    };
  }

  /** Gives the Lease up (holder emptied, duration 1 s) so the next candidate need not wait it out. */
  private async release(log: Logger): Promise<void> {
    const { namespace, name, identity } = this.options;
    try {
      const current = (await this.api.get(LEASE, name, namespace)) as Lease | undefined;
      if (current?.spec?.holderIdentity !== identity) return;
      await this.api.replace(LEASE, { ...current, spec: { ...current.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: microTime(new Date()) } });
      log.info("released leadership");
    } catch (err) {
      log.warn("could not release the lease", { error: err });
    }
  }
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function jittered(ms: number): number {
  return Math.round(ms * (1 + Math.random() * 0.2));
}
