// What `fos1 status` reports: the host as observed, annotated with what fos1 owns, and the
// journal's view of which config is in force; and for the one-screen summary, the traffic of
// each interface, the zones of the firewall in force, the top talkers of connection tracking,
// drops by reason (XDP and firewall), active XDP blocks and the last changes.
//
// Rates come from two readings of the interface counters SAMPLE_MS apart within the command
// (the rest of the status is read in between), not from a previous run's reading: a rate over
// "since whenever status last ran" would mix this second's traffic with last week's.
import { readFile } from "node:fs/promises";
import { hostname, release } from "node:os";
import { isOwned, type ObservedLink, type RouteEntry, type RuleEntry } from "../../engine/model";
import { observe } from "../../engine/apply";
import { loadConfigText } from "../../api/load";
import { poolSizes } from "../../engine/lan/model";
import { readLeases } from "../commands/leases";
import { desiredState } from "../../engine/desired";
import { Journal, type HistoryLine, type JournalEntry } from "../../journal/journal";
import { readConntrackTable, readConntrackUsage, topTalkers, type ConntrackUsage, type Talker } from "../../agent/router-metrics/conntrack";
import { readFirewallCounters, type FirewallCounters } from "../../agent/router-metrics/firewall-counters";
import { readLinkCounters, type LinkCounters } from "../../agent/router-metrics/link-counters";
import { filterStatus, listBlocked, type ListedEntry } from "../../engine/xdp/admin";

/** How far apart the two readings of the interface counters are. */
export const SAMPLE_MS = 1000;
const TOP_TALKERS = 10;
const LAST_CHANGES = 5;

export interface InterfaceStatus {
  name: string;
  kind: string;
  adminUp: boolean;
  state: string;
  /** Mb/s as the driver reports it; null when down or unknown. */
  speedMbps: number | null;
  mtu: number;
  mac: string | null;
  addresses: string[];
  /** fos1 created or adopted it. */
  managed: boolean;
  master: string | null;
  vlan?: { parent: string; id: number; protocol: string };
  vrfTable?: number;
  bond?: { mode: string; lacpRate?: string; members: { name: string; state?: string; mii?: string; aggregatorId?: number }[] };
  /** Its zone in the firewall in force; null when it is in none. */
  zone: string | null;
  /** Traffic over the sampling interval, in bits per second; null when the link came or went meanwhile. */
  rxBitsPerSecond: number | null;
  txBitsPerSecond: number | null;
}

export interface Drop {
  /** xdp: an XDP filter's reason counter; firewall: a dropping or rejecting rule. */
  source: "xdp" | "firewall";
  /** The filter, or the rule ("FirewallRule/web", "zone lan input policy"). */
  where: string;
  /** The firewall rule's chain. */
  chain?: string;
  /** XDP's reason (drop_block_v4, drop_rate, …) or the rule's verdict (drop, reject). */
  reason: string;
  packets: number;
}

/** A source the summary could not read, and why; the rest of the status is still shown. */
export interface StatusProblem {
  source: string;
  error: string;
}

export interface HostStatus {
  hostname: string;
  kernel: string;
  config: { lastKnownGood: JournalEntry | null; pending: JournalEntry | null };
  interfaces: InterfaceStatus[];
  routes: RouteEntry[];
  rules: RuleEntry[];
  /** fos1's nftables table: which config it was compiled from and how big it is; null when absent. */
  firewall: { digest: string | null; chains: number; rules: number } | null;
  /** Seconds between the two readings the interface rates come from. */
  sampleSeconds: number;
  /** The firewall's zones and their interfaces, as the table in force holds them. */
  zones: { name: string; interfaces: string[] }[];
  /** null when connection tracking could not be read (see problems). */
  conntrack: ConntrackUsage | null;
  /** Sources with the most tracked traffic: by bytes when the kernel counts them (nf_conntrack_acct), else by connections. */
  topTalkers: Talker[];
  /** Dropped packets by reason, most first, counted since each counter began (filter loaded, table replaced). */
  drops: Drop[];
  /** Prefixes the XDP filters drop: how many the configs block, and each dynamic one (fos1 xdp block). */
  blocks: { static: number; dynamic: ListedEntry[] };
  /** Per interface the router's DHCP server serves (or holds leases on): its leases and the addresses in its pools. */
  lan: { interface: string; leases: number; poolAddresses: number }[];
  /** The newest history entries, newest first, with their # for fos1 history --diff. */
  lastChanges: (HistoryLine & { number: number })[];
  problems: StatusProblem[];
}

async function speed(name: string): Promise<number | null> {
  const text = await readFile(`/sys/class/net/${name}/speed`, "utf8").catch(() => "");
  const n = Number(text.trim());
  return Number.isFinite(n) && n > 0 ? n : null;
}

