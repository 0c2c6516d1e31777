// What `fos1 xdp` and the agent do to loaded filters outside apply: dynamic blocks with an
// optional expiry, their removal when they expire, and reading the filters for people.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseNetwork, reasonLabel, REASONS } from "../../bpf/layout";
import { formatPrefix } from "../../api/ip";
import { XdpFilterMaps } from "../../bpf/xdp-filter";
import { queryXdp } from "../../bpf/xdp";
import { closeProgram, openPinnedProgram } from "../../bpf/pins";
import { isExpired, readDynamic, removeDynamic, writeDynamic, type DynamicEntry } from "./dynamic";
import { filterDir, PROGRAM_NAME, type DesiredXdp } from "./model";
import { pinnedFilterNames } from "./observe";

export class NoFilterError extends Error {}

/** The canonical network of a CIDR the operator typed; throws a message that says what is wrong. */
export function operatorPrefix(text: string): string {
  return formatPrefix(parseNetwork(text));
}

/** Filters whose maps are pinned (loaded by an apply or the agent). */
export function loadedFilters(): string[] {
  return pinnedFilterNames().filter((n) => existsSync(join(filterDir(n), "xdpf_stats")));
}

/** Throws, saying why, when the filter's pinned maps are of another fos1's layout. */
function checkLayout(name: string): void {
  const problems = XdpFilterMaps.pinnedLayoutProblems(filterDir(name));
  if (problems.length) throw new Error(`XDP filter ${name} was loaded by a fos1 with other maps (${problems.join("; ")}): fos1 apply, or the agent, loads it again`);
}

function withMaps<T>(name: string, body: (m: XdpFilterMaps) => T): T {
  checkLayout(name);
  const m = XdpFilterMaps.openPinned(filterDir(name));
  try {
    return body(m);
  } finally {
    m.close();
  }
}

/** Blocks the prefix in every loaded filter, recorded as dynamic so apply leaves it. */
export function blockDynamic(stateDir: string, prefix: string, ttlMs: number | null, now = Date.now()): { filters: string[]; entry: DynamicEntry } {
  const entry = dynamicEntry(prefix, ttlMs, now);
  const { filters, failed } = blockDynamicEntries(stateDir, [entry]);
  if (failed[0]) throw new Error(`block ${prefix}: ${failed[0].error}`);
  return { filters, entry };
}

/** The record of a dynamic block made now; origin "ids" for the IDS's. */
export function dynamicEntry(prefix: string, ttlMs: number | null, now: number, origin?: DynamicEntry["origin"]): DynamicEntry {
  return { prefix, addedAt: new Date(now).toISOString(), expires: ttlMs === null ? null : new Date(now + ttlMs).toISOString(), ...(origin ? { origin } : {}) };
}

/**
 * blockDynamic for many entries at once (the IDS's batches): each filter's maps are opened, and
 * its lookup index rebuilt, once for the batch instead of once per prefix. Returns the filters
 * and the prefixes some filter could not take (a full list); their records stay until they
 * expire, as blockDynamic's always did.
 */
export function blockDynamicEntries(stateDir: string, entries: DynamicEntry[]): { filters: string[]; failed: { prefix: string; error: string }[] } {
  const filters = loadedFilters();
  if (!filters.length) throw new NoFilterError("no XDP filter is loaded on this host: configure an XDPFilter and apply it first");
  for (const f of filters) checkLayout(f); // before anything is recorded
  // Recorded before the map write: an apply running meanwhile must already see them as dynamic.
  for (const e of entries) writeDynamic(stateDir, e);
  const failed = new Map<string, string>();
  for (const f of filters)
    for (const x of withMaps(f, (m) => m.changeBlocklist(entries.map((e) => e.prefix), [])).failed) failed.set(x.prefix, `${f}: ${x.error}`);
  return { filters, failed: [...failed].map(([prefix, error]) => ({ prefix, error })) };
}

/** Removes the prefix from every loaded filter and from the dynamic record; the filters it was in. */
export function unblock(stateDir: string, prefix: string): string[] {
  const filters = loadedFilters();
  if (!filters.length) throw new NoFilterError("no XDP filter is loaded on this host");
  removeDynamic(stateDir, prefix);
  return filters.filter((f) => withMaps(f, (m) => m.unblock(prefix)));
}

