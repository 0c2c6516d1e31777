// fos1's port-segment layout of a zone pair's rules (src/engine/firewall/classify.ts) against
// the same rules as one straightforward linear chain, with real packets: seeded random rule sets
// (TCP and UDP rules with overlapping ports and ranges, sources and destinations that nest and
// miss, allow / deny / reject, and rules that stay linear among them: any protocol, ICMP, a rate
// limit) and seeded random flows, one packet each, from a client namespace through a router
// namespace to a server namespace. Each flow either reaches the server or not (the server's own
// nftables records what arrives), and each rule counts the flows it decided: both must be the
// same under either layout. Root is needed.
//
//   cli 198.18.0.10-25, 2001:db8:a::10-25 ──c0═r0── router ──r1═s0── srv 198.18.1.10-25, 2001:db8:b::10-25
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseFirewallCounters } from "../../src/agent/router-metrics/firewall-counters";
import { compileFirewall } from "../../src/engine/firewall/compile";
import type { DesiredFirewall, FwRule, PortRange, Protocol } from "../../src/policy/model";
import { seededRandom } from "../helpers/seeded-random";
import { addVeth, createNs, destroyAll, ipBatch, nsRun, runOk } from "./netns";

const tmp = mkdtempSync(join(tmpdir(), "fos1-netns-classify-"));
const PY = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const SEND = join(tmp, "send.py");
const SEEDS = [20261208, 7, 4242];
const RULES = 160;
const FLOWS = 400;
const POOL = Array.from({ length: 16 }, (_, i) => 10 + i);
const cli4 = (h: number) => `198.18.0.${h}`;
const srv4 = (h: number) => `198.18.1.${h}`;
const cli6 = (h: number) => `2001:db8:a::${h.toString(16)}`;
const srv6 = (h: number) => `2001:db8:b::${h.toString(16)}`;

// One packet per flow: a UDP datagram, or a TCP SYN whose socket is closed at once (no retry).
const SEND_PY = String.raw`
import json, socket, sys
for f in json.load(sys.stdin):
    fam = socket.AF_INET6 if ":" in f["src"] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM if f["proto"] == "udp" else socket.SOCK_STREAM)
    s.bind((f["src"], 0))
    if f["proto"] == "udp":
        s.sendto(b"x", (f["dst"], f["port"]))
    else:
        s.setblocking(False)
        s.connect_ex((f["dst"], f["port"]))
    s.close()
print("sent", flush=True)
`;

// What reaches the server, by source, destination, protocol and port.
const SEEN_NFT = `
table inet seen {
  set v4 { type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags dynamic; size 65536; }
  set v6 { type ipv6_addr . ipv6_addr . inet_proto . inet_service; flags dynamic; size 65536; }
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    meta l4proto { tcp, udp } meta nfproto ipv4 add @v4 { ip saddr . ip daddr . meta l4proto . th dport }
    meta l4proto { tcp, udp } meta nfproto ipv6 add @v6 { ip6 saddr . ip6 daddr . meta l4proto . th dport }
  }
}
`;

let router: string;
let cli: string;
let srv: string;

beforeAll(async () => {
  writeFileSync(SEND, SEND_PY);
  router = await createNs("router");
  cli = await createNs("cli");
  srv = await createNs("srv");
  await addVeth(router, "r0", cli, "c0");
  await addVeth(router, "r1", srv, "s0");
  await ipBatch(router, ["link set lo up", "link set r0 up", "link set r1 up", "address add 198.18.0.1/24 dev r0", "address add 198.18.1.1/24 dev r1", "address add 2001:db8:a::1/64 dev r0 nodad", "address add 2001:db8:b::1/64 dev r1 nodad"]);
  await runOk(["ip", "netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
  const hostLines = (dev: string, v4: (h: number) => string, v6: (h: number) => string, gw4: string, gw6: string) => [
    "link set lo up",
    `link set ${dev} up`,
    ...POOL.flatMap((h) => [`address add ${v4(h)}/24 dev ${dev}`, `address add ${v6(h)}/64 dev ${dev} nodad`]),
    `route add default via ${gw4}`,
    `route add default via ${gw6}`,
  ];
  await ipBatch(cli, hostLines("c0", cli4, cli6, "198.18.0.1", "2001:db8:a::1"));
  await ipBatch(srv, hostLines("s0", srv4, srv6, "198.18.1.1", "2001:db8:b::1"));
  await runOk(["ip", "netns", "exec", srv, "nft", "-f", "-"], { stdin: SEEN_NFT });
  // Resolve every neighbour first: a flow's packet must not wait on neighbour discovery.
  const hosts = POOL.flatMap((h) => [cli4(h), srv4(h), cli6(h), srv6(h)]);
  await Promise.all(hosts.map((a) => nsRun(router, ["ping", "-c", "1", "-W", "1", a])));
});

afterAll(async () => {
  await destroyAll();
  rmSync(tmp, { recursive: true, force: true });
});

interface Flow {
  proto: "tcp" | "udp";
  src: string;
  dst: string;
  port: number;
}

/** Ports from a small universe, so that rules overlap and flows hit them. */
const PORT_LO = 1000;
const PORT_HI = 1120;

function randomRules(rand: () => number): FwRule[] {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const port = () => PORT_LO + Math.floor(rand() * (PORT_HI - PORT_LO));
  const ports = (): PortRange[] =>
    Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
      const a = port();
      return rand() < 0.6 ? [a, a] : [a, Math.min(PORT_HI, a + Math.floor(rand() * 30))];
    });
  // An address near the pool: a host of it, a block covering part of it, or one just outside.
  const near = (v4: (h: number) => string, v6: (h: number) => string, six: boolean) => {
    const h = pick(POOL);
    const r = rand();
    if (six) return r < 0.5 ? `${v6(h)}/128` : r < 0.85 ? `${v6(h & ~3)}/126` : `${v6(h + 40)}/128`;
    return r < 0.5 ? `${v4(h)}/32` : r < 0.85 ? `${v4(h & ~3)}/30` : `${v4(h + 40)}/32`;
  };
  return Array.from({ length: RULES }, (_, i): FwRule => {
    const kind = rand();
    const protocol: Protocol = kind < 0.05 ? "any" : kind < 0.08 ? "icmp" : kind < 0.55 ? "tcp" : "udp";
    const six = rand() < 0.4;
    const portList = protocol === "tcp" || protocol === "udp" ? (rand() < 0.08 ? [] : ports()) : [];
    // a rule for every port narrows to one source, lest one early deny decide every flow
    const sources = !portList.length || rand() < 0.5 ? [near(cli4, cli6, six)] : [];
    const destinations = rand() < 0.4 ? [near(srv4, srv6, six)] : [];
    return {
      ref: `FirewallRule/r${i}`,
      name: `r${i}`,
      from: "cli",
      to: "srv",
      protocol,
      ports: portList,
      sources,
      destinations,
      action: pick(["allow", "allow", "deny", "reject"] as const),
      log: false,
      // a rate and a burst no flow here reaches: the rule stays linear, its verdict fixed
      ...(rand() < 0.04 ? { rateLimit: { rate: 100000, per: "second" as const, burst: 100000 } } : {}),
    };
  });
}

