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
import { filterDir, PROGRAM_NAME, yieldOrder, type DesiredXdp } from "./model";
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
export function blockDynamic(
  stateDir: string,
  prefix: string,
  ttlMs: number | null,
  desired: DesiredXdp | undefined,
  now = Date.now(),
): { filters: string[]; entry: DynamicEntry; evicted: string[] } {
  const entry = dynamicEntry(prefix, ttlMs, now);
  const { filters, failed, evicted } = blockDynamicEntries(stateDir, [entry], desired);
  if (failed[0]) throw new Error(`block ${prefix}: ${failed[0].error}`);
  return { filters, entry, evicted };
}

/** The record of a dynamic block made now; origin "ids" for the IDS's. */
export function dynamicEntry(prefix: string, ttlMs: number | null, now: number, origin?: DynamicEntry["origin"]): DynamicEntry {
  return { prefix, addedAt: new Date(now).toISOString(), expires: ttlMs === null ? null : new Date(now + ttlMs).toISOString(), ...(origin ? { origin } : {}) };
}

/**
 * blockDynamic for many entries at once (the IDS's batches): each filter's maps are opened, and
 * its lookup index brought up to date, once for the batch instead of once per prefix. A filter
 * at its capacity makes room by evicting older dynamic blocks (evictionOrder); the config's
 * blocklist never yields. Returns the filters, what was evicted, and the prefixes some filter
 * still could not take; their records stay until they expire, as blockDynamic's always did.
 */
export function blockDynamicEntries(
  stateDir: string,
  entries: DynamicEntry[],
  /** The config's filters (pending and in force): a prefix their blocklists hold stays in those filters when evicted. */
  desired: DesiredXdp | undefined,
): { filters: string[]; failed: { prefix: string; error: string }[]; evicted: string[] } {
  const filters = loadedFilters();
  if (!filters.length) throw new NoFilterError("no XDP filter is loaded on this host: configure an XDPFilter and apply it first");
  for (const f of filters) checkLayout(f); // before anything is recorded
  const older = readDynamic(stateDir);
  // Recorded before the map write: an apply running meanwhile must already see them as dynamic.
  for (const e of entries) writeDynamic(stateDir, e);
  const adding = new Set(entries.map((e) => e.prefix));
  const victims = evictionOrder(older.filter((e) => !adding.has(e.prefix)), entries.every((e) => e.origin === "ids"));
  const failed = new Map<string, string>();
  const evicted: string[] = [];
  for (const f of filters)
    withMaps(f, (m) => {
      let todo = entries.map((e) => e.prefix);
      for (;;) {
        const r = m.changeBlocklist(todo, []);
        for (const x of r.failed.filter((x) => !x.full)) failed.set(x.prefix, `${f}: ${x.error}`);
        const full = r.failed.filter((x) => x.full);
        if (!full.length) return;
        // As many of the oldest dynamic blocks of the full families as prefixes did not fit.
        const families = new Set(full.map((x) => familyOf(x.prefix)));
        const out = victims.filter((v) => families.has(familyOf(v.prefix)) && !evicted.includes(v.prefix)).slice(0, full.length);
        if (!out.length) {
          for (const x of full) failed.set(x.prefix, `${f}: ${x.error}, and no older dynamic block is left to make room (the config's blocklist never yields)`);
          return;
        }
        evicted.push(...out.map((v) => v.prefix));
        removeDynamicEntries(stateDir, desired, out);
        todo = full.map((x) => x.prefix);
      }
    });
  return { filters, failed: [...failed].map(([prefix, error]) => ({ prefix, error })), evicted };
}

const familyOf = (prefix: string) => parseNetwork(prefix).family;

/**
 * Dynamic blocks in the order they make room: the IDS's before the operator's, the oldest
 * first. The IDS never evicts the operator's blocks: forged alerts must not be able to lift them.
 */
function evictionOrder(entries: DynamicEntry[], forIds: boolean): DynamicEntry[] {
  return entries
    .filter((e) => !forIds || e.origin === "ids")
    .sort(yieldOrder);
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
  /** Prefixes held and the capacity, per family. */
  fill: { ipv4: { count: number; capacity: number }; ipv6: { count: number; capacity: number } };
  /** Kernel memory of the filter's maps, in bytes (the kernel's own accounting). */
  memoryBytes: number;
  /** memoryBytes is the kernel's estimate from the maps' sizes, as if full (Linux before 6.4). */
  memoryEstimated: boolean;
  /** Why its index misses listed prefixes (a writer killed half way; the next apply repairs it). */
  unindexed?: string;
  deniedPorts: string[];
  rateLimit: { pps: number; burst: number; v4Prefix: number; v6Prefix: number } | null;
  counters: Record<string, { packets: string; bytes: string }>;
}

/** checkIndex: also say whether the index misses listed prefixes (it reads the lists once more). */
export function filterStatus(links: string[], opts: { checkIndex?: boolean } = {}): FilterStatus[] {
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
      const u = m.usage();
      const unindexed = opts.checkIndex ? m.indexProblems() : [];
      return {
        name,
        progId,
        interfaces: progId === null ? [] : (attached.get(progId) ?? []),
        blocked: u.v4.count + u.v6.count,
        fill: { ipv4: u.v4, ipv6: u.v6 },
        memoryBytes: u.memory,
        memoryEstimated: u.memoryEstimated,
        ...(unindexed.length ? { unindexed: unindexed.join("; ") } : {}),
        deniedPorts: m.deniedPorts().map((p) => `${p.proto}/${p.port}`),
        rateLimit: m.rateLimit(),
        counters: Object.fromEntries(REASONS.map((r) => [reasonLabel(r), { packets: c[r].packets.toString(), bytes: c[r].bytes.toString() }])),
      };
    });
  });
}
