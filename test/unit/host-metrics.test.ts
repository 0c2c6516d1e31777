// The router's metrics read at scrape time: what the parsers make of the kernel's tools' output,
// and a scrape that goes on when a source cannot be read.
import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { parseConntrackLine, parseConntrackTable, topTalkers } from "../../src/agent/router-metrics/conntrack";
import { parseFirewallCounters, zonePairOfChain } from "../../src/agent/router-metrics/firewall-counters";
import { registerHostMetrics } from "../../src/agent/router-metrics/host-metrics";
import { parseLinkCounters } from "../../src/agent/router-metrics/link-counters";
import { samples, value } from "../helpers/prometheus";

const counter = (packets: number, bytes: number) => ({ counter: { packets, bytes } });
const rule = (chain: string, expr: unknown[], comment?: string) => ({ rule: { family: "inet", table: "fos1", chain, handle: 1, ...(comment ? { comment } : {}), expr } });
// The shape `nft -j list table inet fos1` prints for a compiled table (abridged).
const listing = JSON.stringify({
  nftables: [
    { metainfo: { version: "1.0.6" } },
    { map: { name: "input_zones", type: "ifname", map: "verdict", elem: [["eth1", { jump: { target: "in_lan" } }], ["eth2", { jump: { target: "in_lan" } }], ["eth0", { jump: { target: "in_wan" } }]] } },
    rule("fos1_config", [counter(0, 0)], "sha256:abc"),
    rule("input", [{ match: { op: "in", left: { ct: { key: "state" } }, right: ["established", "related"] } }, counter(100, 9000), { accept: null }]),
    rule("input", [{ match: { op: "==", left: { meta: { key: "iifname" } }, right: "lo" } }, { accept: null }]),
    rule("in_lan", [counter(3, 180), { drop: null }], "zone lan input policy"),
    // One config rule becomes one nft rule per address family: they count as one.
    rule("fwd_lan_wan", [{ match: { op: "==", left: { payload: { protocol: "ip", field: "saddr" } }, right: "192.0.2.0/24" } }, counter(10, 1000), { accept: null }], "FirewallRule/web"),
    rule("fwd_lan_wan", [{ match: { op: "==", left: { payload: { protocol: "ip6", field: "saddr" } }, right: "2001:db8::/64" } }, counter(5, 700), { accept: null }], "FirewallRule/web"),
    rule("fwd_lan_wan", [{ match: { op: "==", left: { meta: { key: "l4proto" } }, right: 6 } }, counter(2, 120), { reject: { type: "tcp reset" } }], "zone lan forward policy"),
    rule("fwd_wan", [counter(7, 420), { drop: null }], "zone wan forward policy"),
    rule("postrouting", [counter(4, 240), { masquerade: null }], "NATPolicy/out"),
  ],
});

describe("nftables counters", () => {
  const fw = parseFirewallCounters(listing);

  test("per rule: named by its comment or its conntrack match, with its verdict; uncounted rules and the digest marker are left out", () => {
    expect(fw.rules).toEqual([
      { chain: "input", rule: "ct state established,related", verdict: "accept", packets: 100, bytes: 9000 },
      { chain: "in_lan", rule: "zone lan input policy", verdict: "drop", packets: 3, bytes: 180 },
      { chain: "fwd_lan_wan", rule: "FirewallRule/web", verdict: "accept", packets: 15, bytes: 1700 },
      { chain: "fwd_lan_wan", rule: "zone lan forward policy", verdict: "reject", packets: 2, bytes: 120 },
      { chain: "fwd_wan", rule: "zone wan forward policy", verdict: "drop", packets: 7, bytes: 420 },
      { chain: "postrouting", rule: "NATPolicy/out", verdict: "masquerade", packets: 4, bytes: 240 },
    ]);
  });

  test("per zone pair and verdict: the router itself is host, a zone's own forward policy is any", () => {
    expect(fw.zonePairs).toEqual([
      { fromZone: "lan", toZone: "host", verdict: "drop", packets: 3, bytes: 180 },
      { fromZone: "lan", toZone: "wan", verdict: "accept", packets: 15, bytes: 1700 },
      { fromZone: "lan", toZone: "wan", verdict: "reject", packets: 2, bytes: 120 },
      { fromZone: "wan", toZone: "any", verdict: "drop", packets: 7, bytes: 420 },
    ]);
    expect(zonePairOfChain("vlan_10_20")).toBeNull();
    expect(zonePairOfChain("input")).toBeNull();
  });

  test("zones and their interfaces as the table in force holds them", () => {
    expect(fw.zones).toEqual({ lan: ["eth1", "eth2"], wan: ["eth0"] });
  });
});

