// The one guarded apply path on the real kernel: the agent keeps the config in force when a
// new file would cut the management path off or take fos1's firewall away (the operator still
// reaches the router's management port, and /readyz, the log, a metric and the history say
// why); a shell `fos1 apply` and the agent, writing the same state dir, take turns; and a
// rollback with no config to go back to leaves the firewall in force.
//
//   mgmt 203.0.113.2 ──m0 ── mgmt0 ┐ router ┌ wan0 ── w0── wan 198.51.100.2
//                                   .1      .1
// The router listens on 50000/tcp (Talos's apid): management zones always reach it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync, type Subprocess } from "bun";
import { Netns, waitUntil } from "../helpers/netns";
import { fos1Argv } from "../helpers/fos1";
import { AgentProcess } from "./agent-process";
import type { HistoryLine } from "../../src/journal/journal";

const NI = (name: string, spec: string) => `---\napiVersion: network.fos1.io/v1alpha1\nkind: NetworkInterface\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
const zone = (name: string, spec: string) => `---\napiVersion: security.fos1.io/v1alpha1\nkind: FirewallZone\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
const links = (wan = "198.51.100.1/24") => NI("oob", "{device: mgmt0, addresses: [203.0.113.1/24]}") + NI("wan", `{device: wan0, addresses: [${wan}]}`);
const GOOD = links() + zone("mgmt", "{interfaces: [oob], management: true}") + zone("outside", "{interfaces: [wan], input: drop}");
// The mistakes: no zone is a management zone any more; no zone at all (no firewall).
const NO_MANAGEMENT = links() + zone("mgmt", "{interfaces: [oob], input: drop}") + zone("outside", "{interfaces: [wan], input: drop}");
const NO_FIREWALL = links();
const GOOD_AGAIN = links("198.51.100.1/24, 198.51.100.9/24") + zone("mgmt", "{interfaces: [oob], management: true}") + zone("outside", "{interfaces: [wan], input: drop}");

let router: Netns, mgmt: Netns, wan: Netns, dir: string;
let listener: Subprocess<"ignore", "pipe", "inherit"> | undefined;

const LISTEN_PY = "import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('0.0.0.0', 50000))\ns.listen(16)\nprint('ready', flush=True)\nwhile True:\n    c, _ = s.accept()\n    c.close()\n";
const CONNECT_PY = "import socket, sys\ns = socket.socket()\ns.settimeout(1.5)\ntry:\n    s.connect((sys.argv[1], 50000))\n    print('connected')\nexcept OSError as e:\n    print('failed', e)\n";
/** A TCP connect to the router's management port from a host namespace. */
const reaches = (from: Netns, address: string) => from.sh(`python3 -c "${CONNECT_PY}" ${address}`).trim() === "connected";
const operatorReaches = () => reaches(mgmt, "203.0.113.1");
const wanReaches = () => reaches(wan, "198.51.100.1");

