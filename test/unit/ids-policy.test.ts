// Which alerts become blocks (src/ids/policy.ts) and which addresses never do
// (allowlist.ts): the severity threshold, the management networks of the config
// (test/unit/ids/router.yaml), the router's own addresses, its gateways, DHCP servers, next hops,
// resolvers and cluster nodes, fe80::/10; the alert categories that may block (category.ts, on
// recorded lines in test/unit/ids/eve-categories.jsonl); one block per source within its TTL;
// the rate of new blocks (rate-limit.ts); eviction at the cap; and the bounds that keep an alert
// storm from growing memory. Time is passed in.
import { beforeAll, describe, expect, test } from "bun:test";
import { parseIp } from "../../src/api/ip";
import { loadConfigText, type LoadedObject } from "../../src/api/load";
import type { ConfigObject } from "../../src/api/kinds";
import { Allowlist, buildAllowlist, NO_HOST_FACTS, operatorAllowlist, type HostFacts, type LinkAddresses } from "../../src/ids/allowlist";
import { ALERT_CATEGORIES, parseBlockOn, type AlertCategory } from "../../src/ids/category";
import { parseEveLine, type EveAlert } from "../../src/ids/eve";
import { nextHopsOf } from "../../src/ids/host-facts";
import { BlockPolicy, type PolicyOptions } from "../../src/ids/policy";
import { DEFAULT_RATE_LIMITS } from "../../src/ids/rate-limit";

const HOUR = 3_600_000;
let objects: LoadedObject<ConfigObject>[];

beforeAll(async () => {
  const path = new URL("./ids/router.yaml", import.meta.url).pathname;
  objects = loadConfigText(await Bun.file(path).text(), path).objects;
});

function alert(ip: string, severity = 2, signatureId = 2001219, category: AlertCategory = "tcp-established"): EveAlert {
  const a = parseIp(ip)!;
  return { sourceIp: ip, family: a.family, addr: a.addr, severity, signatureId, signature: "ET SCAN Potential SSH Scan", category };
}

/** No rate limit unless a test sets one. */
const UNLIMITED = { windowMs: 60_000, perAggregate: 1e9, total: 1e9 };
const policy = (o: Partial<PolicyOptions> = {}) =>
  new BlockPolicy({ severity: 2, ttlMs: HOUR, allowlist: new Allowlist([]), blockOn: ["tcp-established"], rate: UNLIMITED, maxPending: 4096, maxBlocks: 16_384, ...o });