describe("interface counters", () => {
  const json = JSON.stringify([
    { ifindex: 2, ifname: "eth0", flags: ["UP", "LOWER_UP"], mtu: 1500, operstate: "UP", link_type: "ether", address: "52:54:00:00:00:01", ifalias: "fos1:wan1", group: "default", master: "bond0",
      linkinfo: { info_slave_kind: "bond", info_slave_data: { state: "BACKUP", mii_status: "UP" } },
      stats64: { rx: { bytes: 1000, packets: 10, errors: 1, dropped: 2 }, tx: { bytes: 2000, packets: 20, errors: 3, dropped: 4 } } },
    { ifindex: 9, ifname: "lan.10", link: "lan", flags: ["UP"], mtu: 1500, operstate: "LOWERLAYERDOWN", link_type: "ether", group: "241", linkinfo: { info_kind: "vlan", info_data: { id: 10, protocol: "802.1Q" } },
      stats64: { rx: { bytes: 5, packets: 1, errors: 0, dropped: 0 }, tx: { bytes: 6, packets: 1, errors: 0, dropped: 0 } } },
  ]);

  test("bytes, packets, errors and drops both ways; the fos1 object from the alias or the owned link's name; bond member and VLAN facts", () => {
    expect(parseLinkCounters(json)).toEqual([
      { device: "eth0", interface: "wan1", kind: "physical", up: true, vlan: null, member: { bond: "bond0", active: false, linkUp: true },
        rx: { bytes: 1000, packets: 10, errors: 1, drops: 2 }, tx: { bytes: 2000, packets: 20, errors: 3, drops: 4 } },
      { device: "lan.10", interface: "lan.10", kind: "vlan", up: false, vlan: { id: 10, parent: "lan" }, member: null,
        rx: { bytes: 5, packets: 1, errors: 0, drops: 0 }, tx: { bytes: 6, packets: 1, errors: 0, drops: 0 } },
    ]);
  });
});

describe("connection tracking", () => {
  const table = [
    "ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.10 dst=198.51.100.1 sport=40000 dport=443 packets=10 bytes=1000 src=198.51.100.1 dst=192.0.2.10 sport=443 dport=40000 packets=20 bytes=30000 [ASSURED] mark=0 zone=0 use=2",
    "ipv4     2 udp      17 29 src=192.0.2.11 dst=198.51.100.53 sport=5353 dport=53 packets=1 bytes=60 src=198.51.100.53 dst=192.0.2.11 sport=53 dport=5353 packets=1 bytes=120 mark=0 zone=0 use=2",
    "ipv6     10 icmpv6   58 29 src=2001:db8::11 dst=2001:db8::1 type=128 code=0 id=7 packets=1 bytes=104 src=2001:db8::1 dst=2001:db8::11 type=129 code=0 id=7 packets=1 bytes=104 mark=0 zone=0 use=2",
    "ipv4     2 udp      17 20 src=192.0.2.11 dst=198.51.100.53 sport=5354 dport=53 packets=1 bytes=60 src=198.51.100.53 dst=192.0.2.11 sport=53 dport=5354 packets=1 bytes=120 mark=0 zone=0 use=2",
    "",
  ].join("\n");

  test("an entry: protocol, the opener and its peer, both directions' bytes", () => {
    expect(parseConntrackLine(table.split("\n")[0]!)).toEqual({ protocol: "tcp", src: "192.0.2.10", dst: "198.51.100.1", bytes: 31000 });
    expect(parseConntrackLine("garbage")).toBeNull();
  });

  test("top talkers by bytes when the kernel counts them", () => {
    expect(topTalkers(parseConntrackTable(table), 2)).toEqual([
      { address: "192.0.2.10", connections: 1, bytes: 31000 },
      { address: "192.0.2.11", connections: 2, bytes: 360 },
    ]);
  });

  test("by connections when it does not (nf_conntrack_acct=0: no bytes= fields)", () => {
    const noAcct = table.replace(/ packets=\d+ bytes=\d+/g, "");
    expect(topTalkers(parseConntrackTable(noAcct), 3)).toEqual([
      { address: "192.0.2.11", connections: 2, bytes: null },
      { address: "192.0.2.10", connections: 1, bytes: null },
      { address: "2001:db8::11", connections: 1, bytes: null },
    ]);
  });
});

describe("a scrape when a source cannot be read", () => {
  test("ip and nft missing: the scrape still answers, says which sources failed, and leaves their metrics out", async () => {
    const registry = new Registry();
    registerHostMetrics(registry, { stateDir: "/nonexistent/fos1-state", ip: "/nonexistent/ip", nft: "/nonexistent/nft" });
    const first = samples(await registry.metrics());
    expect(value(first, "fos1_scrape_source_up", { source: "interfaces" })).toBe(0);
    expect(value(first, "fos1_scrape_source_up", { source: "firewall" })).toBe(0);
    expect(first.filter((s) => s.name.startsWith("fos1_interface_") || s.name.startsWith("fos1_firewall_"))).toEqual([]);
    expect(value(first, "fos1_scrape_source_errors_total", { source: "interfaces" })).toBe(1);
    // Each scrape reads each source once, so the count is scrapes, not metrics fed by the source.
    const second = samples(await registry.metrics());
    expect(value(second, "fos1_scrape_source_errors_total", { source: "firewall" })).toBe(2);
    expect(value(second, "fos1_scrape_source_errors_total", { source: "conntrack" })).toBe(0);
    expect(value(second, "fos1_conntrack_entries_limit")).toBeGreaterThan(0);
  });
});
