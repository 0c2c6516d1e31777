// LAN services benchmark (issue 14; run by hack/bench/run.ts as "lan"), on this machine's CPU
// in network namespaces and in the VM lab:
//
//   host: client (nothing configured) ──c0═lan0── router 10.10.0.1/16, 2001:db8:10::1/64
//                                                 mgmt0 (a veth to nowhere: the management zone,
//                                                 so the agent does not refuse for lockout)
//   lab:  the peer's LAN client (a macvlan on VLAN 10) ── router VM's VLAN lan on eth2, the same
//         addresses; mgmt on eth3. Timed on the peer's own clock (TCG).
//
// The same dnsmasq binary serves the client in three ways, interleaved round by round:
//   fos1     `fos1 agent` on a config with a DHCPServer, a RouterAdvertisement and a DNSResolver
//            for lan: dnsmasq with the files fos1 renders, supervised, behind fos1's firewall
//            (lan's input rejected but for what the services open)
//   minimal  dnsmasq alone with a hand-written minimal config doing the same (one pool, RA with
//            SLAAC, the local domain, the same static leases and names), no firewall; bound to
//            the interface's addresses (bind-dynamic), as any dnsmasq on Talos must be: Talos's
//            own resolver holds 127.0.0.53:53, and beside it a wildcard dnsmasq cannot start
//   tracked  the minimal dnsmasq behind fos1's zones, its openings as ordinary (tracked) rules
//   wildcard the minimal dnsmasq on the wildcard address, as on a box with no other resolver:
//            what binding per address costs dnsmasq
// at two sizes: the best case (one pool, one name) and a worst realistic one (1 000 static
// leases and 1 000 host names in both configs).
// Measured: time to online, from `ip link set c0 up` on a client with a new MAC to the last of
// a DHCPv4 lease (busybox udhcpc), a usable SLAAC address (no longer tentative) and the first
// answered DNS query (busybox nslookup of a name the router knows); and DNS queries per second
// from the client with dnsperf (20 clients, 200 outstanding) for names the resolver answers
// itself, for BENCH_LAN_SECONDS. Ratios fos1 / minimal per round; medians with their range.
// Goals (issue 14): time to online ≤ 1.1×, queries per second ≥ 0.95×.
//
// Environment: BENCH_LAN_ROUNDS or else BENCH_ROUNDS (default 5; in the lab BENCH_LAN_LAB_ROUNDS,
// default 3), BENCH_LAN_SECONDS (default 5), BENCH_LAN_WHERE (host,lab: the default both),
// FOS1_BIN (default dist/fos1). Writes bench/results/lan-<date>.json and the lan section of
// bench/README.md.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { Netns } from "../../test/helpers/netns";
import { fos1Argv } from "../../test/helpers/fos1";
import { AgentProcess } from "../../test/netns/agent-process";
import { LanClient, UDHCPC_SCRIPT } from "../lab/lan-client";
import { bootLabWithHosts } from "../lab/topology";
import { writeSection } from "./readme-section";
import { median, rotate } from "./stats";

