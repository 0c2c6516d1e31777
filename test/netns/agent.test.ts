// `fos1 agent` on the real kernel in a network namespace: started as the service would be,
// with the host changed under it the way operators, hotplug and editors change it. Every wait
// is bounded; a failure says what was last seen.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns, waitUntil } from "../helpers/netns";
import { AgentProcess } from "./agent-process";
import { aliasBomb } from "../helpers/hostile-yaml";

const T = 60_000; // per-test limit; each wait inside is bounded far below it

const doc = (kind: string, name: string, spec: string) => `apiVersion: network.fos1.io/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec}`;

/** lan (on lan0, present) with a route through it; optionally wan (on wan0) with a default route. */
function config(opts: { lanAddress?: string; wan?: boolean } = {}): string {
  const docs = [
    doc("NetworkInterface", "lan", `  device: lan0\n  addresses:\n    - ${opts.lanAddress ?? "192.0.2.1/24"}\n    - 2001:db8:1::1/64\n`),
    doc("Route", "lab", "  destination: 203.0.113.0/24\n  gateway: 192.0.2.254\n  interface: lan\n"),
    doc("Route", "lab6", "  destination: 2001:db8:99::/48\n  gateway: 2001:db8:1::fe\n  interface: lan\n"),
  ];
  if (opts.wan)
    docs.push(
      doc("NetworkInterface", "wan", "  device: wan0\n  addresses:\n    - 198.51.100.1/24\n"),
      doc("Route", "default", "  destination: default\n  gateway: 198.51.100.254\n  interface: wan\n"),
    );
  return docs.join("---\n");
}

const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

let ns: Netns;
let dir: string;
let file: string;
let stateDir: string;
let agents: AgentProcess[] = [];

function startAgent(): AgentProcess {
  const a = new AgentProcess(ns, ["-f", file, "--state-dir", stateDir, "--debounce-ms", "100"]);
  agents.push(a);
  return a;
}

/** Replaces the file the way editors and config managers do: a new file renamed over it. */
function replaceConfig(text: string) {
  writeFileSync(join(dir, ".config.yaml.new"), text);
  renameSync(join(dir, ".config.yaml.new"), file);
}

const lanConverged = () =>
  ns.hasAddress("lan0", "192.0.2.1/24") &&
  ns.hasAddress("lan0", "2001:db8:1::1/64") &&
  ns.hasRoute(4, { dst: "203.0.113.0/24", gateway: "192.0.2.254", dev: "lan0", protocol: "241" }) &&
  ns.hasRoute(6, { dst: "2001:db8:99::/48", gateway: "2001:db8:1::fe", dev: "lan0", protocol: "241" });
const seen = () => ({ addresses: ns.addresses(), routes: [...ns.routes(4), ...ns.routes(6)].filter((r) => r.protocol !== "kernel") });

beforeEach(() => {
  ns = Netns.create("agent");
  ns.sh("ip link add lan0 type veth peer name lanp && ip link set lanp up");
  dir = mkdtempSync(join(tmpdir(), "fos1-agent-"));
  file = join(dir, "config.yaml");
  stateDir = join(dir, "state");
  agents = [];
});

