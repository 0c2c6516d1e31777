// The router serves its LANs in the VM lab, on the shipped default config: `fos1 agent` on the
// router VM, the provider on the peer's wan host (dnsmasq: DHCPv4, router advertisements and a
// DNS server that knows outside.example; kea-dhcp6: an address for the uplink and a delegated
// /56), and on VLAN 10 a client with no configuration (a macvlan on the lan host's VLAN link in a
// namespace of its own: busybox udhcpc and the kernel's SLAAC). It gets a lease, a SLAAC address
// from the lan's /64 of the delegated prefix, answers for its own name and for the provider's
// name, and reaches the wan host over NAT44 and over IPv6; a client on guest gets its lease and
// names but cannot reach lan. A static lease and a static name are honoured; a config dnsmasq
// refuses leaves the one in force serving; the agent restarts and the client renews the same
// address; the provider delegates another prefix and the client moves to it while the old one
// is deprecated; with stateful DHCPv6 asked for, the client is offered an address from its pool
// (dhcpcd in test mode). One lab boot for all of it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Lab, standardLab, type LabVm } from "../../hack/lab/vm";
import { LanClient, routeDelegatedPrefixes } from "../../hack/lab/lan-client";
import { buildLabHosts, OUTSIDE_NAME, wanPrefixDelegation, wanProvider } from "../../hack/lab/topology";
import { waitUntil } from "../helpers/netns";

const repo = resolve(import.meta.dir, "../..");
const DEFAULT_CONFIG = readFileSync(join(repo, "src/api/default-config.yaml"), "utf8");
const CLIENT_MAC = "52:54:00:10:10:10";
const STATIC_LEASE = "192.168.10.77";
const STATE = "/var/lib/fos1";

let lab: Lab;
let router: LabVm;
let peer: LabVm;
let client: LanClient;

/** The default config with a static lease for the client and a static name for the resolver. */
function edited(from: string, to: string, text = DEFAULT_CONFIG): string {
  if (!text.includes(from)) throw new Error(`src/api/default-config.yaml no longer holds "${from}": adapt this test`);
  return text.replace(from, to);
}
const withStaticLease = edited(
  "spec: {zones: [lan, guest]}",
  "spec: {zones: [lan, guest], hosts: [{name: nas, addresses: [192.168.10.5]}]}",
  edited(
    "spec: {interface: lan, pools: [{start: 192.168.10.100, end: 192.168.10.250}]}",
    `spec: {interface: lan, pools: [{start: 192.168.10.100, end: 192.168.10.250}], staticLeases: [{mac: "${CLIENT_MAC}", address: ${STATIC_LEASE}, hostname: tv}]}`,
  ),
);
/** ... and a DHCP option only dnsmasq's own check refuses (a boot file name with a stray quote). */
const refusedByDnsmasq = edited(
  `hostname: tv}]}`,
  `hostname: tv}], options: [{name: bootfile-name, value: '"pxelinux.0'}]}`,
  withStaticLease,
);

async function startAgent(config: string): Promise<void> {
  await router.put("/etc/fos1/config.yaml", config);
  await router.runOk(`fos1 agent -f /etc/fos1/config.yaml --state-dir ${STATE} --hubble off >>/tmp/agent.log 2>&1 & echo $! >/tmp/agent.pid`);
}

async function stopAgent(): Promise<void> {
  await router.runOk("kill -TERM $(cat /tmp/agent.pid); while kill -0 $(cat /tmp/agent.pid) 2>/dev/null; do sleep 0.2; done", { timeoutSec: 60 });
}

/** The lan's /64 (its global IPv6 address's network) on the router, as "2001:db8:100:a". */
async function lanPrefix(): Promise<string | null> {
  // Before the agent has made the lan interface there is none to ask about.
  const r = await router.run("ip -6 -o addr show dev lan scope global");
  const m = r.exitCode === 0 ? /inet6 ([0-9a-f:]+)\/64/.exec(r.stdout) : null;
  return m ? m[1]!.split(":").slice(0, 4).join(":") : null;
}

/** The interface identifier SLAAC makes from a MAC (modified EUI-64), as in an address: ":5054:ff:fe10:1012". */
function eui64(mac: string): string {
  const b = mac.split(":").map((h) => parseInt(h, 16));
  const words = [((b[0]! ^ 2) << 8) | b[1]!, (b[2]! << 8) | 0xff, 0xfe00 | b[3]!, (b[4]! << 8) | b[5]!];
  return ":" + words.map((w) => w.toString(16)).join(":");
}

const agentLog = async () => (await router.run("tail -n 25 /tmp/agent.log")).stdout;