function fresh(tag: string) {
  const d = mkdtempSync(join(dir, `${tag}-`));
  return { file: join(d, "config.yaml"), state: join(d, "state") };
}
/** Replaces the file the way editors and config managers do: a new file renamed over it. */
function replace(file: string, text: string) {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
}
const history = (state: string) =>
  readFileSync(join(state, "history.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as HistoryLine);
async function fos1(args: string[]) {
  const p = Bun.spawn(router.argv([...fos1Argv(), ...args]), { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}
const tableInForce = () => {
  try {
    router.sh("nft list table inet fos1 >/dev/null");
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "fos1-apply-path-"));
  router = Netns.create("ap-r");
  mgmt = Netns.create("ap-m");
  wan = Netns.create("ap-w");
  router.sh(`ip link add mgmt0 type veth peer name m0 netns ${mgmt.name} && ip link add wan0 type veth peer name w0 netns ${wan.name}`);
  mgmt.sh("ip link set m0 up && ip addr add 203.0.113.2/24 dev m0");
  wan.sh("ip link set w0 up && ip addr add 198.51.100.2/24 dev w0");
  listener = Bun.spawn(router.argv(["python3", "-c", LISTEN_PY]), { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const reader = listener.stdout.getReader();
  const first = await reader.read();
  if (!new TextDecoder().decode(first.value).includes("ready")) throw new Error("the management port listener did not start");
  reader.releaseLock();
});

afterAll(() => {
  listener?.kill("SIGKILL");
  for (const ns of [router, mgmt, wan]) ns?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe("the agent keeps the management path", () => {
  test("a file that would lock the operator out, or remove the firewall, is refused: the operator still reaches the router's API port, and every channel says why", async () => {
    const { file, state } = fresh("agent");
    writeFileSync(file, GOOD);
    const agent = new AgentProcess(router, ["-f", file, "--state-dir", state, "--debounce-ms", "100", "--listen", "127.0.0.1:19641"]);
    try {
      await agent.waitForLog("the first converge", (l) => l.msg === "converged" && String(l.trigger).includes("start"), 20_000);
      await waitUntil("the operator reaches the management port", operatorReaches, 10_000);
      expect(wanReaches()).toBe(false);

      replace(file, NO_MANAGEMENT);
      await agent.waitForLog("the refusal", (l) => l.msg.includes("the config was refused"), 10_000);
      expect(agent.has((l) => l.level === "error" && l.msg.includes("no FirewallZone has management: true"))).toBe(true);
      expect(operatorReaches()).toBe(true);
      const ready = await agent.get("http://127.0.0.1:19641/readyz");
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body).reasons[0]).toContain(`${file} was refused: no FirewallZone has management: true`);
      expect((await agent.get("http://127.0.0.1:19641/metrics")).body).toContain("fos1_config_file_refused 1");
      expect(history(state).at(-1)).toMatchObject({ outcome: "refused", source: expect.stringContaining("fos1 agent (config file"), reasons: [expect.stringContaining("no FirewallZone has management: true")] });

      // No zone at all would take fos1's table away and leave the port open to the WAN too.
      replace(file, NO_FIREWALL);
      await waitUntil("the second refusal in the history", () => history(state).filter((h) => h.outcome === "refused").length === 2, 10_000);
      expect(history(state).at(-1)!.reasons![0]).toContain("fos1's firewall in force would be removed");
      expect(tableInForce()).toBe(true);
      expect(operatorReaches()).toBe(true);
      expect(wanReaches()).toBe(false);

      // A good file is taken again, and the refusal is cleared.
      replace(file, GOOD_AGAIN);
      await waitUntil("the new address", () => router.hasAddress("wan0", "198.51.100.9/24"), 10_000);
      await waitUntil("ready again", async () => (await agent.get("http://127.0.0.1:19641/readyz")).status === 200, 10_000);
      expect((await agent.get("http://127.0.0.1:19641/metrics")).body).toContain("fos1_config_file_refused 0");
      expect(operatorReaches()).toBe(true);
    } finally {
      await agent.stop("SIGTERM");
    }
  }, 90_000);
});

describe("one writer of the state dir at a time", () => {
  test("a shell apply while the agent converges: both finish, one after the other, and the journal holds both entries whole and in order", async () => {
    const { file, state } = fresh("race");
    // Many addresses make the agent's converge long enough to be caught in the middle.
    const many = (n: number, third: number) => Array.from({ length: n }, (_, i) => `10.${third}.${i >> 7}.${(i & 127) + 1}/32`).join(", ");
    const agentConfig = (third: number) => GOOD.replace("addresses: [198.51.100.1/24]", `addresses: [198.51.100.1/24, ${many(4000, third)}]`);
    writeFileSync(file, agentConfig(20));
    const agent = new AgentProcess(router, ["-f", file, "--state-dir", state, "--debounce-ms", "50", "--hubble", "off"]);
    try {
      await agent.waitForLog("the first converge", (l) => l.msg === "converged" && String(l.trigger).includes("start"), 30_000);
      // The shell apply is started first, reading its config from a FIFO, so that once the agent
      // holds the state dir for the new file it is already running and only has to be fed.
      const shellFile = join(dir, "shell.fifo");
      spawnSync(["mkfifo", shellFile]);
      const shellRun = fos1(["apply", "-f", shellFile, "--state-dir", state, "--wait", "60s"]);
      replace(file, agentConfig(30));
      await waitUntil("the agent holds the state dir", () => readFileSync(join(state, "lock"), "utf8").includes("fos1 agent (config file"), 10_000);
      writeFileSync(shellFile, GOOD_AGAIN);
      const shell = await shellRun;
      expect(shell.code).toBe(0);
      expect(shell.err).toMatch(/waiting for the state dir.*pid \d+ \(fos1 agent \(/);
      await agent.settled(1500, 30_000);

      const lines = history(state);
      const agentEntry = lines.find((h) => h.source.startsWith("fos1 agent (config file") && h.outcome === "converged")!;
      const shellEntry = lines.find((h) => h.source === `fos1 apply -f ${shellFile}`)!;
      expect(shellEntry.outcome).toBe("converged");
      // The two did not overlap: the shell apply started only after the agent's had finished.
      expect(Date.parse(shellEntry.startedAt)).toBeGreaterThanOrEqual(Date.parse(agentEntry.finishedAt));
      expect(lines.indexOf(shellEntry)).toBeGreaterThan(lines.indexOf(agentEntry));
      // Every line of the history is whole JSON in time order; the journal's files are whole configs.
      const finished = lines.map((h) => Date.parse(h.finishedAt));
      expect(finished).toEqual([...finished].sort((a, b) => a - b));
      const lkg = readFileSync(join(state, "last-known-good.yaml"), "utf8");
      expect([agentConfig(30), GOOD_AGAIN]).toContain(lkg);
      expect(readFileSync(join(state, "lock"), "utf8")).toBe(""); // nobody holds it now
    } finally {
      await agent.stop("SIGTERM");
    }
  }, 120_000);
});

describe("rollback with no last-known-good", () => {
  test("an unconfirmed first config rolls back to nothing of fos1's except its firewall, which stays in force", async () => {
    const { state } = fresh("rollback");
    router.sh("nft delete table inet fos1 2>/dev/null || true; ip addr flush dev mgmt0; ip addr flush dev wan0");
    const cfg = join(dir, "first.yaml");
    writeFileSync(cfg, GOOD);
    const r = await fos1(["apply", "-f", cfg, "--state-dir", state, "--confirm", "2s"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("Rolled back to no config (nothing of fos1's; its firewall stays in force)");
    expect(router.hasAddress("mgmt0", "203.0.113.1/24")).toBe(false);
    expect(tableInForce()).toBe(true);
    expect(wanReaches()).toBe(false);
    expect(history(state).map((h) => h.outcome)).toEqual(["applied unconfirmed", "rolled back"]);
  }, 30_000);
});