describe("the allowlist", () => {
  const reason = (list: Allowlist, ip: string) => list.reasonFor(parseIp(ip)!)?.why ?? null;
  const classOf = (list: Allowlist, ip: string) => list.reasonFor(parseIp(ip)!)?.class ?? null;
  const facts = (o: Partial<HostFacts>): HostFacts => ({ ...NO_HOST_FACTS, ...o });

  test("management networks (interfaces and routes behind them), the router's addresses and --allow are never blocked; other hosts are", () => {
    const dhcpOnMgmt: LinkAddresses[] = [
      { name: "eth2", mac: null, addresses: [{ cidr: "10.0.0.1/24", scope: "global" }, { cidr: "172.16.5.20/24", scope: "global" }, { cidr: "fe80::1/64", scope: "link" }] },
      { name: "eth0", mac: null, addresses: [{ cidr: "198.51.100.2/24", scope: "global" }] },
    ];
    const list = buildAllowlist(objects, facts({ links: dhcpOnMgmt }), operatorAllowlist(["192.0.2.0/25"]));
    expect(reason(list, "10.0.0.50")).toBe("management zone mgmt (10.0.0.0/24)");
    expect(reason(list, "10.99.3.4")).toBe("management zone mgmt (10.99.0.0/16)"); // the Route through mgmt
    expect(reason(list, "172.16.5.77")).toBe("management zone mgmt (172.16.5.0/24)"); // the kernel's address on the management port
    expect(reason(list, "192.168.10.1")).toBe("the router's own address (192.168.10.1/32)");
    expect(reason(list, "2001:db8:10::1")).toBe("the router's own address (2001:db8:10::1/128)");
    expect(reason(list, "198.51.100.2")).toBe("the router's own address (198.51.100.2/32)"); // the uplink's DHCP address
    expect(reason(list, "192.0.2.100")).toBe("allowed by --allow (192.0.2.0/25)");
    expect(reason(list, "0.0.0.0")).toContain("not a host's address");
    expect(reason(list, "ff02::1")).toContain("not a host's address");
    // Not the management zone: LAN hosts, the uplink's network, the internet.
    for (const ip of ["192.168.10.23", "198.51.100.3", "192.0.2.200", "203.0.113.7", "2001:db8:bad::17"]) expect(reason(list, ip)).toBeNull();
  });

  test("what the router cannot work without is never blocked: the leases' gateways, DHCP servers and DNS servers, fos1's next hops, configured resolvers, fe80::/10, the cluster's nodes", () => {
    const dns = loadConfigText(
      `apiVersion: network.fos1.io/v1alpha1
kind: DNSResolver
metadata: {name: home}
spec: {zones: [lan], forwarders: [9.9.9.9, "2620:fe::fe"]}
---
apiVersion: network.fos1.io/v1alpha1
kind: DHCPServer
metadata: {name: lan1}
spec: {interface: lan1, dnsServers: [1.1.1.1]}
`,
      "dns.yaml",
    ).objects;
    const host = facts({
      leases: [
        { ifname: "eth0", gateway: "198.51.100.1", server: "198.51.100.67", dnsServers: ["198.51.100.53", "198.51.100.54"] },
        { ifname: "eth0", dnsServers: ["2001:db8:53::53"] }, // the DHCPv6 lease: resolvers only
      ],
      nextHops: ["203.0.113.254", "2001:db8:ff::1"],
      nodes: ["172.20.0.11", "fd00:20::11"],
    });
    const list = buildAllowlist([...objects, ...dns], host, []);
    expect(reason(list, "198.51.100.1")).toBe("the gateway of eth0's DHCP lease (198.51.100.1/32)");
    expect(reason(list, "198.51.100.67")).toBe("the DHCP server of eth0's lease (198.51.100.67/32)");
    expect(reason(list, "198.51.100.54")).toBe("a DNS server of eth0's DHCP lease (198.51.100.54/32)");
    expect(reason(list, "203.0.113.254")).toBe("the next hop of a route of fos1's in the kernel (203.0.113.254/32)");
    expect(reason(list, "9.9.9.9")).toBe("a forwarder of DNSResolver home (9.9.9.9/32)");
    expect(reason(list, "1.1.1.1")).toBe("a DNS server DHCPServer lan1 hands out (1.1.1.1/32)");
    expect(reason(list, "fe80::1:2")).toBe("an IPv6 link-local address (neighbours, router advertisements, gateways) (fe80::/10)");
    expect(Object.fromEntries(["2001:db8:53::53", "2620:fe::fe", "2001:db8:ff::1", "172.20.0.11", "fd00:20::11", "febf::1"].map((ip) => [ip, classOf(list, ip)]))).toEqual({
      "2001:db8:53::53": "dns",
      "2620:fe::fe": "dns",
      "2001:db8:ff::1": "next_hop",
      "172.20.0.11": "cluster_node",
      "fd00:20::11": "cluster_node",
      "febf::1": "link_local",
    });
    // Exactly those hosts: their neighbours may still be blocked, and without the facts none of them is allowed.
    for (const ip of ["198.51.100.2", "198.51.100.55", "203.0.113.253", "172.20.0.12", "9.9.9.10", "fec0::1"]) expect(reason(list, ip)).toBeNull();
    expect(reason(buildAllowlist(objects, NO_HOST_FACTS, []), "198.51.100.1")).toBeNull();
    expect(list.counts()).toMatchObject({ gateway: 1, dhcp_server: 1, dns: 6, next_hop: 3, cluster_node: 2, link_local: 1 }); // next_hop: the config's Route too
  });

  test("fos1's routes' next hops as ip -json prints them, multipath included", () => {
    const json = JSON.stringify([
      { dst: "default", gateway: "203.0.113.1", dev: "eth0", protocol: "241" },
      { dst: "10.99.0.0/16", protocol: "241", nexthops: [{ gateway: "10.0.0.253", dev: "eth2" }, { gateway: "10.0.0.254", dev: "eth2" }] },
      { dst: "192.0.2.0/24", dev: "eth1", protocol: "241" },
    ]);
    expect(nextHopsOf(json)).toEqual(["203.0.113.1", "10.0.0.253", "10.0.0.254"]);
  });

  test("--allow takes networks only, and says so", () => {
    expect(() => operatorAllowlist(["10.0.0.0/8", "mgmt"])).toThrow('--allow "mgmt" is not a CIDR; give a network like 192.0.2.0/24 or 2001:db8::/48');
    expect(() => operatorAllowlist(["10.0.0.1"])).toThrow("is not a CIDR");
  });
});

