// `fos1 agent` as a boot service on the real kernel in a network namespace: it tells a service
// manager it is ready (sd_notify on a unix datagram socket the test binds), answers /healthz,
// /readyz and /metrics on its local address, keeps the last-known-good in force when the file
// at boot is broken and says why, and stops on SIGTERM with exit 0, leaving the network as it
// is — DHCP leases included. Every wait is bounded; a failure says what was last seen.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ReadinessReport } from "../../src/agent/readiness";
import { Netns, waitUntil } from "../helpers/netns";
import { samples, value, type Sample } from "../helpers/prometheus";
import { AgentProcess, type AgentProcessOptions } from "./agent-process";
import { NotifyListener } from "./notify-listener";
import { dhcpcdFoldersIn, wanDhcpServer } from "./wan-dhcp";

const T = 90_000; // per-test limit; each wait inside is bounded far below it
const BASE = "http://127.0.0.1:9641"; // the default --listen, inside the agent's namespace

const doc = (kind: string, name: string, spec: string) => `apiVersion: network.fos1.io/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec}`;
const lan = (address = "192.0.2.1/24") => doc("NetworkInterface", "lan", `  device: lan0\n  addresses:\n    - ${address}\n`);
/** lan (on lan0, present) and wan (on wan0, absent: degraded). */
const config = (address?: string) => [lan(address), doc("NetworkInterface", "wan", "  device: wan0\n  addresses:\n    - 198.51.100.1/24\n")].join("---\n");
const digestOf = (text: string) => "sha256:" + createHash("sha256").update(text).digest("hex");
const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

let ns: Netns;
let dir: string;
let file: string;
let stateDir: string;
let agents: AgentProcess[] = [];
let listeners: NotifyListener[] = [];
let others: Netns[] = [];

function startAgent(opts: AgentProcessOptions = {}, extraArgs: string[] = []): AgentProcess {
  const a = new AgentProcess(ns, ["-f", file, "--state-dir", stateDir, "--debounce-ms", "100", ...extraArgs], opts);
  agents.push(a);
  return a;
}

async function listen(address: string): Promise<NotifyListener> {
  const l = await NotifyListener.start(ns, address);
  listeners.push(l);
  return l;
}

async function readyz(agent: AgentProcess): Promise<{ status: number; report: ReadinessReport }> {
  const r = await agent.get(`${BASE}/readyz`);
  if (r.status === 0) throw new Error(`/readyz did not answer: ${r.body}`);
  return { status: r.status, report: JSON.parse(r.body) as ReadinessReport };
}

async function metrics(agent: AgentProcess): Promise<Sample[]> {
  const r = await agent.get(`${BASE}/metrics`);
  expect(r.status).toBe(200);
  return samples(r.body);
}

const lanHas = (cidr: string) => ns.hasAddress("lan0", cidr);

beforeEach(() => {
  ns = Netns.create("svc");
  ns.sh("ip link add lan0 type veth peer name lanp && ip link set lanp up");
  dir = mkdtempSync(join(tmpdir(), "fos1-svc-"));
  file = join(dir, "config.yaml");
  stateDir = join(dir, "state");
  agents = [];
  listeners = [];
  others = [];
});

