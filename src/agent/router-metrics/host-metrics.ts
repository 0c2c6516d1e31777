// The router's own numbers in the agent's Prometheus registry, read from the kernel when
// /metrics is scraped (prom-client collect callbacks), never on a timer: interface and VLAN
// traffic, bond members, nftables counters per rule and per zone pair, connection tracking,
// XDP counters by reason. Each source is read once per scrape however many metrics it feeds.
// A source that cannot be read (nft missing, no conntrack module, libbpf absent) never fails
// the scrape: its metrics are left out and fos1_scrape_source_up{source} says 0.
import { Counter, Gauge, type Registry } from "prom-client";
import type { Logger } from "../../base/log";
import { observeLinks } from "../../engine/host-reader";
import { readLeasesText } from "../../engine/lan/lease-file";
import { parseLeases, placeLeases } from "../../engine/lan/leases";
import { poolSizes, type DesiredLan } from "../../engine/lan/model";
import { readDnsmasqStats, type DnsmasqStats } from "./dnsmasq-stats";
import { filterStatus, type FilterStatus } from "../../engine/xdp/admin";
import { isExpired, readDynamic } from "../../engine/xdp/dynamic";
import { readConntrackUsage, type ConntrackUsage } from "./conntrack";
import { readFirewallCounters, type FirewallCounters } from "./firewall-counters";
import { readLinkCounters, ROUTER_KINDS, type LinkCounters } from "./link-counters";

export const SOURCES = ["interfaces", "firewall", "conntrack", "xdp", "lan"] as const;
export type SourceName = (typeof SOURCES)[number];

export interface HostMetricsOptions {
  /** Where `fos1 xdp block` records its dynamic prefixes. */
  stateDir: string;
  log?: Logger;
  ip?: string;
  nft?: string;
  /** What the LAN services serve now (the agent's supervisor): pools for the utilisation, whether DNS runs. */
  lan?: () => DesiredLan | undefined;
}


type Read<T> = () => Promise<T | null>;
type Labels = Record<string, string>;
type Rows = [Labels, number][];

/**
 * One read shared by every collect callback of a scrape: prom-client calls them all
 * synchronously before awaiting any, so they all find the read in flight; the next scrape,
 * after it settled, reads again.
 */
function oncePerScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | null = null;
  return () => (inFlight ??= read().finally(() => (inFlight = null)));
}