describe("block decisions", () => {
  test("severity 1 is the highest: at threshold 2, severities 1 and 2 block and 3 does not", () => {
    const p = policy();
    expect(p.consider(alert("203.0.113.1", 1), 0).verdict).toBe("queued");
    expect(p.consider(alert("203.0.113.2", 2), 0).verdict).toBe("queued");
    expect(p.consider(alert("203.0.113.3", 3), 0).verdict).toBe("below_severity");
    expect(policy({ severity: 1 }).consider(alert("203.0.113.2", 2), 0).verdict).toBe("below_severity");
  });

  test("an alert from a management address is allowlisted, never queued", () => {
    const p = policy({ allowlist: buildAllowlist(objects, NO_HOST_FACTS, []) });
    const d = p.consider(alert("10.0.0.50", 1), 0);
    expect(d).toEqual({ verdict: "allowlisted", prefix: "10.0.0.50/32", class: "management", why: "management zone mgmt (10.0.0.0/24)" });
    expect(p.takeBatch(100, 0)).toEqual([]);
  });

  test("one block per source within its TTL: repeated alerts are duplicates, before and after the write; after the TTL the source is blocked again", () => {
    const p = policy();
    expect(p.consider(alert("2001:db8:bad::17", 1, 2034647), 0)).toEqual({ verdict: "queued", prefix: "2001:db8:bad::17/128" });
    expect(p.consider(alert("2001:db8:bad::17", 2), 5).verdict).toBe("duplicate");
    const [block] = p.takeBatch(10, 1000);
    expect(block).toEqual({ prefix: "2001:db8:bad::17/128", expiresAt: 1000 + HOUR, source: "ids:2034647", signature: "ET SCAN Potential SSH Scan", severity: 1 });
    expect(p.consider(alert("2001:db8:bad::17"), 1000 + HOUR - 1).verdict).toBe("duplicate");
    expect(p.expire(1000 + HOUR)).toEqual(["2001:db8:bad::17/128"]);
    expect(p.consider(alert("2001:db8:bad::17"), 1000 + HOUR).verdict).toBe("queued");
  });

  test("blocks made before a restart are remembered as duplicates until they expire", () => {
    const p = policy();
    p.remember("203.0.113.7/32", 5000, true);
    p.remember("203.0.113.8/32", Number.POSITIVE_INFINITY, false); // fos1 xdp block without --ttl
    expect(p.consider(alert("203.0.113.7"), 4999).verdict).toBe("duplicate");
    expect(p.consider(alert("203.0.113.8"), 10 * HOUR).verdict).toBe("duplicate");
    expect(p.consider(alert("203.0.113.7"), 5000).verdict).toBe("queued");
  });

  test("a block no sink could write is forgotten, so that the next alert tries again", () => {
    const p = policy();
    p.consider(alert("203.0.113.7"), 0);
    const [b] = p.takeBatch(10, 0);
    p.forget(b!.prefix);
    expect(p.consider(alert("203.0.113.7"), 1).verdict).toBe("queued");
  });

  test("batches are taken oldest first, at most the batch size", () => {
    const p = policy();
    for (let i = 1; i <= 5; i++) p.consider(alert(`203.0.113.${i}`), i);
    expect(p.takeBatch(2, 10).map((b) => b.prefix)).toEqual(["203.0.113.1/32", "203.0.113.2/32"]);
    expect(p.takeBatch(10, 10).map((b) => b.prefix)).toEqual(["203.0.113.3/32", "203.0.113.4/32", "203.0.113.5/32"]);
    expect(p.pendingCount).toBe(0);
    expect(p.activeCount).toBe(5);
  });
});

