// How fast new blocks may be made: at most `perAggregate` per /24 (IPv4) or /48 (IPv6) and at
// most `total` in all, per window. Forged alerts can name any number of sources; without a rate
// a storm of them would fill the blocklist (and evict real attackers) in a second. With it, a
// storm makes at most `total` blocks a window, and one network at most `perAggregate`.
// Fixed windows: the counts start again at each window, so memory holds at most `total`
// aggregates (one is only counted when it gets a block). Pure; time passed in.
import type { Family } from "../api/ip";

export interface RateLimits {
  windowMs: number;
  /** New blocks per /24 or /48 per window. */
  perAggregate: number;
  /** New blocks in all per window. */
  total: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = { windowMs: 60_000, perAggregate: 8, total: 256 };

/** The /24 or /48 a source belongs to, as a map key. */
export const aggregateOf = (ip: { family: Family; addr: bigint }): string => (ip.family === 4 ? `4:${ip.addr >> 8n}` : `6:${ip.addr >> 80n}`);

export type RateVerdict = "ok" | "rate_aggregate" | "rate_total";

export class BlockRate {
  private windowStart = Number.NEGATIVE_INFINITY;
  private total = 0;
  private readonly perAggregate = new Map<string, number>();

  constructor(private readonly limits: RateLimits) {}

  /** Whether one more block for this aggregate fits now; counts nothing. */
  check(aggregate: string, now: number): RateVerdict {
    this.roll(now);
    if (this.total >= this.limits.total) return "rate_total";
    if ((this.perAggregate.get(aggregate) ?? 0) >= this.limits.perAggregate) return "rate_aggregate";
    return "ok";
  }

  /** Counts one block (after check said ok). */
  take(aggregate: string, now: number): void {
    this.roll(now);
    this.total++;
    this.perAggregate.set(aggregate, (this.perAggregate.get(aggregate) ?? 0) + 1);
  }

  /** Aggregates counted in this window (bounded by `total`). */
  get aggregates(): number {
    return this.perAggregate.size;
  }

  private roll(now: number): void {
    if (now - this.windowStart < this.limits.windowMs) return;
    this.windowStart = now;
    this.total = 0;
    this.perAggregate.clear();
  }
}
