// Which alerts become blocks, and when: pure state, no I/O, time passed in. In this order:
//   - severity: an alert blocks when its severity is at or above the threshold — Suricata's 1 is
//     the highest, so "at or above 2" is severity 1 or 2;
//   - the allowlist wins over everything after it (allowlist.ts);
//   - the alert's category (category.ts): only those in blockOn block. By default that is
//     tcp-established, the one whose source cannot be forged;
//   - one block per source: a source already blocked (until its TTL runs out) or waiting to be
//     blocked is a duplicate, however many alerts it raises;
//   - the rate of new blocks, per /24 or /48 and in all (rate-limit.ts);
//   - bounded: at most maxPending sources wait for the next write, and at most maxBlocks are
//     blocked at once (waiting included). At maxBlocks the oldest of the IDS's own blocks is
//     evicted to make room (the runner takes it off the sinks: evictions()), so a storm that
//     filled the list cannot keep a real attacker from being blocked. Blocks the IDS did not
//     make (the operator's, found at start) are never evicted; when only those are left the
//     alert is dropped (blocks_full). An alert beyond either bound is counted and dropped, so a
//     storm costs a fixed amount of memory however many sources it comes from;
//   - batched: the runner takes at most a batch of waiting sources per write (takeBatch), which
//     bounds the rate of writes to the kernel and the cluster.
// A block's TTL starts when it is taken for writing, not when the alert came.
import { bits, formatPrefix } from "../api/ip";
import type { AllowClass, Allowlist } from "./allowlist";
import type { AlertCategory } from "./category";
import type { EveAlert } from "./eve";
import { aggregateOf, BlockRate, type RateLimits } from "./rate-limit";

export const SKIP_REASONS = ["below_severity", "allowlisted", "category", "duplicate", "rate_aggregate", "rate_total", "pending_full", "blocks_full"] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export type Decision =
  | { verdict: "queued"; prefix: string; evicted?: string }
  | { verdict: "allowlisted"; prefix: string; class: AllowClass; why: string }
  | { verdict: Exclude<SkipReason, "allowlisted">; prefix: string };

export interface Block {
  /** The source's host prefix (/32 or /128), canonical. */
  prefix: string;
  /** Epoch ms. */
  expiresAt: number;
  /** Where the block comes from, for people: "ids:<signature id>". */
  source: string;
  signature: string;
  severity: number;
}

export interface PolicyOptions {
  /** Alerts of this severity or a higher one (a lower number) block: 1–255. */
  severity: number;
  ttlMs: number;
  allowlist: Allowlist;
  /** The alert categories that block. */
  blockOn: readonly AlertCategory[];
  rate: RateLimits;
  /** Sources waiting for the next write. */
  maxPending: number;
  /** Sources blocked at once, waiting ones included. */
  maxBlocks: number;
}

interface Active {
  expiresAt: number;
  /** Made by the IDS (this run or an earlier one): it may be evicted. */
  evictable: boolean;
}

export class BlockPolicy {
  /** Blocked prefixes, oldest first (a Map keeps insertion order). */
  private readonly active = new Map<string, Active>();
  /** Waiting prefixes, oldest first. */
  private readonly pending = new Map<string, Omit<Block, "expiresAt">>();
  /** Evicted prefixes the sinks still hold; at most one per queued block, so bounded by maxPending. */
  private readonly evicted: string[] = [];
  private readonly rate: BlockRate;
  private readonly blockOn: ReadonlySet<AlertCategory>;
  private allowlist: Allowlist;

  constructor(private readonly options: PolicyOptions) {
    this.allowlist = options.allowlist;
    this.rate = new BlockRate(options.rate);
    this.blockOn = new Set(options.blockOn);
  }

  /** The host or the config changed (addresses, leases, routes, the cluster's nodes). */
  setAllowlist(allowlist: Allowlist): void {
    this.allowlist = allowlist;
  }

  get currentAllowlist(): Allowlist {
    return this.allowlist;
  }

  /** Blocks made before this process started: duplicates until they expire; the IDS's own may be evicted. */
  remember(prefix: string, expiresAt: number, evictable: boolean): void {
    const had = this.active.get(prefix);
    this.active.set(prefix, { expiresAt: Math.max(expiresAt, had?.expiresAt ?? 0), evictable: evictable && (had?.evictable ?? true) });
  }

  consider(alert: EveAlert, now: number): Decision {
    const prefix = formatPrefix({ family: alert.family, addr: alert.addr, len: bits(alert.family) });
    if (alert.severity > this.options.severity) return { verdict: "below_severity", prefix };
    const allowed = this.allowlist.reasonFor(alert);
    if (allowed) return { verdict: "allowlisted", prefix, ...allowed };
    if (!this.blockOn.has(alert.category)) return { verdict: "category", prefix };
    const had = this.active.get(prefix);
    if (had !== undefined && had.expiresAt > now) return { verdict: "duplicate", prefix };
    if (had !== undefined) this.active.delete(prefix);
    if (this.pending.has(prefix)) return { verdict: "duplicate", prefix };
    const aggregate = aggregateOf(alert);
    const rate = this.rate.check(aggregate, now);
    if (rate !== "ok") return { verdict: rate, prefix };
    if (this.pending.size >= this.options.maxPending) return { verdict: "pending_full", prefix };
    let evicted: string | undefined;
    if (this.active.size + this.pending.size >= this.options.maxBlocks) {
      evicted = this.evictOldest();
      if (evicted === undefined) return { verdict: "blocks_full", prefix };
    }
    this.rate.take(aggregate, now);
    this.pending.set(prefix, { prefix, source: `ids:${alert.signatureId}`, signature: alert.signature, severity: alert.severity });
    return evicted === undefined ? { verdict: "queued", prefix } : { verdict: "queued", prefix, evicted };
  }

  /** Up to max waiting sources, oldest first, now blocked until now + TTL. */
  takeBatch(max: number, now: number): Block[] {
    const out: Block[] = [];
    for (const [prefix, p] of this.pending) {
      if (out.length >= max) break;
      this.pending.delete(prefix);
      const block = { ...p, expiresAt: now + this.options.ttlMs };
      this.active.set(prefix, { expiresAt: block.expiresAt, evictable: true });
      out.push(block);
    }
    return out;
  }

  /** Evicted blocks to take off the sinks; each is handed out once. */
  takeEvictions(): string[] {
    return this.evicted.splice(0);
  }

  /** A block no sink could write: the source may be blocked by its next alert. */
  forget(prefix: string): void {
    this.active.delete(prefix);
  }

  /** Blocks whose TTL ran out, no longer remembered. */
  expire(now: number): string[] {
    const gone: string[] = [];
    for (const [prefix, a] of this.active)
      if (a.expiresAt <= now) {
        this.active.delete(prefix);
        gone.push(prefix);
      }
    return gone;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Networks counted by the rate limit in this window. */
  get rateAggregates(): number {
    return this.rate.aggregates;
  }

  private evictOldest(): string | undefined {
    for (const [prefix, a] of this.active)
      if (a.evictable) {
        this.active.delete(prefix);
        this.evicted.push(prefix);
        return prefix;
      }
    return undefined;
  }
}
