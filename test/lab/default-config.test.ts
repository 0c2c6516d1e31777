// The shipped default config in the VM lab. The router serves its LANs: `fos1 agent` on the
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
// (dhcpcd in test mode).
//
// The cluster on the router: Cilium's devices made as Cilium makes them, on the address plan of
// `make talos-config` (this node's pods in 10.244.0.0/24, the router IP 10.244.0.1 on
// cilium_host, a pod behind an lxc veth; the peer's mgmt host plays a second node, its pods in
// 10.244.1.0/24 behind cilium_vxlan on 8472/udp). A pod reaches the Kubernetes API and DNS on
// the host and the wan host through the uplink; the other node's tunnel and health checks
// arrive; LAN and WAN hosts reach neither the pods nor the cluster's ports. One lab boot for all.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Lab, LabVm } from "../../hack/lab/vm";
import { LanClient, routeDelegatedPrefixes } from "../../hack/lab/lan-client";
import { bootLabWithHosts, fakeApid, nftFibModules, OUTSIDE_NAME, tcpAnswer, wanPrefixDelegation, wanProvider } from "../../hack/lab/topology";
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
  ({ lab, router, peer } = await bootLabWithHosts());
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

/** Cilium's devices on the router and on the peer's mgmt host (a second node), as Cilium makes them. */
async function clusterDevices(): Promise<void> {
  await router.runOk(
    [
      // The host's veth pair into the pod network, the router IP of this node's pod CIDR on cilium_host.
      "ip link add cilium_host type veth peer name cilium_net && ip link set cilium_host up && ip link set cilium_net up",
      "ip addr add 10.244.0.1/32 dev cilium_host",
      // A pod: a /32 on its eth0, its default route via the router IP; lxc<hash> on the host.
      "ip netns add pod1 && ip link add lxc5e3a1c type veth peer name eth0 netns pod1 && ip link set lxc5e3a1c up",
      "ip -n pod1 link set lo up && ip -n pod1 link set eth0 up && ip -n pod1 addr add 10.244.0.10/32 dev eth0",
      "ip -n pod1 route add 10.244.0.1 dev eth0 && ip -n pod1 route add default via 10.244.0.1 dev eth0",
      "ip route add 10.244.0.10/32 dev lxc5e3a1c",
      // The tunnel to the other node over the management network; its pods behind it.
      "ip link add cilium_vxlan type vxlan id 2 remote 192.168.99.10 local 192.168.99.1 dstport 8472 dev eth3 && ip link set cilium_vxlan up",
      "ip route add 10.244.1.0/24 dev cilium_vxlan",
      // The Kubernetes API and the cluster's DNS on the host, as stand-ins answering on their ports.
      "(nc -ll -p 6443 -e echo kube-apiserver >/dev/null 2>&1 &)",
      "(nc -ll -p 4240 -e echo cilium-health >/dev/null 2>&1 &)",
      "dnsmasq --listen-address=10.244.0.1 --bind-interfaces --no-resolv --no-hosts --address=/kubernetes.default.svc.cluster.local/10.96.0.1 --pid-file=/tmp/cluster-dns.pid",
    ].join("\n"),
  );
  await peer.runOk(
    [
      "ip -n mgmt link add cilium_vxlan type vxlan id 2 remote 192.168.99.1 local 192.168.99.10 dstport 8472 dev eth3 && ip -n mgmt link set cilium_vxlan up",
      // Routes into a node's pods go via its router IP, as Cilium's do (its BPF answers no ARP here).
      "ip -n mgmt addr add 10.244.1.10/24 dev cilium_vxlan && ip -n mgmt route add 10.244.0.0/24 via 10.244.0.1 dev cilium_vxlan onlink",
      // The WAN host tries the pods directly, as a hostile neighbour on the ISP's network would.
      "ip -n wan route add 10.244.0.0/16 via 198.51.100.1",
    ].join("\n"),
  );
}

/** A TCP connection from a namespace on a VM: what the listener said, or "" when none answered. */