const repo = resolve(import.meta.dir, "../..");
const intEnv = (name: string, def: number) => {
  const v = Number(process.env[name] ?? def);
  if (!(Number.isInteger(v) && v >= 1)) throw new Error(`${name}: a whole number ≥ 1, got ${process.env[name]}`);
  return v;
};
const ROUNDS = intEnv(process.env.BENCH_LAN_ROUNDS ? "BENCH_LAN_ROUNDS" : "BENCH_ROUNDS", 5);
const LAB_ROUNDS = intEnv("BENCH_LAN_LAB_ROUNDS", 3);
type Where = "host" | "lab";
const WHERE = (process.env.BENCH_LAN_WHERE ?? "host,lab").split(",").map((w) => w.trim()) as Where[];
if (!WHERE.length || WHERE.some((w) => w !== "host" && w !== "lab")) throw new Error(`BENCH_LAN_WHERE: host, lab or both, got ${process.env.BENCH_LAN_WHERE}`);
const SECONDS = intEnv("BENCH_LAN_SECONDS", 5);
const ROUTER = "10.10.0.1";
const NAS = "10.10.9.9";
const SIZES = [
  { name: "best: one pool, one name", hosts: 0 },
  { name: "worst realistic: 1 000 static leases, 1 000 names", hosts: 1000 },
] as const;
type Size = (typeof SIZES)[number];
// "tracked" splits what fos1 adds: the minimal dnsmasq behind fos1's zones with the service's
// openings as ordinary rules (applied with `fos1 apply`), so DNS is connection-tracked as it was
// before fos1 let the router's DNS skip connection tracking.
type Variant = "fos1" | "minimal" | "tracked" | "wildcard";
const VARIANTS: Variant[] = ["fos1", "minimal", "tracked", "wildcard"];

const staticLeases = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ mac: `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`, address: `10.10.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`, hostname: `static${i}` }));
const hostNames = (n: number) => [{ name: "nas", address: NAS }, ...Array.from({ length: n }, (_, i) => ({ name: `host${i}`, address: `10.10.${20 + Math.floor(i / 250)}.${1 + (i % 250)}` }))];

