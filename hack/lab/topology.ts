// The lab's world as the demo and later lab tests see it: the peer VM plays every host
// around the router, each in its own network namespace, on the four virtual cables.
//
//   router eth0+eth1 ══ LACP bond ══ peer ns "wan"   (the ISP side)
//   router eth2 ── 802.1Q trunk ──── peer ns "lan"   (VLAN 10) and ns "guest" (VLAN 20)
//   router eth3 ───────────────────── peer ns "mgmt"  (the operator's network)
import { table } from "../../src/cli/output";
import { Lab, standardLab, type LabVm } from "./vm";

export interface LabHost {
  name: string;
  /** The host's own address, with prefix length. */
  cidr: string;
  /** Where the router should be on this host's network. */
  gateway: string;
  /** Shell that builds the host's namespace inside the peer VM. */
  setup: string;
}

const ns = (name: string, body: string[]) => [`ip netns add ${name}`, ...body].join(" && ");

export const labHosts: LabHost[] = [
  {
    name: "wan",
    cidr: "198.51.100.254/24",
    gateway: "198.51.100.1",
    setup: ns("wan", [
      "ip link set eth0 netns wan && ip link set eth1 netns wan",
      "ip -n wan link add bond0 type bond mode 802.3ad miimon 100",
      "ip -n wan link set eth0 master bond0 && ip -n wan link set eth1 master bond0",
      "ip -n wan link set bond0 up && ip -n wan addr add 198.51.100.254/24 dev bond0",
    ]),
  },
  ...[
    { name: "lan", vlan: 10 },
    { name: "guest", vlan: 20 },
  ].map(({ name, vlan }) => ({
    name,
    cidr: `192.168.${vlan}.10/24`,
    gateway: `192.168.${vlan}.1`,
    setup: ns(name, [
      "ip link set eth2 up",
      `ip link add link eth2 name eth2.${vlan} type vlan id ${vlan}`,
      `ip link set eth2.${vlan} netns ${name}`,
      `ip -n ${name} link set eth2.${vlan} up && ip -n ${name} addr add 192.168.${vlan}.10/24 dev eth2.${vlan}`,
      `ip -n ${name} route add default via 192.168.${vlan}.1`,
    ]),
  })),
  {
    name: "mgmt",
    cidr: "192.168.99.10/24",
    gateway: "192.168.99.1",
    setup: ns("mgmt", [
      "ip link set eth3 netns mgmt",
      "ip -n mgmt link set eth3 up && ip -n mgmt addr add 192.168.99.10/24 dev eth3",
      "ip -n mgmt route add default via 192.168.99.1",
    ]),
  },
];

export const hostAddress = (h: LabHost) => h.cidr.split("/")[0]!;

/** A name only the provider's resolver knows: the LANs resolve it through the router's resolver. */
export const OUTSIDE_NAME = "outside.example";

/**
 * The provider on the wan host's end of the bond (dnsmasq, in the background): DHCPv4 with a
 * fixed lease for the router's bond (it carries eth0's MAC), so the uplink gets 198.51.100.1, a
 * default route via the wan host and the wan host as DNS server, which answers OUTSIDE_NAME.
 * With ipv6, also router advertisements on the link (the uplink's IPv6 default route).
 */
export function wanProvider(opts: { ipv6?: boolean } = {}): string {
  return [
    "mkdir -p /tmp/dhcp",
    ...(opts.ipv6 ? ["ip -n wan addr add 2001:db8:0:1::fe/64 dev bond0 nodad"] : []),
    "ip netns exec wan dnsmasq --keep-in-foreground --log-facility=- --conf-file=/dev/null --user=root --pid-file= " +
      "--interface=bond0 --bind-interfaces --dhcp-leasefile=/tmp/dhcp/leases --dhcp-range=198.51.100.100,198.51.100.199,255.255.255.0,1h " +
      "--dhcp-host=52:54:00:00:01:00,198.51.100.1 --dhcp-option=option:router,198.51.100.254 --dhcp-option=option:dns-server,198.51.100.254 " +
      `--no-resolv --no-hosts --address=/${OUTSIDE_NAME}/198.51.100.254 ` +
      (opts.ipv6 ? "--enable-ra --dhcp-range=::,constructor:bond0,ra-only,64,1h " : "") +
      ">/tmp/dhcp/dnsmasq.log 2>&1 &",
  ].join("\n");
}

/** The provider without IPv6 (the extension's boot). */
export const wanDhcpServer = wanProvider();

/**
 * kea-dhcp6's config for a provider on iface: addresses from 2001:db8:0:1::/64 and /56s out of
 * the /40 at prefix, with lifetimes of about an hour (renew at 1000 s).
 */
export function keaPrefixDelegation(prefix: string, iface: string) {
  return {
    Dhcp6: {
      "interfaces-config": { interfaces: [iface] },
      "lease-database": { type: "memfile", persist: false },
      "server-id": { type: "EN", "enterprise-id": 32473, identifier: "0102030405", persist: false },
      "preferred-lifetime": 3000,
      "valid-lifetime": 4000,
      "renew-timer": 1000,
      "rebind-timer": 2000,
      subnet6: [{ subnet: "2001:db8:0:1::/64", interface: iface, pools: [{ pool: "2001:db8:0:1::100-2001:db8:0:1::1ff" }], "pd-pools": [{ prefix, "prefix-len": 40, "delegated-len": 56 }] }],
      loggers: [{ name: "kea-dhcp6", output_options: [{ output: "stdout" }], severity: "INFO" }],
    },
  };
}

