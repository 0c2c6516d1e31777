// A full or read-only disk under the state dir, or a writer killed at any step of the
// journal's commit, never stops the network: the agent configures the router anyway (LAN
// clients get leases from dnsmasq, the operator reaches the management port, the firewall is
// in force), says what is not on record (/readyz, the log, /metrics), and the journal stays
// readable. The state dir is a tmpfs of 256 KiB mounted for the test.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns, waitUntil } from "../helpers/netns";
import { fos1 } from "../helpers/fos1";
import { samples, value } from "../helpers/prometheus";
import { APPLY_JOURNAL_STEPS } from "../helpers/journal-steps";
import { configDigest, type HistoryLine } from "../../src/journal/journal";
import { fallbackDir } from "../../src/base/state-dir";
import type { ReadinessReport } from "../../src/agent/readiness";
import { AgentProcess } from "./agent-process";
import { udhcpcLease } from "./udhcpc";

const T = 120_000;
const LISTEN = "127.0.0.1:19643";
const obj = (group: string, kind: string, name: string, spec: string) => `---\napiVersion: ${group}.fos1.io/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}}\nspec: ${spec}\n`;

/** A LAN served by dnsmasq, a management port, the firewall; extra: one more LAN address. */
function config(extra?: string): string {
  return (
    obj("network", "NetworkInterface", "lan", `{device: lan0, addresses: [192.168.10.1/24${extra ? `, ${extra}` : ""}]}`) +
    obj("network", "NetworkInterface", "oob", "{device: mgmt0, addresses: [203.0.113.1/24]}") +
    obj("security", "FirewallZone", "lan", "{interfaces: [lan], input: reject, forward: reject}") +
    obj("security", "FirewallZone", "mgmt", "{interfaces: [oob], management: true}") +
    obj("network", "DHCPServer", "lan", "{interface: lan, pools: [{start: 192.168.10.100, end: 192.168.10.150}], leaseTime: 1h}")
  );
}

let router: Netns, client: Netns, operator: Netns, dir: string, file: string;
let agent: AgentProcess | null = null;
const mounts: string[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fos1-disk-"));
  chmodSync(dir, 0o755);
  file = join(dir, "config.yaml");
  router = Netns.create("disk-r");
  client = Netns.create("disk-c");
  operator = Netns.create("disk-o");
  router.sh(`ip link add lan0 type veth peer name c0 netns ${client.name} && ip link add mgmt0 type veth peer name m0 netns ${operator.name}`);
  client.sh("ip link set c0 up");
  operator.sh("ip link set m0 up && ip addr add 203.0.113.2/24 dev m0");
});

afterEach(async () => {
  if (agent && agent.exitCode === null) await agent.stop("SIGTERM").catch(() => agent?.kill("SIGKILL"));
  agent = null;
});

