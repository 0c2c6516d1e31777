// The router serving its LAN, on the real kernel with the real daemons: `fos1 agent` runs
// dnsmasq for a DHCPServer, a RouterAdvertisement and a DNSResolver, and a client namespace with
// no configuration gets a lease (busybox udhcpc), a SLAAC address from the advertised /64 (the
// kernel's own autoconfiguration), and answers to its DNS questions (busybox nslookup) — through
// fos1's firewall, which opens exactly that on the served zone (DNS over UDP past connection
// tracking). Changes of static leases reload dnsmasq in place; a change of the pools restarts
// it with its leases kept; a config dnsmasq refuses leaves the running one serving; stateful
// DHCPv6 gives an address from its pool (dhcpcd as the client); a crashed dnsmasq is started
// again with its leases. All of it beside a stand-in for Talos's own resolver on 127.0.0.53:53,
// which a dnsmasq on the wildcard address could not start beside.
//
//   client (no config) ──c0── lan0 ┐ router ┌ mgmt0 ── m0── operator 203.0.113.2
//                                   192.168.10.1, 2001:db8:10::1   203.0.113.1
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns, waitUntil } from "../helpers/netns";
import { AgentProcess } from "./agent-process";
import { fos1Argv } from "../helpers/fos1";
import type { HistoryLine } from "../../src/journal/journal";
import { udhcpcLease } from "./udhcpc";

