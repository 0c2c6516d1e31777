// `fos1 status`'s one-screen summary, rendered from a status as the host would report it: it
// must fit an 80×24 terminal whatever the host holds, and say what matters first.
import { describe, expect, test } from "bun:test";
import { ago, bitRate, byteCount, summaryText } from "../../src/cli/status/summary";
import type { HistoryLine } from "../../src/journal/journal";
import type { LinkCounters } from "../../src/agent/router-metrics/link-counters";
import { dropsByReason, linkRates, type HostStatus, type InterfaceStatus } from "../../src/cli/status/host-status";

const NOW = Date.parse("2026-05-01T12:00:00Z");
const iface = (name: string, over: Partial<InterfaceStatus> = {}): InterfaceStatus => ({
  name, kind: "physical", adminUp: true, state: "UP", speedMbps: 1000, mtu: 1500, mac: null, addresses: [], managed: false, master: null,
  zone: null, rxBitsPerSecond: 0, txBitsPerSecond: 0, ...over,
});
const change = (number: number, over: Partial<HistoryLine> = {}): HistoryLine & { number: number } => ({
  number, digest: "sha256:" + "ab".repeat(32), startedAt: "2026-05-01T11:57:00Z", finishedAt: "2026-05-01T11:57:00Z", source: "fos1 agent (config changed)", outcome: "converged", changes: { add: 2, change: 1 }, ...over,
});

function status(over: Partial<HostStatus> = {}): HostStatus {
  return {
    hostname: "router", kernel: "6.1.0-56-amd64",
    config: { lastKnownGood: { digest: "sha256:0123456789abcdef" + "0".repeat(48), startedAt: "2026-05-01T11:57:00Z", source: "fos1 agent (start)" }, pending: null },
    interfaces: [
      iface("lo", { kind: "loopback", state: "UNKNOWN", addresses: ["127.0.0.1/8"] }),
      iface("eth9", {}),
      iface("uplink", { kind: "bond", managed: true, zone: "wan", rxBitsPerSecond: 1_234_000, txBitsPerSecond: 340_000, addresses: ["198.51.100.7/24", "2001:db8::7/64", "fe80::1/64"] }),
      iface("lan", { kind: "vlan", managed: true, zone: "lan", rxBitsPerSecond: 999, txBitsPerSecond: null, addresses: ["192.0.2.1/24"] }),
    ],
    routes: [], rules: [],
    firewall: { digest: "sha256:x", chains: 9, rules: 42 },
    sampleSeconds: 1.002,
    zones: [{ name: "wan", interfaces: ["uplink"] }, { name: "lan", interfaces: ["lan"] }],
    conntrack: { entries: 1234, limit: 262144 },
    topTalkers: [{ address: "192.0.2.10", connections: 12, bytes: 3_400_000 }],
    drops: [{ source: "xdp", where: "edge", reason: "drop_block_v4", packets: 1234 }, { source: "firewall", where: "zone lan forward policy", chain: "fwd_lan", reason: "reject", packets: 56 }],
    blocks: { static: 3, dynamic: [{ filter: "edge", prefix: "203.0.113.7/32", source: "dynamic", expires: "2026-05-01T13:00:00.000Z", packets: "12" }] },
    lan: [{ interface: "lan", leases: 12, poolAddresses: 151 }],
    lastChanges: [change(12), change(11, { outcome: "failed", changes: { remove: 1 }, finishedAt: "2026-05-01T10:00:00Z" })],
    problems: [],
    ...over,
  };
}

const screen = (text: string) => {
  const lines = text.trimEnd().split("\n");
  expect(lines.length).toBeLessThanOrEqual(24);
  expect(lines.filter((l) => l.length > 80)).toEqual([]);
  return lines;
};