export async function hostStatus(stateDir: string, sampleMs = SAMPLE_MS): Promise<HostStatus> {
  const problems: StatusProblem[] = [];
  const attempt = async <T>(source: string, read: () => T | Promise<T>): Promise<T | null> => {
    try {
      return await read();
    } catch (err) {
      problems.push({ source, error: (err as Error).message });
      return null;
    }
  };
  const before = await readLinkCounters();
  const started = performance.now();
  const [observed, fw, conntrack, table] = await Promise.all([
    observe(desiredState([])),
    attempt("firewall counters", () => readFirewallCounters()),
    attempt("conntrack", readConntrackUsage),
    attempt("conntrack table", readConntrackTable),
  ]);
  const xdp = await attempt("XDP counters", () => filterStatus([]));
  const blocked = (await attempt("XDP blocks", () => listBlocked(stateDir))) ?? [];
  const journal = new Journal(stateDir);
  const speeds = await Promise.all(observed.links.map((l) => speed(l.name)));
  await Bun.sleep(Math.max(0, sampleMs - (performance.now() - started)));
  const after = await readLinkCounters();
  const seconds = (performance.now() - started) / 1000;
  const rates = linkRates(before, after, seconds);
  const zoneOf = new Map(Object.entries(fw?.zones ?? {}).flatMap(([zone, ifs]) => ifs.map((i) => [i, zone] as const)));
  const interfaces = observed.links.map((l, i) => ({ ...describe(l, speeds[i] ?? null, observed.links), zone: zoneOf.get(l.name) ?? null, ...(rates.get(l.name) ?? { rxBitsPerSecond: null, txBitsPerSecond: null }) }));
  const history = journal.history();
  return {
    hostname: hostname(),
    kernel: release(),
    config: { lastKnownGood: journal.lastKnownGood()?.entry ?? null, pending: journal.pending()?.entry ?? null },
    interfaces,
    routes: observed.routes,
    rules: observed.rules,
    firewall: observed.firewall && {
      digest: observed.firewall.digest,
      chains: Object.keys(observed.firewall.shape).filter((k) => !k.startsWith("@")).length,
      rules: Object.entries(observed.firewall.shape).filter(([k]) => !k.startsWith("@")).reduce((n, [, v]) => n + v, 0),
    },
    sampleSeconds: Math.round(seconds * 1000) / 1000,
    zones: Object.entries(fw?.zones ?? {}).map(([name, ifs]) => ({ name, interfaces: ifs })),
    conntrack,
    topTalkers: table ? topTalkers(table, TOP_TALKERS) : [],
    drops: dropsByReason(xdp ?? [], fw),
    blocks: { static: blocked.filter((b) => b.source === "static").length, dynamic: blocked.filter((b) => b.source === "dynamic") },
    lan: (await attempt("leases", () => lanUse(stateDir, journal))) ?? [],
    lastChanges: history.map((h, i) => ({ ...h, number: i + 1 })).slice(-LAST_CHANGES).reverse(),
    problems,
  };
}

/** Leases per interface (dnsmasq's lease file) beside the pools of the config in force. */
async function lanUse(stateDir: string, journal: Journal): Promise<HostStatus["lan"]> {
  const lkg = journal.lastKnownGood();
  const loaded = lkg ? loadConfigText(lkg.text, "last-known-good.yaml") : null;
  const pools = poolSizes(loaded && !loaded.problems.length ? desiredState(loaded.objects).lan : undefined);
  const counts = new Map<string, number>();
  for (const l of await readLeases(stateDir)) if (l.interface) counts.set(l.interface, (counts.get(l.interface) ?? 0) + 1);
  return [...new Set([...pools.keys(), ...counts.keys()])].sort().map((i) => ({ interface: i, leases: counts.get(i) ?? 0, poolAddresses: pools.get(i) ?? 0 }));
}

/** Bits per second between two readings, per device; a link absent from either, or whose counters went back (re-created), has none. */
export function linkRates(before: LinkCounters[], after: LinkCounters[], seconds: number): Map<string, { rxBitsPerSecond: number; txBitsPerSecond: number }> {
  const old = new Map(before.map((l) => [l.device, l]));
  const out = new Map<string, { rxBitsPerSecond: number; txBitsPerSecond: number }>();
  for (const l of after) {
    const o = old.get(l.device);
    if (!o || seconds <= 0 || l.rx.bytes < o.rx.bytes || l.tx.bytes < o.tx.bytes) continue;
    out.set(l.device, { rxBitsPerSecond: ((l.rx.bytes - o.rx.bytes) * 8) / seconds, txBitsPerSecond: ((l.tx.bytes - o.tx.bytes) * 8) / seconds });
  }
  return out;
}

/** Every drop counter that counted something: XDP's drop reasons and the firewall's dropping and rejecting rules, most first. */
export function dropsByReason(xdp: { name: string; counters: Record<string, { packets: string }> }[], fw: FirewallCounters | null): Drop[] {
  const drops: Drop[] = [];
  for (const f of xdp)
    for (const [reason, c] of Object.entries(f.counters))
      if ((reason.startsWith("drop_") || reason === "malformed") && Number(c.packets) > 0) drops.push({ source: "xdp", where: f.name, reason, packets: Number(c.packets) });
  for (const r of fw?.rules ?? [])
    if ((r.verdict === "drop" || r.verdict === "reject") && r.packets > 0) drops.push({ source: "firewall", where: r.rule, chain: r.chain, reason: r.verdict, packets: r.packets });
  return drops.sort((a, b) => b.packets - a.packets);
}

function describe(l: ObservedLink, speedMbps: number | null, all: ObservedLink[]): Omit<InterfaceStatus, "zone" | "rxBitsPerSecond" | "txBitsPerSecond"> {
  const s: Omit<InterfaceStatus, "zone" | "rxBitsPerSecond" | "txBitsPerSecond"> = {
    name: l.name,
    kind: l.kind,
    adminUp: l.adminUp,
    state: l.state,
    speedMbps,
    mtu: l.mtu,
    mac: l.mac,
    addresses: l.addresses.map((a) => a.cidr),
    managed: isOwned(l),
    master: l.master,
  };
  if (l.vlan) s.vlan = l.vlan;
  if (l.vrf) s.vrfTable = l.vrf.table;
  if (l.bond)
    s.bond = {
      mode: l.bond.mode,
      ...(l.bond.mode === "802.3ad" && l.bond.lacpRate ? { lacpRate: l.bond.lacpRate } : {}),
      members: all.filter((m) => m.member?.of === l.name).map((m) => ({ name: m.name, ...m.member, of: undefined })),
    };
  return s;
}