afterEach(() => {
  for (const a of agents) a.kill("SIGKILL");
  ns.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe("fos1 agent", () => {
  test("a NIC that is missing degrades only itself; the agent configures it when it appears", async () => {
    writeFileSync(file, config({ wan: true }));
    const agent = startAgent();
    await waitUntil("lan0 configured", lanConverged, 10_000, seen);
    const first = await agent.waitForLog("the first converge", (l) => l.msg === "converged" && String(l.trigger).includes("start"));
    expect(first).toMatchObject({ failed: 0, degraded: 2 });
    await agent.waitForLog("wan0 reported degraded", (l) => l.msg.startsWith("degraded") && l.subject === "link wan0" && String(l.reason).includes("not present"));
    expect(agent.exitCode).toBeNull();
    expect(ns.hasAddress("wan0", "198.51.100.1/24")).toBe(false);

    ns.sh("ip link add wan0 type veth peer name wanp && ip link set wanp up");
    await waitUntil(
      "wan0 configured after it appeared",
      () => ns.hasAddress("wan0", "198.51.100.1/24") && ns.hasRoute(4, { dst: "default", gateway: "198.51.100.254", dev: "wan0", protocol: "241" }),
      10_000,
      seen,
    );
    await agent.waitForLog("wan0 no longer degraded", (l) => l.msg === "no longer degraded" && String(l.what).includes("link wan0"));
    expect(lanConverged()).toBe(true);
  }, T);

  test("owned addresses and routes removed by hand come back; what fos1 does not own is never touched", async () => {
    writeFileSync(file, config());
    const agent = startAgent();
    await waitUntil("lan0 configured", lanConverged, 10_000, seen);
    // Acting right after the agent wrote something would look like a daemon undoing its work.
    await agent.settled();
    // Not fos1's: an interface it does not manage, with addresses and a route of its own.
    ns.sh(`ip link add other0 type veth peer name otherp && ip link set other0 up && ip link set otherp up
      ip address add 198.51.100.77/24 dev other0 && ip address add 2001:db8:77::1/64 dev other0 nodad
      ip route add 192.0.2.128/25 via 198.51.100.254 dev other0`);
    const unownedElsewhere = () =>
      ns.hasAddress("other0", "198.51.100.77/24") &&
      ns.hasAddress("other0", "2001:db8:77::1/64") &&
      ns.hasRoute(4, { dst: "192.0.2.128/25", gateway: "198.51.100.254", dev: "other0" });
    // `ip … del` fails when there is nothing to delete, so each step really removes something;
    // the agent's next converge must have written it back.
    const repair = async (what: string, cmd: string) => {
      const before = agent.converges().length;
      ns.sh(cmd);
      await waitUntil(`${what} put back after: ${cmd}`, () => lanConverged() && agent.converges().slice(before).some((l) => Number(l.writes) > 0), 10_000, seen);
      await agent.settled();
    };

    // The kernel drops every IPv4 route of a link with its last IPv4 address, whoever owns them,
    // so routes added by hand on lan0 come after this step.
    await repair("an IPv4 address", "ip address del 192.0.2.1/24 dev lan0");
    expect(unownedElsewhere()).toBe(true);

    // Routes on a link fos1 manages, but not fos1's: no proto 241.
    ns.sh(`ip route add 203.0.113.128/25 via 192.0.2.254 dev lan0 proto static
      ip -6 route add 2001:db8:98::/48 via 2001:db8:1::fe dev lan0`);
    const unowned = () =>
      unownedElsewhere() &&
      ns.hasRoute(4, { dst: "203.0.113.128/25", gateway: "192.0.2.254", dev: "lan0", protocol: "static" }) &&
      ns.hasRoute(6, { dst: "2001:db8:98::/48", gateway: "2001:db8:1::fe", dev: "lan0" });
    for (const [what, cmd] of [
      ["an IPv6 address", "ip address del 2001:db8:1::1/64 dev lan0"],
      ["an IPv4 route", "ip route del 203.0.113.0/24 proto 241"],
      ["an IPv6 route", "ip -6 route del 2001:db8:99::/48 proto 241"],
    ] as const) {
      await repair(what, cmd);
      expect(unowned()).toBe(true);
    }
    // An echo of the agent's own writes plans nothing: it settles on a converge that wrote nothing.
    expect(agent.converges().at(-1)).toMatchObject({ writes: 0, failed: 0 });
    expect(agent.raw.filter((l) => l.includes("keeps undoing"))).toEqual([]);
  }, T);

  test("a rewritten config file is applied; an invalid one is reported with file and line and changes nothing", async () => {
    writeFileSync(file, config());
    const agent = startAgent();
    await waitUntil("lan0 configured", lanConverged, 10_000, seen);

    replaceConfig(config({ lanAddress: "192.0.2.2/24" }));
    await waitUntil("the new address in place of the old", () => ns.hasAddress("lan0", "192.0.2.2/24") && !ns.hasAddress("lan0", "192.0.2.1/24"), 10_000, seen);
    await agent.settled();
    const before = seen();

    // In place, as `cat > config.yaml` does.
    const bad = config({ lanAddress: "192.0.2.300/24" });
    writeFileSync(file, bad);
    const line = lineOf(bad, "192.0.2.300/24");
    const problem = await agent.waitForLog("the problem with file and line", (l) => l.level === "error" && l.msg.startsWith(`${file}:${line}:`));
    expect(problem.msg).toContain("spec.addresses[0]");
    await agent.waitForLog("the config was not applied", (l) => l.msg.includes("the config was not applied"));
    await agent.settled();
    expect(seen()).toEqual(before);
    expect(agent.exitCode).toBeNull();

    // Fixed again: applied, and it is the last-known-good.
    const good = config({ lanAddress: "192.0.2.3/24" });
    replaceConfig(good);
    await waitUntil("the fixed config applied", () => ns.hasAddress("lan0", "192.0.2.3/24") && !ns.hasAddress("lan0", "192.0.2.2/24"), 10_000, seen);
    await agent.settled();
    expect(readFileSync(join(stateDir, "last-known-good.yaml"), "utf8")).toBe(good);
  }, T);

  test("SIGTERM stops it with exit 0 and leaves the network as it is; the next start falls back to the last-known-good when the file is invalid", async () => {
    writeFileSync(file, config());
    const agent = startAgent();
    await waitUntil("lan0 configured", lanConverged, 10_000, seen);
    await agent.waitForLog("watching", (l) => l.msg === "watching for changes");
    expect(await agent.stop("SIGTERM")).toBe(0);
    expect(lanConverged()).toBe(true);
    expect(ns.pids()).toEqual([]); // the netlink monitor went with it

    // As after a reboot: the kernel forgot, and the file on disk is now broken.
    ns.sh("ip address flush dev lan0 scope global");
    const broken = doc("NetworkInterface", "lan", "  device: lan0\n  mtu: tiny\n");
    writeFileSync(file, broken);
    const again = startAgent();
    const line = lineOf(broken, "tiny");
    await again.waitForLog("the problem with file and line", (l) => l.level === "error" && l.msg.startsWith(`${file}:${line}:`));
    await again.waitForLog("fallback", (l) => l.msg === "converging to the last-known-good config");
    await waitUntil("lan0 configured from the last-known-good", lanConverged, 10_000, seen);
    expect(await again.stop("SIGINT")).toBe(0);
    expect(lanConverged()).toBe(true);
  }, T);

  test("a hostile file at boot (an alias bomb, then one of 40 GiB) makes it converge to the last-known-good and say why", async () => {
    writeFileSync(file, config());
    const agent = startAgent();
    await waitUntil("lan0 configured", lanConverged, 10_000, seen);
    await agent.waitForLog("watching", (l) => l.msg === "watching for changes");
    expect(await agent.stop("SIGTERM")).toBe(0);

    const hostile: [string, () => void, RegExp][] = [
      ["alias bomb", () => writeFileSync(file, aliasBomb()), /:2:\d+: document 1: aliases \(\*name\) expand to more than 100 nodes/],
      // Sparse: the agent must refuse it from its size, never read it.
      ["40 GiB", () => (writeFileSync(file, ""), truncateSync(file, 40 * 2 ** 30)), /document 1: the file is 42949672960 bytes, more than a config may have/],
    ];
    for (const [what, write, why] of hostile) {
      ns.sh("ip address flush dev lan0 scope global");
      write();
      const again = startAgent();
      await again.waitForLog(`the ${what} named as the problem`, (l) => l.level === "error" && l.msg.startsWith(`${file}:`) && why.test(l.msg));
      await again.waitForLog("fallback", (l) => l.msg === "converging to the last-known-good config");
      await waitUntil(`lan0 configured from the last-known-good despite the ${what}`, lanConverged, 10_000, seen);
      expect(again.exitCode).toBeNull();
      expect(await again.stop("SIGTERM")).toBe(0);
    }
  }, T);

  test("with an invalid file and no last-known-good it applies nothing and keeps waiting for a valid file", async () => {
    writeFileSync(file, config().replace("device: lan0", "device: lan0\n  colour: blue"));
    const agent = startAgent();
    await agent.waitForLog("nothing applied", (l) => l.msg.startsWith("no last-known-good config"));
    await agent.waitForLog("watching", (l) => l.msg === "watching for changes");
    expect(ns.addresses()).toEqual([]);
    replaceConfig(config());
    await waitUntil("the valid file applied", lanConverged, 10_000, seen);
  }, T);

  test("when something keeps undoing its changes it backs off with a warning instead of spinning", async () => {
    writeFileSync(file, config());
    const agent = startAgent();
    await waitUntil("lan0 configured", lanConverged, 10_000, seen);
    await agent.settled();
    const fighter = Bun.spawn(ns.argv(["sh", "-c", "while :; do ip address del 192.0.2.1/24 dev lan0 2>/dev/null; sleep 0.02; done"]), { stdout: "ignore", stderr: "ignore" });
    try {
      // Holds of 1 s then 2 s: the third warning asks for 4 s. Without the hold it would write every debounce.
      const warning = await agent.waitForLog("a growing hold", (l) => l.msg.includes("keeps undoing") && Number(l.waitMs) >= 4000, 20_000);
      expect(warning.subjects).toContain("address 192.0.2.1/24 on lan0");
    } finally {
      fighter.kill("SIGKILL");
      await fighter.exited;
    }
    await waitUntil("the address back once the fight is over", lanConverged, 20_000, seen);
  }, T);

  test("a netlink monitor that dies is restarted, and repairs go on", async () => {
    writeFileSync(file, config());
    const agent = startAgent();
    const watching = await agent.waitForLog("watching", (l) => l.msg === "watching for changes");
    const monitorPid = Number(watching.monitorPid);
    expect(ns.pids()).toContain(monitorPid);
    process.kill(monitorPid, "SIGKILL");
    await agent.waitForLog("monitor restarted", (l) => l.msg === "netlink monitor restarted");
    await agent.settled();
    ns.sh("ip address del 192.0.2.1/24 dev lan0");
    await waitUntil("the address put back", lanConverged, 10_000, seen);
  }, T);
});
