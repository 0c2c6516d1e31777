// make demo: boots the lab, has the router run `fos1 agent` on the embedded default config
// (`fos1 defaults`), and shows `fos1 status`, what a host with nothing configured gets on each
// LAN (a lease, a SLAAC address, answers from the router's resolver) and which lab hosts reach
// which. Parts that need what the lab does not run are named, not faked.
import { Lab, standardLab } from "./vm";
import { table } from "../../src/cli/output";
import { LanClient, type LanName } from "./lan-client";
import { buildLabHosts, labHosts, OUTSIDE_NAME, reachability, reachabilityTable, wanPrefixDelegation, wanProvider } from "./topology";

const say = (text: string) => process.stdout.write(text.endsWith("\n") ? text : text + "\n");
const heading = (text: string) => say(`\n=== ${text}`);

// The lab runs no Kubernetes, Cilium or Suricata: what needs them is named, not faked.
const notShown = [
  "fos1 controller and the hand-off to Cilium: needs a cluster (offline: fos1 translate -f CONFIG shows the Cilium objects)",
  "fos1 flows and the flow metrics: need Cilium's Hubble",
  "fos1 ids run (alerts to XDP blocks): needs Suricata's EVE output",
];

const { vms, cables } = standardLab();
heading("booting the lab: router (system under test) and peer (the world), 4 virtual cables");
const lab = await Lab.boot(vms, cables);
try {
  for (const vm of lab.vms.values()) say(`${vm.name}: ready in ${(vm.bootMs / 1000).toFixed(1)} s`);
  const router = lab.vm("router");
  const peer = lab.vm("peer");

  heading("lab hosts (namespaces in the peer VM)");
  await buildLabHosts(peer);
  await peer.runOk([wanProvider({ ipv6: true }), wanPrefixDelegation("2001:db8:100::")].join("\n"), { timeoutSec: 60 });
  for (const h of labHosts) say(`${h.name.padEnd(6)} ${h.cidr.padEnd(18)} router expected at ${h.gateway}`);
  say(`wan    is the provider: DHCPv4, router advertisements and DNS (it knows ${OUTSIDE_NAME}) from dnsmasq, an IPv6 address and a delegated /56 from kea-dhcp6`);

  heading("router: fos1 version");
  say(await router.runOk("fos1 version"));

  heading("router: the default config (fos1 defaults), validated and run by fos1 agent");
  await router.runOk("mkdir -p /etc/fos1 && fos1 defaults > /etc/fos1/config.yaml");
  say(await router.runOk("fos1 validate -f /etc/fos1/config.yaml"));
  await router.runOk("mkdir -p /var/log && (FOS1_LOG_FORMAT=text setsid fos1 agent -f /etc/fos1/config.yaml --state-dir /var/lib/fos1 >/var/log/fos1-agent.log 2>&1 &)");
  const deadline = Date.now() + 90_000;
  let up = false;
  while (!up && Date.now() < deadline) {
    await Bun.sleep(2000);
    const s = await router.run("fos1 status -o json --state-dir /var/lib/fos1");
    up = s.exitCode === 0 && (JSON.parse(s.stdout).interfaces as { name: string; addresses: string[] }[]).some((i) => i.name === "uplink" && i.addresses.some((a) => a.startsWith("198.51.100.")));
  }
  say(up ? "the uplink bond negotiated LACP and got its address by DHCP" : "the uplink did not get a DHCP lease within 90 s (see the agent's log below)");
  say((await router.run("tail -n 8 /var/log/fos1-agent.log")).stdout);

  heading("router: fos1 status");
  say(await router.runOk("fos1 status --state-dir /var/lib/fos1"));

  heading("LAN services: a host with nothing configured on lan and on guest");
  const rows: string[][] = [];
  for (const [on, mac] of [["lan", "52:54:00:10:10:01"], ["guest", "52:54:00:20:20:01"]] as [LanName, string][]) {
    const client = await LanClient.add(peer, on, `${on}c`, mac);
    const hostname = `${on}-laptop`;
    const got = await client.lease(hostname).catch(() => ({}) as Record<string, string>);
    let slaac = "";
    for (let i = 0; i < 45 && !slaac; i++) {
      slaac = [...(await client.slaac()).keys()][0] ?? "";
      if (!slaac) await Bun.sleep(2000);
    }
    const resolver = got.dns ?? "";
    const own = resolver ? (await client.resolve(`${hostname}.${got.domain}`, resolver)).join(",") : "";
    const outside = resolver ? (await client.resolve(OUTSIDE_NAME, resolver)).join(",") : "";
    rows.push([on, got.ip ? `${got.ip} via ${got.router}, dns ${got.dns}, ${got.domain}` : "no lease", slaac || "none", `${hostname}.${got.domain ?? "?"} → ${own || "no answer"}`, `${OUTSIDE_NAME} → ${outside || "no answer"}`]);
  }
  say(table(["NETWORK", "DHCPv4 LEASE", "SLAAC ADDRESS", "DNS: OWN NAME", "DNS: THROUGH THE PROVIDER"], rows));

  heading("router: fos1 leases");
  say(await router.runOk("fos1 leases --state-dir /var/lib/fos1"));

  heading("router: fos1 xdp status (the bogon filter on the uplink bond)");
  say(await router.runOk("fos1 xdp status --state-dir /var/lib/fos1"));

  heading("who reaches whom (ping from each lab host; lan and guest reach wan masqueraded)");
  say(reachabilityTable(await reachability(peer)));

  heading("not shown in the lab");
  for (const line of notShown) say(`- ${line}`);
} finally {
  await lab.shutdown();
}