/**
 * Removes expired dynamic prefixes: from the maps (except where the config itself blocks the
 * prefix) and from the record. Returns the prefixes removed.
 */
export function expireDynamic(stateDir: string, desired: DesiredXdp | undefined, now = Date.now()): string[] {
  return removeDynamicEntries(stateDir, desired, readDynamic(stateDir).filter((e) => isExpired(e, now)));
}

/**
 * Removes the IDS's own dynamic blocks among these prefixes, as expiry does (a prefix the config
 * blocks stays in its filter; the operator's dynamic blocks are not the IDS's to remove).
 * Returns the prefixes removed.
 */
export function evictIdsBlocks(stateDir: string, desired: DesiredXdp | undefined, prefixes: string[]): string[] {
  const wanted = new Set(prefixes);
  return removeDynamicEntries(stateDir, desired, readDynamic(stateDir).filter((e) => e.origin === "ids" && wanted.has(e.prefix)));
}

function removeDynamicEntries(stateDir: string, desired: DesiredXdp | undefined, entries: DynamicEntry[]): string[] {
  if (!entries.length) return [];
  for (const f of loadedFilters()) {
    const isStatic = new Set(desired?.filters.find((d) => d.name === f)?.blocklist ?? []);
    const gone = entries.map((e) => e.prefix).filter((p) => !isStatic.has(p));
    if (gone.length) withMaps(f, (m) => m.changeBlocklist([], gone));
  }
  for (const e of entries) removeDynamic(stateDir, e.prefix);
  return entries.map((e) => e.prefix);
}

export interface ListedEntry {
  filter: string;
  prefix: string;
  source: "static" | "dynamic";
  expires: string | null;
  packets: string;
}

/** Blocked prefixes of every loaded filter; dynamic ones that expired are never shown. */
export function listBlocked(stateDir: string, now = Date.now()): ListedEntry[] {
  const all = readDynamic(stateDir);
  const live = new Map(all.filter((e) => !isExpired(e, now)).map((e) => [e.prefix, e]));
  const expired = new Set(all.filter((e) => isExpired(e, now)).map((e) => e.prefix));
  const out: ListedEntry[] = [];
  for (const f of loadedFilters())
    for (const b of withMaps(f, (m) => m.blocked())) {
      if (expired.has(b.prefix)) continue; // gone as far as the operator is concerned; the agent deletes it
      const d = live.get(b.prefix);
      out.push({ filter: f, prefix: b.prefix, source: d ? "dynamic" : "static", expires: d?.expires ?? null, packets: b.packets.toString() });
    }
  return out;
}

export interface FilterStatus {
  name: string;
  progId: number | null;
  interfaces: { ifname: string; mode: string }[];
  blocked: number;
  deniedPorts: string[];
  rateLimit: { pps: number; burst: number; v4Prefix: number; v6Prefix: number } | null;
  counters: Record<string, { packets: string; bytes: string }>;
}

export function filterStatus(links: string[]): FilterStatus[] {
  const attached = new Map<number, { ifname: string; mode: string }[]>();
  for (const l of links)
    for (const a of queryXdp(l)) {
      const list = attached.get(a.progId) ?? [];
      list.push({ ifname: l, mode: a.mode });
      attached.set(a.progId, list);
    }
  return loadedFilters().map((name) => {
    const pin = join(filterDir(name), PROGRAM_NAME);
    let progId: number | null = null;
    if (existsSync(pin)) {
      const p = openPinnedProgram(pin, PROGRAM_NAME);
      progId = p.id;
      closeProgram(p);
    }
    return withMaps(name, (m) => {
      const c = m.counters();
      return {
        name,
        progId,
        interfaces: progId === null ? [] : (attached.get(progId) ?? []),
        blocked: m.blockedCount(),
        deniedPorts: m.deniedPorts().map((p) => `${p.proto}/${p.port}`),
        rateLimit: m.rateLimit(),
        counters: Object.fromEntries(REASONS.map((r) => [reasonLabel(r), { packets: c[r].packets.toString(), bytes: c[r].bytes.toString() }])),
      };
    });
  });
}