/**
 * The provider's DHCPv6 server on the wan host (kea-dhcp6, in the background): an address for
 * the uplink and a /56 out of prefix (a /40) for the router to split among its LANs. Started
 * again with another prefix, it delegates from that one: a new prefix from the ISP.
 */
export function wanPrefixDelegation(prefix: string): string {
  const kea = keaPrefixDelegation(prefix, "bond0");
  return [
    // The lab image has no pkill: the server started before is stopped by kea's own pid file
    // (`ip netns exec` forks, so $! would be ip's pid, not kea's).
    "if [ -f /tmp/dhcp/kea6.kea-dhcp6.pid ]; then p=$(cat /tmp/dhcp/kea6.kea-dhcp6.pid); kill $p; while kill -0 $p 2>/dev/null; do sleep 0.1; done; fi",
    `cat >/tmp/dhcp/kea6.json <<'EOF'\n${JSON.stringify(kea)}\nEOF`,
    // kea opens its socket on bond0 once, at start, bound to the link-local address: one still
    // in duplicate address detection fails that and leaves the server deaf for good.
    "i=0; until ip -n wan -6 addr show dev bond0 scope link | grep -q inet6 && ! ip -n wan -6 addr show dev bond0 | grep -q tentative; do i=$((i+1)); [ $i -lt 150 ] || exit 1; sleep 0.2; done",
    "ip netns exec wan env KEA_PIDFILE_DIR=/tmp/dhcp KEA_LOCKFILE_DIR=none kea-dhcp6 -c /tmp/dhcp/kea6.json >/tmp/dhcp/kea.log 2>&1 &",
    "i=0; until grep -q DHCP6_STARTED /tmp/dhcp/kea.log; do i=$((i+1)); [ $i -lt 150 ] || exit 1; sleep 0.2; done",
  ].join("\n");
}

/** Builds every lab host's namespace in the peer VM. */
export async function buildLabHosts(peer: LabVm): Promise<void> {
  await peer.runOk(["modprobe 8021q", "modprobe bonding max_bonds=0", "ip link set lo up", ...labHosts.map((h) => h.setup)].join(" && "));
  for (const h of labHosts) await peer.runOk(`ip -n ${h.name} link set lo up`);
}

/** The standard lab booted, with the peer's hosts built around the router; shut down again if that fails. */
export async function bootLabWithHosts(): Promise<{ lab: Lab; router: LabVm; peer: LabVm }> {
  const { vms, cables } = standardLab();
  const lab = await Lab.boot(vms, cables);
  const router = lab.vm("router");
  const peer = lab.vm("peer");
  try {
    await buildLabHosts(peer);
  } catch (err) {
    await lab.shutdown();
    throw err;
  }
  return { lab, router, peer };
}

export interface Reach {
  from: string;
  to: string;
  target: string;
  ok: boolean;
}

/**
 * Who reaches whom: every host pings every other host, and the router on its own network.
 * All pings run at once (the failing ones wait their timeout in parallel).
 */
export async function reachability(peer: LabVm, timeoutSec = 2): Promise<Reach[]> {
  const probes = labHosts.flatMap((from) => [
    { from: from.name, to: "router", target: from.gateway },
    ...labHosts.filter((to) => to !== from).map((to) => ({ from: from.name, to: to.name, target: hostAddress(to) })),
  ]);
  const script = [
    "d=$(mktemp -d)",
    ...probes.map(
      (p, i) => `(ip netns exec ${p.from} ping -c 1 -W ${timeoutSec} ${p.target} >/dev/null 2>&1; echo $? > $d/${i}) &`,
    ),
    "wait",
    ...probes.map((_, i) => `echo "${i} $(cat $d/${i})"`),
  ].join("\n");
  const out = await peer.runOk(script, { timeoutSec: timeoutSec + 30 });
  const codes = new Map(out.trim().split("\n").map((l) => l.split(" ").map(Number) as [number, number]));
  return probes.map((p, i) => ({ ...p, ok: codes.get(i) === 0 }));
}

export function reachabilityTable(results: Reach[]): string {
  const cols = ["router", ...labHosts.map((h) => h.name)];
  const rows = labHosts.map((from) => [
    from.name,
    ...cols.map((to) => (to === from.name ? "·" : results.find((r) => r.from === from.name && r.to === to)?.ok ? "yes" : "no")),
  ]);
  return table(["from \\ to", ...cols], rows);
}

/** What a TCP connect from `ns` on `vm` to host:port reads back within 3 s ("" when nothing answers). */
export const tcpAnswer = async (vm: LabVm, ns: string, host: string, port: number) =>
  (await vm.run(`sleep 2 | ip netns exec ${ns} nc -w 3 ${host} ${port}`, { timeoutSec: 20 })).stdout.trim();

/** A management service on the router for a lockdown to let in: Talos's apid port answers "apid". */
export const fakeApid = "(nc -ll -p 50000 -e echo apid >/dev/null 2>&1 &)";

/**
 * Takes nftables' fib expression out of the router's kernel (unloaded, and its modules moved
 * aside so nothing loads them again): a kernel that refuses fos1's ruleset, whose untracked DNS
 * needs fib. `restore` puts the modules back.
 */
export const nftFibModules = {
  remove: "rmmod nft_fib_inet nft_fib_ipv4 nft_fib_ipv6 nft_fib 2>/dev/null; for m in $(find /lib/modules -name 'nft_fib*.ko*'); do mv $m $m.off; done",
  restore: "for m in $(find /lib/modules -name 'nft_fib*.off'); do mv $m ${m%.off}; done",
};
