// Where blocks are written. Each sink takes a batch at a time (the policy bounds its size and
// the runner its rate) and says which prefixes it could not write.
import type { Block } from "./policy";

export interface SinkResult {
  written: string[];
  failed: { prefix: string; error: string }[];
}

export interface BlockSink {
  /** The `sink` label of the metrics. */
  readonly name: string;
  /** Blocks this sink already holds from before (a restart): the policy treats them as made; evictable when the IDS made them. */
  existing(now: number): Promise<ExistingBlock[]>;
  add(blocks: Block[], now: number): Promise<SinkResult>;
  /** Takes evicted blocks off (only the IDS's own; a prefix it does not hold is no error). */
  remove(prefixes: string[], now: number): Promise<void>;
  /** Runs on every tick of the runner: a sink that enforces expiry itself removes what ran out, and retries what failed. */
  tick(now: number): Promise<void>;
}

export interface ExistingBlock {
  prefix: string;
  expiresAt: number;
  evictable: boolean;
}

export const failedAll = (blocks: Block[], error: string): SinkResult => ({ written: [], failed: blocks.map((b) => ({ prefix: b.prefix, error })) });