afterAll(() => {
  for (const m of mounts.reverse()) Bun.spawnSync(["umount", "-l", m]);
  for (const ns of [router, client, operator]) ns?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function tinyTmpfs(name: string): string {
  const path = join(dir, name);
  mkdirSync(path);
  const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", path], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`mount tmpfs on ${path}: ${r.stderr.toString()}`);
  mounts.push(path);
  return path;
}

/** Fills the filesystem of path to the last block. */
function fill(path: string): void {
  Bun.spawnSync(["dd", "if=/dev/zero", `of=${join(path, "filler")}`, "bs=4k"], { stderr: "ignore" });
  expect(() => writeFileSync(join(path, "probe"), "x".repeat(8192))).toThrow(/ENOSPC/);
}

function replaceConfig(text: string): void {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
}

/** The router as the config wants it, seen from outside: a client's lease, the operator's ping, the firewall. */
async function networkUp(extra?: string): Promise<void> {
  await waitUntil("the LAN and management addresses", () => router.hasAddress("lan0", "192.168.10.1/24") && router.hasAddress("mgmt0", "203.0.113.1/24") && (!extra || router.hasAddress("lan0", extra)), 20_000);
  await waitUntil("fos1's firewall in force", () => router.sh("nft list tables").includes("inet fos1"), 20_000);
  const lease = udhcpcLease(client, "c0", "laptop", dir);
  expect(lease.ip).toMatch(/^192\.168\.10\.(1[0-4]\d|150)$/);
  expect(lease.router).toBe("192.168.10.1");
  operator.sh("ping -c 1 -W 2 203.0.113.1");
}

function startAgent(stateDir: string): AgentProcess {
  agent = new AgentProcess(router, ["-f", file, "--state-dir", stateDir, "--debounce-ms", "100", "--hubble", "off", "--listen", LISTEN]);
  return agent;
}

async function readyz(a: AgentProcess): Promise<{ status: number; report: ReadinessReport }> {
  const r = await a.get(`http://${LISTEN}/readyz`);
  return { status: r.status, report: JSON.parse(r.body) as ReadinessReport };
}

async function stateMetrics(a: AgentProcess): Promise<{ writable?: number; errors?: number }> {
  const all = samples((await a.get(`http://${LISTEN}/metrics`)).body);
  return { writable: value(all, "fos1_state_dir_writable"), errors: value(all, "fos1_state_dir_write_errors_total") };
}

/** `fos1 history` and the journal's own file, read as a user would. */
async function journalOf(stateDir: string): Promise<{ history: HistoryLine[]; lastKnownGood: string | null; pending: string | null }> {
  const r = await fos1(["history", "--state-dir", stateDir, "-o", "json"]);
  expect({ exitCode: r.exitCode, stderr: r.stderr }).toEqual({ exitCode: 0, stderr: "" });
  const manifest = existsSync(join(stateDir, "journal.json")) ? (JSON.parse(readFileSync(join(stateDir, "journal.json"), "utf8")) as { lastKnownGood: { digest: string } | null; pending: { digest: string } | null }) : null;
  return { history: JSON.parse(r.stdout) as HistoryLine[], lastKnownGood: manifest?.lastKnownGood?.digest ?? null, pending: manifest?.pending?.digest ?? null };
}

/** As after a reboot: nothing of fos1's left in the router's kernel. */
function forgetKernelState(): void {
  router.sh("ip address flush dev lan0 scope global; ip address flush dev mgmt0 scope global; nft delete table inet fos1 2>/dev/null || true");
}

describe("the state dir's disk", () => {
  test("full: the router is configured anyway, /readyz and /metrics say the journal is behind, and it catches up once there is room", async () => {
    const state = tinyTmpfs("full");
    fill(state);
    forgetKernelState();
    writeFileSync(file, config());
    const a = startAgent(state);
    await a.waitForLog("the first converge", (l) => l.msg === "converged", 30_000);
    await networkUp();
    expect(a.has((l) => l.level === "warn" && l.msg.includes("the disk is full (ENOSPC)") && l.msg.includes(fallbackDir(state)))).toBe(true);
    const { status, report } = await readyz(a);
    expect(status).toBe(503);
    expect(report.reasons.join("\n")).toMatch(/cannot record the config (being applied|as the last-known-good) in the journal \(.*\): the disk is full \(ENOSPC\); the network is configured all the same/);
    expect(await stateMetrics(a)).toMatchObject({ writable: 0 });
    expect((await stateMetrics(a)).errors).toBeGreaterThanOrEqual(2);
    expect(await journalOf(state)).toEqual({ history: [], lastKnownGood: null, pending: null });

    // Room again: the next config is on record, and the journal says so.
    rmSync(join(state, "filler"));
    const next = config("192.168.10.2/24");
    replaceConfig(next);
    await waitUntil("the next config converged", () => router.hasAddress("lan0", "192.168.10.2/24"), 20_000);
    await waitUntil("the journal written again", () => a.has((l) => l.msg === "the journal is written again"), 20_000);
    const journal = await journalOf(state);
    expect(journal.lastKnownGood).toBe(configDigest(next));
    expect(journal.history.at(-1)).toMatchObject({ digest: configDigest(next), outcome: "converged" });
    // Still served from the runtime folder until the agent starts again, and /readyz says so.
    expect((await readyz(a)).report.reasons.join("\n")).toContain(`files (leases included) are in ${fallbackDir(state)} until the agent starts again`);
    await networkUp("192.168.10.2/24");
  }, T);

  test("read-only: a changed config is applied from a journal that cannot change, which stays as it was and readable", async () => {
    const state = tinyTmpfs("ro");
    forgetKernelState();
    const before = config();
    writeFileSync(file, before);
    let a = startAgent(state);
    await a.waitForLog("the first converge", (l) => l.msg === "converged", 30_000);
    expect(await a.stop("SIGTERM")).toBe(0);
    expect((await journalOf(state)).lastKnownGood).toBe(configDigest(before));

    const remount = Bun.spawnSync(["mount", "-o", "remount,ro", state], { stderr: "pipe" });
    expect(remount.stderr.toString()).toBe("");
    forgetKernelState();
    replaceConfig(config("192.168.10.3/24"));
    a = startAgent(state);
    await a.waitForLog("the first converge", (l) => l.msg === "converged", 30_000);
    await networkUp("192.168.10.3/24");
    const { status, report } = await readyz(a);
    expect(status).toBe(503);
    expect(report.reasons.join("\n")).toContain("the disk is read-only (EROFS)");
    expect((await stateMetrics(a)).writable).toBe(0);
    const journal = await journalOf(state);
    expect(journal).toMatchObject({ lastKnownGood: configDigest(before), pending: null });
    expect(journal.history.map((h) => h.outcome)).toEqual(["converged"]);
  }, T);
});

describe("a writer SIGKILLed at each step of the journal's commit", () => {
  for (const step of APPLY_JOURNAL_STEPS)
    test(`at "${step}": the agent then converges, and the journal is readable with the config as last-known-good`, async () => {
      const state = join(dir, `kill-${APPLY_JOURNAL_STEPS.indexOf(step)}`);
      forgetKernelState();
      const text = config();
      writeFileSync(file, text);
      const child = Bun.spawnSync(router.argv([process.execPath, join(import.meta.dir, "journal-kill-child.ts"), state, file, step]), { stderr: "pipe" });
      expect({ signal: child.signalCode, stderr: child.stderr.toString() }).toEqual({ signal: "SIGKILL", stderr: "" });

      const a = startAgent(state);
      await a.waitForLog("the first converge", (l) => l.msg === "converged", 30_000);
      await networkUp();
      expect((await readyz(a)).status).toBe(200);
      const journal = await journalOf(state);
      expect(journal).toMatchObject({ lastKnownGood: configDigest(text), pending: null });
      expect(journal.history.at(-1)).toMatchObject({ digest: configDigest(text) });
    }, T);
});