const NI = (name: string, spec: string) => `---\napiVersion: network.fos1.io/v1alpha1\nkind: NetworkInterface\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
const net = (kind: string, name: string, spec: string) => `---\napiVersion: network.fos1.io/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
const zone = (name: string, spec: string) => `---\napiVersion: security.fos1.io/v1alpha1\nkind: FirewallZone\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
const PRINTER = "52:54:00:12:34:56";
const SCANNER = "52:54:00:12:34:57";

function config(opts: { poolEnd?: string; scanner?: boolean; badOption?: boolean; statefulV6?: boolean } = {}): string {
  const leases = [`{mac: "${PRINTER}", address: 192.168.10.50, hostname: printer}`, ...(opts.scanner ? [`{mac: "${SCANNER}", address: 192.168.10.51, hostname: scanner}`] : [])];
  return (
    NI("lan", "{device: lan0, addresses: [192.168.10.1/24, '2001:db8:10::1/64']}") +
    NI("oob", "{device: mgmt0, addresses: [203.0.113.1/24]}") +
    zone("lan", "{interfaces: [lan], input: reject, forward: reject}") +
    zone("mgmt", "{interfaces: [oob], management: true}") +
    net("DHCPServer", "lan", `{interface: lan, pools: [{start: 192.168.10.100, end: ${opts.poolEnd ?? "192.168.10.150"}}], leaseTime: 1h, staticLeases: [${leases.join(", ")}]${opts.badOption ? `, options: [{name: bootfile-name, value: '"pxelinux.0'}]` : ""}${opts.statefulV6 ? ", v6: {pools: [{start: '::1000', end: '::1fff'}]}" : ""}}`) +
    net("RouterAdvertisement", "lan", `{interface: lan, interval: 4${opts.statefulV6 ? ", managed: true" : ""}}`) +
    net("DNSResolver", "router", "{zones: [lan], hosts: [{name: nas, addresses: [192.168.10.5]}], forwarders: [198.51.100.53]}")
  );
}

let router: Netns, client: Netns, operator: Netns, dir: string, file: string, state: string, agent: AgentProcess, talosResolver: Subprocess<"pipe", "pipe", "inherit">;

/**
 * A FAKE of Talos's host DNS (a Go program): it holds 127.0.0.53:53 as Go's sockets do, UDP
 * without SO_REUSEADDR and TCP with it, and answers nothing; "listening" once both are bound.
 */
const FAKE_TALOS_RESOLVER = `
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.53", 53))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("127.0.0.53", 53)); t.listen(8)
print("listening", flush=True)
sys.stdin.read()
`;

/** busybox udhcpc in the client, as a client with no configuration asks: the lease it got. */
const lease = (hostname: string) => udhcpcLease(client, "c0", hostname, dir);

/** busybox nslookup against the router from a namespace: the IPv4 addresses it answered, or null when nothing answered. */
function resolve(ns: Netns, name: string, server: string): string[] | null {
  const r = Bun.spawnSync(ns.argv(["busybox", "timeout", "5", "busybox", "nslookup", "-type=a", name, server]), { stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString();
  if (r.exitCode !== 0) return null;
  return [...out.slice(out.indexOf("Name:")).matchAll(/Address: ([0-9.]+)/g)].map((m) => m[1]!);
}

const dnsmasqPid = () => Number(readFileSync(join(state, "lan", "dnsmasq.fos1-pid"), "utf8").trim());
const replace = (text: string) => {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
};
const history = () =>
  readFileSync(join(state, "history.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as HistoryLine);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fos1-lan-"));
  // dnsmasq reads its names and static leases as "nobody", as /var/lib/fos1 lets it.
  chmodSync(dir, 0o755);
  file = join(dir, "config.yaml");
  state = join(dir, "state");
  router = Netns.create("lan-r");
  client = Netns.create("lan-c");
  operator = Netns.create("lan-o");
  router.sh(`ip link add lan0 type veth peer name c0 netns ${client.name} && ip link add mgmt0 type veth peer name m0 netns ${operator.name}`);
  client.sh("ip link set c0 up && sysctl -qw net.ipv6.conf.c0.accept_ra=2");
  operator.sh("ip link set m0 up && ip addr add 203.0.113.2/24 dev m0");
  talosResolver = Bun.spawn(router.argv(["python3", "-c", FAKE_TALOS_RESOLVER]), { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const listening = await talosResolver.stdout.getReader().read();
  expect(new TextDecoder().decode(listening.value)).toContain("listening");
  writeFileSync(file, config());
  agent = new AgentProcess(router, ["-f", file, "--state-dir", state, "--debounce-ms", "100", "--hubble", "off", "--listen", "127.0.0.1:19642"]);
  await agent.waitForLog("the first converge", (l) => l.msg === "converged" && String(l.trigger).includes("start"), 30_000);
});

afterAll(async () => {
  if (agent) await agent.stop("SIGTERM").catch(() => undefined);
  talosResolver?.kill();
  for (const ns of [router, client, operator]) ns?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe("a client with no configuration", () => {
  test("gets an IPv4 lease from the pool, with the router, the router as DNS server and the local domain", async () => {
    const got = await lease("laptop");
    expect(Number(got.ip!.split(".")[3])).toBeGreaterThanOrEqual(100);
    expect(Number(got.ip!.split(".")[3])).toBeLessThanOrEqual(150);
    expect(got).toMatchObject({ router: "192.168.10.1", dns: "192.168.10.1", domain: "home.arpa" });
  }, 30_000);

  test("gets a SLAAC address from the advertised /64", async () => {
    const slaac = () => client.addresses().some((a) => a.dev === "c0" && a.cidr.startsWith("2001:db8:10:0:") && a.cidr.endsWith("/64"));
    await waitUntil("a SLAAC address in 2001:db8:10::/64", slaac, 20_000, () => client.addresses());
  }, 30_000);

  test("resolves a static name, and its own name from its lease, under the local domain", async () => {
    const laptop = (await lease("laptop")).ip!;
    expect(resolve(client, "nas.home.arpa", "192.168.10.1")).toEqual(["192.168.10.5"]);
    expect(resolve(client, "laptop.home.arpa", "192.168.10.1")).toEqual([laptop]);
  }, 30_000);

  test("a static lease is honoured, with its name", async () => {
    client.sh(`ip link set c0 address ${PRINTER}`);
    expect((await lease("whatever")).ip).toBe("192.168.10.50");
    expect(resolve(client, "printer.home.arpa", "192.168.10.1")).toEqual(["192.168.10.50"]);
  }, 30_000);
});

describe("beside Talos's own resolver on 127.0.0.53:53", () => {
  test("dnsmasq listens on the served interface's addresses, never the wildcard one a Talos node's resolver keeps it from", () => {
    const listeners = router.sh("ss -Hlunp sport = :53").split("\n").filter(Boolean);
    const of = (who: string) => listeners.filter((l) => l.includes(`"${who}"`)).map((l) => l.split(/\s+/)[3]).sort();
    expect(of("python3")).toEqual(["127.0.0.53:53"]);
    expect(of("dnsmasq")).toContain("192.168.10.1:53");
    expect(of("dnsmasq")).toContain("[2001:db8:10::1]:53");
    expect(of("dnsmasq").filter((a) => a!.startsWith("0.0.0.0:") || a!.startsWith("*:") || a!.startsWith("[::]:"))).toEqual([]);
    expect(talosResolver.exitCode).toBeNull();
  });
});

describe("fos1 leases", () => {
  test("lists each lease with its interface, MAC, host name and expiry", async () => {
    const p = Bun.spawnSync(router.argv([...fos1Argv(), "leases", "--state-dir", state, "-o", "json"]), { stdout: "pipe", stderr: "pipe" });
    expect(p.exitCode).toBe(0);
    const { leases } = JSON.parse(p.stdout.toString()) as { leases: { interface: string; address: string; client: string; hostname: string | null; expires: string | null }[] };
    const printer = leases.find((l) => l.client === PRINTER);
    expect(printer).toMatchObject({ interface: "lan0", address: "192.168.10.50", hostname: "printer" });
    expect(Date.parse(printer!.expires!) - Date.now()).toBeGreaterThan(50 * 60_000); // the 1 h lease time
    expect(leases.some((l) => l.hostname === "laptop" && l.interface === "lan0")).toBe(true);
  }, 20_000);

  test("fos1 status counts them against the pools of the config in force", () => {
    const p = Bun.spawnSync(router.argv([...fos1Argv(), "status", "--state-dir", state, "-o", "json"]), { stdout: "pipe", stderr: "pipe" });
    expect(p.exitCode).toBe(0);
    const { lan } = JSON.parse(p.stdout.toString()) as { lan: { interface: string; leases: number; poolAddresses: number }[] };
    expect(lan).toEqual([{ interface: "lan0", leases: expect.any(Number), poolAddresses: 51 }]);
    expect(lan[0]!.leases).toBeGreaterThanOrEqual(2);
  }, 20_000);
});

describe("/metrics", () => {
  test("counts leases by interface, the pool's size and the resolver's answers", async () => {
    const { body } = await agent.get("http://127.0.0.1:19642/metrics");
    const value = (re: RegExp) => Number(re.exec(body)?.[1] ?? NaN);
    expect(value(/^fos1_dhcp_leases\{interface="lan0",family="4"\} (\d+)$/m)).toBeGreaterThanOrEqual(2);
    expect(value(/^fos1_dhcp_pool_addresses\{interface="lan0"\} (\d+)$/m)).toBe(51);
    expect(value(/^fos1_dns_cache_misses_total (\d+)$/m) + value(/^fos1_dns_cache_hits_total (\d+)$/m)).toBeGreaterThanOrEqual(1);
    expect(body).toMatch(/^fos1_scrape_source_up\{source="lan"\} 1$/m);
  }, 20_000);
});

describe("the firewall opens exactly what is served", () => {
  test("the management zone, which the resolver does not serve, gets no answer from it", () => {
    expect(resolve(operator, "nas.home.arpa", "203.0.113.1")).toBeNull();
  }, 20_000);

  test("DNS over UDP from the served zone skips connection tracking both ways; DHCP, beside it, is tracked as before", async () => {
    await lease("laptop");
    for (let i = 0; i < 5; i++) expect(resolve(client, "nas.home.arpa", "192.168.10.1")).toEqual(["192.168.10.5"]);
    const udp = router.sh("cat /proc/net/nf_conntrack").split("\n").filter((l) => / udp /.test(l));
    expect(udp.filter((l) => / src=192\.168\.10\.\S+ .* dport=53 /.test(l))).toEqual([]);
    expect(udp.filter((l) => / sport=68 dport=67 /.test(l)).length).toBeGreaterThan(0);
  }, 30_000);
});

describe("changes", () => {
  test("a new static lease is read again in place: the same dnsmasq, and the lease works", async () => {
    const pid = dnsmasqPid();
    replace(config({ scanner: true }));
    await agent.waitForLog("the reload", (l) => l.msg === "dnsmasq reads its static leases, options and names again", 10_000);
    expect(dnsmasqPid()).toBe(pid);
    client.sh(`ip link set c0 address ${SCANNER}`);
    expect((await lease("scanner")).ip).toBe("192.168.10.51");
  }, 30_000);

  test("a change of the pools restarts dnsmasq, and the leases it gave are kept", async () => {
    const pid = dnsmasqPid();
    replace(config({ scanner: true, poolEnd: "192.168.10.160" }));
    await waitUntil("a new dnsmasq", () => existsSync(join(state, "lan", "dnsmasq.fos1-pid")) && dnsmasqPid() !== pid, 15_000);
    await agent.waitForLog("the converge of the new pools", (l) => l.msg === "converged" && String(l.trigger).includes("config file") && Number(l.writes) > 0, 15_000);
    expect(readFileSync(join(state, "lan", "dnsmasq.leases"), "utf8")).toContain(SCANNER);
    expect(readFileSync(join(state, "lan", "dnsmasq.conf"), "utf8")).toContain("192.168.10.160");
  }, 30_000);

  test("a config dnsmasq refuses changes nothing: the running dnsmasq keeps serving, and the agent says why", async () => {
    const pid = dnsmasqPid();
    replace(config({ scanner: true, poolEnd: "192.168.10.160", badOption: true }));
    const failed = await agent.waitForLog("the refusal", (l) => l.msg === "could not apply" && String(l.error).includes("dnsmasq refused"), 15_000);
    // fos1's own checks pass a boot file name with a stray quote; dnsmasq's does not.
    expect(String(failed.error)).toContain('missing "');
    expect(String(failed.error)).toContain('bootfile-name,"pxelinux.0');
    expect(dnsmasqPid()).toBe(pid);
    expect(resolve(client, "nas.home.arpa", "192.168.10.1")).toEqual(["192.168.10.5"]);
    const ready = await agent.get("http://127.0.0.1:19642/readyz");
    expect(ready.status).toBe(503);
    expect(ready.body).toContain("dnsmasq refused");
    expect(history().at(-1)).toMatchObject({ outcome: "failed" });
  }, 30_000);

  test("stateful DHCPv6 when asked: the client gets an address from the v6 pool of the lan's /64", async () => {
    replace(config({ scanner: true, poolEnd: "192.168.10.160", statefulV6: true }));
    await agent.waitForLog("the converge with DHCPv6", (l) => l.msg === "converged" && String(l.trigger).includes("config file"), 15_000);
    // dhcpcd as the client, in test mode: it asks and prints what it was offered, configuring nothing.
    writeFileSync(join(dir, "dhcpcd6.conf"), "ipv6only\nia_na 1\n");
    const out = client.sh(`timeout 20 dhcpcd -f ${join(dir, "dhcpcd6.conf")} -6 -T c0 2>&1`);
    const address = /new_dhcp6_ia_na1_ia_addr1='([0-9a-f:]+)'/.exec(out)?.[1];
    expect(address, out).toBeDefined();
    const id = BigInt("0x" + address!.split(":").at(-1));
    expect(address!.startsWith("2001:db8:10::")).toBe(true);
    expect(id >= 0x1000n && id <= 0x1fffn).toBe(true);
  }, 40_000);

  test("a crashed dnsmasq is started again, and gives a client the address it had", async () => {
    client.sh("ip link set c0 address 52:54:00:12:34:58");
    const before = (await lease("phone")).ip!;
    const pid = dnsmasqPid();
    process.kill(pid, "SIGKILL");
    await agent.waitForLog("the crash noticed", (l) => l.msg === "dnsmasq exited unexpectedly; restarting it", 15_000);
    await waitUntil("a new dnsmasq", () => existsSync(join(state, "lan", "dnsmasq.fos1-pid")) && dnsmasqPid() !== pid, 15_000);
    expect((await lease("phone")).ip).toBe(before);
  }, 40_000);

  test("SIGTERM stops dnsmasq with the agent; its leases stay on disk", async () => {
    const pid = dnsmasqPid();
    expect(await agent.stop("SIGTERM").catch((e) => `${(e as Error).message}\n${agent.raw.slice(-12).join("\n")}`)).toBe(0);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(readFileSync(join(state, "lan", "dnsmasq.leases"), "utf8")).toContain(SCANNER);
  }, 30_000);
});