describe("an alert storm", () => {
  const sourceOf = (i: number) => `198.51.${100 + (i % 300 >> 8)}.${i % 300 & 255}`;

  test("10 000 alerts from 300 sources in a burst: one queued block per source, the rest duplicates", () => {
    const p = policy();
    const verdicts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const v = p.consider(alert(sourceOf(i), 1 + (i % 2)), i).verdict;
      verdicts.set(v, (verdicts.get(v) ?? 0) + 1);
      expect(p.pendingCount).toBeLessThanOrEqual(300);
    }
    expect(Object.fromEntries(verdicts)).toEqual({ queued: 300, duplicate: 9700 });
    const written: string[] = [];
    for (let batch = p.takeBatch(256, 0); batch.length; batch = p.takeBatch(256, 0)) written.push(...batch.map((b) => b.prefix));
    expect(written.length).toBe(300);
    expect(new Set(written).size).toBe(300);
  });

  test("10 000 alerts from 10 000 sources: the waiting set never exceeds its bound (the excess is pending_full), blocks never exceed theirs (the oldest is evicted)", () => {
    const p = policy({ maxPending: 1024, maxBlocks: 1500 });
    const verdicts = new Map<string, number>();
    let most = 0;
    let evicted = 0;
    for (let i = 0; i < 10_000; i++) {
      const d = p.consider(alert(`100.64.${i >> 8}.${i & 255}`), i);
      verdicts.set(d.verdict, (verdicts.get(d.verdict) ?? 0) + 1);
      if (d.verdict === "queued" && d.evicted) evicted++;
      most = Math.max(most, p.pendingCount);
      expect(p.pendingCount + p.activeCount).toBeLessThanOrEqual(1500);
      if (i === 5000) p.takeBatch(1024, i); // a write in the middle of the storm makes room for more
    }
    expect(most).toBe(1024);
    expect(p.pendingCount + p.activeCount).toBe(1500);
    // 1024 queued, then pending_full until the write at 5000; 476 more until 1500 are blocked or
    // waiting; then 548 more, each evicting one of the 1024 written, until 1024 wait again; then pending_full.
    expect(Object.fromEntries(verdicts)).toEqual({ queued: 1024 + 476 + 548, pending_full: 5001 - 1024 + (10_000 - 6025) });
    expect(evicted).toBe(548);
    expect(p.takeEvictions().length).toBe(548);
  });
});

describe("alert categories: only those whose source cannot be forged block by default", () => {
  const FIXTURE = new URL("./ids/eve-categories.jsonl", import.meta.url).pathname;
  const recorded = async () =>
    (await Bun.file(FIXTURE).text())
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => {
        const r = parseEveLine(l);
        if (r.kind !== "alert") throw new Error(`not an alert: ${l}`);
        return r.alert;
      });

  test("each recorded alert's category: TCP after its handshake (app_proto, tcp.state, flow.state), TCP without one, UDP, ICMP, other", async () => {
    expect((await recorded()).map((a) => `${a.sourceIp} ${a.category}`)).toEqual([
      "203.0.113.7 tcp", // a SYN: nothing came back from the source
      "198.51.100.23 tcp-established", // app_proto http: the stream had data after the handshake
      "198.51.100.24 tcp-established", // tcp.state established (eve-log tcp metadata)
      "198.51.100.25 tcp", // app_proto failed says nothing of a handshake
      "198.51.100.26 tcp", // syn_recv: the handshake did not complete
      "198.51.100.27 tcp-established", // flow.state established
      "198.51.100.53 udp",
      "198.51.100.1 icmp",
      "2001:db8:bad::17 icmp",
      "198.51.100.47 other",
    ]);
  });

  test("by default only tcp-established blocks; the rest is refused as category; --block-on widens it", async () => {
    const alerts = (await recorded()).map((a) => ({ ...a, severity: 1 }));
    const verdicts = (p: BlockPolicy) => alerts.map((a) => p.consider(a, 0).verdict);
    expect(verdicts(policy())).toEqual(["category", "queued", "queued", "category", "category", "queued", "category", "category", "category", "category"]);
    expect(verdicts(policy({ blockOn: parseBlockOn("tcp-established,udp") })).filter((v) => v === "queued").length).toBe(4);
    expect(verdicts(policy({ blockOn: ALERT_CATEGORIES })).every((v) => v === "queued")).toBe(true);
  });

  test("--block-on takes known categories only, and says which are", () => {
    expect(parseBlockOn("udp, tcp-established,udp")).toEqual(["udp", "tcp-established"]);
    expect(() => parseBlockOn("tcp-established,syn")).toThrow('--block-on "tcp-established,syn": "syn" is not an alert category; give a comma-separated list of tcp-established, tcp, udp, icmp, other');
    expect(() => parseBlockOn("")).toThrow("is not an alert category");
  });

  test("an allowlisted source is allowlisted whatever the category (the metrics say which protection held)", () => {
    const p = policy({ allowlist: buildAllowlist(objects, { ...NO_HOST_FACTS, leases: [{ ifname: "eth0", gateway: "198.51.100.1", dnsServers: [] }] }, []) });
    expect(p.consider(alert("198.51.100.1", 1, 1, "udp"), 0)).toMatchObject({ verdict: "allowlisted", class: "gateway" });
  });
});

