// The Talos system extension booted in the VM lab (issue 6): the image `make extension` builds
// (hack/extension/build, from the current dist/), unpacked with umoci, its rootfs/ laid over the
// router VM's / where Talos puts it, and its service started the way Talos starts
// ext-fos1-agent (talos-extension.ts: the spec's entrypoint, args, environment and mounts in a
// container-like root, the ExtensionServiceConfig file bound read-only at its mount path).
// The config is fos1's shipped default (src/api/default-config.yaml) for the standard lab:
// uplink bond with DHCP to the peer's wan host, VLANs lan and guest on the trunk, mgmt; the
// zone firewall with masquerade; the bogon XDP filter on the uplink; DHCP, router
// advertisements and DNS on lan and guest from the dnsmasq packed in the service's root.
//
// First the box's first boot on a kernel that refuses the config's ruleset (nftables' fib
// expression taken out before the service's first start): the lockdown, then the same service
// started again on the whole kernel, as the rest of this file goes on.
// Then, as on Talos, where a changed ExtensionServiceConfig restarts the service: a broken
// config is written and the service restarted; the previous network, firewall and XDP stay
// in force untouched and /readyz says which line is wrong; the fixed config is written and
// the service restarted; it is applied and ready. One lab boot for all of it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { agentConfigPath } from "../../hack/talos-config/config-set";
import type { Lab, LabVm } from "../../hack/lab/vm";
import { LanClient } from "../../hack/lab/lan-client";
import { bootLabWithHosts, fakeApid, nftFibModules, reachability, tcpAnswer, wanDhcpServer } from "../../hack/lab/topology";
import type { ReadinessReport } from "../../src/agent/readiness";
import { waitUntil } from "../helpers/netns";
import { DHCPCD_CAPABILITY_MASK } from "../../src/engine/dhcp";
import { dhcpcdProcesses } from "./dhcpcd-processes";
import { buildAndUnpackExtension, httpGet, serviceRoot, LabExtensionService, rootfsTar, specPath } from "./talos-extension";

const repo = resolve(import.meta.dir, "../..");
const SERVICE = "fos1-agent"; // Talos runs it as ext-fos1-agent
const DEFAULT_CONFIG = readFileSync(join(repo, "src/api/default-config.yaml"), "utf8");
const HEALTH = { host: "127.0.0.1", port: 9641 }; // fos1 agent's default --listen; the service shares the host's network

const digestOf = (text: string) => "sha256:" + createHash("sha256").update(text).digest("hex");
const short = (digest: string) => digest.slice(0, 19);

// The broken and the fixed config differ from the default in one place: a second address on mgmt.
const MGMT = "spec: {device: eth3, addresses: [192.168.99.1/24], zone: mgmt}";
function withSecondMgmtAddress(address: string): string {
  if (!DEFAULT_CONFIG.includes(MGMT)) throw new Error(`src/api/default-config.yaml no longer holds "${MGMT}": adapt this test`);
  return DEFAULT_CONFIG.replace(MGMT, MGMT.replace("192.168.99.1/24]", `192.168.99.1/24, ${address}]`));
}
const BROKEN = withSecondMgmtAddress("192.168.99.300/24");
const FIXED = withSecondMgmtAddress("192.168.99.2/24");

/** Who reaches whom under the default config (its header says why); every other pair is refused. */
const REACHABLE = ["lan→router", "lan→wan", "guest→router", "guest→wan", "mgmt→router", "mgmt→wan"];

let lab: Lab;
let router: LabVm;
let peer: LabVm;
let service: LabExtensionService;
let configPath: string;
let cleanupImage = () => {};

/** What is in force on the router, to tell "untouched" from "re-created": ifindexes, static addresses, the firewall table's handle and digest, XDP programs. */
interface InForce {
  links: Record<string, { ifindex: number; kind: string | null; master: string | null; vlan: number | null; addresses: string[] }>;
  firewall: { handle: number; digest: string } | null;
  xdp: Record<string, string>;
}

