// fos1's DHCP client in the VM lab, against real servers: the peer VM serves DHCPv4 and router
// advertisements (dnsmasq) and DHCPv6 with prefix delegation (kea-dhcp6) on the cable to the
// router's eth0; the router runs src/engine/dhcp's DhcpSupervisor, which runs dhcpcd. The
// delegated prefix is split into /64s for eth2 (subnetId 1) and eth3 (subnetId 2).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Lab, standardLab, type LabVm } from "../../hack/lab/vm";
import { formatIp } from "../../src/api/ip";
import { dhcpcdProcesses } from "./dhcpcd-processes";
import { fakeApid, keaPrefixDelegation, tcpAnswer } from "../../hack/lab/topology";
import { DHCPCD_CAPABILITY_MASK, DHCPCD_USER, FOS1_DHCP_ROUTE_PROTO, inPrefix6, ipv6ToBigInt, type DhcpClientSpec, type DhcpLeaseStatus } from "../../src/engine/dhcp";

const STATE = "/var/lib/fos1/dhcp";
const SPEC = "/lab/dhcp-spec.json";
const CLIENT_LOG = "/tmp/dhcp-client.log";
const GATEWAY4 = "198.51.100.254";
const DNS4 = "198.51.100.53";
const PD_POOL = "2001:db8:100::/40";

const kea = keaPrefixDelegation("2001:db8:100::", "eth0");

const dnsmasq = [
  "dnsmasq --keep-in-foreground --log-facility=- --log-dhcp --conf-file=/dev/null --port=0 --user=root --pid-file=",
  "--interface=eth0 --bind-interfaces --dhcp-leasefile=/tmp/dhcp/dnsmasq.leases",
  `--dhcp-range=198.51.100.100,198.51.100.199,255.255.255.0,1h --dhcp-option=option:router,${GATEWAY4}`,
  `--dhcp-option=option:dns-server,${DNS4}`,
  // Router advertisements only (kea answers DHCPv6): the default route, and an on-link prefix.
  "--enable-ra --dhcp-range=::,constructor:eth0,ra-only,64,1h",
].join(" ");

const spec: DhcpClientSpec[] = [
  {
    ifname: "eth0",
    v4: true,
    v6: true,
    prefixDelegation: { hintLength: 56, assign: [{ ifname: "eth2", subnetId: 1 }, { ifname: "eth3", subnetId: 2 }] },
  },
];

let lab: Lab;
let router: LabVm;
let peer: LabVm;

interface IpAddr {
  family: string;
  local: string;
  prefixlen: number;
  scope: string;
  dynamic?: boolean;
  noprefixroute?: boolean;
  valid_life_time: number;
  preferred_life_time: number;
}
interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev: string;
  protocol: string;
  metric?: number;
}

const addrs = async (dev: string): Promise<IpAddr[]> =>
  (JSON.parse(await router.runOk(`ip -json addr show dev ${dev}`)) as { addr_info: IpAddr[] }[])[0]?.addr_info ?? [];
const routes = async (family: 4 | 6): Promise<IpRoute[]> => JSON.parse(await router.runOk(`ip -${family} -json route show`));

async function diagnostics(): Promise<string> {
  const r = await router.run(`tail -n 40 ${CLIENT_LOG}; ip addr; ip route; ip -6 route`);
  const p = await peer.run("tail -n 15 /tmp/dhcp/kea.log /tmp/dhcp/dnsmasq.log");
  return `--- router: client log, addresses, routes\n${r.stdout}${r.stderr}\n--- peer: server logs\n${p.stdout}${p.stderr}`;
}