describe("the rate of new blocks", () => {
  test("at most perAggregate per /24 and per /48, and total in all, per window; the next window starts again", () => {
    const p = policy({ rate: { windowMs: 60_000, perAggregate: 3, total: 5 } });
    const v = (ip: string, now = 0) => p.consider(alert(ip), now).verdict;
    expect(["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"].map((ip) => v(ip))).toEqual(["queued", "queued", "queued", "rate_aggregate"]);
    expect(v("203.0.114.1")).toBe("queued"); // another /24
    expect(v("2001:db8:1:ffff::1")).toBe("queued"); // the total's fifth
    expect(v("2001:db8:2::1")).toBe("rate_total");
    expect(v("203.0.113.1")).toBe("duplicate"); // a source already waiting is no new block
    expect(v("203.0.113.4", 60_000)).toBe("queued");
  });

  test("/48s: two sources in one /48 share its budget, the next /48 has its own", () => {
    const p = policy({ rate: { windowMs: 60_000, perAggregate: 1, total: 100 } });
    expect(p.consider(alert("2001:db8:1:1::1"), 0).verdict).toBe("queued");
    expect(p.consider(alert("2001:db8:1:ffff::2"), 0).verdict).toBe("rate_aggregate");
    expect(p.consider(alert("2001:db8:2::1"), 0).verdict).toBe("queued");
  });

  test("a refused alert spends no budget: allowlisted, category and duplicates leave room for the real attacker", () => {
    const p = policy({ rate: { windowMs: 60_000, perAggregate: 1, total: 1 }, allowlist: operatorAllowlistAsList("203.0.113.0/25") });
    for (let i = 1; i < 100; i++) p.consider(alert(`203.0.113.${i}`), 0); // allowlisted
    for (let i = 1; i < 100; i++) p.consider(alert(`198.51.100.${i}`, 1, 1, "udp"), 0); // category
    expect(p.consider(alert("203.0.113.200"), 0).verdict).toBe("queued");
    expect(p.rateAggregates).toBe(1);
  });

  test("the defaults: 8 per /24 or /48 and 256 in all, per minute", () => {
    expect(DEFAULT_RATE_LIMITS).toEqual({ windowMs: 60_000, perAggregate: 8, total: 256 });
  });
});

function operatorAllowlistAsList(cidr: string): Allowlist {
  return new Allowlist(operatorAllowlist([cidr]));
}

describe("eviction at the cap", () => {
  test("at maxBlocks the oldest IDS block is evicted for the new one, and handed out once to be taken off the sinks", () => {
    const p = policy({ maxBlocks: 3 });
    for (const ip of ["203.0.113.1", "203.0.113.2", "203.0.113.3"]) p.consider(alert(ip), 0);
    p.takeBatch(10, 0);
    expect(p.consider(alert("198.51.100.7"), 1)).toEqual({ verdict: "queued", prefix: "198.51.100.7/32", evicted: "203.0.113.1/32" });
    expect(p.consider(alert("198.51.100.8"), 2)).toEqual({ verdict: "queued", prefix: "198.51.100.8/32", evicted: "203.0.113.2/32" });
    expect(p.takeEvictions()).toEqual(["203.0.113.1/32", "203.0.113.2/32"]);
    expect(p.takeEvictions()).toEqual([]);
    expect(p.activeCount + p.pendingCount).toBe(3);
    // The evicted source is no longer blocked: its next alert blocks it again (evicting the next oldest).
    expect(p.consider(alert("203.0.113.1"), 3)).toMatchObject({ verdict: "queued", evicted: "203.0.113.3/32" });
  });

  test("blocks the IDS did not make (the operator's, found at start) are never evicted; with only those left the alert is dropped", () => {
    const p = policy({ maxBlocks: 2 });
    p.remember("192.0.2.1/32", Number.POSITIVE_INFINITY, false);
    p.remember("192.0.2.2/32", 10 * HOUR, true); // the IDS's own, from before a restart
    expect(p.consider(alert("203.0.113.9"), 0)).toMatchObject({ verdict: "queued", evicted: "192.0.2.2/32" });
    expect(p.consider(alert("203.0.113.10"), 0).verdict).toBe("blocks_full"); // the operator's block and one waiting: nothing to evict
  });

  test("a block one sink holds as the operator's is not evicted even if another sink holds it as the IDS's", () => {
    const p = policy({ maxBlocks: 1 });
    p.remember("192.0.2.1/32", HOUR, true);
    p.remember("192.0.2.1/32", HOUR, false);
    expect(p.consider(alert("203.0.113.9"), 0).verdict).toBe("blocks_full");
  });
});
