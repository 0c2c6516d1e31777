// Which alerts become blocks (src/ids/policy.ts) and which addresses never do
// (allowlist.ts): the severity threshold, the management networks of the config
// (test/unit/ids/router.yaml) and the router's own addresses, one block per source within its
// TTL, and the bounds that keep an alert storm from growing memory. Time is passed in.
import { beforeAll, describe, expect, test } from "bun:test";
import { parseIp } from "../../src/api/ip";
import { loadConfigText, type LoadedObject } from "../../src/api/load";
import type { ConfigObject } from "../../src/api/kinds";
import { Allowlist, buildAllowlist, operatorAllowlist, type LinkAddresses } from "../../src/ids/allowlist";
import type { EveAlert } from "../../src/ids/eve";
import { BlockPolicy, type PolicyOptions } from "../../src/ids/policy";

const HOUR = 3_600_000;
let objects: LoadedObject<ConfigObject>[];

beforeAll(async () => {
  const path = new URL("./ids/router.yaml", import.meta.url).pathname;
  objects = loadConfigText(await Bun.file(path).text(), path).objects;
});

function alert(ip: string, severity = 2, signatureId = 2001219): EveAlert {
  const a = parseIp(ip)!;
  return { sourceIp: ip, family: a.family, addr: a.addr, severity, signatureId, signature: "ET SCAN Potential SSH Scan" };
}

const policy = (o: Partial<PolicyOptions> = {}) =>
  new BlockPolicy({ severity: 2, ttlMs: HOUR, allowlist: new Allowlist([]), maxPending: 4096, maxBlocks: 16_384, ...o });

describe("the allowlist", () => {
  const reason = (list: Allowlist, ip: string) => list.reasonFor(parseIp(ip)!);

  test("management networks (interfaces and routes behind them), the router's addresses and --allow are never blocked; other hosts are", () => {
    const dhcpOnMgmt: LinkAddresses[] = [
      { name: "eth2", mac: null, addresses: [{ cidr: "10.0.0.1/24", scope: "global" }, { cidr: "172.16.5.20/24", scope: "global" }, { cidr: "fe80::1/64", scope: "link" }] },
      { name: "eth0", mac: null, addresses: [{ cidr: "198.51.100.2/24", scope: "global" }] },
    ];
    const list = buildAllowlist(objects, dhcpOnMgmt, operatorAllowlist(["192.0.2.0/25"]));
    expect(reason(list, "10.0.0.50")).toBe("management zone mgmt (10.0.0.0/24)");
    expect(reason(list, "10.99.3.4")).toBe("management zone mgmt (10.99.0.0/16)"); // the Route through mgmt
    expect(reason(list, "172.16.5.77")).toBe("management zone mgmt (172.16.5.0/24)"); // the kernel's address on the management port
    expect(reason(list, "192.168.10.1")).toBe("the router's own address (192.168.10.1/32)");
    expect(reason(list, "2001:db8:10::1")).toBe("the router's own address (2001:db8:10::1/128)");
    expect(reason(list, "198.51.100.2")).toBe("the router's own address (198.51.100.2/32)"); // the uplink's DHCP address
    expect(reason(list, "192.0.2.100")).toBe("allowed by --allow (192.0.2.0/25)");
    expect(reason(list, "0.0.0.0")).toContain("not a host's address");
    expect(reason(list, "ff02::1")).toContain("not a host's address");
    // Not the management zone: LAN hosts, the uplink's network, link-local neighbours, the internet.
    for (const ip of ["192.168.10.23", "198.51.100.3", "fe80::2", "192.0.2.200", "203.0.113.7", "2001:db8:bad::17"]) expect(reason(list, ip)).toBeNull();
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
    const p = policy({ allowlist: buildAllowlist(objects, [], []) });
    const d = p.consider(alert("10.0.0.50", 1), 0);
    expect(d).toEqual({ verdict: "allowlisted", prefix: "10.0.0.50/32", why: "management zone mgmt (10.0.0.0/24)" });
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
    p.remember("203.0.113.7/32", 5000);
    p.remember("203.0.113.8/32", Number.POSITIVE_INFINITY); // fos1 xdp block without --ttl
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

  test("10 000 alerts from 10 000 sources: the waiting set never exceeds its bound; the excess is counted as pending_full, and blocks stop at their bound", () => {
    const p = policy({ maxPending: 1024, maxBlocks: 1500 });
    const verdicts = new Map<string, number>();
    let most = 0;
    for (let i = 0; i < 10_000; i++) {
      const v = p.consider(alert(`100.64.${i >> 8}.${i & 255}`), i).verdict;
      verdicts.set(v, (verdicts.get(v) ?? 0) + 1);
      most = Math.max(most, p.pendingCount);
      if (i === 5000) p.takeBatch(1024, i); // a write in the middle of the storm makes room for more
    }
    expect(most).toBe(1024);
    expect(p.pendingCount + p.activeCount).toBe(1500);
    // 1024 queued, then full until the write at 5000; 476 more until 1500 are blocked or waiting; then the block bound.
    expect(Object.fromEntries(verdicts)).toEqual({ queued: 1500, pending_full: 5001 - 1024, blocks_full: 10_000 - 5001 - 476 });
  });
});