/** Polls check (once a second) until it returns a value; fails with the lab's state after timeoutMs. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}\n${await diagnostics()}`);
    await Bun.sleep(1000);
  }
}

async function status(): Promise<{ pid: number | null; uplinks: DhcpLeaseStatus[] }> {
  const text = await router.runOk(`cat ${STATE}/status.json 2>/dev/null || echo '{"pid":null,"uplinks":[]}'`);
  return JSON.parse(text);
}

const dhcpcdPid = async (): Promise<number | undefined> => {
  const r = await router.run("pid=$(cat /run/dhcpcd/pid) && [ \"$(cat /proc/$pid/comm)\" = dhcpcd ] && echo $pid");
  return r.exitCode === 0 ? Number(r.stdout.trim()) : undefined;
};

const converged = async (n: number) =>
  waitFor(`converge number ${n}`, async () => {
    const said = (await router.runOk(`cat ${STATE}/converged 2>/dev/null || true`)).trim();
    if (said.startsWith("error")) throw new Error(`converge failed in the VM: ${said}\n${await diagnostics()}`);
    return said === String(n) ? said : undefined;
  });

const linkLocalReady = (devs: string[]) =>
  devs.map((d) => `until ip -6 addr show dev ${d} scope link | grep -q inet6 && ! ip -6 addr show dev ${d} | grep -q tentative; do sleep 0.2; done`).join("\n");

// The rogue server's option 121: inside management (the 192.168.99.0/25), the LAN's own
// /24, a network a config names, one that overlaps nothing (its own gateway, to tell it apart in
// `ip route get`), and a default route that is not the router option's.
const ROGUE_ROUTES = [
  ["192.168.99.0/25", "198.51.100.254"],
  ["192.168.10.0/24", "198.51.100.254"],
  ["10.99.0.0/16", "198.51.100.254"],
  ["10.77.0.0/16", "198.51.100.253"],
  ["0.0.0.0/0", "198.51.100.250"],
];

/** The LAN's /64 of the delegated prefix: its network, the router's address (::1) and the LAN host's (::10). */
let lan6 = { prefix: "", router: "", host: "" };

/** The router's LAN (eth2, 192.168.10.1/24 and its delegated /64) and management (eth3, 192.168.99.1/24) with a host on each in the peer. */
async function lanAndManagement() {
  const mine = (await addrs("eth2")).find((a) => a.prefixlen === 64 && inPrefix6(`${a.local}/128`, PD_POOL))!;
  const base = ipv6ToBigInt(mine.local)! - 1n;
  lan6 = { prefix: `${formatIp(6, base)}/64`, router: mine.local, host: formatIp(6, base + 0x10n) };
  await router.runOk(["ip addr add 192.168.10.1/24 dev eth2", "ip addr add 192.168.99.1/24 dev eth3", fakeApid].join("\n"));
  await peer.runOk(
    [
      ["lan", "eth2", "192.168.10"],
      ["mgmt", "eth3", "192.168.99"],
    ]
      .map(([ns, dev, net]) =>
        [`ip netns add ${ns}`, `ip link set ${dev} netns ${ns}`, `ip -n ${ns} link set lo up`, `ip -n ${ns} link set ${dev} up`, `ip -n ${ns} addr add ${net}.10/24 dev ${dev}`, `ip -n ${ns} route add default via ${net}.1`].join(" && "),
      )
      .concat(`ip -n lan addr add ${lan6.host}/64 dev eth2 nodad`)
      .join("\n"),
  );
}

/**
 * The peer's dnsmasq again, now also forcing ROGUE_ROUTES on every client, asked or not, and
 * advertising the router's LAN /64 on the WAN (its router advertisements name every /64 of
 * the peer's eth0, which now has an address in it).
 */
async function rogueServer() {
  const routes121 = ROGUE_ROUTES.flat().join(",");
  await peer.runOk(
    [
      `ip addr add ${formatIp(6, ipv6ToBigInt(lan6.host)! + 0xeen)}/64 dev eth0 nodad`,
      "p=$(pidof dnsmasq); kill $p; while kill -0 $p 2>/dev/null; do sleep 0.1; done",
      `${dnsmasq} --dhcp-option-force=121,${routes121} >/tmp/dhcp/rogue.log 2>&1 &`,
      "i=0; until grep -q 'router advertisement enabled' /tmp/dhcp/rogue.log; do i=$((i+1)); [ $i -lt 150 ] || exit 1; sleep 0.2; done",
    ].join("\n"),
    { timeoutSec: 60 },
  );
}

