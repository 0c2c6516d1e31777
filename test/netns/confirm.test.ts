// Commit-confirm on the real kernel: a config that cuts the operator's path off comes back
// by itself when nobody confirms it — also when the applying process was SIGKILLed, through
// the agent on its next start.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns, waitUntil } from "../helpers/netns";
import { fos1Argv } from "../helpers/fos1";

const NI = (name: string, spec: string) => `---\napiVersion: network.fos1.io/v1alpha1\nkind: NetworkInterface\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
const zone = (name: string, spec: string) => `---\napiVersion: security.fos1.io/v1alpha1\nkind: FirewallZone\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
const base = NI("oob", "{device: e0, addresses: [192.0.2.1/24]}") + NI("wan", "{device: e1, addresses: [198.51.100.1/24]}");
const GOOD = base + zone("mgmt", "{interfaces: [oob], management: true}") + zone("outside", "{interfaces: [wan]}");
// The mistake: management moved to the WAN side, the operator's own port now drops everything.
const BAD = base + zone("mgmt", "{interfaces: [wan], management: true}") + zone("outside", "{interfaces: [oob]}");
const GOOD_PLUS = GOOD.replace("addresses: [192.0.2.1/24]", "addresses: [192.0.2.1/24, 192.0.2.2/24]");

let router: Netns, operator: Netns, world: Netns, dir: string, state: string;
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const run = (args: string[]) => Bun.spawn(router.argv([...fos1Argv(), ...args, "--state-dir", state]), { stdout: "pipe", stderr: "pipe" });
const runToEnd = async (args: string[]) => {
  const p = run(args);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
};
/** The operator's way in: ping the router's management address. */
const operatorReachesRouter = () => {
  try {
    operator.sh("ping -c 1 -W 1 192.0.2.1 >/dev/null");
    return true;
  } catch {
    return false;
  }
};
const lastKnownGood = async () => JSON.parse(await Bun.file(join(state, "journal.json")).text()).lastKnownGood.digest as string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fos1-confirm-"));
  state = join(dir, "state");
  router = Netns.create("cc-r");
  operator = Netns.create("cc-op");
  world = Netns.create("cc-w");
  router.sh(`ip link add e0 type veth peer name m0 netns ${operator.name} && ip link add e1 type veth peer name w0 netns ${world.name}`);
  operator.sh("ip link set m0 up && ip addr add 192.0.2.10/24 dev m0");
  world.sh("ip link set w0 up && ip addr add 198.51.100.254/24 dev w0");
});

afterAll(() => {
  for (const ns of [router, operator, world]) ns?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe("apply --confirm", () => {
  test("a good config applies and the operator reaches the router", async () => {
    const r = await runToEnd(["apply", "-f", file("good.yaml", GOOD)]);
    expect(r.code).toBe(0);
    await waitUntil("operator reaches the router", operatorReachesRouter, 10_000);
  }, 20_000);

  test("an unconfirmed config that locks the operator out rolls back at the deadline", async () => {
    const good = await lastKnownGood();
    const p = run(["apply", "-f", file("bad.yaml", BAD), "--confirm", "4s"]);
    await waitUntil("the bad config is in force (operator cut off)", () => !operatorReachesRouter(), 10_000);
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(1);
    expect(out).toContain("Rolled back to " + good);
    await waitUntil("operator reaches the router again", operatorReachesRouter, 10_000);
    expect(await lastKnownGood()).toBe(good);
    const history = await runToEnd(["history", "-o", "json"]);
    expect(JSON.parse(history.out).map((h: { outcome: string }) => h.outcome)).toContain("rolled back");
  }, 30_000);

  test("if the applying process is SIGKILLed, the agent rolls back on its next start", async () => {
    const good = await lastKnownGood();
    const p = run(["apply", "-f", file("bad.yaml", BAD), "--confirm", "2s"]);
    await waitUntil("the bad config is in force", () => !operatorReachesRouter(), 10_000);
    p.kill("SIGKILL");
    await p.exited;
    await Bun.sleep(2500);
    // Nobody is left to roll back: the operator stays cut off…
    expect(operatorReachesRouter()).toBe(false);
    // …until the agent starts (as Talos restarts the service), finds the missed deadline and rolls back.
    const agent = run(["agent", "-f", join(dir, "no-such-file.yaml")]);
    try {
      await waitUntil("operator reaches the router after the agent's rollback", operatorReachesRouter, 15_000);
      expect(await lastKnownGood()).toBe(good);
    } finally {
      agent.kill("SIGTERM");
      await agent.exited;
    }
  }, 40_000);

  test("fos1 confirm keeps the new config, and it becomes the last-known-good", async () => {
    const p = run(["apply", "-f", file("plus.yaml", GOOD_PLUS), "--confirm", "60s"]);
    await waitUntil("the new address is there", () => router.hasAddress("e0", "192.0.2.2/24"), 10_000);
    await waitUntil("the apply waits for confirmation", async () => (await Bun.file(join(state, "journal.json")).text().catch(() => "")).includes("awaitingConfirmation"), 10_000);
    const c = await runToEnd(["confirm"]);
    expect(c.code).toBe(0);
    expect(await p.exited).toBe(0);
    expect(router.hasAddress("e0", "192.0.2.2/24")).toBe(true);
    const history = JSON.parse((await runToEnd(["history", "-o", "json"])).out) as { outcome: string; digest: string }[];
    expect(history.at(-1)!.outcome).toBe("confirmed");
    expect(await lastKnownGood()).toBe(history.at(-1)!.digest);
  }, 30_000);

  test("fos1 confirm with nothing waiting fails plainly", async () => {
    const c = await runToEnd(["confirm"]);
    expect(c.code).toBe(1);
    expect(c.err).toContain("nothing waits for confirmation");
  }, 10_000);

  test("fos1 rollback 1 returns to the config before the current one", async () => {
    const r = await runToEnd(["rollback", "1"]);
    expect(r.code).toBe(0);
    expect(router.hasAddress("e0", "192.0.2.2/24")).toBe(false);
    expect(operatorReachesRouter()).toBe(true);
  }, 20_000);
});
