// LAN services benchmark (issue 14; run by hack/bench/run.ts as "lan"), on this machine's CPU
// in network namespaces:
//
//   client (nothing configured) ──c0═lan0── router 10.10.0.1/16, 2001:db8:10::1/64
//                                           mgmt0 (a veth to nowhere; the management zone, so the agent
//                                           does not refuse its config for lockout)
//
// The same dnsmasq binary serves the client in two ways, interleaved round by round:
//   fos1     `fos1 agent` on a config with a DHCPServer, a RouterAdvertisement and a DNSResolver
//            for lan: dnsmasq with the files fos1 renders, supervised, behind fos1's firewall
//            (lan's input rejected but for what the services open)
//   minimal  dnsmasq alone with a hand-written minimal config doing the same (one pool, RA with
//            SLAAC, the local domain, the same static leases and names), no firewall
// at two sizes: the best case (one pool, one name) and a worst realistic one (1 000 static
// leases and 1 000 host names in both configs).
// Measured: time to online, from `ip link set c0 up` on a client with a new MAC to the last of
// a DHCPv4 lease (busybox udhcpc), a usable SLAAC address (no longer tentative) and the first
// answered DNS query (busybox nslookup of a name the router knows); and DNS queries per second
// from the client with dnsperf (20 clients, 200 outstanding) for names the resolver answers
// itself, for BENCH_LAN_SECONDS. Ratios fos1 / minimal per round; medians with their range.
// Goals (issue 14): time to online ≤ 1.1×, queries per second ≥ 0.95×.
//
// Environment: BENCH_LAN_ROUNDS or else BENCH_ROUNDS (default 5), BENCH_LAN_SECONDS (default 5),
// FOS1_BIN (default dist/fos1). Writes bench/results/lan-<date>.json and the lan section of
// bench/README.md.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { Netns } from "../../test/helpers/netns";
import { AgentProcess } from "../../test/netns/agent-process";
import { UDHCPC_SCRIPT } from "../lab/lan-client";
import { writeSection } from "./readme-section";
import { median, rotate } from "./stats";

const repo = resolve(import.meta.dir, "../..");
const intEnv = (name: string, def: number) => {
  const v = Number(process.env[name] ?? def);
  if (!(Number.isInteger(v) && v >= 1)) throw new Error(`${name}: a whole number ≥ 1, got ${process.env[name]}`);
  return v;
};
const ROUNDS = intEnv(process.env.BENCH_LAN_ROUNDS ? "BENCH_LAN_ROUNDS" : "BENCH_ROUNDS", 5);
const SECONDS = intEnv("BENCH_LAN_SECONDS", 5);
const ROUTER = "10.10.0.1";
const NAS = "10.10.9.9";
const SIZES = [
  { name: "best: one pool, one name", hosts: 0 },
  { name: "worst realistic: 1 000 static leases, 1 000 names", hosts: 1000 },
] as const;
type Size = (typeof SIZES)[number];
type Variant = "fos1" | "minimal";
const VARIANTS: Variant[] = ["fos1", "minimal"];

const staticLeases = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ mac: `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`, address: `10.10.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`, hostname: `static${i}` }));
const hostNames = (n: number) => [{ name: "nas", address: NAS }, ...Array.from({ length: n }, (_, i) => ({ name: `host${i}`, address: `10.10.${20 + Math.floor(i / 250)}.${1 + (i % 250)}` }))];