beforeAll(async () => {
  const { vms, cables } = standardLab();
  lab = await Lab.boot(vms, cables);
  router = lab.vm("router");
  peer = lab.vm("peer");
  await buildLabHosts(peer);
  await peer.runOk([wanProvider({ ipv6: true }), wanPrefixDelegation("2001:db8:100::")].join("\n"), { timeoutSec: 60 });
  client = await LanClient.add(peer, "lan", "lanc", CLIENT_MAC.replace(/10$/, "11"));
  await startAgent(DEFAULT_CONFIG);
  await waitUntil("the lan's /64 of the delegated prefix on the router", async () => (await lanPrefix()) !== null, 180_000, agentLog);
}, 400_000);

afterAll(async () => {
  await lab?.shutdown();
});

describe("a client on VLAN 10 with no configuration", () => {
  test("gets a lease from the pool with the router as gateway and DNS server and home.arpa", async () => {
    const got = await client.lease("laptop");
    const host = Number(got.ip!.split(".")[3]);
    expect(host >= 100 && host <= 250).toBe(true);
    expect(got).toMatchObject({ router: "192.168.10.1", dns: "192.168.10.1", domain: "home.arpa" });
  }, 120_000);

  test("makes a SLAAC address in the lan's /64 of the delegated prefix", async () => {
    const prefix = (await lanPrefix())!;
    // The provider delegates 2001:db8:100::/56; the lan takes its subnet 10.
    expect(prefix).toBe("2001:db8:100:a");
    await waitUntil(`a SLAAC address in ${prefix}::/64`, async () => [...(await client.slaac()).keys()].some((a) => a.startsWith(prefix + ":")), 120_000, () => client.slaac());
  }, 150_000);

  test("resolves its own name from its lease and the provider's name through the router", async () => {
    const me = (await client.lease("laptop")).ip!;
    await waitUntil("the router's resolver answers for the client's name", async () => (await client.resolve("laptop.home.arpa", "192.168.10.1")).includes(me), 60_000);
    // The upstream resolver is the one the uplink's DHCP lease names (the wan host).
    await waitUntil(`the router forwards ${OUTSIDE_NAME} to the provider`, async () => (await client.resolve(OUTSIDE_NAME, "192.168.10.1")).includes("198.51.100.254"), 60_000, agentLog);
  }, 150_000);

  test("reaches the wan host over NAT44 and over IPv6", async () => {
    await waitUntil("ping 198.51.100.254", async () => (await client.run("ping -c 1 -W 2 198.51.100.254")).exitCode === 0, 60_000);
    await routeDelegatedPrefixes(peer, router);
    await waitUntil("ping6 2001:db8:0:1::fe", async () => (await client.run("ping -6 -c 1 -W 2 2001:db8:0:1::fe")).exitCode === 0, 60_000);
  }, 150_000);

  test("a client on guest gets its lease and resolves names, but cannot reach the lan client", async () => {
    const guest = await LanClient.add(peer, "guest", "guestc", "52:54:00:20:20:10");
    const got = await guest.lease("visitor");
    expect(got).toMatchObject({ router: "192.168.20.1", dns: "192.168.20.1" });
    await waitUntil(`${OUTSIDE_NAME} resolves on guest`, async () => (await guest.resolve(OUTSIDE_NAME, "192.168.20.1")).includes("198.51.100.254"), 60_000);
    const lanClient = (await client.lease("laptop")).ip!;
    expect((await guest.run(`ping -c 2 -W 1 ${lanClient}`)).exitCode).not.toBe(0);
    expect((await guest.run("ping -c 1 -W 2 198.51.100.254")).exitCode).toBe(0);
  }, 150_000);
});