/** Restarts dhcpcd the way a crash would (the supervisor starts it again) and waits for a lease carrying option 121. */
async function freshLease() {
  const before = (await dhcpcdPid())!;
  await router.runOk(`kill -KILL ${before}`);
  return waitFor("a lease with the rogue's option 121", async () => {
    const v4 = (await status()).uplinks[0]?.v4 as { classlessRoutes?: unknown[] } | undefined;
    return (await dhcpcdPid()) !== before && v4?.classlessRoutes?.length ? v4.classlessRoutes : undefined;
  }, 90_000);
}

const routeGet = (json: string) => (JSON.parse(json) as { dev: string; gateway?: string }[])[0];

/** Management and LAN hosts reach the router by ping and TCP (replies come back their way), and the router routes to them by their interfaces. */
async function expectTrafficWhereItBelongs() {
  expect(routeGet(await router.runOk("ip -json route get 192.168.99.10"))).toMatchObject({ dev: "eth3" });
  expect(routeGet(await router.runOk("ip -json route get 192.168.99.100"))).toMatchObject({ dev: "eth3" });
  expect(routeGet(await router.runOk("ip -json route get 192.168.10.10"))).toMatchObject({ dev: "eth2" });
  for (const [ns, addr] of [["mgmt", "192.168.99.1"], ["lan", "192.168.10.1"]] as const) {
    expect(await peer.runOk(`ip netns exec ${ns} ping -c 1 -W 5 ${addr}`)).toContain("1 packets received");
    expect(await tcpAnswer(peer, ns, addr, 50000)).toBe("apid");
  }
  // And the uplink's default route is the router option's, not option 121's.
  expect(routeGet(await router.runOk("ip -json route get 203.0.113.9"))).toMatchObject({ dev: "eth0", gateway: GATEWAY4 });
  // IPv6: the LAN's /64, which the rogue advertises on the WAN, stays on the LAN, and the
  // uplink's only route from advertisements is the default route.
  expect(routeGet(await router.runOk(`ip -json route get ${lan6.host}`))).toMatchObject({ dev: "eth2" });
  expect(await peer.runOk(`ip netns exec lan ping -c 1 -W 5 ${lan6.router}`)).toContain("1 packets received");
  expect((await routes(6)).filter((r) => r.protocol === "ra" && r.dev === "eth0").map((r) => r.dst)).toEqual(["default"]);
}

beforeAll(async () => {
  const { vms, cables } = standardLab();
  lab = await Lab.boot(vms, cables);
  router = lab.vm("router");
  peer = lab.vm("peer");
  for (const [vm, progs] of [[router, ["dhcpcd"]], [peer, ["dnsmasq", "kea-dhcp6"]]] as const)
    for (const p of progs)
      if ((await vm.run(`command -v ${p}`)).exitCode !== 0) throw new Error(`the lab image has no ${p}: run "make lab-image"`);

  // The peer: the ISP side of cable 0.
  await peer.put("/tmp/dhcp/kea6.json", JSON.stringify(kea));
  await peer.runOk(
    [
      "sysctl -qw net.ipv6.conf.eth0.accept_dad=0",
      "ip link set eth0 up",
      `ip addr add ${GATEWAY4}/24 dev eth0`,
      "ip addr add 2001:db8:0:1::fe/64 dev eth0",
      linkLocalReady(["eth0"]),
      "KEA_PIDFILE_DIR=/tmp/dhcp KEA_LOCKFILE_DIR=none kea-dhcp6 -c /tmp/dhcp/kea6.json >/tmp/dhcp/kea.log 2>&1 &",
      `${dnsmasq} >/tmp/dhcp/dnsmasq.log 2>&1 &`,
      "i=0; until grep -q DHCP6_STARTED /tmp/dhcp/kea.log && grep -q 'router advertisement enabled' /tmp/dhcp/dnsmasq.log; do i=$((i+1)); [ $i -lt 150 ] || exit 1; sleep 0.2; done",
    ].join("\n"),
    { timeoutSec: 60 },
  );

  // The router: fos1's supervisor, bundled from this checkout and run by the image's fos1.
  const bundle = await Bun.build({ entrypoints: [join(import.meta.dir, "dhcp-client.ts")], target: "bun" });
  if (!bundle.success) throw new Error(`cannot bundle dhcp-client.ts: ${bundle.logs.join("\n")}`);
  await router.put("/lab/dhcp-client.js", await bundle.outputs[0]!.text());
  await router.put(SPEC, JSON.stringify(spec));
  // A router forwards, so the kernel ignores router advertisements: whatever IPv6 the uplink
  // gets, dhcpcd put there.
  await router.runOk(["sysctl -qw net.ipv6.conf.all.forwarding=1", "ip link set eth0 up", "ip link set eth2 up", "ip link set eth3 up", linkLocalReady(["eth0", "eth2", "eth3"])].join("\n"), {
    timeoutSec: 60,
  });
  await router.runOk(
    `mkdir -p ${STATE}; BUN_BE_BUN=1 FOS1_LOG_FORMAT=text FOS1_LOG_LEVEL=debug fos1 /lab/dhcp-client.js ${SPEC} ${STATE} >${CLIENT_LOG} 2>&1 & echo $! >/tmp/dhcp-client.pid`,
  );
  await converged(1);
}, 240_000);

