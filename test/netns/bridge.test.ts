// Bridges on this machine's kernel: created with their ports, addressed, and traffic switched
// between two hosts on different ports.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns } from "../helpers/netns";
import { fos1Argv } from "../helpers/fos1";

let router: Netns, a: Netns, b: Netns, dir: string;
const NI = (name: string, spec: string) => `---\napiVersion: network.fos1.io/v1alpha1\nkind: NetworkInterface\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
// This host's kernel has no bridge VLAN filtering; STP is what can be switched here.
const config = (stp: boolean) =>
  NI("p1", "{device: e1}") + NI("p2", "{device: e2}") + NI("br0", `{bridge: {members: [p1, p2], stp: ${stp}}, addresses: [192.0.2.1/24]}`);

async function apply(text: string) {
  const file = join(dir, "config.yaml");
  writeFileSync(file, text);
  const p = Bun.spawn(router.argv([...fos1Argv(), "apply", "-f", file, "--state-dir", join(dir, "state"), "-o", "json"]), { stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  expect(code).toBe(0);
  return JSON.parse(out) as { writes: number; converged: boolean };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fos1-bridge-"));
  router = Netns.create("br-r");
  a = Netns.create("br-a");
  b = Netns.create("br-b");
  router.sh(`ip link add e1 type veth peer name x netns ${a.name} && ip link add e2 type veth peer name x netns ${b.name}`);
  a.sh("ip link set x up && ip addr add 192.0.2.10/24 dev x");
  b.sh("ip link set x up && ip addr add 192.0.2.20/24 dev x");
});

afterAll(() => {
  for (const ns of [router, a, b]) ns?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test("a bridge is created with its ports and address, and hosts on two ports reach each other and the router", async () => {
  expect((await apply(config(false))).converged).toBe(true);
  const links = JSON.parse(router.sh("ip -json -details link show")) as { ifname: string; master?: string; linkinfo?: { info_kind?: string; info_data?: { vlan_filtering?: number } } }[];
  expect(links.find((l) => l.ifname === "br0")?.linkinfo?.info_kind).toBe("bridge");
  expect(links.filter((l) => l.master === "br0").map((l) => l.ifname).sort()).toEqual(["e1", "e2"]);
  a.sh("ping -c 1 -W 2 192.0.2.20 >/dev/null && ping -c 1 -W 2 192.0.2.1 >/dev/null");
});

test("STP is switched on in place (no re-creation), and a second apply writes nothing", async () => {
  const before = (JSON.parse(router.sh("ip -json link show br0")) as { ifindex: number }[])[0]!.ifindex;
  const r = await apply(config(true));
  expect(r.writes).toBe(1);
  const br = (JSON.parse(router.sh("ip -json -details link show br0")) as { ifindex: number; linkinfo: { info_data: { stp_state: number } } }[])[0]!;
  expect(br.linkinfo.info_data.stp_state).toBe(1);
  expect(br.ifindex).toBe(before);
  expect((await apply(config(true))).writes).toBe(0);
});

test("dropping the bridge from the config deletes it and leaves the ports, released", async () => {
  await apply(NI("p1", "{device: e1}") + NI("p2", "{device: e2}"));
  const links = JSON.parse(router.sh("ip -json link show")) as { ifname: string; master?: string }[];
  expect(links.some((l) => l.ifname === "br0")).toBe(false);
  expect(links.filter((l) => l.ifname.startsWith("e")).every((l) => !l.master)).toBe(true);
});