describe("changes", () => {
  test("a static lease is honoured, with its name", async () => {
    await router.put("/etc/fos1/config.yaml.new", withStaticLease);
    await router.runOk("mv /etc/fos1/config.yaml.new /etc/fos1/config.yaml");
    await waitUntil("dnsmasq has the static lease", async () => (await router.run(`grep -c ${CLIENT_MAC} ${STATE}/lan/dhcp-hosts`)).stdout.trim() === "1", 60_000, agentLog);
    await client.setMac(CLIENT_MAC);
    expect((await client.lease("tv")).ip).toBe(STATIC_LEASE);
    await waitUntil("tv.home.arpa resolves", async () => (await client.resolve("tv.home.arpa", "192.168.10.1")).includes(STATIC_LEASE), 60_000);
    expect(await client.resolve("nas.home.arpa", "192.168.10.1")).toEqual(["192.168.10.5"]);
  }, 150_000);

  test("a config dnsmasq refuses is refused: the one in force keeps serving, and the agent says why", async () => {
    const pid = (await router.runOk(`cat ${STATE}/lan/dnsmasq.fos1-pid`)).trim();
    const logLines = Number((await router.runOk("wc -l < /tmp/agent.log")).trim());
    await router.put("/etc/fos1/config.yaml.new", refusedByDnsmasq);
    await router.runOk("mv /etc/fos1/config.yaml.new /etc/fos1/config.yaml");
    await waitUntil("the refusal in the agent's log", async () => (await router.run(`tail -n +${logLines + 1} /tmp/agent.log | grep -q 'dnsmasq refused'`)).exitCode === 0, 60_000, agentLog);
    expect((await router.runOk(`cat ${STATE}/lan/dnsmasq.fos1-pid`)).trim()).toBe(pid);
    expect((await client.lease("tv")).ip).toBe(STATIC_LEASE);
    // Back to the config in force before, for what follows.
    await router.put("/etc/fos1/config.yaml.new", withStaticLease);
    await router.runOk("mv /etc/fos1/config.yaml.new /etc/fos1/config.yaml");
  }, 150_000);

  test("the agent restarts, and the client renews the same address", async () => {
    await client.setMac(CLIENT_MAC.replace(/10$/, "12"));
    const before = (await client.lease("phone")).ip!;
    const logLines = Number((await router.runOk("wc -l < /tmp/agent.log")).trim());
    await stopAgent();
    await startAgent(withStaticLease);
    await waitUntil("dnsmasq serves again", async () => (await router.run(`cat ${STATE}/lan/dnsmasq.fos1-pid`)).exitCode === 0, 120_000, agentLog);
    // dhcpcd, restarted too, rebinds its lease and is told the same prefix again; the prefix
    // change below comes after that, as on a router that has been up a while.
    await waitUntil("the restarted dhcpcd has the delegated prefix", async () => (await router.run(`tail -n +${logLines + 1} /tmp/agent.log | grep -q 'uplink: delegated prefix'`)).exitCode === 0, 120_000, agentLog);
    expect((await client.lease("phone")).ip).toBe(before);
  }, 240_000);

  test("a new delegated prefix: the lan's /64, the advertised prefix and the client follow; the old one is deprecated", async () => {
    const old = (await lanPrefix())!;
    await peer.runOk(wanPrefixDelegation("2001:db8:200::"), { timeoutSec: 60 });
    // The router renews now (as it would at its lease's renew time: SIGUSR1 to dhcpcd) and is
    // told the new prefix, the old one with no lifetime left.
    await router.runOk("kill -USR1 $(cat /run/dhcpcd/pid)");
    await waitUntil("the lan's /64 out of the new prefix", async () => (await lanPrefix())?.startsWith("2001:db8:2") === true, 180_000, agentLog);
    const fresh = (await lanPrefix())!;
    // The client's addresses of its MAC now: the kernel leaves those of its earlier MACs (set by
    // the tests above) out of what a router advertisement updates.
    const iid = eui64(CLIENT_MAC.replace(/10$/, "12"));
    await waitUntil(`the client's SLAAC address in ${fresh}::/64, and its ${old}::/64 one no longer preferred`, async () => {
      const v6 = [...(await client.slaac())].filter(([a]) => a.endsWith(iid));
      const now = v6.filter(([a]) => a.startsWith(fresh + ":"));
      const then = v6.filter(([a]) => a.startsWith(old + ":"));
      return now.some(([, preferred]) => preferred) && then.every(([, preferred]) => !preferred);
    }, 180_000, async () => ({ client: [...(await client.slaac())], router: (await router.run("ip -6 -o addr show dev lan scope global; ps ax | grep -E 'dhcpcd|dnsmasq' | grep -v grep; grep -E '(lan|uplink|lo): ' /tmp/agent.log | grep -v 'DHCP lease|198.51' | tail -n 40 | cut -c 1-160")).stdout }));
  }, 400_000);

  test("stateful DHCPv6 when asked: the client is offered an address from the v6 pool of the lan's /64", async () => {
    const statefulV6 = edited(
      "spec: {interface: lan}",
      "spec: {interface: lan, managed: true}",
      edited(`hostname: tv}]}`, `hostname: tv}], v6: {pools: [{start: "::1000", end: "::1fff"}]}}`, withStaticLease),
    );
    await router.put("/etc/fos1/config.yaml.new", statefulV6);
    await router.runOk("mv /etc/fos1/config.yaml.new /etc/fos1/config.yaml");
    await waitUntil("dnsmasq serves DHCPv6 on lan", async () => (await router.run(`grep -q '::1000,::1fff,constructor:lan' ${STATE}/lan/dnsmasq.conf && test -s ${STATE}/lan/dnsmasq.fos1-pid`)).exitCode === 0, 60_000, agentLog);
    const prefix = (await lanPrefix())!;
    let address: string | null = null;
    await waitUntil("an offer from the router's DHCPv6 server", async () => (address = await client.dhcpv6Address()) !== null, 120_000, async () => `${client.lastDhcpv6Output}\n${await agentLog()}`);
    expect(address!.startsWith(prefix + "::")).toBe(true);
    const id = BigInt("0x" + address!.split(":").at(-1));
    expect(id >= 0x1000n && id <= 0x1fffn).toBe(true);
  }, 240_000);
});
