// Exponential backoff with jitter, for everything that retries the API server: informers after
// a failed list or watch, the work queue after a failed reconcile, leader election.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/** The delay before retry number `attempt` (1 = the first retry): doubling, capped, ±20% jitter so retries spread. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** Counts consecutive failures; reset() after a success. */
export class Backoff {
  private attempt = 0;

  constructor(private readonly policy: BackoffPolicy) {}

  next(): number {
    this.attempt += 1;
    return backoffDelay(this.attempt, this.policy);
  }

  reset(): void {
    this.attempt = 0;
  }
}
