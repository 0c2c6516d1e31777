// The foundation in the VM lab: two VMs on Debian's kernel, wired NIC to NIC.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { Lab, labMac, standardLab } from "../../hack/lab/vm";

let lab: Lab;

beforeAll(async () => {
  const { vms, cables } = standardLab();
  lab = await Lab.boot(vms, cables);
  for (const vm of lab.vms.values())
    console.log(`lab: ${vm.name} ready after ${vm.bootMs} ms (guest uptime ${vm.guestReadyAt} s)`);
}, 180_000);

afterAll(async () => {
  await lab?.shutdown();
});

describe("both VMs", () => {
  test("boot to the control agent and answer commands", async () => {
    for (const name of ["router", "peer"]) expect((await lab.vm(name).runOk("hostname")).trim()).toBe(name);
  });

  test("the router sees its four NICs as eth0–eth3 with the lab's MACs", async () => {
    const links = JSON.parse(await lab.vm("router").runOk("ip -json link show")) as { ifname: string; address: string }[];
    const eths = links.filter((l) => l.ifname.startsWith("eth"));
    expect(eths.map((l) => [l.ifname, l.address])).toEqual([0, 1, 2, 3].map((i) => [`eth${i}`, labMac(0, i)]));
  });

  test("a ping crosses each of the four virtual cables", async () => {
    const router = lab.vm("router"), peer = lab.vm("peer");
    const setup = (host: number) =>
      [0, 1, 2, 3].map((i) => `ip link set eth${i} up && ip addr add 198.18.${i}.${host}/30 dev eth${i}`).join(" && ");
    await Promise.all([router.runOk(setup(1)), peer.runOk(setup(2))]);
    for (const i of [0, 1, 2, 3]) {
      const out = await router.runOk(`ping -c 1 -W 5 198.18.${i}.2`);
      expect(out).toContain("1 packets received");
    }
    // And nothing crosses where there is no cable: eth0's peer address is not on eth1's wire.
    await router.runOk("ip addr flush dev eth0 && ip link set eth0 down");
    expect((await router.run("ping -c 1 -W 2 198.18.0.2")).exitCode).not.toBe(0);
  }, 120_000);
});

describe("the router's kernel", () => {
  test("loads 8021q, bonding and vrf, and makes a VLAN, a bond and a VRF", async () => {
    const router = lab.vm("router");
    await router.runOk("modprobe 8021q && modprobe bonding max_bonds=0 && modprobe vrf");
    await router.runOk(
      "ip link add link eth2 name eth2.10 type vlan id 10 && ip link add bond9 type bond mode active-backup && ip link add vrf-red type vrf table 100",
    );
    const links = JSON.parse(await router.runOk("ip -json -details link show")) as {
      ifname: string;
      linkinfo?: { info_kind: string; info_data?: { id?: number; mode?: string; table?: number } };
    }[];
    const info = (n: string) => links.find((l) => l.ifname === n)?.linkinfo;
    expect(info("eth2.10")).toMatchObject({ info_kind: "vlan", info_data: { id: 10 } });
    expect(info("bond9")).toMatchObject({ info_kind: "bond", info_data: { mode: "active-backup" } });
    expect(info("vrf-red")).toMatchObject({ info_kind: "vrf", info_data: { table: 100 } });
  });

  test("runs the fos1 executable, which finds libbpf", async () => {
    const v = JSON.parse(await lab.vm("router").runOk("fos1 version -o json"));
    expect(v.libbpf).toMatch(/^v\d+\.\d+/);
    const s = JSON.parse(await lab.vm("router").runOk("fos1 status -o json"));
    expect(s.interfaces.map((i: { name: string }) => i.name)).toContain("eth3");
  });
});

describe("the harness", () => {
  test("reports a failing command's exit code, stdout and stderr", async () => {
    const r = await lab.vm("peer").run("echo out; echo err >&2; exit 7");
    expect(r).toEqual({ exitCode: 7, stdout: "out\n", stderr: "err\n" });
    await expect(lab.vm("peer").runOk("exit 3")).rejects.toThrow(/exit code 3[\s\S]*last console lines of peer/);
  });

  test("kills a command that outlives its timeout and says so (exit 143)", async () => {
    const r = await lab.vm("peer").run("sleep 30", { timeoutSec: 1 });
    expect(r.exitCode).toBe(143);
    expect((await lab.vm("peer").runOk("echo still here")).trim()).toBe("still here");
  });

  test("copies files in byte for byte, binary included", async () => {
    const data = new Uint8Array(200_000).map((_, i) => (i * 7919) % 256);
    await lab.vm("router").put("/lab/files/blob.bin", data);
    const sum = (await lab.vm("router").runOk("sha256sum /lab/files/blob.bin")).split(" ")[0];
    expect(sum).toBe(createHash("sha256").update(data).digest("hex"));
  }, 60_000);
});
