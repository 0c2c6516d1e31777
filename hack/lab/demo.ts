// make demo: boots the lab, has the router run fos1 on the embedded default config, and
// shows `fos1 status` and which lab hosts reach which. Parts that later issues deliver are
// named as missing, not faked.
import { Lab, standardLab } from "./vm";
import { buildLabHosts, labHosts, reachability, reachabilityTable } from "./topology";

const say = (text: string) => process.stdout.write(text.endsWith("\n") ? text : text + "\n");
const heading = (text: string) => say(`\n=== ${text}`);

const notYet = [
  "the configuration engine and the embedded default config (fos1 validate/plan/apply, issue #3):",
  "  the router has no addresses, VLANs or bond yet, so nothing reaches anything",
  "the host firewall, NAT and commit-confirm (issue #4)",
  "XDP early drop on the bonded uplink (issue #5)",
  "the Talos extension and boot service, fos1 agent (issue #6)",
  "cluster controllers and the hand-off to Cilium (issue #7)",
  "metrics, flows and IDS-driven blocks (issue #8)",
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
  for (const h of labHosts) say(`${h.name.padEnd(6)} ${h.cidr.padEnd(18)} router expected at ${h.gateway}`);

  heading("router: fos1 version");
  say(await router.runOk("fos1 version"));

  heading("router: apply the default config");
  const apply = await router.run("FOS1_LOG_FORMAT=text fos1 apply");
  say(apply.exitCode === 0 ? apply.stdout : `not possible yet: ${apply.stderr.trim()}`);

  heading("router: fos1 status");
  say(await router.runOk("fos1 status"));

  heading("who reaches whom (ping from each lab host)");
  say(reachabilityTable(await reachability(peer)));

  heading("not there yet");
  for (const line of notYet) say(line.startsWith("  ") ? `  ${line}` : `- ${line}`);
} finally {
  await lab.shutdown();
}