describe("the one-screen summary", () => {
  test("a small router: config, firewall, conntrack and zones; fos1's interfaces first with rates, zone and first address; talkers beside drops; blocks; changes", () => {
    const lines = screen(summaryText(status(), NOW));
    expect(lines.slice(0, 3)).toEqual([
      "router (Linux 6.1.0-56-amd64) · firewall 42 rules · conntrack 1234/262144",
      "config   0123456789ab applied 3m ago by fos1 agent (start)",
      "zones    wan: uplink · lan: lan",
    ]);
    const rows = lines.slice(lines.findIndex((l) => l.startsWith("INTERFACE")) + 1);
    expect(rows.slice(0, 3).map((r) => r.split(/ {2,}/))).toEqual([
      ["uplink", "UP", "wan", "1.2 Mb/s", "340 kb/s", "198.51.100.7/24 +1"],
      ["lan", "UP", "lan", "999 b/s", "-", "192.0.2.1/24"],
      ["eth9", "UP", "-", "0 b/s", "0 b/s", "-"],
    ]);
    expect(lines.some((l) => l.startsWith("lo "))).toBe(false);
    expect(lines).toContainEqual(expect.stringMatching(/^192\.0\.2\.10 +12 +3\.4 MB +│ xdp edge drop_block_v4 +1234$/));
    expect(lines).toContainEqual(expect.stringMatching(/│ fw zone lan forward policy \(reject\) +56$/));
    expect(lines).toContain("blocks   3 static, 1 dynamic: 203.0.113.7/32 until 13:00 (12 dropped)");
    expect(lines).toContain("leases   lan 12/151");
    expect(lines).toContain("changes  #12 3m ago converged: 2 add, 1 change, by fos1 agent (config changed)");
    expect(lines).toContain("         #11 2h ago failed: 1 remove, by fos1 agent (config changed)");
  });

  test("a big host (40 interfaces, long IPv6 talkers and rule names, many blocks and changes, a pending config, problems) still fits, and says how many interfaces it left out", () => {
    const many = Array.from({ length: 40 }, (_, i) => iface(`lan${i}`, { kind: "vlan", managed: true, zone: "a-very-long-zone-name", addresses: ["2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128"] }));
    const text = summaryText(
      status({
        interfaces: many,
        config: { lastKnownGood: null, pending: { digest: "sha256:" + "f".repeat(64), startedAt: "2026-05-01T11:59:00Z", source: "fos1 apply -f x.yaml", awaitingConfirmation: true, confirmBy: "2026-05-01T12:01:30Z" } },
        topTalkers: Array.from({ length: 10 }, (_, i) => ({ address: `2001:db8:aaaa:bbbb:cccc:dddd:eeee:${i}`, connections: 100 - i, bytes: null })),
        drops: Array.from({ length: 10 }, (_, i) => ({ source: "firewall" as const, where: `FirewallRule/a-rule-with-a-really-long-name-${i}`, chain: "fwd_lan_wan", reason: "drop", packets: 10 - i })),
        blocks: { static: 5000, dynamic: Array.from({ length: 20 }, (_, i) => ({ filter: "edge", prefix: `203.0.113.${i}/32`, source: "dynamic" as const, expires: null, packets: String(i) })) },
        lan: Array.from({ length: 30 }, (_, i) => ({ interface: `lan${i}`, leases: 200 + i, poolAddresses: 65534 })),
        lastChanges: Array.from({ length: 5 }, (_, i) => change(20 - i, { source: "fos1 apply -f /a/very/long/path/to/the/config/file/that/goes/on/and/on.yaml" })),
        problems: [{ source: "conntrack", error: "ENOENT: no such file or directory, open '/proc/sys/net/netfilter/nf_conntrack_count'" }],
      }),
      NOW,
    );
    const lines = screen(text);
    expect(lines[1]).toBe("config   none applied yet");
    expect(lines[2]).toBe("pending  ffffffffffff: waiting for fos1 confirm until 2026-05-01T12:01:30Z");
    const more = lines.find((l) => l.startsWith("… "));
    expect(more).toMatch(/^… \d+ more \(fos1 status --details\)$/);
    const shown = lines.filter((l) => /^lan\d+ /.test(l)).length;
    expect(shown + Number(/\d+/.exec(more!)![0])).toBe(40);
    expect(shown).toBeGreaterThanOrEqual(3);
    expect(lines.at(-1)).toStartWith("could not read: conntrack (ENOENT");
    expect(lines.filter((l) => l.startsWith("changes  ") || l.startsWith("         #"))).toHaveLength(3);
  });

  test("nothing yet: no talkers, no drops, no changes are said as such", () => {
    const lines = screen(summaryText(status({ topTalkers: [], drops: [], lastChanges: [], blocks: { static: 0, dynamic: [] }, conntrack: null, firewall: null, zones: [] }), NOW));
    expect(lines[0]).toBe("router (Linux 6.1.0-56-amd64) · no firewall · conntrack -");
    expect(lines[2]).toBe("zones    none");
    expect(lines).toContainEqual(expect.stringMatching(/^\(conntrack not readable\) +│ \(nothing dropped\)$/));
    expect(lines).toContain("blocks   0 static, 0 dynamic");
    expect(lines).toContain("changes  no change recorded yet");
  });
});

describe("the numbers behind it", () => {
  test("rates in SI steps, ages in the largest whole unit", () => {
    expect([bitRate(0), bitRate(999), bitRate(1_234_000), bitRate(12_500_000_000), bitRate(null)]).toEqual(["0 b/s", "999 b/s", "1.2 Mb/s", "13 Gb/s", "-"]);
    expect(byteCount(3_400_000)).toBe("3.4 MB");
    expect([ago("2026-05-01T11:59:50Z", NOW), ago("2026-05-01T09:00:00Z", NOW), ago("2026-04-28T12:00:00Z", NOW)]).toEqual(["10s ago", "3h ago", "3d ago"]);
  });

  const counters = (device: string, rx: number, tx: number): LinkCounters => ({
    device, interface: "", kind: "physical", up: true, vlan: null, member: null,
    rx: { bytes: rx, packets: 0, errors: 0, drops: 0 }, tx: { bytes: tx, packets: 0, errors: 0, drops: 0 },
  });

  test("interface rates from two readings; a link that appeared or was re-created (counters went back) has none", () => {
    const rates = linkRates([counters("a", 1000, 0), counters("b", 5000, 5000)], [counters("a", 3000, 500), counters("b", 10, 10), counters("c", 1, 1)], 2);
    expect(Object.fromEntries(rates)).toEqual({ a: { rxBitsPerSecond: 8000, txBitsPerSecond: 2000 } });
  });

  test("drops: XDP drop reasons and dropping or rejecting rules that counted something, most first", () => {
    const xdp = [{ name: "edge", counters: { pass: { packets: "900" }, drop_block_v4: { packets: "5" }, drop_rate: { packets: "0" }, malformed: { packets: "2" } } }];
    const fw = { zones: {}, zonePairs: [], rules: [
      { chain: "input", rule: "ct state invalid", verdict: "drop", packets: 7, bytes: 0 },
      { chain: "fwd_lan_wan", rule: "FirewallRule/web", verdict: "accept", packets: 99, bytes: 0 },
      { chain: "in_lan", rule: "zone lan input policy", verdict: "reject", packets: 0, bytes: 0 },
    ] };
    expect(dropsByReason(xdp, fw)).toEqual([
      { source: "firewall", where: "ct state invalid", chain: "input", reason: "drop", packets: 7 },
      { source: "xdp", where: "edge", reason: "drop_block_v4", packets: 5 },
      { source: "xdp", where: "edge", reason: "malformed", packets: 2 },
    ]);
  });
});
