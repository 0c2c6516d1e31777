// Observes fos1's XDP filters: the pinned filters (program id, map contents) and what every
// present interface runs. Read-only. Without any pinned filter and none configured it touches
// nothing at all, so hosts without libbpf or bpffs are not bothered.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { XdpFilterMaps } from "../../bpf/xdp-filter";
import { queryXdp } from "../../bpf/xdp";
import { closeProgram, openPinnedProgram } from "../../bpf/pins";
import { decodePortKey } from "../../bpf/layout";
import { readDynamic, isExpired } from "./dynamic";
import { EMPTY_OBSERVED_XDP, filterDir, filtersDir, PROGRAM_NAME, type ObservedXdp, type ObservedXdpFilter } from "./model";

export function pinnedFilterNames(root?: string): string[] {
  try {
    return readdirSync(filtersDir(root)).sort();
  } catch {
    return [];
  }
}

export function observeFilter(name: string, root?: string): ObservedXdpFilter {
  const dir = filterDir(name, root);
  let progId: number | null = null;
  if (existsSync(join(dir, PROGRAM_NAME))) {
    const p = openPinnedProgram(join(dir, PROGRAM_NAME), PROGRAM_NAME);
    progId = p.id;
    closeProgram(p);
  }
  if (!existsSync(join(dir, "xdpf_stats"))) return { name, progId, blocklist: [], ports: [], rate: null };
  const problems = XdpFilterMaps.pinnedLayoutProblems(dir);
  if (problems.length) return { name, progId, stale: problems.join("; "), blocklist: [], ports: [], rate: null };
  const maps = XdpFilterMaps.openPinned(dir);
  try {
    const lists = maps.dumpLists();
    const unindexed = maps.indexProblems(lists);
    return {
      name,
      progId,
      sizes: maps.sizes(),
      ...(unindexed.length ? { unindexed: unindexed.join("; ") } : {}),
      blocklist: maps.blocked(lists).map((b) => b.prefix),
      ports: [...maps.map("xdpf_port_deny").keys()].map((k) => {
        const p = decodePortKey(k);
        return `${p.proto}/${p.port}`;
      }),
      rate: maps.rateLimit(),
    };
  } finally {
    maps.close();
  }
}

export function observeXdp(links: string[], opts: { wanted: boolean; stateDir: string; now?: number }): ObservedXdp {
  const names = pinnedFilterNames();
  if (!names.length && !opts.wanted) return EMPTY_OBSERVED_XDP;
  const now = opts.now ?? Date.now();
  const attached: ObservedXdp["attached"] = {};
  for (const l of links) {
    const a = queryXdp(l);
    if (a.length) attached[l] = a;
  }
  return {
    filters: names.map((n) => observeFilter(n)),
    attached,
    dynamic: readDynamic(opts.stateDir)
      .filter((e) => !isExpired(e, now))
      .map((e) => ({ prefix: e.prefix, expires: e.expires, addedAt: e.addedAt, ...(e.origin ? { origin: e.origin } : {}) })),
  };
}
