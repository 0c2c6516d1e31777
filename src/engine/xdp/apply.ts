// The xdp phase of apply: every op through src/bpf (libbpf over bun:ffi), no ip or bpftool
// process. Ops arrive in plan order (load, index repair, map entries, detach, attach, unload);
// each failure is reported against its op and the rest still runs -- except that a filter
// whose config blocklist could not all be written does not replace the program an interface
// runs (that one holds its whole list; never fail open). A filter's blocks and unblocks that
// follow each other go to its maps as one change: the index the program finds prefixes by is
// computed once for all of them, not once a prefix.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { removeStalePins, XdpFilter, XdpFilterMaps } from "../../bpf/xdp-filter";
import { attachXdp, detachXdp } from "../../bpf/xdp";
import { closeProgram, openPinnedProgram, pinObject } from "../../bpf/pins";
import type { MapSizes, PortProto } from "../../bpf/layout";
import type { Op, OpFailure } from "../op";
import type { XdpAction } from "./plan";
import { filterDir, PROGRAM_NAME } from "./model";
import { bpfObjectPath } from "./object-path";

type ListAction = Extract<XdpAction, { do: "block" | "unblock" }>;

export function applyXdp(ops: Op<XdpAction>[]): OpFailure[] {
  const failed: OpFailure[] = [];
  const maps = new Map<string, XdpFilterMaps>();
  const mapsOf = (filter: string) => {
    let m = maps.get(filter);
    if (!m) maps.set(filter, (m = XdpFilterMaps.openPinned(filterDir(filter))));
    return m;
  };
  const closeMaps = () => {
    for (const m of maps.values()) m.close();
    maps.clear();
  };
  // Consecutive blocks and unblocks of one filter, waiting to go in as one change.
  let pending: { op: Op; a: ListAction }[] = [];
  /** Filters missing some of their config's blocklist after this apply's writes. */
  const incomplete = new Set<string>();
  const flush = () => {
    if (!pending.length) return;
    const failures = changeList(pending, mapsOf);
    failed.push(...failures);
    for (const f of failures) {
      const a = f.op.change as ListAction;
      if (a.do === "block" && !("until" in a)) incomplete.add(a.filter);
    }
    pending = [];
  };
  try {
    for (const op of ops) {
      const a = op.change;
      if ((a.do === "block" || a.do === "unblock") && (!pending.length || pending[0]!.a.filter === a.filter)) {
        pending.push({ op, a });
        continue;
      }
      flush();
      if (a.do === "block" || a.do === "unblock") {
        pending.push({ op, a });
        continue;
      }
      if (a.do === "attach" && op.action === "change" && incomplete.has(a.filter)) {
        failed.push({ op, error: `${a.ifname} keeps the program it runs: filter ${a.filter} could not take its whole blocklist (see the failed blocks)` });
        continue;
      }
      try {
        run(a, mapsOf, closeMaps);
      } catch (err) {
        failed.push({ op, error: (err as Error).message });
      }
    }
    flush();
  } finally {
    closeMaps();
  }
  return failed;
}

/** One filter's blocks and unblocks as one change of its maps; the ops that failed. */
function changeList(list: { op: Op; a: ListAction }[], mapsOf: (f: string) => XdpFilterMaps): OpFailure[] {
  // A dynamic block that expired since the plan was made: the agent has already removed it
  // everywhere else (or is about to), and must not find it written back here.
  const live = list.filter(({ a }) => !(a.do === "block" && a.until && Date.parse(a.until) <= Date.now()));
  try {
    const r = mapsOf(list[0]!.a.filter).changeBlocklist(
      live.filter(({ a }) => a.do === "block").map(({ a }) => a.prefix),
      live.filter(({ a }) => a.do === "unblock").map(({ a }) => a.prefix),
    );
    const why = new Map(r.failed.map((f) => [f.prefix, f.error]));
    return live.flatMap(({ op, a }) => (a.do === "block" && why.has(a.prefix) ? [{ op, error: why.get(a.prefix)! }] : []));
  } catch (err) {
    return live.map(({ op }) => ({ op, error: (err as Error).message }));
  }
}

function run(a: Exclude<XdpAction, ListAction>, mapsOf: (f: string) => XdpFilterMaps, closeMaps: () => void): void {
  switch (a.do) {
    case "load":
      closeMaps(); // maps of another layout may be replaced
      return loadFilter(a.filter, a.sizes, a.reload === true);
    case "reindex":
      return mapsOf(a.filter).reindex();
    case "deny-port":
    case "allow-port": {
      const [proto, port] = a.port.split("/") as [PortProto, string];
      if (a.do === "deny-port") mapsOf(a.filter).denyPort(proto, Number(port));
      else mapsOf(a.filter).allowPort(proto, Number(port));
      return;
    }
    case "rate":
      return mapsOf(a.filter).setRateLimit(a.rate);
    case "attach": {
      const prog = openPinnedProgram(join(filterDir(a.filter), PROGRAM_NAME), PROGRAM_NAME);
      try {
        if (a.detachFirst) detachXdp(a.ifname, PROGRAM_NAME);
        attachXdp(a.ifname, prog, a.mode);
      } finally {
        closeProgram(prog);
      }
      return;
    }
    case "detach":
      detachXdp(a.ifname, PROGRAM_NAME);
      return;
    case "unload":
      closeMaps();
      // Unpinning drops fos1's references; a program still attached somewhere would live on,
      // which is why detaches come first in the plan.
      rmSync(filterDir(a.filter), { recursive: true, force: true });
      return;
  }
}

/**
 * Loads the object with its maps pinned in the filter's dir (reused if there), and pins the
 * program. Pins of another fos1's layout or of other sizes (the plan says why it loads again)
 * go first, all but the counters: the load makes the maps afresh, and the plan's ops fill them
 * as for a new filter. The program running on the interfaces keeps its own maps, and filters
 * with them, until the attach that follows replaces it.
 */
function loadFilter(name: string, sizes: MapSizes, reload: boolean): void {
  const dir = filterDir(name);
  if (reload) removeStalePins(dir);
  const f = XdpFilter.load({ object: bpfObjectPath(), pinRoot: dir, sizes });
  try {
    const pin = join(dir, PROGRAM_NAME);
    rmSync(pin, { force: true }); // a pin whose program could not be read, or of the older layout
    pinObject(f.program.fd, pin);
  } finally {
    f.close();
  }
}