const doc = (group: string, kind: string, name: string, spec: string) => `---\napiVersion: ${group}.fos1.io/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
const LAN_ADDRESSES = `[${ROUTER}/16, '2001:db8:10::1/64']`;

const ZONES =
  doc("security", "FirewallZone", "lan", "{interfaces: [lan], input: reject, forward: reject}") +
  doc("security", "FirewallZone", "mgmt", "{interfaces: [oob], management: true}");

/** The config fos1 agent serves the client with; interfaces: the documents of lan and oob. */
function fos1Config(size: Size, interfaces: string): string {
  const leases = staticLeases(size.hosts).map((l) => `{mac: "${l.mac}", address: ${l.address}, hostname: ${l.hostname}}`);
  const hosts = hostNames(size.hosts).map((h) => `{name: ${h.name}, addresses: [${h.address}]}`);
  return (
    interfaces +
    ZONES +
    doc("network", "DHCPServer", "lan", `{interface: lan, pools: [{start: 10.10.200.1, end: 10.10.200.250}], staticLeases: [${leases.join(", ")}]}`) +
    doc("network", "RouterAdvertisement", "lan", "{interface: lan}") +
    doc("network", "DNSResolver", "router", `{zones: [lan], hosts: [${hosts.join(", ")}]}`)
  );
}

/** fos1's zones and the service's openings as ordinary, tracked rules: what the "tracked" variant applies. */
const trackedFirewallConfig = (interfaces: string) =>
  interfaces +
  ZONES +
  [["dhcp", "udp", 67], ["dns", "udp", 53], ["dns-tcp", "tcp", 53]].map(([name, protocol, port]) => doc("security", "FirewallRule", String(name), `{fromZone: lan, toZone: host, protocol: ${protocol}, ports: [${port}], action: allow}`)).join("");

/** What someone writing dnsmasq.conf by hand for the same service would write. */
function minimalConfig(size: Size, dir: string, ifname: string, variant: Variant): string {
  return [
    ...(variant === "wildcard" ? [] : ["bind-dynamic"]),
    `interface=${ifname}`,
    "dhcp-range=10.10.200.1,10.10.200.250,255.255.0.0,12h",
    ...staticLeases(size.hosts).map((l) => `dhcp-host=${l.mac},${l.address},${l.hostname}`),
    "enable-ra",
    `dhcp-range=::,constructor:${ifname},ra-stateless`,
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
const hostsFile = (size: Size) => hostNames(size.hosts).map((h) => `${h.address} ${h.name}\n`).join("");
const queriesFile = (size: Size) => hostNames(size.hosts).map((h) => `${h.name}.home.arpa A\n`).join("");

/** dnsperf's report: queries per second (a run with no answer at all, or none reported, throws). */
function dnsperfQps(out: string): number {
  const m = /Queries per second:\s+([\d.]+)/.exec(out);
  const lost = /Queries lost:\s+(\d+)/.exec(out);
  if (!m || Number(m[1]) === 0) throw new Error(`dnsperf: ${out.slice(-1000)}`);
  if (Number(lost?.[1] ?? 0) > 0) console.error(`dnsperf lost ${lost![1]} queries`);
  return Number(m[1]);
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

interface Sample {
  where: Where;
  size: string;
  variant: Variant;
  round: number;
  online: Online;
  qps: number;
}

/** Where the benchmark runs: it serves the client as a variant does, and measures the client. */
interface Place {
  where: Where;
  rounds: number;
  /** Serves the client as the variant does, runs fn, then stops serving; the router's links and addresses stay. */
  serving<T>(variant: Variant, size: Size, fn: () => Promise<T>): Promise<T>;
  /** A client that was never here (a new MAC) comes up: how long until it has all it needs (ms). */
  online(mac: string): Promise<Online>;
  /** dnsperf from the client against the router for the names it knows: queries per second. */
  qps(size: Size): Promise<number>;
  close(): Promise<void>;
}

const newMac = (round: number, size: Size) =>
  [2, 0x42, round, size.hosts >> 8, Math.floor(Math.random() * 256), Math.floor(Math.random() * 256)].map((b) => b.toString(16).padStart(2, "0")).join(":");

async function hostPlace(): Promise<Place> {
  const work = mkdtempSync(join(tmpdir(), "fos1-bench-lan-"));
  // dnsmasq reads its files as nobody.
  chmodSync(work, 0o755);
  writeFileSync(join(work, "udhcpc.sh"), UDHCPC_SCRIPT);
  chmodSync(join(work, "udhcpc.sh"), 0o755);
  const router = Netns.create("lanb-r");
  const client = Netns.create("lanb-c");
  router.sh(`ip link add lan0 type veth peer name c0 netns ${client.name} && ip link add mgmt0 type veth peer name mgmt1 && ip link set lan0 up && ip link set mgmt0 up && ip link set mgmt1 up`);
  router.sh(`ip addr add ${ROUTER}/16 dev lan0 && ip addr add 2001:db8:10::1/64 dev lan0 nodad && ip addr add 203.0.113.1/24 dev mgmt0`);
  const interfaces = doc("network", "NetworkInterface", "lan", `{device: lan0, addresses: ${LAN_ADDRESSES}}`) + doc("network", "NetworkInterface", "oob", "{device: mgmt0, addresses: [203.0.113.1/24]}");
  return {
    where: "host",
    rounds: ROUNDS,
    async serving(variant, size, fn) {
      const dir = join(work, variant);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o755);
      if (variant === "fos1") {
        writeFileSync(join(dir, "config.yaml"), fos1Config(size, interfaces));
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
      if (variant === "tracked") {
        writeFileSync(join(dir, "tracked.yaml"), trackedFirewallConfig(interfaces));
        const applied = await spawnText(router.argv([...fos1Argv(), "apply", "-f", join(dir, "tracked.yaml"), "--state-dir", join(dir, "state")]));
        if (applied.exitCode !== 0) throw new Error(`fos1 apply of the tracked firewall: ${applied.out.slice(-1000)}`);
      }
      writeFileSync(join(dir, "hosts"), hostsFile(size));
      writeFileSync(join(dir, "dnsmasq.conf"), minimalConfig(size, dir, "lan0", variant));
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
        router.sh("nft flush ruleset");
      }
    },
    async online(mac) {
      client.sh(`ip link set c0 down && ip addr flush dev c0 && ip link set c0 address ${mac} && sysctl -qw net.ipv6.conf.c0.accept_ra=2`);
      const t0 = performance.now();
      client.sh("ip link set c0 up");
      const leaseAndDns = (async () => {
        const r = await spawnText(client.argv(["busybox", "udhcpc", "-i", "c0", "-n", "-q", "-f", "-t", "20", "-T", "1", "-s", join(work, "udhcpc.sh")]), { LEASE_OUT: join(work, "lease") });
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
    },
    async qps(size) {
      writeFileSync(join(work, "queries"), queriesFile(size));
      const r = await spawnText(client.argv(["dnsperf", "-s", ROUTER, "-d", join(work, "queries"), "-l", String(SECONDS), "-c", "20", "-q", "200", "-T", "1"]));
      return dnsperfQps(r.out);
    },
    async close() {
      client.destroy();
      router.destroy();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

// On the peer's clock: the third line of /proc/timer_list is "now at N nsecs" (no process started).
const stamp = (v: string) => `{ read -r _; read -r _; read -r _ _ ${v} _; } </proc/timer_list`;

async function labPlace(): Promise<Place> {
  const { lab, router, peer } = await bootLabWithHosts();
  try {
    await router.runOk(`ip link set eth2 up && ip link add link eth2 name lan type vlan id 10 && ip link set lan up && ip addr add ${ROUTER}/16 dev lan && ip addr add 2001:db8:10::1/64 dev lan nodad && ip link set eth3 up && ip addr add 192.168.99.1/24 dev eth3`);
    await LanClient.add(peer, "lan", "lanc", "02:42:00:00:00:01");
  } catch (err) {
    await lab.shutdown();
    throw err;
  }
  const interfaces =
    doc("network", "NetworkInterface", "trunk", "{device: eth2}") +
    doc("network", "NetworkInterface", "lan", `{vlan: {parent: trunk, id: 10}, addresses: ${LAN_ADDRESSES}}`) +
    doc("network", "NetworkInterface", "oob", "{device: eth3, addresses: [192.168.99.1/24]}");
  const STATE = "/var/lib/fos1-bench";
  return {
    where: "lab",
    rounds: LAB_ROUNDS,
    async serving(variant, size, fn) {
      if (variant === "fos1") {
        await router.put("/etc/fos1/bench.yaml", fos1Config(size, interfaces));
        await router.runOk(`rm -rf ${STATE} && (fos1 agent -f /etc/fos1/bench.yaml --state-dir ${STATE} --hubble off >/tmp/bench-agent.log 2>&1 & echo $! >/tmp/bench-agent.pid)`);
        try {
          await router.runOk(`i=0; until grep -q '"converged"' /tmp/bench-agent.log && test -s ${STATE}/lan/dnsmasq.fos1-pid && grep -q 'started, version' /tmp/bench-agent.log; do i=$((i+1)); [ $i -lt 600 ] || { tail -n 20 /tmp/bench-agent.log; exit 1; }; sleep 0.2; done`, { timeoutSec: 180 });
          return await fn();
        } finally {
          await router.runOk("kill -TERM $(cat /tmp/bench-agent.pid); while kill -0 $(cat /tmp/bench-agent.pid) 2>/dev/null; do sleep 0.2; done; nft flush ruleset", { timeoutSec: 120 });
        }
      }
      const dir = "/tmp/bench-minimal";
      await router.runOk(`rm -rf ${dir} && mkdir -m 0755 ${dir}`);
      if (variant === "tracked") {
        await router.put("/etc/fos1/bench-tracked.yaml", trackedFirewallConfig(interfaces));
        await router.runOk(`rm -rf ${STATE} && fos1 apply -f /etc/fos1/bench-tracked.yaml --state-dir ${STATE} >/dev/null`, { timeoutSec: 180 });
      }
      await router.put(`${dir}/hosts`, hostsFile(size));
      await router.put(`${dir}/dnsmasq.conf`, minimalConfig(size, dir, "lan", variant));
      await router.runOk(`(dnsmasq --keep-in-foreground --conf-file=${dir}/dnsmasq.conf >${dir}/log 2>&1 & echo $! >${dir}/pid); i=0; until grep -q 'started, version' ${dir}/log; do i=$((i+1)); [ $i -lt 300 ] || { cat ${dir}/log; exit 1; }; sleep 0.1; done`, { timeoutSec: 60 });
      try {
        return await fn();
      } finally {
        await router.runOk(`kill -TERM $(cat ${dir}/pid); while kill -0 $(cat ${dir}/pid) 2>/dev/null; do sleep 0.1; done; nft flush ruleset`, { timeoutSec: 60 });
      }
    },
    async online(mac) {
      const ns = "ip netns exec lanc";
      const script = [
        "rm -f /tmp/ld",
        `ip -n lanc link set lanc0 down && ip -n lanc addr flush dev lanc0 && ip -n lanc link set lanc0 address ${mac}`,
        stamp("t0"),
        "ip -n lanc link set lanc0 up",
        `( ${ns} busybox udhcpc -i lanc0 -n -q -f -t 20 -T 1 -s /lab/udhcpc.sh >/dev/null 2>&1 || exit 1; ${stamp("tl")}; ` +
          `until ${ns} busybox nslookup -type=a nas.home.arpa ${ROUTER} 2>/dev/null | grep -q ${NAS}; do sleep 0.01; done; ${stamp("td")}; echo "$tl $td" >/tmp/ld ) &`,
        "job=$!",
        "i=0; until ip -n lanc -6 -o addr show dev lanc0 scope global | grep 2001:db8:10:0: | grep -vq tentative; do i=$((i+1)); [ $i -lt 6000 ] || exit 1; sleep 0.01; done",
        stamp("ts"),
        "wait $job || exit 1",
        "read -r tl td </tmp/ld",
        "echo $((tl - t0)) $((ts - t0)) $((td - t0))",
      ].join("\n");
      const [lease, slaac, dns] = (await peer.runOk(script, { timeoutSec: 180 })).trim().split(" ").map((ns) => Number(ns) / 1e6) as [number, number, number];
      return { lease, slaac, dns, total: Math.max(lease, slaac, dns) };
    },
    async qps(size) {
      await peer.put("/lab/queries", queriesFile(size));
      const r = await peer.run(`ip netns exec lanc dnsperf -s ${ROUTER} -d /lab/queries -l ${SECONDS} -c 20 -q 200 -T 1 2>&1`, { timeoutSec: SECONDS + 60 });
      return dnsperfQps(r.stdout);
    },
    async close() {
      await lab.shutdown();
    },
  };
}

const fmt = (x: number, digits = 2) => x.toFixed(digits);
const ratioText = (xs: number[]) => `**${fmt(median(xs))}×** (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;

async function main() {
  const samples: Sample[] = [];
  const loadBefore = loadavg()[0]!;
  for (const where of WHERE) {
    const place = where === "host" ? await hostPlace() : await labPlace();
    try {
      for (let round = 0; round < place.rounds; round++) {
        for (const size of SIZES) {
          for (const variant of rotate(VARIANTS, round)) {
            const sample = await place.serving(variant, size, async () => ({ online: await place.online(newMac(round, size)), qps: await place.qps(size) }));
            samples.push({ where, size: size.name, variant, round, ...sample });
            console.log(`${where} round ${round + 1}/${place.rounds} ${size.name} ${variant}: online ${fmt(sample.online.total, 0)} ms (lease ${fmt(sample.online.lease, 0)}, SLAAC ${fmt(sample.online.slaac, 0)}, DNS ${fmt(sample.online.dns, 0)}), ${fmt(sample.qps, 0)} queries/s`);
          }
        }
      }
    } finally {
      await place.close();
    }
  }
  report(samples, loadBefore);
}

function report(samples: Sample[], loadBefore: number) {
  const date = new Date().toISOString().slice(0, 10);
  const commit = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: repo, stdout: "pipe" }).stdout.toString().trim();
  const resultsFile = `lan-${date}.json`;
  mkdirSync(join(repo, "bench", "results"), { recursive: true });
  writeFileSync(join(repo, "bench", "results", resultsFile), JSON.stringify({ date, commit, seconds: SECONDS, cpu: cpus()[0]?.model, samples }, null, 1) + "\n");
  const of = (where: Where, size: string, variant: Variant) => samples.filter((s) => s.where === where && s.size === size && s.variant === variant).sort((a, b) => a.round - b.round);
  const places = WHERE.filter((w) => samples.some((s) => s.where === w));
  const rows = places.flatMap((where) =>
    SIZES.map((size) => {
      const f = of(where, size.name, "fos1"), m = of(where, size.name, "minimal");
      const onlineRatios = f.map((s, i) => s.online.total / m[i]!.online.total);
      const qpsRatios = f.map((s, i) => s.qps / m[i]!.qps);
      const med = (xs: Sample[], pick: (s: Sample) => number) => median(xs.map(pick));
      const label = `${where === "host" ? "this CPU" : "lab (TCG)"}, ${size.name}`;
      return {
        label,
        line: `| ${label} | ${f.length} | ${fmt(med(f, (s) => s.online.total), 0)} | ${fmt(med(m, (s) => s.online.total), 0)} | ${ratioText(onlineRatios)} | ${fmt(med(f, (s) => s.online.lease), 0)} / ${fmt(med(f, (s) => s.online.slaac), 0)} / ${fmt(med(f, (s) => s.online.dns), 0)} | ${fmt(med(f, (s) => s.qps), 0)} | ${fmt(med(m, (s) => s.qps), 0)} | ${ratioText(qpsRatios)} |`,
        online: median(onlineRatios),
        qps: median(qpsRatios),
      };
    }),
  );
  // fos1 / minimal = (tracked / minimal) × (fos1 / tracked).
  const split = places.flatMap((where) =>
    SIZES.map((size) => {
      const f = of(where, size.name, "fos1"), m = of(where, size.name, "minimal"), w = of(where, size.name, "tracked");
      return `| ${where === "host" ? "this CPU" : "lab (TCG)"}, ${size.name} | ${fmt(median(w.map((s) => s.qps)), 0)} | ${ratioText(w.map((s, i) => s.qps / m[i]!.qps))} | ${ratioText(f.map((s, i) => s.qps / w[i]!.qps))} |`;
    }),
  );
  const binding = places.flatMap((where) =>
    SIZES.map((size) => {
      const f = of(where, size.name, "fos1"), m = of(where, size.name, "minimal"), w = of(where, size.name, "wildcard");
      return `| ${where === "host" ? "this CPU" : "lab (TCG)"}, ${size.name} | ${fmt(median(w.map((s) => s.qps)), 0)} | ${ratioText(m.map((s, i) => s.qps / w[i]!.qps))} | ${ratioText(f.map((s, i) => s.qps / w[i]!.qps))} |`;
    }),
  );
  const goals = rows.map((r) => `${r.label}: time to online ${fmt(r.online)}× (goal ≤ 1.1×: ${r.online <= 1.1 ? "met" : "not met"}), queries per second ${fmt(r.qps)}× (goal ≥ 0.95×: ${r.qps >= 0.95 ? "met" : "not met"})`);
  writeSection(
    "lan",
    `<!-- lan:begin (written by hack/bench/lan.ts) -->
## LAN services

\`hack/bench/lan.ts\` (${date}, fos1 built from ${commit}, variants interleaved round by round; raw samples in
[results/${resultsFile}](results/${resultsFile})). A client with nothing configured, on this machine's CPU
(${cpus()[0]?.model ?? "?"}, ${cpus().length} cores; network namespaces, a veth to the router) and in the VM lab
(the peer's client on VLAN 10 of the router VM; timed on the peer's own clock). The same dnsmasq
serves it as \`fos1 agent\` runs it (fos1's generated files, behind fos1's firewall) and alone
with a hand-written minimal config doing the same, no firewall, bound to the interface's
addresses (\`bind-dynamic\`) as any dnsmasq on Talos must be (below). **Time to online**: from the
client's link up, with a MAC never seen, to the last of its DHCPv4 lease, a usable SLAAC address
and the first answered DNS query (milliseconds; fos1's split lease / SLAAC / DNS beside it).
**Queries per second**: dnsperf from the client, ${SECONDS} s, 20 clients, for names the
resolver knows. Ratios fos1 / minimal per round: median (range). The best case serves one pool
and one name; the worst realistic one 1 000 static leases and 1 000 names, in both configs.

| where, case | rounds | online, fos1 | online, minimal | **online fos1 / minimal** | fos1: lease / SLAAC / DNS | queries/s, fos1 | queries/s, minimal | **queries/s fos1 / minimal** |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.map((r) => r.line).join("\n")}

${goals.map((g) => `- ${g}`).join("\n")}
- The SLAAC address waits for the kernel's timers (router solicitation, then duplicate address
  detection), the same under both configs; the lease waits for dnsmasq's check that the offered
  address is free (it pings it first). Under TCG both daemons and dnsperf share one emulated CPU
  each, so the lab's queries per second are the emulator's, and its ratios the result.
- On this CPU the kernel handles each query in the sender's context (dnsperf's core), so the
  firewall's cost does not reach dnsmasq's core; the lab's router has one emulated CPU for the
  kernel's work and dnsmasq's alike, as a small router has one or two cores. There, what fos1
  adds beyond dnsmasq alone is its firewall's work per query (the raw-priority rule that takes
  DNS past connection tracking, the accept at the head of input) and the agent beside dnsmasq
  (2–4% of the emulated CPU while dnsperf runs, measured from /proc); the lab's rounds vary
  far more than that from one to the next (the ranges), with what else this machine runs.

What connection tracking costs: the minimal dnsmasq again, in the same rounds, behind fos1's
zones with the service's openings as ordinary rules (applied with \`fos1 apply\`), so that each
query and answer is tracked, as fos1 did before its DNS skipped connection tracking. dnsperf
asks from 20 fixed ports, the cheapest case for tracking (a lookup per packet); a stub resolver
asks each query from a new port, which costs a new entry per query.

| where, case | queries/s, minimal behind tracked rules | **tracked / minimal** | **fos1 / tracked** |
| --- | ---: | ---: | ---: |
${split.join("\n")}

What binding per address costs dnsmasq: the minimal config again on the wildcard address, as
dnsmasq runs by default on a box where nothing else answers on port 53. On Talos its own
resolver holds 127.0.0.53:53, and a wildcard dnsmasq does not start beside it ("failed to create
listening socket for port 53: Address already in use"; test/netns/lan-services.test.ts runs
fos1's dnsmasq beside such a listener): fos1 binds per address (\`bind-dynamic\`, which also
follows a new delegated prefix's addresses), as OpenWrt's default (\`nonwildcard\`) does. dnsmasq
then polls ten listening sockets instead of four at every query (TCP and UDP on each IPv4,
global, link-local and loopback address; a perf profile of dnsmasq shows the difference in
\`sock_poll\`, \`fdget\`, \`tcp_poll\` and \`udp_poll\`).

| where, case | queries/s, wildcard | **minimal (per address) / wildcard** | **fos1 / wildcard** |
| --- | ---: | ---: | ---: |
${binding.join("\n")}

The host's load average was ${fmt(loadBefore)} at the start and ${fmt(loadavg()[0]!)} at the end.
<!-- lan:end -->`,
  );
  console.log(goals.join("\n"));
}

await main();