async function inForce(): Promise<InForce> {
  const [links, nft, net] = (await router.runOk("ip -j -d addr show; echo; nft -j list table inet fos1 2>/dev/null || echo null; echo; bpftool net -j"))
    .split("\n")
    .filter((l) => l.trim());
  type Link = { ifname: string; ifindex: number; master?: string; linkinfo?: { info_kind?: string; info_data?: { id?: number } }; addr_info: { local: string; prefixlen: number; scope: string; valid_life_time: number }[] };
  const FOREVER = 4294967295; // fos1's addresses are static; DHCP's have a lifetime and come and go with dhcpcd
  const table = (JSON.parse(nft!) as { nftables: Record<string, any>[] } | null)?.nftables;
  const marker = table?.find((o) => o.rule?.chain === "fos1_config")?.rule.comment as string | undefined;
  return {
    links: Object.fromEntries(
      (JSON.parse(links!) as Link[])
        .filter((l) => l.ifname !== "lo")
        .map((l) => [
          l.ifname,
          {
            ifindex: l.ifindex,
            kind: l.linkinfo?.info_kind ?? null,
            master: l.master ?? null,
            vlan: l.linkinfo?.info_data?.id ?? null,
            addresses: l.addr_info.filter((a) => a.scope === "global" && a.valid_life_time === FOREVER).map((a) => `${a.local}/${a.prefixlen}`),
          },
        ]),
    ),
    firewall: table ? { handle: table.find((o) => o.table)!.table.handle as number, digest: marker ?? "(no marker)" } : null,
    xdp: Object.fromEntries((JSON.parse(net!) as { xdp: { devname: string; mode: string; id: number }[] }[])[0]!.xdp.map((x) => [x.devname, `${x.mode} ${x.id}`])),
  };
}

async function readyz(): Promise<{ status: number; report: ReadinessReport }> {
  const r = await httpGet(router, HEALTH.host, HEALTH.port, "/readyz");
  return { status: r.status, report: JSON.parse(r.body) as ReadinessReport };
}

/** The reachable pairs among every lab host and the router, as "from→to". */
async function reachable(): Promise<string[]> {
  return (await reachability(peer)).filter((r) => r.ok).map((r) => `${r.from}→${r.to}`).sort();
}

/** Waits until who reaches whom is as the default config says (LACP and DHCP take seconds under TCG). */
async function reachabilityAsConfigured(): Promise<void> {
  let seen: string[] = [];
  await waitUntil("the lab hosts reach exactly what the default config allows", async () => {
    seen = await reachable();
    return JSON.stringify(seen) === JSON.stringify([...REACHABLE].sort());
  }, 120_000, () => seen);
}

/** Packets dropped by the bogon filter's IPv4 blocklist so far, read from its pinned maps by the VM's own fos1 (outside the service). */
async function bogonDrops(): Promise<number> {
  const s = JSON.parse(await router.runOk("fos1 xdp status -o json")) as { filters: { name: string; counters: Record<string, { packets: string }> }[] };
  return Number(s.filters.find((f) => f.name === "uplink-bogons")!.counters.drop_block_v4!.packets);
}

/** SIGTERM, as containerd stops a service: it says STOPPING=1 and exits 0. */
async function stopCleanly(): Promise<void> {
  const before = (await service.notifications()).length;
  expect(await service.stop()).toBe(0);
  expect((await service.notifications()).slice(before).some((m) => m.split("\n").includes("STOPPING=1"))).toBe(true);
}

/** Starts the service; resolves with the READY=1 notification of this start. */
async function startReady(): Promise<string> {
  const before = (await service.notifications()).length;
  await service.start();
  return service.waitForNotification("READY=1", before);
}

/** A restart as Talos does it when the ExtensionServiceConfig changes: the new file, SIGTERM, start. */
async function restartWith(config: string): Promise<string> {
  await stopCleanly();
  await service.writeConfigFile(configPath, config);
  return startReady();
}

beforeAll(async () => {
  const { image, cleanup } = buildAndUnpackExtension();
  cleanupImage = cleanup;
  const spec = parse(readFileSync(join(image, "rootfs", specPath(SERVICE)), "utf8"));
  configPath = agentConfigPath(spec).configPath;
  const tar = rootfsTar(image);
  console.log(`extension: rootfs ${(tar.length / 1e6).toFixed(0)} MB, config file at ${configPath}`);

  ({ lab, router, peer } = await bootLabWithHosts());
  await peer.runOk(wanDhcpServer);
  // Talos lays the extension's rootfs/ over its own root.
  await router.runOk("tar -xf - -C /", { stdin: tar, timeoutSec: 180 });
  service = await LabExtensionService.install(router, SERVICE, [configPath]);
}, 400_000);

afterAll(async () => {
  await lab?.shutdown();
  cleanupImage();
});