describe("the cluster on the router, with Cilium's devices as Cilium makes them", () => {
  beforeAll(async () => {
    await clusterDevices();
  }, 120_000);

  test("a pod on the router reaches the Kubernetes API and the cluster's DNS on the host", async () => {
    await waitUntil("the pod reaches 10.244.0.1:6443", async () => (await tcpAnswer(router, "pod1", "10.244.0.1", 6443)) === "kube-apiserver", 60_000, agentLog);
    const dns = await router.run("ip netns exec pod1 busybox nslookup -type=a kubernetes.default.svc.cluster.local 10.244.0.1");
    expect(dns.stdout).toContain("10.96.0.1");
  }, 120_000);

  test("a pod reaches the wan host through the uplink, masqueraded like the LANs", async () => {
    await waitUntil("ping 198.51.100.254 from the pod", async () => (await router.run("ip netns exec pod1 ping -c 1 -W 2 198.51.100.254")).exitCode === 0, 60_000, agentLog);
    // Tracked with its reply to the router's uplink address, not to the pod: masqueraded.
    const flows = (await router.runOk("grep 'src=10.244.0.10 dst=198.51.100.254' /proc/net/nf_conntrack || true")).trim().split("\n").filter(Boolean);
    expect(flows.length).toBeGreaterThan(0);
    for (const f of flows) expect(f).not.toContain("src=198.51.100.254 dst=10.244.0.10");
  }, 120_000);

  test("the other node's tunnel (8472/udp) and health checks (4240/tcp) arrive; its pods reach this node's pod", async () => {
    expect(await tcpAnswer(peer, "mgmt", "192.168.99.1", 4240)).toBe("cilium-health");
    await waitUntil("ping from the other node's pod to this node's pod over VXLAN", async () => (await peer.run("ip netns exec mgmt ping -c 1 -W 2 -I 10.244.1.10 10.244.0.10")).exitCode === 0, 60_000, agentLog);
  }, 120_000);

  test("LAN and WAN hosts reach neither the pods nor the cluster's ports", async () => {
    expect(await tcpAnswer(peer, client.ns, "192.168.10.1", 4240)).toBe("");
    expect((await client.run("ping -c 2 -W 1 10.244.0.10")).exitCode).not.toBe(0);
    expect(await tcpAnswer(peer, "wan", "198.51.100.1", 4240)).toBe("");
    expect((await peer.run("ip netns exec wan ping -c 2 -W 1 10.244.0.10")).exitCode).not.toBe(0);
    // The Kubernetes API opens to the management network and the nodes, never to the WAN.
    expect(await tcpAnswer(peer, "wan", "198.51.100.1", 6443)).toBe("");
  }, 120_000);
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

describe("a boot whose ruleset the kernel refuses, with an empty state dir", () => {
  const refusedLog = () => router.run("grep -c 'lockdown is: management in' /tmp/agent.log");

  test("the lockdown is in force: management in, nothing else; no DHCP client, no LAN services; the agent says why", async () => {
    await stopAgent();
    // A box booting afresh on a kernel without nftables' fib expression (which the resolver's
    // untracked DNS needs): no table, no leases, no state.
    await router.runOk(`nft flush ruleset && pkill dhcpcd; ip -4 addr flush dev uplink; rm -rf ${STATE}; ${nftFibModules.remove}; ${fakeApid}`);
    await router.runOk(": >/tmp/agent.log");
    await startAgent(DEFAULT_CONFIG);
    await waitUntil("the agent reports the refusal and the lockdown", async () => Number((await refusedLog()).stdout.trim()) > 0, 120_000, agentLog);
    const table = await router.runOk("nft list table inet fos1");
    expect(table).toContain("management ports");
    expect(table).not.toContain("masquerade");
    expect(table).not.toContain("in_lan");
    expect(await tcpAnswer(peer, "mgmt", "192.168.99.1", 50000)).toBe("apid");
    expect(await tcpAnswer(peer, client.ns, "192.168.10.1", 50000)).toBe("");
    expect((await router.run(`test -s ${STATE}/lan/dnsmasq.fos1-pid`)).exitCode).not.toBe(0);
    expect(await router.runOk("ip -4 -o addr show dev uplink")).not.toContain("198.51.100.");
    expect((await router.run("ip netns exec pod1 ping -c 2 -W 1 198.51.100.254")).exitCode).not.toBe(0);
  }, 240_000);

  test("once the kernel takes the ruleset, the config's firewall replaces the lockdown and the LANs are served", async () => {
    await router.runOk(nftFibModules.restore);
    await router.put("/etc/fos1/config.yaml.new", DEFAULT_CONFIG + "\n");
    await router.runOk("mv /etc/fos1/config.yaml.new /etc/fos1/config.yaml");
    await waitUntil("the config's firewall in force", async () => (await router.runOk("nft list table inet fos1")).includes("masquerade"), 120_000, agentLog);
    await waitUntil("a lease for the lan client", async () => (await client.lease("laptop").catch(() => ({}) as Record<string, string>)).router === "192.168.10.1", 120_000, agentLog);
  }, 240_000);
});
