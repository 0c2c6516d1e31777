// What the operator sees of real traffic, on this machine's kernel: a router namespace runs
// `fos1 agent` with an interface in a management zone (input policy drop) and an XDP filter
// blocking 203.0.113.0/24; a client namespace pings it (allowed), knocks on a closed port
// (dropped by the zone's policy) and pings from a blocked source (dropped by XDP). /metrics
// must show the interface's counters, the firewall's rule and zone-pair counters, the XDP drop
// and the conntrack entries rising; `fos1 status` the rates, zones, top talkers, drops by
// reason, blocks and the last change. fos1 runs under `nsenter --net=` so bpffs stays visible;
// pins live under a test root (FOS1_BPF_PIN_ROOT), the object comes from dist/bpf (make build).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { HostStatus } from "../../src/cli/status/host-status";
import { removePinRoot, testPinRoot } from "../helpers/bpffs";
import { fos1Argv } from "../helpers/fos1";
import { Netns } from "../helpers/netns";
import { samples, value, type Sample } from "../helpers/prometheus";
import { AgentProcess } from "./agent-process";

const CONFIG = `apiVersion: network.fos1.io/v1alpha1
kind: NetworkInterface
metadata: {name: lan}
spec: {device: lan0, addresses: [192.0.2.1/24]}
---
apiVersion: security.fos1.io/v1alpha1
kind: FirewallZone
metadata: {name: mgmt}
spec: {interfaces: [lan], management: true, input: drop}
---
apiVersion: security.fos1.io/v1alpha1
kind: XDPFilter
metadata: {name: edge}
spec: {interfaces: [lan0], blocklist: ["203.0.113.0/24"]}
`;
const ROUTER = "192.0.2.1";
const CLIENT = "192.0.2.10";

let router: Netns, client: Netns, dir: string, state: string, pinRoot: string, agent: AgentProcess;
const env = () => ({ FOS1_BPF_PIN_ROOT: pinRoot, FOS1_BPF_DIR: resolve(import.meta.dir, "../../dist/bpf") });
const fos1 = async (args: string[]) => {
  const p = Bun.spawn(["nsenter", `--net=/run/netns/${router.name}`, ...fos1Argv(), ...args, "--state-dir", state], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env() } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`fos1 ${args.join(" ")} exited ${code}: ${err}${out}`);
  return out;
};
const metrics = async (): Promise<Sample[]> => {
  const r = await agent.get("http://127.0.0.1:9641/metrics");
  expect(r.status).toBe(200);
  return samples(r.body);
};
/** Runs in the client; a probe that is meant to be dropped fails, and that is fine. */
const tryIn = (ns: Netns, script: string) => {
  try {
    ns.sh(script);
  } catch {
    // dropped, as intended
  }
};
const traffic = () => {
  client.sh(`ping -c 3 -i 0.2 -W 1 ${ROUTER} >/dev/null`);
  tryIn(client, `python3 -c "import socket; s = socket.socket(); s.settimeout(1); s.connect_ex(('${ROUTER}', 9))"`);
  tryIn(client, `ping -c 2 -i 0.2 -W 1 -I 203.0.113.9 ${ROUTER} >/dev/null`);
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fos1-obs-"));
  state = join(dir, "state");
  pinRoot = testPinRoot("obs");
  router = Netns.create("obs-r");
  client = Netns.create("obs-c");
  router.sh(`ip link add lan0 type veth peer name lanp netns ${client.name}`);
  client.sh("ip link set lanp up && ip addr add 192.0.2.10/24 dev lanp && ip addr add 203.0.113.9/32 dev lanp");
  writeFileSync(join(dir, "config.yaml"), CONFIG);
  agent = new AgentProcess(router, ["-f", join(dir, "config.yaml"), "--state-dir", state, "--debounce-ms", "100"], { keepSys: true, env: env() });
  await agent.waitForLog("the boot converge", (l) => l.msg === "boot converge done", 30_000);
  await agent.settled();
});

afterAll(async () => {
  await agent?.stop("SIGTERM");
  for (const ns of [router, client]) ns?.destroy();
  if (pinRoot) removePinRoot(pinRoot);
  rmSync(dir, { recursive: true, force: true });
});