// The box's first boot, on a kernel that refuses the config's ruleset: the service's first start
// on the freshly booted VM, with nothing in the state dir (no last-known-good) and no table.
describe("the first boot, on a kernel that refuses the ruleset, with an empty state dir", () => {
  test("the lockdown is in force before anything else: management in, nothing else; no uplink lease, no LAN services; STATUS and /readyz say why", async () => {
    await router.runOk("test ! -e /var/lib/fos1/last-known-good.yaml && ! nft list table inet fos1 2>/dev/null");
    await router.runOk(`${nftFibModules.remove}; ${fakeApid}`);
    await service.writeConfigFile(configPath, DEFAULT_CONFIG);
    const ready = await startReady();
    expect(ready).toContain("STATUS=not ready:");

    const table = await router.runOk("nft list table inet fos1");
    expect(table).toContain("management ports");
    expect(table).not.toContain("masquerade");
    expect(await tcpAnswer(peer, "mgmt", "192.168.99.1", 50000)).toBe("apid");
    expect(await reachable()).toEqual(["mgmt→router"]);
    // The firewall phase comes first; with it failed, links and addresses come up behind the
    // lockdown, but no DHCP client asks on the uplink and no dnsmasq answers on the LANs.
    expect(await router.runOk("ip -j addr show dev uplink 2>/dev/null || echo none")).not.toContain("198.51.100.");
    expect((await router.run("pgrep -x dhcpcd")).exitCode).not.toBe(0);
    expect((await router.run("pgrep -x dnsmasq")).exitCode).not.toBe(0);

    const { status, report } = await readyz();
    expect(status).toBe(503);
    expect(report.reasons.join("\n")).toContain("the lockdown is: management in, established traffic, nothing else");
    expect(await service.logTail(200)).toContain("nft refused the ruleset");
  }, 300_000);

  test("SIGTERM leaves the lockdown in force", async () => {
    await stopCleanly();
    expect(await router.runOk("nft list table inet fos1")).toContain("management ports");
    expect(await reachable()).toEqual(["mgmt→router"]);
    await router.runOk(nftFibModules.restore);
  }, 120_000);
});

describe("the fos1 extension's service, started as Talos starts it, on the default config", () => {
  test("READY=1 once the network, the firewall and the XDP filter are up; /healthz and /readyz say so", async () => {
    await service.writeConfigFile(configPath, DEFAULT_CONFIG);
    const ready = await startReady();
    expect(ready).toContain(`STATUS=ready: config ${short(digestOf(DEFAULT_CONFIG))} (generation 1) in force`);

    // READY=1 comes after the boot converge: all of it is in the kernel already.
    const k = await inForce();
    expect(k.links.uplink).toMatchObject({ kind: "bond" });
    expect(k.links.eth0).toMatchObject({ master: "uplink" });
    expect(k.links.eth1).toMatchObject({ master: "uplink" });
    expect(k.links.lan).toMatchObject({ kind: "vlan", vlan: 10, addresses: ["192.168.10.1/24"] });
    expect(k.links.guest).toMatchObject({ kind: "vlan", vlan: 20, addresses: ["192.168.20.1/24"] });
    expect(k.links.eth3).toMatchObject({ addresses: ["192.168.99.1/24"] });
    expect(k.firewall?.digest).toStartWith("sha256:");
    // The bogon filter runs natively on the uplink bond; its pins are in the host's BPF
    // filesystem (the spec binds it), where the VM's own fos1 finds the same program.
    expect(k.xdp.uplink).toMatch(/^driver \d+$/);
    const xdp = JSON.parse(await router.runOk("fos1 xdp status -o json")) as { filters: { name: string; progId: number; interfaces: unknown[] }[] };
    expect(xdp.filters).toMatchObject([{ name: "uplink-bogons", progId: Number(k.xdp.uplink!.split(" ")[1]), interfaces: [{ ifname: "uplink", mode: "native" }] }]);

    const health = await httpGet(router, HEALTH.host, HEALTH.port, "/healthz");
    expect(health.status).toBe(200);
    const { status, report } = await readyz();
    expect(status).toBe(200);
    expect(report).toMatchObject({ ready: true, reasons: [], config: { digest: digestOf(DEFAULT_CONFIG), source: "file", generation: 1 }, degraded: [] });
  }, 300_000);

  test("dhcpcd from the service's root leases the uplink's address; the firewall lets through exactly what the config allows", async () => {
    await waitUntil("the uplink's DHCP lease (198.51.100.1)", async () => (await router.runOk("ip -j addr show dev uplink")).includes('"198.51.100.1"'), 120_000);
    // dhcpcd keeps its lease where the spec binds the host's /var/lib/dhcpcd.
    await router.runOk("test -s /var/lib/dhcpcd/uplink.lease");
    await reachabilityAsConfigured();
  }, 300_000);

  test("dhcpcd in the service runs privilege-separated: its privileged proxy alone is root, with the documented capabilities; the rest are the service root's dhcpcd user, chrooted into its home, with none", async () => {
    const procs = await dhcpcdProcesses(router);
    const root = procs.filter((p) => p.uid === 0);
    expect(root.map((p) => p.title)).toEqual([expect.stringContaining("[privileged proxy]")]);
    expect(root[0]).toMatchObject({ capEff: DHCPCD_CAPABILITY_MASK, capBnd: DHCPCD_CAPABILITY_MASK, capInh: 0n, capAmb: 0n });
    const uid = Number((await router.runOk(`grep '^dhcpcd:' ${serviceRoot(SERVICE)}/etc/passwd | cut -d: -f3`)).trim());
    expect(procs.filter((p) => p.uid !== 0).length).toBeGreaterThanOrEqual(3);
    for (const p of procs.filter((p) => p.uid !== 0)) expect(p).toMatchObject({ uid, capEff: 0n, capPrm: 0n, root: expect.stringMatching(/\/usr\/lib\/dhcpcd$/) });
  }, 60_000);

  test("dnsmasq from the service's root serves the LANs: a host with nothing configured on lan gets a lease, and its name resolves", async () => {
    const client = await LanClient.add(peer, "lan", "lanc", "52:54:00:10:10:01");
    const got = await client.lease("laptop");
    expect(got).toMatchObject({ router: "192.168.10.1", dns: "192.168.10.1", domain: "home.arpa" });
    await waitUntil("laptop.home.arpa resolves to the lease", async () => (await client.resolve("laptop.home.arpa", "192.168.10.1")).includes(got.ip!), 30_000);
    // dnsmasq keeps its leases where the spec binds the host's /var/lib/fos1.
    expect(await router.runOk("cat /var/lib/fos1/lan/dnsmasq.leases")).toContain("52:54:00:10:10:01");
  }, 180_000);

  test("XDP drops what the uplink receives from a bogon source", async () => {
    const before = await bogonDrops();
    await peer.runOk("ip -n wan addr add 240.0.0.1/32 dev lo");
    const ping = await peer.run("ip netns exec wan ping -c 3 -W 1 -I 240.0.0.1 198.51.100.1", { timeoutSec: 30 });
    expect(ping.stdout).toContain("3 packets transmitted, 0 packets received");
    expect((await bogonDrops()) - before).toBeGreaterThanOrEqual(3);
  }, 120_000);
});