function randomFlows(rand: () => number): Flow[] {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  return Array.from({ length: FLOWS }, () => {
    const six = rand() < 0.4;
    return {
      proto: rand() < 0.5 ? "tcp" : "udp",
      src: six ? cli6(pick(POOL)) : cli4(pick(POOL)),
      dst: six ? srv6(pick(POOL)) : srv4(pick(POOL)),
      port: PORT_LO - 5 + Math.floor(rand() * (PORT_HI - PORT_LO + 10)),
    };
  });
}

const firewall = (rules: FwRule[]): DesiredFirewall => ({
  zones: [
    { name: "cli", interfaces: ["r0"], input: "drop", forward: "drop", management: true },
    { name: "srv", interfaces: ["r1"], input: "drop", forward: "drop" },
  ] as DesiredFirewall["zones"],
  rules,
  vlanPolicies: [],
  nat: [],
});

/** Loads the layout, sends the flows, and returns what arrived and each rule's count. */
async function runFlows(commands: unknown[], flows: Flow[]): Promise<{ arrived: Set<string>; counts: Record<string, number> }> {
  await runOk(["ip", "netns", "exec", router, "nft", "-j", "-f", "-"], { stdin: JSON.stringify({ nftables: commands }) });
  await runOk(["ip", "netns", "exec", srv, "nft", "flush", "set", "inet", "seen", "v4"]);
  await runOk(["ip", "netns", "exec", srv, "nft", "flush", "set", "inet", "seen", "v6"]);
  const sent = await nsRun(cli, [PY, SEND], { stdin: JSON.stringify(flows) });
  expect(sent.stdout).toContain("sent");
  await Bun.sleep(300);
  const seen = JSON.parse(await runOk(["ip", "netns", "exec", srv, "nft", "-j", "list", "table", "inet", "seen"])) as { nftables: { set?: { name: string; elem?: { concat: unknown[] }[] } }[] };
  const arrived = new Set<string>();
  for (const it of seen.nftables) for (const e of it.set?.elem ?? []) arrived.add(JSON.stringify(e.concat ?? e));
  const table = await runOk(["ip", "netns", "exec", router, "nft", "-j", "list", "table", "inet", "fos1"]);
  const counts: Record<string, number> = {};
  for (const r of parseFirewallCounters(table).rules) if (r.chain === "fwd_cli_srv") counts[`${r.rule} ${r.verdict}`] = (counts[`${r.rule} ${r.verdict}`] ?? 0) + r.packets;
  return { arrived, counts };
}

describe("port segments decide every flow as the linear chain does", () => {
  for (const seed of SEEDS)
    test(`seed ${seed}: ${RULES} random rules, ${FLOWS} random flows: the same flows arrive and every rule counts the same flows`, async () => {
      const rand = seededRandom(seed);
      const rules = randomRules(rand);
      const flows = randomFlows(rand);
      const fos1 = compileFirewall(firewall(rules));
      const linear = compileFirewall(firewall(rules), { linear: true });
      // the layout under test does classify: segment chains and their maps
      expect(Object.keys(fos1.shape).filter((k) => k.startsWith("@fwd_cli_srv.m")).length).toBeGreaterThan(1);
      expect(Object.keys(linear.shape).filter((k) => k.includes("."))).toEqual([]);
      const a = await runFlows(fos1.commands, flows);
      const b = await runFlows(linear.commands, flows);
      console.log(`classify seed ${seed}: ${a.arrived.size} of ${flows.length} flows arrived; ${Object.keys(fos1.shape).filter((k) => k.startsWith("fwd_cli_srv.")).length} segment chains`);
      expect(a.arrived.size).toBeGreaterThan(flows.length / 10);
      expect(a.arrived.size).toBeLessThan(flows.length * 0.9);
      expect([...a.arrived].sort()).toEqual([...b.arrived].sort());
      expect(a.counts).toEqual(b.counts);
      expect(Object.values(a.counts).reduce((x, y) => x + y, 0)).toBe(flows.length);
    });
});
