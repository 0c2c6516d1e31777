// Which alerts become blocks, and when: pure state, no I/O, time passed in.
//
//   - severity: an alert blocks when its severity is at or above the threshold — Suricata's 1 is
//     the highest, so "at or above 2" is severity 1 or 2;
//   - the allowlist wins over everything (allowlist.ts);
//   - one block per source: a source already blocked (until its TTL runs out) or waiting to be
//     blocked is a duplicate, however many alerts it raises;
//   - bounded: at most maxPending sources wait for the next write, and at most maxBlocks are
//     blocked at once (waiting included); an alert beyond either bound is counted and dropped,
//     so an alert storm costs a fixed amount of memory however many sources it comes from;
//   - batched: the runner takes at most a batch of waiting sources per write (takeBatch), which
//     bounds the rate of writes to the kernel and the cluster.
// A block's TTL starts when it is taken for writing, not when the alert came.
import { bits, formatPrefix } from "../api/ip";
import type { Allowlist } from "./allowlist";
import type { EveAlert } from "./eve";

export const SKIP_REASONS = ["below_severity", "allowlisted", "duplicate", "pending_full", "blocks_full"] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export type Decision = { verdict: "queued"; prefix: string } | { verdict: SkipReason; prefix: string; why?: string };

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
  /** Sources waiting for the next write. */
  maxPending: number;
  /** Sources blocked at once, waiting ones included. */
  maxBlocks: number;
}

export class BlockPolicy {
  /** Blocked prefixes → when they expire (epoch ms). */
  private readonly active = new Map<string, number>();
  /** Waiting prefixes, oldest first (a Map keeps insertion order). */
  private readonly pending = new Map<string, Omit<Block, "expiresAt">>();
  private allowlist: Allowlist;

  constructor(private readonly options: PolicyOptions) {
    this.allowlist = options.allowlist;
  }

  /** The config changed (management networks, the router's addresses). */
  setAllowlist(allowlist: Allowlist): void {
    this.allowlist = allowlist;
  }

  /** Blocks made before this process started (the XDP dynamic records): duplicates until they expire. */
  remember(prefix: string, expiresAt: number): void {
    this.active.set(prefix, expiresAt);
  }

  consider(alert: EveAlert, now: number): Decision {
    const prefix = formatPrefix({ family: alert.family, addr: alert.addr, len: bits(alert.family) });
    if (alert.severity > this.options.severity) return { verdict: "below_severity", prefix };
    const why = this.allowlist.reasonFor(alert);
    if (why) return { verdict: "allowlisted", prefix, why };
    const until = this.active.get(prefix);
    if (until !== undefined && until > now) return { verdict: "duplicate", prefix };
    if (until !== undefined) this.active.delete(prefix);
    if (this.pending.has(prefix)) return { verdict: "duplicate", prefix };
    if (this.pending.size >= this.options.maxPending) return { verdict: "pending_full", prefix };
    if (this.active.size + this.pending.size >= this.options.maxBlocks) return { verdict: "blocks_full", prefix };
    this.pending.set(prefix, { prefix, source: `ids:${alert.signatureId}`, signature: alert.signature, severity: alert.severity });
    return { verdict: "queued", prefix };
  }

  /** Up to max waiting sources, oldest first, now blocked until now + TTL. */
  takeBatch(max: number, now: number): Block[] {
    const out: Block[] = [];
    for (const [prefix, p] of this.pending) {
      if (out.length >= max) break;
      this.pending.delete(prefix);
      const block = { ...p, expiresAt: now + this.options.ttlMs };
      this.active.set(prefix, block.expiresAt);
      out.push(block);
    }
    return out;
  }

  /** A block no sink could write: the source may be blocked by its next alert. */
  forget(prefix: string): void {
    this.active.delete(prefix);
  }

  /** Blocks whose TTL ran out, no longer remembered. */
  expire(now: number): string[] {
    const gone: string[] = [];
    for (const [prefix, until] of this.active)
      if (until <= now) {
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
}