describe("/metrics under real traffic", () => {
  test("interface, firewall rule, zone pair, XDP and conntrack counters rise with the traffic; every source was read", async () => {
    const before = await metrics();
    traffic();
    const after = await metrics();
    const grew = (name: string, labels: Record<string, string>) => (value(after, name, labels) ?? 0) - (value(before, name, labels) ?? 0);
    const lan0 = { device: "lan0", interface: "lan", kind: "veth" };

    // Three echo requests and three replies of 98 bytes each on the wire, at least.
    expect(grew("fos1_interface_receive_packets_total", lan0)).toBeGreaterThanOrEqual(3);
    expect(grew("fos1_interface_receive_bytes_total", lan0)).toBeGreaterThanOrEqual(3 * 98);
    expect(grew("fos1_interface_transmit_bytes_total", lan0)).toBeGreaterThanOrEqual(3 * 98);
    expect(value(after, "fos1_interface_info", { ...lan0, vlan: "", parent: "" })).toBe(1);
    expect(value(after, "fos1_interface_up", lan0)).toBe(1);

    // The first echo request opens the flow; the next ones belong to it (one ICMP id).
    expect(grew("fos1_firewall_rule_packets_total", { chain: "input", rule: "management ping", verdict: "accept" })).toBeGreaterThanOrEqual(1);
    expect(grew("fos1_firewall_rule_packets_total", { chain: "input", rule: "ct state established,related", verdict: "accept" })).toBeGreaterThanOrEqual(2);
    expect(grew("fos1_firewall_rule_packets_total", { chain: "in_mgmt", rule: "zone mgmt input policy", verdict: "drop" })).toBeGreaterThanOrEqual(1);
    expect(grew("fos1_firewall_zone_pair_packets_total", { from_zone: "mgmt", to_zone: "host", verdict: "drop" })).toBeGreaterThanOrEqual(1);
    expect(grew("fos1_xdp_packets_total", { filter: "edge", reason: "drop_block_v4" })).toBeGreaterThanOrEqual(2);
    expect(value(after, "fos1_xdp_blocked_prefixes", { filter: "edge" })).toBe(1);

    expect(value(after, "fos1_conntrack_entries")).toBeGreaterThanOrEqual(1);
    expect(value(after, "fos1_conntrack_entries_limit")).toBeGreaterThan(0);
    for (const source of ["interfaces", "firewall", "conntrack", "xdp"]) expect(value(after, "fos1_scrape_source_up", { source })).toBe(1);
  });
});

describe("fos1 status", () => {
  let s: HostStatus;
  let text: string;

  beforeAll(async () => {
    await fos1(["xdp", "block", "198.51.100.0/24", "--ttl", "1h"]);
    traffic();
    // Pings going on while status samples the counters give lan0 a rate.
    const pinging = Bun.spawn(client.argv(["ping", "-c", "15", "-i", "0.2", ROUTER]), { stdout: "ignore", stderr: "ignore" });
    s = JSON.parse(await fos1(["status", "-o", "json"])) as HostStatus;
    text = await fos1(["status"]);
    await pinging.exited;
  });

  test("-o json: lan0's zone and traffic rate, the zones, the client among the top talkers, conntrack use", () => {
    const lan0 = s.interfaces.find((i) => i.name === "lan0")!;
    expect(lan0.zone).toBe("mgmt");
    expect(lan0.rxBitsPerSecond).toBeGreaterThan(0);
    expect(s.sampleSeconds).toBeGreaterThanOrEqual(1);
    expect(s.zones).toEqual([{ name: "mgmt", interfaces: ["lan0"] }]);
    expect(s.topTalkers.map((t) => t.address)).toContain(CLIENT);
    expect(s.conntrack!.entries).toBeGreaterThanOrEqual(1);
    expect(s.problems).toEqual([]);
  });

  test("-o json: drops by reason from XDP and the firewall, the blocks, the last change", () => {
    expect(s.drops).toContainEqual(expect.objectContaining({ source: "xdp", where: "edge", reason: "drop_block_v4" }));
    expect(s.drops).toContainEqual(expect.objectContaining({ source: "firewall", where: "zone mgmt input policy", chain: "in_mgmt", reason: "drop" }));
    expect(s.blocks.static).toBe(1);
    expect(s.blocks.dynamic).toEqual([expect.objectContaining({ prefix: "198.51.100.0/24", source: "dynamic", filter: "edge" })]);
    expect(s.lastChanges[0]).toMatchObject({ number: 1, outcome: "converged" });
    expect(s.lastChanges[0]!.source).toStartWith("fos1 agent (");
  });

  test("the text fits an 80×24 terminal and says the same", () => {
    const lines = text.trimEnd().split("\n");
    expect(lines.length).toBeLessThanOrEqual(24);
    expect(lines.filter((l) => l.length > 80)).toEqual([]);
    expect(text).toMatch(/^lan0 +UP +mgmt +\S+ \S*b\/s +\S+ \S*b\/s +192\.0\.2\.1\/24/m);
    expect(text).toContain(CLIENT);
    expect(text).toMatch(/xdp edge drop_block_v4 +\d+/);
    expect(text).toContain("blocks   1 static, 1 dynamic: 198.51.100.0/24 until");
    expect(text).toMatch(/^changes  #1 \d+[smhd] ago converged: .*by fos1 agent \(/m);
  });
});