afterEach(async () => {
  for (const a of agents) a.kill("SIGKILL");
  await Promise.all(listeners.map((l) => l.close()));
  for (const n of [ns, ...others]) n.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe("fos1 agent as a boot service", () => {
  test("valid config: READY=1 after the boot converge, /healthz and /readyz 200, /metrics counts converges and interface states; a bad file later turns /readyz 503", async () => {
    const text = config();
    writeFileSync(file, text);
    // An abstract socket, as systemd uses for services in a namespace: it belongs to the network namespace.
    const notify = await listen(`@fos1-test-${process.pid}-${ns.name}`);
    const agent = startAgent({ env: { NOTIFY_SOCKET: notify.address } });

    const ready = await notify.waitForLine("READY=1");
    // READY=1 comes after the converge: the address is already there when it arrives.
    expect(lanHas("192.0.2.1/24")).toBe(true);
    expect(ready).toContain("\nSTATUS=ready: config sha256:");

    const health = await agent.get(`${BASE}/healthz`);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: "ok" });
    const { status, report } = await readyz(agent);
    expect(status).toBe(200);
    expect(report).toMatchObject({ ready: true, reasons: [], config: { digest: digestOf(text), source: "file", generation: 1 } });
    expect(report.interfaces).toEqual([
      { interface: "lan", device: "lan0", kind: "physical", state: "converged" },
      { interface: "wan", device: "wan0", kind: "physical", state: "degraded", reason: "link wan0: NIC wan0 is not present on this host" },
    ]);

    const m = await metrics(agent);
    expect(value(m, "fos1_converges_total", { outcome: "converged" })).toBeGreaterThanOrEqual(1);
    expect(value(m, "fos1_converges_total", { outcome: "error" })).toBe(0);
    expect(value(m, "fos1_converge_duration_seconds_count")).toBe(value(m, "fos1_converges_total", { outcome: "converged" })!);
    expect(value(m, "fos1_converge_writes_total")).toBeGreaterThanOrEqual(1); // at least the address
    expect(value(m, "fos1_last_converge_timestamp_seconds")).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(value(m, "fos1_config_generation")).toBe(1);
    expect(value(m, "fos1_config_info", { digest: digestOf(text), source: "file" })).toBe(1);
    expect(value(m, "fos1_config_file_valid")).toBe(1);
    expect(value(m, "fos1_ready")).toBe(1);
    expect(value(m, "fos1_interface_state", { interface: "lan", device: "lan0", state: "converged" })).toBe(1);
    expect(value(m, "fos1_interface_state", { interface: "lan", state: "degraded" })).toBe(0);
    expect(value(m, "fos1_interface_state", { interface: "wan", device: "wan0", state: "degraded" })).toBe(1);
    expect(value(m, "fos1_interface_state", { interface: "wan", state: "converged" })).toBe(0);

    // The NIC appears: the agent configures it and the metric follows.
    ns.sh("ip link add wan0 type veth peer name wanp && ip link set wanp up");
    await waitUntil("wan converged in /metrics", async () => value(await metrics(agent), "fos1_interface_state", { interface: "wan", state: "converged" }) === 1, 10_000);
    expect(ns.hasAddress("wan0", "198.51.100.1/24")).toBe(true);

    // A broken file: not applied, /readyz says where, the service manager hears of it.
    const bad = config("192.0.2.300/24");
    writeFileSync(file, bad);
    await waitUntil("/readyz 503", async () => (await readyz(agent)).status === 503, 10_000);
    const broken = (await readyz(agent)).report;
    expect(broken.ready).toBe(false);
    expect(broken.reasons[0]).toBe(`${file} was rejected (1 problem); the config in force (${digestOf(text).slice(0, 19)}) stays`);
    expect(broken.reasons[1]).toStartWith(`${file}:${lineOf(bad, "192.0.2.300")}:`);
    expect(broken.reasons[1]).toContain("spec.addresses[0]");
    expect(broken.config).toMatchObject({ digest: digestOf(text), generation: 1 });
    expect(lanHas("192.0.2.1/24")).toBe(true);
    const m2 = await metrics(agent);
    expect(value(m2, "fos1_config_file_valid")).toBe(0);
    expect(value(m2, "fos1_ready")).toBe(0);
    expect(await notify.waitForLine(`STATUS=${broken.status}`)).toBe(`STATUS=${broken.status}`);

    // Fixed: the new config is generation 2 and ready again.
    const fixed = config("192.0.2.2/24");
    writeFileSync(join(dir, ".new"), fixed);
    renameSync(join(dir, ".new"), file);
    await waitUntil("/readyz 200 with the fixed config", async () => (await readyz(agent)).status === 200, 10_000);
    expect((await readyz(agent)).report.config).toEqual({ digest: digestOf(fixed), source: "file", generation: 2 });
    expect(lanHas("192.0.2.2/24")).toBe(true);
    expect(value(await metrics(agent), "fos1_config_generation")).toBe(2);

    expect(await agent.stop("SIGTERM")).toBe(0);
    await notify.waitForLine("STOPPING=1");
    expect(lanHas("192.0.2.2/24")).toBe(true);
    expect(ns.hasAddress("wan0", "198.51.100.1/24")).toBe(true);
    expect(ns.pids()).toEqual([notify.pid]); // the agent and its monitor are gone; the HTTP port with them
  }, T);

  test("bad file at boot: the last-known-good is in force, READY=1 is still sent, /readyz is 503 naming file and line", async () => {
    const good = config();
    writeFileSync(file, good);
    const first = startAgent();
    await first.waitForLog("the boot converge", (l) => l.msg === "boot converge done" && l.ready === true);
    expect(await first.stop("SIGTERM")).toBe(0);

    // As after a reboot: the kernel forgot, and the file on disk is now broken.
    ns.sh("ip address flush dev lan0 scope global");
    const broken = lan().replace("device: lan0", "device: lan0\n  mtu: tiny");
    writeFileSync(file, broken);
    const notify = await listen(join(dir, "notify.sock")); // a path socket, as systemd's own
    const agent = startAgent({ env: { NOTIFY_SOCKET: notify.address } });

    const ready = await notify.waitForLine("READY=1");
    expect(lanHas("192.0.2.1/24")).toBe(true); // the last-known-good's address
    expect(ready).toContain(`STATUS=not ready: ${file} was rejected (1 problem); the last-known-good config (${digestOf(good).slice(0, 19)}) stays in force`);
    await agent.waitForLog("the problem in the log", (l) => l.level === "error" && l.msg.startsWith(`${file}:${lineOf(broken, "tiny")}:`));

    const { status, report } = await readyz(agent);
    expect(status).toBe(503);
    expect(report.ready).toBe(false);
    expect(report.config).toEqual({ digest: digestOf(good), source: "last-known-good", generation: 1 });
    expect(report.reasons).toContain(`${file}:${lineOf(broken, "tiny")}:8: document 1 (NetworkInterface/lan) spec.mtu: must be an integer; got "tiny"`);
    const m = await metrics(agent);
    expect(value(m, "fos1_config_info", { digest: digestOf(good), source: "last-known-good" })).toBe(1);
    expect(value(m, "fos1_config_file_valid")).toBe(0);
    expect(value(m, "fos1_ready")).toBe(0);
    expect(value(m, "fos1_interface_state", { interface: "lan", state: "converged" })).toBe(1);

    expect(await agent.stop("SIGTERM")).toBe(0);
    expect(lanHas("192.0.2.1/24")).toBe(true);
  }, T);

  test("SIGTERM leaves the DHCP lease's address and routes in place, and the next start keeps the same lease", async () => {
    // A DHCP server (dnsmasq) in a peer namespace on the other end of wan0.
    others.push(wanDhcpServer(ns, "svc-dhcp", dir));
    writeFileSync(file, [lan(), doc("NetworkInterface", "wan", "  device: wan0\n  dhcp:\n    v4: true\n")].join("---\n"));
    const via = dhcpcdFoldersIn(dir);

    const leased = (a: AgentProcess) => a.waitForLog("a DHCP lease", (l) => l.program === "dhcpcd" && /^wan0: leased \S+ for/.test(l.msg), 30_000);
    const dynamicAddress = () => JSON.parse(ns.sh("ip -json -4 address show dev wan0")).flatMap((l: { addr_info: { local: string; prefixlen: number; dynamic?: boolean }[] }) => l.addr_info.filter((a) => a.dynamic).map((a) => `${a.local}/${a.prefixlen}`)) as string[];
    const dhcpDefault = () => ns.hasRoute(4, { dst: "default", gateway: "198.51.100.254", dev: "wan0", protocol: "dhcp" });

    const first = startAgent({ via });
    const lease = /^wan0: leased (\S+) for/.exec((await leased(first)).msg)![1]!;
    await waitUntil("the leased address and the default route in the kernel", () => dynamicAddress().includes(`${lease}/24`) && dhcpDefault(), 10_000, dynamicAddress);

    expect(await first.stop("SIGTERM")).toBe(0);
    expect(first.has((l) => l.msg === "leaving dhcpcd's addresses and routes in place")).toBe(true);
    expect(ns.pids()).toEqual([]); // no dhcpcd left behind
    expect(dynamicAddress()).toEqual([`${lease}/24`]);
    expect(dhcpDefault()).toBe(true);
    expect(lanHas("192.0.2.1/24")).toBe(true);

    const second = startAgent({ via });
    expect(/^wan0: leased (\S+) for/.exec((await leased(second)).msg)![1]).toBe(lease);
    expect(dynamicAddress()).toEqual([`${lease}/24`]);
    expect(dhcpDefault()).toBe(true);
    expect(await second.stop("SIGTERM")).toBe(0);
  }, T);

  test("an address taken by another program: the agent still converges, says so, and listens once the address is free", async () => {
    writeFileSync(file, config());
    const squatter = Bun.spawn(ns.argv(["python3", "-c", "import socket, time\ns = socket.socket()\ns.bind(('127.0.0.1', 9641))\ns.listen()\nprint('bound', flush=True)\ntime.sleep(600)"]), { stdout: "pipe", stderr: "ignore" });
    const bound = await squatter.stdout.getReader().read();
    expect(new TextDecoder().decode(bound.value)).toStartWith("bound"); // the listen came first
    const agent = startAgent();
    const refused = await agent.waitForLog("the listen error", (l) => l.msg.startsWith("cannot listen for the health and metrics endpoints"));
    expect(refused.address).toBe("127.0.0.1:9641");
    await agent.waitForLog("the boot converge", (l) => l.msg === "boot converge done");
    expect(lanHas("192.0.2.1/24")).toBe(true);

    squatter.kill("SIGKILL");
    await squatter.exited;
    await agent.waitForLog("listening", (l) => l.msg === "health and metrics endpoints listening", 15_000);
    expect((await agent.get(`${BASE}/healthz`)).status).toBe(200);
    expect(await agent.stop("SIGTERM")).toBe(0);
  }, T);

  test("--listen takes another address; a malformed one exits 2 before touching anything", async () => {
    writeFileSync(file, config());
    const bad = startAgent({}, ["--listen", "localhost:9641"]);
    expect(await bad.exited()).toBe(2);
    expect(bad.lines.map((l) => l.msg)).toEqual([`--listen "localhost:9641": "localhost" is not an IP address (a host name is not accepted: the agent may run before name resolution works)`]);
    expect(lanHas("192.0.2.1/24")).toBe(false);

    const agent = startAgent({}, ["--listen", "[::1]:9700"]);
    await agent.waitForLog("the boot converge", (l) => l.msg === "boot converge done");
    const r = await agent.get("http://[::1]:9700/readyz");
    expect(r.status).toBe(200);
    expect((await agent.get(`${BASE}/readyz`)).status).toBe(0); // not on the default address
    expect(await agent.stop("SIGTERM")).toBe(0);
  }, T);

  test("an HTTP/1.0 probe without a Host header gets the readiness report, and SIGTERM still exits 0", async () => {
    writeFileSync(file, config());
    const agent = startAgent();
    await agent.waitForLog("the boot converge", (l) => l.msg === "boot converge done");
    // A raw request from inside the namespace, as minimal probes (busybox wget, nc) send it.
    const script = `const chunks = []; await new Promise((done) => Bun.connect({ hostname: "127.0.0.1", port: 9641, socket: {
      open(s) { s.write("GET /readyz HTTP/1.0\\r\\n\\r\\n"); }, data(_s, d) { chunks.push(Buffer.from(d)); }, close() { done(); }, error() { done(); } } }));
      console.log(Buffer.concat(chunks).toString());`;
    const answer = ns.sh(`${process.execPath} -e '${script}'`);
    expect(answer).toMatch(/^HTTP\/1\.[01] 200/);
    expect(answer).toContain('"ready": true');
    expect(await agent.stop("SIGTERM")).toBe(0);
  }, T);
});
