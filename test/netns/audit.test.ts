// The audit trail on the real kernel: every apply leaves a history line saying what it changed
// (the operations), `fos1 history --diff N` shows the config diff against the config in force
// before and the operations, apply --confirm and the agent's repairs are recorded too, and
// journals written before operations were recorded still read.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HistoryLine } from "../../src/journal/journal";
import { fos1Argv } from "../helpers/fos1";
import { Netns, waitUntil } from "../helpers/netns";
import { AgentProcess } from "./agent-process";

const NI = (name: string, spec: string) => `apiVersion: network.fos1.io/v1alpha1\nkind: NetworkInterface\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
const MGMT = "---\napiVersion: security.fos1.io/v1alpha1\nkind: FirewallZone\nmetadata: {name: mgmt}\nspec: {interfaces: [lan], management: true}\n";
const A = NI("lan", "{device: lan0, addresses: [192.0.2.1/24]}") + MGMT;
const B = NI("lan", "{device: lan0, addresses: [192.0.2.5/24]}") + MGMT;

let ns: Netns, dir: string, state: string;
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const fos1 = async (args: string[]) => {
  const p = Bun.spawn(ns.argv([...fos1Argv(), ...args, "--state-dir", state]), { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
};
const history = async () => JSON.parse((await fos1(["history", "-o", "json"])).out) as HistoryLine[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fos1-audit-"));
  state = join(dir, "state");
  ns = Netns.create("audit");
  ns.sh("ip link add lan0 type veth peer name lanp && ip link set lanp up");
});

afterAll(() => {
  ns?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe("the audit trail", () => {
  test("each apply records what it changed; --diff shows the config diff against the config before and the operations", async () => {
    expect((await fos1(["apply", "-f", file("a.yaml", A)])).code).toBe(0);
    expect((await fos1(["apply", "-f", file("b.yaml", B)])).code).toBe(0);
    const lines = await history();
    expect(lines.map((l) => [l.outcome, l.source])).toEqual([["converged", `fos1 apply -f ${join(dir, "a.yaml")}`], ["converged", `fos1 apply -f ${join(dir, "b.yaml")}`]]);
    expect(lines[1]!.ops).toContainEqual({ action: "add", subject: "address 192.0.2.5/24 on lan0", ref: "NetworkInterface/lan" });
    expect(lines[1]!.ops).toContainEqual(expect.objectContaining({ action: "remove", subject: "address 192.0.2.1/24 on lan0" }));

    const text = await fos1(["history", "--diff"]);
    expect(text.code).toBe(0);
    expect(text.out).toContain(`--- #1 ${lines[0]!.digest} (converged`);
    expect(text.out).toContain(`+++ #2 ${lines[1]!.digest} (converged`);
    expect(text.out).toMatch(/^-spec: \{device: lan0, addresses: \[192\.0\.2\.1\/24\]\}$/m);
    expect(text.out).toMatch(/^\+spec: \{device: lan0, addresses: \[192\.0\.2\.5\/24\]\}$/m);
    expect(text.out).toMatch(/^\+ +address 192\.0\.2\.5\/24 on lan0 +NetworkInterface\/lan$/m);

    // The first entry: everything is new.
    const first = JSON.parse((await fos1(["history", "--diff", "1", "-o", "json"])).out);
    expect(first.previous).toBeNull();
    expect(first.diff).toContain("--- (no config before)");
    expect(first.diff).toContain("+kind: FirewallZone");
    expect(first.ops.map((o: { subject: string }) => o.subject)).toContain("address 192.0.2.1/24 on lan0");
  });

  test("a re-apply of the same config: no diff, no operations", async () => {
    expect((await fos1(["apply", "-f", file("b.yaml", B)])).code).toBe(0);
    const r = await fos1(["history", "--diff", "3"]);
    expect(r.out).toContain("Config: the same as the one in force before.");
    expect(r.out).toContain("Operations applied: none (the host already matched).");
  });

  test("apply --confirm records the change when it is applied, then the confirmation", async () => {
    const C = B.replace("192.0.2.5/24", "192.0.2.5/24, 192.0.2.6/24");
    const applying = Bun.spawn(ns.argv([...fos1Argv(), "apply", "-f", file("c.yaml", C), "--confirm", "60s", "--state-dir", state]), { stdout: "pipe", stderr: "pipe" });
    await waitUntil("the apply waiting for confirmation", async () => (await history()).some((l) => l.outcome === "applied unconfirmed"), 20_000);
    expect((await fos1(["confirm"])).code).toBe(0);
    expect(await applying.exited).toBe(0);
    const lines = await history();
    expect(lines.slice(-2).map((l) => l.outcome)).toEqual(["applied unconfirmed", "confirmed"]);
    expect(lines.at(-2)!.ops).toContainEqual({ action: "add", subject: "address 192.0.2.6/24 on lan0", ref: "NetworkInterface/lan" });
    const diff = JSON.parse((await fos1(["history", "--diff", String(lines.length - 1), "-o", "json"])).out);
    expect(diff.previous.number).toBe(3);
    expect(diff.diff).toContain("+spec: {device: lan0, addresses: [192.0.2.5/24, 192.0.2.6/24]}");
  });

  test("the agent putting back what someone removed is recorded as reapplied, with the operation", async () => {
    const cfg = file("agent.yaml", B);
    const agent = new AgentProcess(ns, ["-f", cfg, "--state-dir", state, "--debounce-ms", "100", "--listen", "127.0.0.1:0"]);
    try {
      await agent.waitForLog("the boot converge", (l) => l.msg === "boot converge done", 20_000);
      await agent.settled();
      ns.sh("ip addr del 192.0.2.5/24 dev lan0");
      await waitUntil("the agent's repair in the history", async () => (await history()).some((l) => l.outcome === "reapplied"), 20_000);
      const repair = (await history()).find((l) => l.outcome === "reapplied")!;
      expect(repair.source).toStartWith("fos1 agent (");
      expect(repair.ops).toContainEqual({ action: "add", subject: "address 192.0.2.5/24 on lan0", ref: "NetworkInterface/lan" });
      expect(ns.hasAddress("lan0", "192.0.2.5/24")).toBe(true);
    } finally {
      await agent.stop("SIGTERM");
    }
  });

  test("a line written before operations were recorded still reads; a bad entry number is refused", async () => {
    const old = { digest: "sha256:" + "0".repeat(64), startedAt: "2025-01-01T00:00:00.000Z", source: "fos1 apply -f old.yaml", finishedAt: "2025-01-01T00:00:01.000Z", outcome: "converged", writes: 4, failed: 0 };
    appendFileSync(join(state, "history.jsonl"), JSON.stringify(old) + "\n");
    const n = (await history()).length;
    const list = await fos1(["history"]);
    expect(list.out).toMatch(new RegExp(`^${n} +2025-01-01T00:00:01.000Z +converged .* 4 writes +fos1 apply -f old.yaml$`, "m"));
    const r = await fos1(["history", "--diff", String(n)]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("The config of this entry was not kept in the journal's archive");
    expect(r.out).toContain("Operations applied: not recorded (an entry from before fos1 recorded them; 4 writes).");

    const bad = await fos1(["history", "--diff", String(n + 1)]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(`there is no entry #${n + 1}; the entries are numbered 1 to ${n}`);
    expect((await fos1(["history", "--diff", "two"])).code).toBe(2);
  });
});