afterAll(async () => {
  await lab?.shutdown();
});

let leased4 = "";
let na6 = "";
let delegated = "";

describe("fos1's DHCP client on the uplink", () => {
  test("gets a DHCPv4 address from the server's range, and a default route via the server's router option", async () => {
    const a = await waitFor("a DHCPv4 address on eth0", async () =>
      (await addrs("eth0")).find((a) => a.family === "inet" && /^198\.51\.100\.1\d\d$/.test(a.local)),
    );
    leased4 = a.local;
    // What dhcpcd installs: a finite lifetime (the kernel's "dynamic") and no kernel prefix route.
    expect(a).toMatchObject({ prefixlen: 24, scope: "global", dynamic: true, noprefixroute: true });
    expect(a.valid_life_time).toBeGreaterThan(0);
    expect(a.valid_life_time).toBeLessThanOrEqual(3600);
    const r4 = await routes(4);
    expect(r4.find((r) => r.dst === "default")).toMatchObject({ gateway: GATEWAY4, dev: "eth0", protocol: "dhcp" });
    expect(r4.find((r) => r.dst === "198.51.100.0/24")).toMatchObject({ dev: "eth0", protocol: "dhcp" });
    // And the server sees the router at that address.
    expect(await peer.runOk(`ping -c 1 -W 5 ${leased4}`)).toContain("1 packets received");
  }, 90_000);

  test("gets a DHCPv6 address from the server's pool, and a default route from its router advertisements", async () => {
    const a = await waitFor("a DHCPv6 address on eth0", async () =>
      (await addrs("eth0")).find((a) => a.family === "inet6" && a.prefixlen === 128 && inPrefix6(`${a.local}/128`, "2001:db8:0:1::/64")),
    );
    na6 = a.local;
    const n = ipv6ToBigInt(na6)! - ipv6ToBigInt("2001:db8:0:1::")!;
    expect(n >= 0x100n && n <= 0x1ffn).toBe(true); // kea's pool ::100–::1ff
    expect(a).toMatchObject({ scope: "global", dynamic: true, noprefixroute: true });
    expect(a.valid_life_time).toBeLessThanOrEqual(4000);
    const peerLinkLocal = (await peer.runOk("ip -6 -o addr show dev eth0 scope link")).match(/fe80::[0-9a-f:]+/)![0];
    const def = await waitFor("an IPv6 default route", async () => (await routes(6)).find((r) => r.dst === "default"));
    expect(def).toMatchObject({ gateway: peerLinkLocal, dev: "eth0", protocol: "ra" });
  }, 90_000);

  test("gets a delegated prefix, and each LAN interface named in assign gets its /64 of it by subnetId", async () => {
    const reject = await waitFor("the delegated prefix's reject route", async () =>
      (await routes(6)).find((r) => r.type === "unreachable" && r.protocol === "dhcp"),
    );
    delegated = reject.dst;
    expect(delegated).toMatch(/\/56$/);
    expect(inPrefix6(delegated, PD_POOL)).toBe(true);
    const base = ipv6ToBigInt(delegated.split("/")[0]!)!;
    for (const { ifname, subnetId } of spec[0]!.prefixDelegation!.assign) {
      const want = base + (BigInt(subnetId) << 64n) + 1n;
      const a = await waitFor(`the /64 of subnet ${subnetId} on ${ifname}`, async () =>
        (await addrs(ifname)).find((a) => a.family === "inet6" && a.prefixlen === 64 && ipv6ToBigInt(a.local) === want),
      );
      expect(a).toMatchObject({ scope: "global", dynamic: true, noprefixroute: true });
      const subnet = (await routes(6)).find((r) => r.dev === ifname && r.protocol === "dhcp" && inPrefix6(`${a.local}/128`, r.dst));
      expect(subnet?.dst).toMatch(/\/64$/);
    }
    // Nothing of it lands on a LAN interface that did not ask (eth1).
    expect((await addrs("eth1")).filter((a) => a.family === "inet6" && a.scope === "global")).toEqual([]);
    // The ISP side, routing the prefix to the router, reaches the LAN address.
    const lan = (await addrs("eth2")).find((a) => a.prefixlen === 64 && inPrefix6(`${a.local}/128`, delegated))!.local;
    await peer.runOk(`ip -6 route replace ${delegated} via ${na6} dev eth0`);
    expect(await peer.runOk(`ping -c 1 -W 5 ${lan}`)).toContain("1 packets received");
  }, 90_000);

  test("status() reports the leases and the addresses dhcpcd installed", async () => {
    const s = await waitFor("a status with both leases", async () => {
      const st = await status();
      const up = st.uplinks[0];
      return up?.v4 && up.v6?.delegatedPrefixes.length && up.assigned.every((a) => a.addresses.length) ? st : undefined;
    });
    expect(s.pid).toBe((await dhcpcdPid()) ?? -1);
    const up = s.uplinks[0]!;
    expect(up).toMatchObject({ ifname: "eth0", running: true });
    expect(up.v4).toMatchObject({ address: `${leased4}/24`, gateway: GATEWAY4, dnsServers: [DNS4], server: GATEWAY4, leaseSeconds: 3600 });
    expect(up.v6!.addresses).toContain(`${na6}/128`);
    expect(up.v6!.delegatedPrefixes.map((p) => p.prefix)).toEqual([delegated]);
    expect(up.addresses.map((a) => a.cidr)).toEqual(expect.arrayContaining([`${leased4}/24`, `${na6}/128`]));
    expect(up.assigned.map((a) => [a.ifname, a.subnetId, a.addresses.length])).toEqual([
      ["eth2", 1, 1],
      ["eth3", 2, 1],
    ]);
  }, 90_000);

  test("converging to the same specs leaves dhcpcd alone; changed specs restart it with the new config", async () => {
    const before = await dhcpcdPid();
    expect(before).toBeNumber();
    await router.runOk("kill -HUP $(cat /tmp/dhcp-client.pid)");
    await converged(2);
    expect(await dhcpcdPid()).toBe(before!);

    // eth3 no longer asks for a subnet: dhcpcd restarts, eth3 loses its /64, eth2 keeps one.
    const fewer = [{ ...spec[0]!, prefixDelegation: { hintLength: 56, assign: [{ ifname: "eth2", subnetId: 1 }] } }];
    await router.put(SPEC, JSON.stringify(fewer));
    await router.runOk("kill -HUP $(cat /tmp/dhcp-client.pid)");
    await converged(3);
    const after = await dhcpcdPid();
    expect(after).toBeNumber();
    expect(after).not.toBe(before!);
    expect(await router.runOk(`cat ${STATE}/dhcpcd.conf`)).toContain(" eth2/1/64\n");
    await waitFor("eth3's delegated /64 to go", async () =>
      (await addrs("eth3")).some((a) => inPrefix6(`${a.local}/128`, PD_POOL)) ? undefined : true,
    );
    await waitFor("eth2's /64 back", async () => (await addrs("eth2")).find((a) => inPrefix6(`${a.local}/128`, PD_POOL)));
  }, 120_000);

  test("when dhcpcd is killed, the supervisor restarts it and the lease comes back", async () => {
    const before = (await dhcpcdPid())!;
    await router.runOk(`kill -KILL ${before}`);
    const after = await waitFor("a new dhcpcd", async () => {
      const pid = await dhcpcdPid();
      return pid !== undefined && pid !== before ? pid : undefined;
    });
    expect(await router.runOk(`cat ${CLIENT_LOG}`)).toContain("dhcpcd exited unexpectedly; restarting it");
    await waitFor("the supervisor's status to name the new dhcpcd", async () => ((await status()).pid === after ? true : undefined));
    await waitFor("the DHCPv4 address again", async () => (await addrs("eth0")).find((a) => a.local === leased4 && a.dynamic));
    // One dhcpcd: no second manager started beside the first (its privilege-separated helpers
    // are dhcpcd processes too; the manager is the one fos1 started).
    expect((await dhcpcdProcesses(router)).filter((p) => p.title.includes("[manager]")).map((p) => p.pid)).toEqual([after]);
  }, 120_000);

  test("dhcpcd runs privilege-separated: its privileged proxy as root with only the documented capabilities, every other process as dhcpcd, chrooted, with none", async () => {
    const procs = await dhcpcdProcesses(router);
    const dhcpcdUid = Number((await router.runOk(`grep '^${DHCPCD_USER}:' /etc/passwd | cut -d: -f3`)).trim());
    const root = procs.filter((p) => p.uid === 0);
    expect(root.map((p) => p.title)).toEqual([expect.stringContaining("[privileged proxy]")]);
    expect(root[0]).toMatchObject({ capEff: DHCPCD_CAPABILITY_MASK, capPrm: DHCPCD_CAPABILITY_MASK, capBnd: DHCPCD_CAPABILITY_MASK, capInh: 0n, capAmb: 0n });
    const dropped = procs.filter((p) => p.uid !== 0);
    // The manager, which parses what the servers send, is among them.
    expect(dropped.map((p) => p.title).join("\n")).toContain("[manager]");
    expect(dropped.length).toBeGreaterThanOrEqual(3); // manager, network proxy, control proxy (+ per-interface BPF ones)
    for (const p of dropped) expect(p).toMatchObject({ uid: dhcpcdUid, capEff: 0n, capPrm: 0n, root: "/usr/lib/dhcpcd" });
    expect(await router.runOk(`cat ${CLIENT_LOG}`)).not.toMatch(/no such user|refusing chroot|chroot: |failed to drop privileges|holds capabilities beyond/);
  }, 60_000);

  test("a rogue server's option 121 (192.168.99.0/25 inside management, the LAN's /24, a default) and its advertisement of the LAN's /64 are ignored by default: management and LAN traffic stay on their interfaces", async () => {
    await lanAndManagement();
    await rogueServer();
    const lease = await freshLease();
    expect(lease.length).toBe(ROGUE_ROUTES.length);
    // The restarted dhcpcd solicited the rogue's advertisements (its default route is back), which name the LAN's /64.
    await waitFor("the IPv6 default route from the advertisements", async () => (await routes(6)).find((r) => r.dst === "default" && r.protocol === "ra"));
    expect(await peer.runOk("cat /tmp/dhcp/rogue.log")).toContain(`RTR-ADVERT(eth0) ${lan6.prefix.split("/")[0]}`);
    await expectTrafficWhereItBelongs();
    // No route from option 121 on the uplink, and the default route is still the router option's.
    const onUplink = (await routes(4)).filter((r) => r.dev === "eth0");
    expect(onUplink.map((r) => r.dst).sort()).toEqual(["198.51.100.0/24", "default"]);
    expect(onUplink.find((r) => r.dst === "default")).toMatchObject({ gateway: GATEWAY4, protocol: "dhcp" });
    expect((await status()).uplinks[0]!.classlessRoutes).toBeUndefined();
    // The check can fail: with the rogue's route in the kernel, management's replies leave by the uplink.
    await router.runOk("ip route add 192.168.99.0/25 via 198.51.100.254 dev eth0");
    expect((await peer.run("ip netns exec mgmt ping -c 1 -W 2 192.168.99.1")).exitCode).not.toBe(0);
    await router.runOk("ip route del 192.168.99.0/25 via 198.51.100.254 dev eth0");
    // Nor can the IPv6 one pass by chance: with the advertised /64 on the uplink, as dhcpcd would
    // install it (metric 1000 + ifindex: eth0's beats eth2's), the LAN's replies leave by the uplink.
    await router.runOk(`ip -6 route add ${lan6.prefix} dev eth0 metric 1002 proto ra`);
    expect((await peer.run(`ip netns exec lan ping -c 1 -W 2 ${lan6.router}`)).exitCode).not.toBe(0);
    await router.runOk(`ip -6 route del ${lan6.prefix} dev eth0 metric 1002 proto ra`);
  }, 180_000);

  test("with classlessStaticRoutes on, fos1 installs the routes that overlap nothing and refuses the rest, saying so in its log and status; off again, they go", async () => {
    const current = JSON.parse(await router.runOk(`cat ${SPEC}`)) as DhcpClientSpec[];
    // 10.99.5.0/24: a LAN the config names whose link is not up, so no connected route protects it.
    await router.put(SPEC, JSON.stringify([{ ...current[0]!, classlessStaticRoutes: true, protectedNetworks: ["10.99.5.0/24"] }]));
    await router.runOk("kill -HUP $(cat /tmp/dhcp-client.pid)");
    await converged(4);
    const accepted = await waitFor("the accepted route in the kernel", async () =>
      (await routes(4)).find((r) => r.dst === "10.77.0.0/16" && r.protocol === String(FOS1_DHCP_ROUTE_PROTO)),
    );
    expect(accepted).toMatchObject({ gateway: "198.51.100.253", dev: "eth0" });
    const screened = await waitFor("the screened routes in status", async () => (await status()).uplinks[0]?.classlessRoutes);
    expect(screened.accepted).toEqual([{ dst: "10.77.0.0/16", gateway: "198.51.100.253" }]);
    expect(screened.refused).toEqual([
      { dst: "192.168.99.0/25", gateway: "198.51.100.254", overlaps: ["192.168.99.0/24"] },
      { dst: "192.168.10.0/24", gateway: "198.51.100.254", overlaps: ["192.168.10.0/24"] },
      { dst: "10.99.0.0/16", gateway: "198.51.100.254", overlaps: ["10.99.5.0/24"] },
    ]);
    const log = await router.runOk(`cat ${CLIENT_LOG}`);
    expect(log).toContain("refused a route from the DHCP server on eth0: 192.168.99.0/25 via 198.51.100.254 overlaps 192.168.99.0/24");
    // Nothing of the refused ones in the kernel, whoever's.
    expect((await routes(4)).filter((r) => ["192.168.99.0/25", "10.99.0.0/16"].includes(r.dst) || (r.dst === "192.168.10.0/24" && r.dev !== "eth2"))).toEqual([]);
    await expectTrafficWhereItBelongs();
    expect(routeGet(await router.runOk("ip -json route get 10.77.1.1"))).toMatchObject({ dev: "eth0", gateway: "198.51.100.253" });

    await router.put(SPEC, JSON.stringify(current));
    await router.runOk("kill -HUP $(cat /tmp/dhcp-client.pid)");
    await converged(5);
    await waitFor("the option-121 route to go", async () => ((await routes(4)).some((r) => r.protocol === String(FOS1_DHCP_ROUTE_PROTO)) ? undefined : true), 30_000);
  }, 180_000);

  test("when the supervisor stops, dhcpcd is gone and so is what it installed", async () => {
    await router.runOk("kill -TERM $(cat /tmp/dhcp-client.pid)");
    await waitFor("the client to exit", async () => ((await router.run("kill -0 $(cat /tmp/dhcp-client.pid)")).exitCode !== 0 ? true : undefined), 30_000);
    expect((await router.run("pidof dhcpcd")).exitCode).not.toBe(0);
    expect((await addrs("eth0")).filter((a) => a.scope === "global")).toEqual([]);
    // The LAN's static 192.168.10.1/24 (the rogue-server tests') stays: it is not dhcpcd's.
    expect((await addrs("eth2")).filter((a) => a.scope === "global" && a.dynamic)).toEqual([]);
    expect((await routes(4)).filter((r) => r.protocol === "dhcp" || r.protocol === String(FOS1_DHCP_ROUTE_PROTO))).toEqual([]);
    expect((await routes(6)).filter((r) => r.protocol === "dhcp" || r.protocol === "ra")).toEqual([]);
  }, 60_000);
});
