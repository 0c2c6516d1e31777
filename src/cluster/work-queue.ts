// The controllers' work queue, after client-go's: a key is queued at most once however often it
// is added (events coalesce), never processed by two workers at once (added while processing,
// it runs once more afterwards), and a failed key comes back after a per-key exponential delay
// that resets once it succeeds.
import type { Logger } from "../base/log";
import { backoffDelay, type BackoffPolicy } from "../base/backoff";
import type { ReconcileConclusion, ReconcileOutcome } from "./controller-observer";

/** Resolves with what it concluded (nothing: success); a rejection is a failure, retried. */
export type Reconcile = (key: string) => Promise<ReconcileConclusion | void>;

export interface QueueObserver {
  reconciled(key: string, outcome: ReconcileOutcome, seconds: number): void;
  /** Keys waiting, told whenever it changes. */
  depth(keys: number): void;
}

export interface WorkQueueOptions {
  retry: BackoffPolicy;
  workers?: number;
  log: Logger;
  observer?: QueueObserver;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  /** Added while processing: queued again when processing ends. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, Timer>();
  private readonly idleWorkers: (() => void)[] = [];
  private stopped = false;
  private workers: Promise<void>[] = [];

  constructor(
    private readonly reconcile: Reconcile,
    private readonly options: WorkQueueOptions,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.options.observer?.depth(this.queue.length);
    this.idleWorkers.shift()?.();
  }

  /** Adds the key after a delay (a later add() brings it forward). */
  addAfter(key: string, ms: number): void {
    if (this.stopped || this.timers.has(key)) return;
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.add(key);
      }, ms),
    );
  }

  /** Consecutive failures of a key (0 once it succeeded). */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  start(): void {
    this.workers = Array.from({ length: this.options.workers ?? 1 }, () => this.work());
  }

  /** Stops taking keys (those waiting are dropped) and waits for the reconciles in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.queue.splice(0);
    this.queued.clear();
    this.options.observer?.depth(0);
    for (const wake of this.idleWorkers.splice(0)) wake();
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      const key = this.queue.shift();
      if (key === undefined) {
        await new Promise<void>((resolve) => this.idleWorkers.push(resolve));
        continue;
      }
      this.queued.delete(key);
      this.processing.add(key);
      this.options.observer?.depth(this.queue.length);
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        const outcome = (await this.reconcile(key)) ?? "success";
        this.options.observer?.reconciled(key, outcome, seconds());
        this.failures.delete(key);
      } catch (err) {
        this.options.observer?.reconciled(key, "error", seconds());
        const attempt = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, attempt);
        const delay = backoffDelay(attempt, this.options.retry);
        this.options.log.warn("reconcile failed; retrying", { key, attempt, retryInMs: delay, error: err });
        this.addAfter(key, delay);
      } finally {
        this.processing.delete(key);
        if (this.dirty.delete(key)) this.add(key);
      }
    }
  }
}
