// `fos1 agent` with its cluster parts on the real kernel in a network namespace: the node-local
// objects the (FAKE) API server holds for this node are merged over the boot file and applied,
// and taken away again when they are deleted; flows from a (FAKE) Hubble observer are counted
// by zone on its /metrics. The fake API server listens on a veth address the agent's namespace
// reaches (its 127.0.0.1 is its own); the fake Hubble on a unix socket. Waits are bounded.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { spawnSync } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agentManifests } from "../../src/cluster/manifests";
import { startFakeCluster } from "../helpers/cluster";
import type { FakeApiServer } from "../helpers/fake-apiserver";
import { Netns, waitUntil } from "../helpers/netns";
import { samples } from "../helpers/prometheus";
import { rbacAuthorizer } from "../helpers/rbac";
import { FakeHubbleObserver, readRecordedFlows } from "../unit/hubble/fake-hubble-observer";
import { AgentProcess } from "./agent-process";

const T = 90_000;
const HOST_SIDE = "169.254.241.1";
const link = `fk${process.pid % 100000}`; // in the root namespace: unique to this run

const BOOT = `apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: lan}
spec: {device: lan0, addresses: [192.168.10.1/24], zone: lan}
---
apiVersion: security.fos1.io/v1alpha1
kind: FirewallZone
metadata: {name: lan}
spec: {management: true, input: accept, forward: accept}
`;

let ns: Netns;
let dir: string;
let agent: AgentProcess | undefined;
let api: FakeApiServer | undefined;
let hubble: FakeHubbleObserver | undefined;

beforeEach(() => {
  ns = Netns.create("agc");
  ns.sh("ip link add lan0 type veth peer name lanp && ip link set lanp up && ip link add lan1 type veth peer name lan1p && ip link set lan1p up");
  sh(`ip link add ${link} type veth peer name ${link}p netns ${ns.name} && ip address add ${HOST_SIDE}/30 dev ${link} && ip link set ${link} up`);
  ns.sh(`ip address add 169.254.241.2/30 dev ${link}p && ip link set ${link}p up`);
  dir = mkdtempSync(join(tmpdir(), "fos1-agc-"));
  writeFileSync(join(dir, "config.yaml"), BOOT);
});

afterEach(async () => {
  agent?.kill("SIGKILL");
  await api?.stop();
  hubble?.close();
  [agent, api, hubble] = [undefined, undefined, undefined];
  spawnSync(["ip", "link", "del", link]);
  ns.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function sh(cmd: string) {
  const r = spawnSync(["sh", "-ec", cmd], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd}: ${r.stderr.toString()}`);
}

const start = (extra: string[]) => (agent = new AgentProcess(ns, ["-f", join(dir, "config.yaml"), "--state-dir", join(dir, "state"), "--debounce-ms", "100", ...extra]));

test("the cluster's objects for this node are merged over the boot file, and leave with their deletion", async () => {
  api = startFakeCluster(rbacAuthorizer(agentManifests(), { namespace: "fos1-system", name: "fos1-agent" }), HOST_SIDE);
  api.put("nodes", { apiVersion: "v1", kind: "Node", metadata: { name: "r1", labels: { "fos1.io/role": "router" } } });
  const iface = (name: string, device: string, address: string, nodeSelector?: Record<string, string>) => ({
    apiVersion: "network.fos1.io/v1alpha1",
    kind: "NetworkInterface",
    metadata: { name },
    spec: { device, addresses: [address], ...(nodeSelector ? { nodeSelector } : {}) },
  });
  api.put("networkinterfaces", iface("extra", "lan1", "10.20.0.1/24", { "fos1.io/role": "router" }));
  api.put("networkinterfaces", iface("elsewhere", "lan1", "10.30.0.1/24", { "fos1.io/role": "switch" }));
  // The management interface is the boot file's: a cluster object changing it is left out.
  api.put("networkinterfaces", iface("lan", "lan0", "192.168.77.1/24"));
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\nclusters: [{name: fake, cluster: {server: "${api.url}", insecure-skip-tls-verify: true}}]\nusers: [{name: agent, user: {token: fake-token}}]\ncontexts: [{name: fake, context: {cluster: fake, user: agent}}]\ncurrent-context: fake\n`);

  const a = start(["--kubeconfig", kubeconfig, "--node", "r1", "--hubble", "off"]);
  await waitUntil("the cluster's interface configured", () => ns.hasAddress("lan1", "10.20.0.1/24"), 30_000, () => a.raw.slice(-8));
  expect(ns.hasAddress("lan0", "192.168.10.1/24")).toBe(true);
  expect(ns.hasAddress("lan1", "10.30.0.1/24")).toBe(false); // selected for another node
  expect(ns.hasAddress("lan0", "192.168.77.1/24")).toBe(false);
  await a.waitForLog("the management interface's object left out", (l) => l.msg === "a cluster object for this node is left out" && l.object === "NetworkInterface/lan");
  expect(api.denied).toEqual([]);

  api.remove("networkinterfaces", "extra");
  // Usually the watch event, at most a re-list: a watch stream that stays quiet for 30 s
  // (client-node's inactivity limit) is opened again after listing, and the list has it too.
  await waitUntil("the deleted object's address removed", () => !ns.hasAddress("lan1", "10.20.0.1/24"), 60_000, () => a.raw.slice(-8));
  expect(ns.hasAddress("lan0", "192.168.10.1/24")).toBe(true);
}, T);

test("flows from Hubble are counted by zone on /metrics", async () => {
  hubble = new FakeHubbleObserver([]);
  const target = await hubble.listen(`unix://${join(dir, "hubble.sock")}`);
  const a = start(["--hubble", target]);
  await hubble.requestsReceived(1);
  const flows = (await readRecordedFlows()).filter((r) => r.flow);
  const metric = async () => samples((await a.get("http://127.0.0.1:9641/metrics")).body).filter((s) => s.name === "fos1_flows_total");
  await waitUntil("the stream followed", async () => {
    for (const f of flows.slice(0, 1)) hubble!.emit(f);
    return (await metric()).length > 0;
  }, 20_000);
  const counted = await metric();
  // The fixture's first flow leaves 192.168.10.23, in lan by the boot file's lan0 network.
  expect(counted.some((s) => s.labels.zone_from === "lan" && s.labels.verdict === "forwarded")).toBe(true);
}, T);