function fos1Config(size: Size): string {
  const doc = (group: string, kind: string, name: string, spec: string) => `---\napiVersion: ${group}.fos1.io/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
  const leases = staticLeases(size.hosts).map((l) => `{mac: "${l.mac}", address: ${l.address}, hostname: ${l.hostname}}`);
  const hosts = hostNames(size.hosts).map((h) => `{name: ${h.name}, addresses: [${h.address}]}`);
  return (
    doc("network", "NetworkInterface", "lan", `{device: lan0, addresses: [${ROUTER}/16, '2001:db8:10::1/64']}`) +
    doc("network", "NetworkInterface", "oob", "{device: mgmt0, addresses: [203.0.113.1/24]}") +
    doc("security", "FirewallZone", "lan", "{interfaces: [lan], input: reject, forward: reject}") +
    doc("security", "FirewallZone", "mgmt", "{interfaces: [oob], management: true}") +
    doc("network", "DHCPServer", "lan", `{interface: lan, pools: [{start: 10.10.200.1, end: 10.10.200.250}], staticLeases: [${leases.join(", ")}]}`) +
    doc("network", "RouterAdvertisement", "lan", "{interface: lan}") +
    doc("network", "DNSResolver", "router", `{zones: [lan], hosts: [${hosts.join(", ")}]}`)
  );
}

/** What someone writing dnsmasq.conf by hand for the same service would write. */
function minimalConfig(size: Size, dir: string): string {
  writeFileSync(join(dir, "hosts"), hostNames(size.hosts).map((h) => `${h.address} ${h.name}\n`).join(""));
  return [
    "interface=lan0",
    "dhcp-range=10.10.200.1,10.10.200.250,255.255.0.0,12h",
    ...staticLeases(size.hosts).map((l) => `dhcp-host=${l.mac},${l.address},${l.hostname}`),
    "enable-ra",
    "dhcp-range=::,constructor:lan0,ra-stateless",
    "domain=home.arpa",
    "local=/home.arpa/",
    "expand-hosts",
    "no-resolv",
    "no-hosts",
    `addn-hosts=${join(dir, "hosts")}`,
    `dhcp-leasefile=${join(dir, "leases")}`,
    "log-facility=-",
    "",
  ].join("\n");
}

async function spawnText(argv: string[], env?: Record<string, string>): Promise<{ exitCode: number; out: string }> {
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [out, err, exitCode] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { exitCode, out: out + err };
}

interface Online {
  lease: number;
  slaac: number;
  dns: number;
  total: number;
}

/** A client that was never here (a new MAC) comes up: how long until it has all it needs (ms). */
async function online(client: Netns, dir: string, round: number, size: Size): Promise<Online> {
  const mac = `02:42:${round.toString(16).padStart(2, "0")}:${(size.hosts >> 8).toString(16).padStart(2, "0")}:${Math.floor(Math.random() * 255).toString(16).padStart(2, "0")}:${Math.floor(Math.random() * 255).toString(16).padStart(2, "0")}`;
  client.sh(`ip link set c0 down && ip addr flush dev c0 && ip link set c0 address ${mac} && sysctl -qw net.ipv6.conf.c0.accept_ra=2`);
  const t0 = performance.now();
  client.sh("ip link set c0 up");
  const leaseAndDns = (async () => {
    const r = await spawnText(client.argv(["busybox", "udhcpc", "-i", "c0", "-n", "-q", "-f", "-t", "20", "-T", "1", "-s", join(dir, "udhcpc.sh")]), { LEASE_OUT: join(dir, "lease") });
    if (r.exitCode !== 0) throw new Error(`no DHCP lease: ${r.out.slice(-500)}`);
    const lease = performance.now() - t0;
    for (;;) {
      const q = await spawnText(client.argv(["busybox", "nslookup", "-type=a", "nas.home.arpa", ROUTER]));
      if (q.out.includes(NAS)) return { lease, dns: performance.now() - t0 };
      if (performance.now() - t0 > 30_000) throw new Error(`no DNS answer: ${q.out.slice(-500)}`);
      await Bun.sleep(10);
    }
  })();
  const slaac = (async () => {
    for (;;) {
      const a = await spawnText(client.argv(["ip", "-6", "-o", "addr", "show", "dev", "c0", "scope", "global"]));
      if (/inet6 2001:db8:10:0:/.test(a.out) && !/tentative/.test(a.out)) return performance.now() - t0;
      if (performance.now() - t0 > 30_000) throw new Error("no SLAAC address");
      await Bun.sleep(10);
    }
  })();
  const [{ lease, dns }, slaacMs] = await Promise.all([leaseAndDns, slaac]);
  return { lease, slaac: slaacMs, dns, total: Math.max(lease, slaacMs, dns) };
}

/** dnsperf from the client against the router for the names it knows: queries per second. */
async function qps(client: Netns, dir: string, size: Size): Promise<number> {
  const names = hostNames(size.hosts).map((h) => `${h.name}.home.arpa A\n`);
  writeFileSync(join(dir, "queries"), names.join(""));
  const r = await spawnText(client.argv(["dnsperf", "-s", ROUTER, "-d", join(dir, "queries"), "-l", String(SECONDS), "-c", "20", "-q", "200", "-T", "1"]));
  const m = /Queries per second:\s+([\d.]+)/.exec(r.out);
  const lost = /Queries lost:\s+(\d+)/.exec(r.out);
  if (r.exitCode !== 0 || !m) throw new Error(`dnsperf: ${r.out.slice(-1000)}`);
  if (Number(lost?.[1] ?? 0) > 0) console.error(`dnsperf lost ${lost![1]} queries`);
  return Number(m[1]);
}

interface Sample {
  size: string;
  variant: Variant;
  round: number;
  online: Online;
  qps: number;
}

/** Serves the client as the variant does, runs fn, then stops serving and leaves lan0 as it was. */
async function serving<T>(variant: Variant, size: Size, router: Netns, work: string, fn: () => Promise<T>): Promise<T> {
  const dir = join(work, variant);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // dnsmasq reads its files as nobody.
  chmodSync(dir, 0o755);
  if (variant === "fos1") {
    writeFileSync(join(dir, "config.yaml"), fos1Config(size));
    const agent = new AgentProcess(router, ["-f", join(dir, "config.yaml"), "--state-dir", join(dir, "state"), "--hubble", "off", "--listen", "127.0.0.1:19660"]);
    try {
      await agent.waitForLog("the first converge", (l) => l.msg === "converged", 60_000);
      await agent.waitForLog("dnsmasq started", (l) => /^dnsmasq\[\d+\]: started/.test(String(l.msg)), 30_000);
      return await fn();
    } finally {
      await agent.stop("SIGTERM");
      router.sh("nft flush ruleset");
    }
  }
  writeFileSync(join(dir, "dnsmasq.conf"), minimalConfig(size, dir));
  const log = join(dir, "dnsmasq.log");
  const daemon: Subprocess = Bun.spawn(router.argv(["dnsmasq", "--keep-in-foreground", `--conf-file=${join(dir, "dnsmasq.conf")}`]), { stdout: "ignore", stderr: Bun.file(log) });
  try {
    const deadline = performance.now() + 30_000;
    while (!(existsSync(log) && readFileSync(log, "utf8").includes("started, version"))) {
      if (daemon.exitCode !== null || performance.now() > deadline) throw new Error(`the minimal dnsmasq did not start: ${existsSync(log) ? readFileSync(log, "utf8") : ""}`);
      await Bun.sleep(20);
    }
    return await fn();
  } finally {
    daemon.kill("SIGTERM");
    await daemon.exited;
  }
}

const fmt = (x: number, digits = 2) => x.toFixed(digits);
const ratioText = (xs: number[]) => `**${fmt(median(xs))}×** (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;

async function main() {
  const work = mkdtempSync(join(tmpdir(), "fos1-bench-lan-"));
  chmodSync(work, 0o755);
  writeFileSync(join(work, "udhcpc.sh"), UDHCPC_SCRIPT);
  chmodSync(join(work, "udhcpc.sh"), 0o755);
  const router = Netns.create("lanb-r");
  const client = Netns.create("lanb-c");
  const samples: Sample[] = [];
  const loadBefore = loadavg()[0]!;
  try {
    router.sh(`ip link add lan0 type veth peer name c0 netns ${client.name} && ip link add mgmt0 type veth peer name mgmt1 && ip link set lan0 up && ip link set mgmt0 up && ip link set mgmt1 up`);
    router.sh(`ip addr add ${ROUTER}/16 dev lan0 && ip addr add 2001:db8:10::1/64 dev lan0 nodad && ip addr add 203.0.113.1/24 dev mgmt0`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const size of SIZES) {
        for (const variant of rotate(VARIANTS, round)) {
          const sample = await serving(variant, size, router, work, async () => ({ online: await online(client, work, round, size), qps: await qps(client, work, size) }));
          samples.push({ size: size.name, variant, round, ...sample });
          console.log(`round ${round + 1}/${ROUNDS} ${size.name} ${variant}: online ${fmt(sample.online.total, 0)} ms (lease ${fmt(sample.online.lease, 0)}, SLAAC ${fmt(sample.online.slaac, 0)}, DNS ${fmt(sample.online.dns, 0)}), ${fmt(sample.qps, 0)} queries/s`);
        }
      }
    }
  } finally {
    client.destroy();
    router.destroy();
    rmSync(work, { recursive: true, force: true });
  }
  report(samples, loadBefore);
}

function report(samples: Sample[], loadBefore: number) {
  const date = new Date().toISOString().slice(0, 10);
  const commit = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: repo, stdout: "pipe" }).stdout.toString().trim();
  const resultsFile = `lan-${date}.json`;
  mkdirSync(join(repo, "bench", "results"), { recursive: true });
  writeFileSync(join(repo, "bench", "results", resultsFile), JSON.stringify({ date, commit, rounds: ROUNDS, seconds: SECONDS, cpu: cpus()[0]?.model, samples }, null, 1) + "\n");
  const of = (size: string, variant: Variant) => samples.filter((s) => s.size === size && s.variant === variant).sort((a, b) => a.round - b.round);
  const rows = SIZES.map((size) => {
    const f = of(size.name, "fos1"), m = of(size.name, "minimal");
    const onlineRatios = f.map((s, i) => s.online.total / m[i]!.online.total);
    const qpsRatios = f.map((s, i) => s.qps / m[i]!.qps);
    const med = (xs: Sample[], pick: (s: Sample) => number) => median(xs.map(pick));
    return {
      size: size.name,
      line: `| ${size.name} | ${fmt(med(f, (s) => s.online.total), 0)} | ${fmt(med(m, (s) => s.online.total), 0)} | ${ratioText(onlineRatios)} | ${fmt(med(f, (s) => s.online.lease), 0)} / ${fmt(med(f, (s) => s.online.slaac), 0)} / ${fmt(med(f, (s) => s.online.dns), 0)} | ${fmt(med(f, (s) => s.qps), 0)} | ${fmt(med(m, (s) => s.qps), 0)} | ${ratioText(qpsRatios)} |`,
      online: median(onlineRatios),
      qps: median(qpsRatios),
    };
  });
  const goals = rows.map((r) => `${r.size}: time to online ${fmt(r.online)}× (goal ≤ 1.1×: ${r.online <= 1.1 ? "met" : "not met"}), queries per second ${fmt(r.qps)}× (goal ≥ 0.95×: ${r.qps >= 0.95 ? "met" : "not met"})`);
  writeSection(
    "lan",
    `<!-- lan:begin (written by hack/bench/lan.ts) -->
## LAN services

\`hack/bench/lan.ts\` (${date}, fos1 built from ${commit}, ${ROUNDS} rounds, variants interleaved; raw samples in
[results/${resultsFile}](results/${resultsFile})), on this machine's CPU (${cpus()[0]?.model ?? "?"}, ${cpus().length} cores) in network
namespaces: a client with nothing configured on a veth to the router. The same dnsmasq serves it
as \`fos1 agent\` runs it (fos1's generated files, behind fos1's firewall) and alone with a
hand-written minimal config doing the same, no firewall. **Time to online**: from the client's
link up, with a MAC never seen, to the last of its DHCPv4 lease, a usable SLAAC address and the
first answered DNS query (milliseconds; fos1's split lease / SLAAC / DNS beside it).
**Queries per second**: dnsperf from the client, ${SECONDS} s, for names the resolver knows.
Ratios fos1 / minimal per round: median (range).

| case | online, fos1 | online, minimal | **online fos1 / minimal** | fos1: lease / SLAAC / DNS | queries/s, fos1 | queries/s, minimal | **queries/s fos1 / minimal** |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.map((r) => r.line).join("\n")}

${goals.map((g) => `- ${g}`).join("\n")}
- The SLAAC address waits for the kernel's timers (router solicitation, then duplicate address
  detection), the same under both configs; the lease waits for dnsmasq's check that the offered
  address is free. Not run in the VM lab yet (TCG would stretch the timers' share further).

The host's load average was ${fmt(loadBefore)} at the start and ${fmt(loadavg()[0]!)} at the end.
<!-- lan:end -->`,
  );
  console.log(goals.join("\n"));
}

await main();
