// Blocks into the XDP filters' blocklists as dynamic entries with a TTL — the same call as
// `fos1 xdp block CIDR --ttl` (src/engine/xdp/admin.ts), so `fos1 xdp list` shows them with their
// expiry and `fos1 agent` removes them when it comes: the reader leaves expiry to the agent,
// which already does it for every dynamic block.
//
// A batch is one map write per filter (blockDynamicEntries: the maps opened and the lookup index
// rebuilt once, not per prefix — per prefix, a batch of 256 cost seconds and hundreds of MB).
// `fos1 xdp list` shows IDS blocks as "dynamic" like any other; the batch bound of the runner
// keeps the number of writes per second bounded.
// The record of each block says it is the IDS's (origin "ids"): eviction (remove) takes only
// those off — never a block an operator set by hand — and never from a filter whose config
// blocks the prefix itself.
import { blockDynamicEntries, dynamicEntry, evictIdsBlocks } from "../engine/xdp/admin";
import { isExpired, readDynamic } from "../engine/xdp/dynamic";
import type { DesiredXdp } from "../engine/xdp/model";
import type { Block } from "./policy";
import { failedAll, type BlockSink, type ExistingBlock, type SinkResult } from "./sink";

export class XdpSink implements BlockSink {
  readonly name = "xdp";

  constructor(
    private readonly stateDir: string,
    /** The config's filters: their static blocklists are never taken off. */
    private readonly desired: DesiredXdp | undefined,
  ) {}

  async existing(now: number): Promise<ExistingBlock[]> {
    return readDynamic(this.stateDir)
      .filter((e) => !isExpired(e, now))
      .map((e) => ({ prefix: e.prefix, expiresAt: e.expires === null ? Number.POSITIVE_INFINITY : Date.parse(e.expires), evictable: e.origin === "ids" }));
  }

  async remove(prefixes: string[]): Promise<void> {
    evictIdsBlocks(this.stateDir, this.desired, prefixes);
  }

  async add(blocks: Block[], now: number): Promise<SinkResult> {
    try {
      const { failed } = blockDynamicEntries(this.stateDir, blocks.map((b) => dynamicEntry(b.prefix, b.expiresAt - now, now, "ids")), this.desired);
      const refused = new Set(failed.map((f) => f.prefix));
      return { written: blocks.map((b) => b.prefix).filter((p) => !refused.has(p)), failed };
    } catch (err) {
      // No filter loaded, or one of another layout: the same answer for the whole batch.
      return failedAll(blocks, (err as Error).message);
    }
  }

  async tick(): Promise<void> {
    // Expiry is fos1 agent's (see above).
  }
}