export function registerHostMetrics(registry: Registry, opts: HostMetricsOptions): void {
  const registers = [registry];
  const up = new Map<SourceName, boolean>();
  const failures = new Map<SourceName, number>(SOURCES.map((s) => [s, 0]));

  const source = <T>(name: SourceName, read: () => Promise<T>): Read<T> =>
    oncePerScrape(async () => {
      try {
        const value = await read();
        if (up.get(name) === false) opts.log?.info("metrics source readable again", { source: name });
        up.set(name, true);
        return value;
      } catch (err) {
        if (up.get(name) !== false) opts.log?.warn("metrics source cannot be read; its metrics are left out until it can", { source: name, error: (err as Error).message });
        up.set(name, false);
        failures.set(name, (failures.get(name) ?? 0) + 1);
        return null;
      }
    });

  // The router's links; others (Cilium's veths and tunnels, lo) only when fos1 owns them.
  const links = source("interfaces", async () => (await readLinkCounters(opts.ip)).filter((l) => l.interface !== "" || ROUTER_KINDS.has(l.kind)));
  const firewall = source("firewall", () => readFirewallCounters(opts.nft));
  const conntrack = source("conntrack", readConntrackUsage);
  const xdp = source("xdp", async () => ({ filters: filterStatus([]), dynamic: readDynamic(opts.stateDir).filter((e) => !isExpired(e, Date.now())).length }));
  const lan = source("lan", () => readLanUsage(opts.stateDir, opts.lan?.()));
  const everySource = () => Promise.all([links(), firewall(), conntrack(), xdp(), lan()]);

  /** A metric whose samples are computed from a source at scrape time; none when the source failed. */
  function collected<T>(type: "counter" | "gauge", name: string, help: string, labelNames: string[], read: Read<T>, rows: (data: T) => Rows): void {
    const collect = async function (this: Counter | Gauge) {
      const data = await read();
      this.reset();
      if (data === null) return;
      for (const [labels, value] of rows(data)) this.inc(labels, value);
    };
    if (type === "counter") new Counter({ name, help, labelNames, registers, collect });
    else new Gauge({ name, help, labelNames, registers, collect });
  }

  collected("gauge", "fos1_scrape_source_up", "1 when the source (interfaces: ip; firewall: nft; conntrack: /proc; xdp: the pinned maps) was read in this scrape, 0 when it could not be.", ["source"], everySource, () =>
    SOURCES.map((s) => [{ source: s }, up.get(s) ? 1 : 0]),
  );
  collected("counter", "fos1_scrape_source_errors_total", "Scrapes in which a source could not be read (the agent logs why when it starts failing).", ["source"], everySource, () =>
    SOURCES.map((s) => [{ source: s }, failures.get(s) ?? 0]),
  );

  const linkLabels = ["device", "interface", "kind"];
  const ofLink = (l: LinkCounters): Labels => ({ device: l.device, interface: l.interface, kind: l.kind });
  const linkCounters: [string, "rx" | "tx", keyof LinkCounters["rx"], string][] = [
    ["receive_bytes", "rx", "bytes", "Bytes received"],
    ["transmit_bytes", "tx", "bytes", "Bytes transmitted"],
    ["receive_packets", "rx", "packets", "Packets received"],
    ["transmit_packets", "tx", "packets", "Packets transmitted"],
    ["receive_errors", "rx", "errors", "Receive errors"],
    ["transmit_errors", "tx", "errors", "Transmit errors"],
    ["receive_drops", "rx", "drops", "Received packets dropped"],
    ["transmit_drops", "tx", "drops", "Packets dropped before transmission"],
  ];
  for (const [name, dir, field, what] of linkCounters)
    collected("counter", `fos1_interface_${name}_total`, `${what}, as the kernel counts them (device: the kernel's name; interface: the fos1 object, empty for a link fos1 does not own).`, linkLabels, links, (ls) =>
      ls.map((l) => [ofLink(l), l[dir][field]]),
    );
  collected("gauge", "fos1_interface_up", "1 when the interface's link is up (operational state UP), else 0.", linkLabels, links, (ls) => ls.map((l) => [ofLink(l), l.up ? 1 : 0]));
  collected("gauge", "fos1_interface_info", "Always 1: what the interface is (vlan and parent: its VLAN id and parent link, empty when it is not a VLAN).", [...linkLabels, "vlan", "parent"], links, (ls) =>
    ls.map((l) => [{ ...ofLink(l), vlan: l.vlan ? String(l.vlan.id) : "", parent: l.vlan?.parent ?? "" }, 1]),
  );
  collected("gauge", "fos1_bond_member_active", "1 when the bond sends and receives through this member (the kernel's ACTIVE), 0 when it is a backup or outside the active 802.3ad aggregator.", ["bond", "member"], links, (ls) =>
    ls.flatMap((l): Rows => (l.member ? [[{ bond: l.member.bond, member: l.device }, l.member.active ? 1 : 0]] : [])),
  );
  collected("gauge", "fos1_bond_member_link_up", "1 when the member's link is up (MII status UP), else 0.", ["bond", "member"], links, (ls) =>
    ls.flatMap((l): Rows => (l.member ? [[{ bond: l.member.bond, member: l.device }, l.member.linkUp ? 1 : 0]] : [])),
  );

  const ruleLabels = ["chain", "rule", "verdict"];
  const fwRules = (unit: "packets" | "bytes") => (fw: FirewallCounters | null): Rows => (fw?.rules ?? []).map((r) => [{ chain: r.chain, rule: r.rule, verdict: r.verdict }, r[unit]]);
  collected("counter", "fos1_firewall_rule_packets_total", "Packets that met a rule of fos1's nftables table (rule: the config object or the built-in rule's purpose; verdict: accept, drop, reject, masquerade, …).", ruleLabels, firewall, fwRules("packets"));
  collected("counter", "fos1_firewall_rule_bytes_total", "Bytes of the packets that met a rule of fos1's nftables table.", ruleLabels, firewall, fwRules("bytes"));
  const pairLabels = ["from_zone", "to_zone", "verdict"];
  const fwPairs = (unit: "packets" | "bytes") => (fw: FirewallCounters | null): Rows => (fw?.zonePairs ?? []).map((p) => [{ from_zone: p.fromZone, to_zone: p.toZone, verdict: p.verdict }, p[unit]]);
  collected("counter", "fos1_firewall_zone_pair_packets_total", "Packets decided by the rules between two zones (to_zone host: to the router itself; any: the from-zone's forward policy toward zones it has no rules for), by verdict.", pairLabels, firewall, fwPairs("packets"));
  collected("counter", "fos1_firewall_zone_pair_bytes_total", "Bytes of the packets decided by the rules between two zones, by verdict.", pairLabels, firewall, fwPairs("bytes"));

  collected("gauge", "fos1_conntrack_entries", "Connections the kernel tracks now (net.netfilter.nf_conntrack_count).", [], conntrack, (c: ConntrackUsage) => [[{}, c.entries]]);
  collected("gauge", "fos1_conntrack_entries_limit", "Most connections the kernel tracks (net.netfilter.nf_conntrack_max); new ones are dropped when the table is full.", [], conntrack, (c: ConntrackUsage) => [[{}, c.limit]]);

  const xdpCounters = (unit: "packets" | "bytes") => (x: { filters: FilterStatus[] }): Rows =>
    x.filters.flatMap((f) => Object.entries(f.counters).map(([reason, c]): [Labels, number] => [{ filter: f.name, reason }, Number(c[unit])]));
  collected("counter", "fos1_xdp_packets_total", "Packets an XDP filter saw, by the reason it passed or dropped them (pass, pass_not_ip, drop_block_v4, drop_rate, …).", ["filter", "reason"], xdp, xdpCounters("packets"));
  collected("counter", "fos1_xdp_bytes_total", "Bytes of the packets an XDP filter saw, by reason.", ["filter", "reason"], xdp, xdpCounters("bytes"));
  collected("gauge", "fos1_xdp_blocked_prefixes", "Prefixes in an XDP filter's blocklists (the config's and fos1 xdp block's).", ["filter"], xdp, (x) => x.filters.map((f) => [{ filter: f.name }, f.blocked]));
  collected("gauge", "fos1_xdp_capacity_prefixes", "Prefixes an XDP filter's list of one family holds at most (its capacity; dynamic blocks beyond it evict the oldest).", ["filter", "family"], xdp, (x) =>
    x.filters.flatMap((f): Rows => [
      [{ filter: f.name, family: "ipv4" }, f.fill.ipv4.capacity],
      [{ filter: f.name, family: "ipv6" }, f.fill.ipv6.capacity],
    ]),
  );
  collected("gauge", "fos1_xdp_memory_bytes", "Kernel memory an XDP filter's maps take, as the kernel accounts it.", ["filter"], xdp, (x) => x.filters.map((f) => [{ filter: f.name }, f.memoryBytes]));
  collected("gauge", "fos1_xdp_dynamic_blocks", "Prefixes blocked by fos1 xdp block that have not expired.", [], xdp, (x) => [[{}, x.dynamic]]);

  collected("gauge", "fos1_dhcp_leases", "Leases the router's DHCP server holds, by the interface whose network holds them and IP family.", ["interface", "family"], lan, (u) =>
    [...u.leases].map(([key, n]): [Labels, number] => {
      const [iface, family] = key.split(" ") as [string, string];
      return [{ interface: iface, family }, n];
    }),
  );
  collected("gauge", "fos1_dhcp_pool_addresses", "IPv4 addresses in the DHCP server's pools, by interface (fos1_dhcp_leases{family=\"4\"} over this is the pool's use).", ["interface"], lan, (u) =>
    [...u.pools].map(([iface, n]): [Labels, number] => [{ interface: iface }, n]),
  );
  collected("counter", "fos1_dns_cache_hits_total", "DNS queries the router's resolver answered from its cache (dnsmasq's own count, since it started).", [], lan, (u) => (u.dns ? [[{}, u.dns.hits]] : []));
  collected("counter", "fos1_dns_cache_misses_total", "DNS queries the router's resolver could not answer from its cache (forwarded, or answered from its names), since it started.", [], lan, (u) => (u.dns ? [[{}, u.dns.misses]] : []));
}

interface LanUsage {
  /** "interface family" → leases. */
  leases: Map<string, number>;
  /** interface → IPv4 addresses in its pools. */
  pools: Map<string, number>;
  dns: DnsmasqStats | null;
}

/** The LAN services' use: leases by interface (none when the lease file is not there), pool sizes, dnsmasq's DNS counters. */
async function readLanUsage(stateDir: string, lan: DesiredLan | undefined): Promise<LanUsage> {
  const pools = poolSizes(lan);
  const text = readLeasesText(stateDir);
  const leases = new Map<string, number>();
  const parsed = parseLeases(text);
  if (parsed.length) {
    const links = await observeLinks();
    for (const l of placeLeases(parsed, links.map((k) => ({ name: k.name, cidrs: k.addresses.map((a) => a.cidr) })))) {
      const key = `${l.interface ?? ""} ${l.family}`;
      leases.set(key, (leases.get(key) ?? 0) + 1);
    }
  }
  return { leases, pools, dns: lan?.dns ? await readDnsmasqStats() : null };
}