describe("a broken config at the mount path, then the fix (each with the restart Talos gives the service)", () => {
  /** What the default config put in force, before the service is stopped for the first time. */
  let before: InForce;
  beforeAll(async () => {
    before = await inForce();
  });

  test("SIGTERM stops the service with exit 0 and leaves the network as it is", async () => {
    await stopCleanly();
    expect(await inForce()).toEqual(before);
    // Started again on the same file: ready, and nothing re-created.
    expect(await startReady()).toContain(`STATUS=ready: config ${short(digestOf(DEFAULT_CONFIG))} (generation 1) in force`);
    expect(await inForce()).toEqual(before);
  }, 300_000);

  test("the broken file is refused: the previous network, firewall and XDP stay in force untouched, /readyz is 503 naming file and line", async () => {
    const ready = await restartWith(BROKEN);
    expect(ready).toContain(`STATUS=not ready: ${configPath} was rejected (1 problem); the last-known-good config (${short(digestOf(DEFAULT_CONFIG))}) stays in force`);

    const lines = BROKEN.split("\n");
    const line = lines.findIndex((l) => l.includes("192.168.99.300")) + 1;
    const document = lines.slice(0, line).filter((l) => l === "---").length + 1;
    const { status, report } = await readyz();
    expect(status).toBe(503);
    expect(report.ready).toBe(false);
    expect(report.config).toEqual({ digest: digestOf(DEFAULT_CONFIG), source: "last-known-good", generation: 1 });
    const problem = report.reasons.find((r) => r.startsWith(`${configPath}:${line}:`));
    expect(problem).toContain(`document ${document} (NetworkInterface/mgmt) spec.addresses[1]`);
    expect(problem).toContain('"192.168.99.300/24"');
    expect(await service.logTail(200)).toContain(`${configPath}:${line}:`);

    // Not a link re-created, not an address changed, the same firewall table and XDP program.
    expect(await inForce()).toEqual(before);
    expect(await reachable()).toEqual([...REACHABLE].sort());
  }, 300_000);

  test("the fixed file is applied: ready again, the new address in place, nothing else re-created", async () => {
    const ready = await restartWith(FIXED);
    expect(ready).toContain(`STATUS=ready: config ${short(digestOf(FIXED))} (generation 1) in force`);
    const { status, report } = await readyz();
    expect(status).toBe(200);
    expect(report.config).toEqual({ digest: digestOf(FIXED), source: "file", generation: 1 });

    const now = await inForce();
    expect(now.links.eth3!.addresses).toEqual(["192.168.99.1/24", "192.168.99.2/24"]);
    const eth3 = { ...before.links.eth3!, addresses: now.links.eth3!.addresses };
    expect(now).toEqual({ ...before, links: { ...before.links, eth3 } });
    expect((await peer.run("ip netns exec mgmt ping -c 1 -W 5 192.168.99.2", { timeoutSec: 30 })).exitCode).toBe(0);
  }, 300_000);
});
