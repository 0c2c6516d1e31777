// Blocks into the XDP filters' blocklists as dynamic entries with a TTL — the same call as
// `fos1 xdp block CIDR --ttl` (src/engine/xdp/admin.ts), so `fos1 xdp list` shows them with their
// expiry and `fos1 agent` removes them when it comes. fos1 does not remove them itself: the
// agent already does for every dynamic block, and `unblock` here could remove a block an
// operator set meanwhile by hand.
//
// The admin API has no batch form (one record and one map write per filter and prefix) and no
// field `fos1 xdp list` shows for where a block comes from, so it shows IDS blocks as "dynamic"
// like any other; the batch bound of the runner keeps the number of writes per second bounded.
// The record of each block says it is the IDS's (origin "ids"): only those are evicted (remove),
// and never from a filter whose config blocks the prefix itself.
import { blockDynamic, evictIdsBlocks, NoFilterError } from "../engine/xdp/admin";
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
    const result: SinkResult = { written: [], failed: [] };
    for (const [i, b] of blocks.entries()) {
      try {
        blockDynamic(this.stateDir, b.prefix, b.expiresAt - now, now, "ids");
        result.written.push(b.prefix);
      } catch (err) {
        // No filter loaded: the same answer for the rest of the batch.
        if (err instanceof NoFilterError) return { written: result.written, failed: [...result.failed, ...failedAll(blocks.slice(i), err.message).failed] };
        result.failed.push({ prefix: b.prefix, error: (err as Error).message });
      }
    }
    return result;
  }

  async tick(): Promise<void> {
    // Expiry is fos1 agent's (see above).
  }
}
