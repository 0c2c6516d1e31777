// A writer of a loaded XDP filter's blocklist outside apply, for xdp-crash.test.ts, which kills
// it (with its process group) at random moments: batches of blocks and unblocks as the IDS and
// an operator make them, through the product's own functions on the pinned maps -- what one
// `fos1 xdp block` does for one prefix. Run as `bun xdp-crash-child.ts JOB.json` with
// FOS1_BPF_PIN_ROOT set; the job, done in this order:
//   unblock: prefixes taken off every loaded filter in one change (XdpFilterMaps.changeBlocklist,
//            as an operator's unblock or the agent's expiry does; config prefixes among them
//            come back with the next apply)
//   evict:   batches of the IDS's dynamic blocks lifted (evictIdsBlocks: the maps, then the records)
//   block:   batches blocked as the IDS's dynamic blocks for an hour (blockDynamicEntries: the
//            records, then the maps)
// Prints one JSON line when it is done.
import { readFileSync } from "node:fs";
import { XdpFilterMaps } from "../../src/bpf/xdp-filter";
import { blockDynamicEntries, dynamicEntry, evictIdsBlocks, loadedFilters } from "../../src/engine/xdp/admin";
import { filterDir } from "../../src/engine/xdp/model";

export interface CrashJob {
  stateDir: string;
  unblock?: string[];
  evict?: string[][];
  block?: string[][];
}

const HOUR = 3_600_000;

function main(jobFile: string): unknown {
  const job = JSON.parse(readFileSync(jobFile, "utf8")) as CrashJob;
  let unblocked = 0;
  if (job.unblock?.length)
    for (const f of loadedFilters()) {
      const m = XdpFilterMaps.openPinned(filterDir(f));
      try {
        unblocked += m.changeBlocklist([], job.unblock).removed.length;
      } finally {
        m.close();
      }
    }
  let evicted = 0;
  for (const batch of job.evict ?? []) evicted += evictIdsBlocks(job.stateDir, undefined, batch).length;
  let blocked = 0;
  for (const batch of job.block ?? []) {
    const now = Date.now();
    const r = blockDynamicEntries(job.stateDir, batch.map((p) => dynamicEntry(p, HOUR, now, "ids")), undefined);
    if (r.failed.length) throw new Error(`blocks refused: ${JSON.stringify(r.failed.slice(0, 3))}`);
    blocked += batch.length;
  }
  return { unblocked, evicted, blocked };
}

if (import.meta.main) console.log(JSON.stringify(main(process.argv[2]!)));
