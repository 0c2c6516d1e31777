// fos1 against an earlier build of itself, side by side in one run on this machine's CPU (run
// by hack/bench/run.ts as "previous"): so a change of the engine's structure shows whether it
// made apply slower. The earlier build is made from BENCH_BASE (default: the parent of HEAD) in a
// git worktree, compiled exactly as `make build` compiles (baseline x64, the source digest
// stamped, so both keep the objects of configs that converged). Workloads, each in a network
// namespace of its own (this kernel has no 8021q; veth pairs stand in):
//   addresses N   N interfaces each taking one IPv4 address: cold apply (addresses absent), no-op
//   firewall N    N rules between two zones: cold apply (fos1's table absent), no-op
// and in the lab's router VM (TCG, as the VLAN benchmark runs):
//   vlans N       N VLANs on eth1 each with an address: cold apply (the VLANs deleted), no-op
// Each round runs both builds, the one going first alternating; the result is the median of the
// per-round ratios (this build's time / the earlier's) with their range.
// Environment: BENCH_BASE (a commit), BENCH_ROUNDS (default 5 here, 3 in the lab),
// BENCH_PREVIOUS_SIZES (default addresses:1000,addresses:4094,firewall:10000),
// BENCH_PREVIOUS_LAB_VLANS (default 1000,4094; "none" skips the lab). Writes
// bench/results/previous-<date>.json and its section of bench/README.md.
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median } from "./stats";
import { writeSection } from "./readme-section";
import { timeOnGuest } from "./guest-clock";
import { Lab, type LabVm } from "../lab/vm";

const repo = resolve(import.meta.dir, "../..");
const bun = join(repo, "node_modules", ".bin", "bun");
const current = join(repo, "dist", "fos1");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WORKLOADS = (process.env.BENCH_PREVIOUS_SIZES ?? "addresses:1000,addresses:4094,firewall:10000").split(",").map((w) => {
  const [kind, n] = w.trim().split(":");
  if ((kind !== "addresses" && kind !== "firewall") || !Number.isInteger(Number(n)) || Number(n) < 2) throw new Error(`BENCH_PREVIOUS_SIZES: kind:N with kind addresses or firewall, got ${w}`);
  return { kind, n: Number(n) } as Workload;
});
const LAB_VLANS = (process.env.BENCH_PREVIOUS_LAB_VLANS ?? "1000,4094") === "none" ? [] : (process.env.BENCH_PREVIOUS_LAB_VLANS ?? "1000,4094").split(",").map(Number);
const LAB_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
if (!LAB_VLANS.every((n) => Number.isInteger(n) && n >= 1 && n <= 4094)) throw new Error(`BENCH_PREVIOUS_LAB_VLANS: VLAN counts 1–4094, got ${LAB_VLANS.join(",")}`);
if (!existsSync(current)) throw new Error("dist/fos1 is missing: run make build first");

interface Workload {
  kind: "addresses" | "firewall" | "vlans";
  n: number;
}
type Build = "previous" | "current";
type Step = "cold" | "noop";

const sh = (cmd: string) => {
  const r = Bun.spawnSync(["sh", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.slice(0, 300)}: exit ${r.exitCode}: ${r.stderr.toString().slice(0, 2000)}`);
  return r.stdout.toString();
};

/** The earlier build, compiled as the Makefile compiles dist/fos1. */
function buildPrevious(base: string, work: string): { path: string; commit: string } {
  const commit = sh(`git -C ${repo} rev-parse --short=12 ${base}`).trim();
  const tree = join(work, "previous");
  sh(`git -C ${repo} worktree add --detach ${tree} ${commit}`);
  try {
    symlinkSync(join(repo, "node_modules"), join(tree, "node_modules"));
    const digest = sh(`cd ${tree} && find src -name '*.ts' -o -name '*.proto' | sort | xargs sha256sum package.json package-lock.json tsconfig.json | sha256sum | cut -c1-16`).trim();
    const out = join(work, "fos1-previous");
    sh(
      `cd ${tree} && ${bun} build --compile --target=bun-linux-x64-baseline --define 'process.env.FOS1_COMMIT="${commit}"' --define 'process.env.FOS1_SOURCE_DIGEST="${digest}"' src/main.ts --outfile ${out}`,
    );
    return { path: out, commit };
  } finally {
    sh(`git -C ${repo} worktree remove --force ${tree}`);
  }
}

const doc = (group: string, kind: string, name: string, spec: string) => `---\napiVersion: ${group}.fos1.io/v1alpha1\nkind: ${kind}\nmetadata: {name: ${name}}\nspec: ${spec}\n`;
const veth = (i: number) => `${i % 2 ? "b" : "a"}${i >> 1}`;

function configOf(w: Workload): string {
  if (w.kind === "addresses")
    return Array.from({ length: w.n }, (_, i) => {
      const k = i >> 1;
      return doc("network", "NetworkInterface", `n${veth(i)}`, `{device: ${veth(i)}, addresses: [10.${k >> 8}.${k & 255}.${i % 2 ? 129 : 1}/25]}`);
    }).join("");
  const docs = [
    doc("network", "NetworkInterface", "client", "{device: a0, addresses: [198.51.100.1/24]}"),
    doc("network", "NetworkInterface", "server", "{device: b0, addresses: [203.0.113.1/24]}"),
    doc("security", "FirewallZone", "client", "{interfaces: [client]}"),
    doc("security", "FirewallZone", "server", "{interfaces: [server], management: true}"),
  ];
  for (let i = 1; i <= w.n; i++)
    docs.push(doc("security", "FirewallRule", `r${i}`, `{fromZone: client, toZone: server, protocol: tcp, ports: [${10000 + (i % 50000)}], sources: [198.18.${(i >> 8) & 255}.${i & 255}/32], action: ${i % 5 ? "allow" : "deny"}}`));
  return docs.join("");
}

interface Measured {
  workload: Workload;
  samples: Record<Build, Record<Step, number[]>>;
  /** this build / the earlier one, per round. */
  ratios: Record<Step, number[]>;
}

function runWorkload(w: Workload, bins: Record<Build, string>, work: string): Measured {
  const ns = `fos1-bench-prev-${w.kind}`;
  sh(`ip netns del ${ns} 2>/dev/null || true; ip netns add ${ns}`);
  const pairs = w.kind === "addresses" ? w.n / 2 : 1;
  writeFileSync(join(work, "links.batch"), Array.from({ length: pairs }, (_, k) => `link add ${veth(2 * k)} type veth peer name ${veth(2 * k + 1)}`).join("\n") + "\n");
  sh(`ip -n ${ns} -batch ${join(work, "links.batch")}`);
  const cfg = join(work, `${w.kind}-${w.n}.yaml`);
  writeFileSync(cfg, configOf(w));
  const inNs = (cmd: string) => `nsenter --net=/run/netns/${ns} sh -c '${cmd}'`;
  const apply = (b: Build) => `${bins[b]} apply -f ${cfg} --state-dir ${join(work, `state-${w.kind}-${b}`)} -o json`;
  // What "cold" starts from: the addresses flushed, or fos1's table gone (links stay up, sysctls set).
  writeFileSync(join(work, "flush.batch"), Array.from({ length: w.n }, (_, i) => `address flush dev ${veth(i)}`).join("\n") + "\n");
  const reset = () => sh(w.kind === "addresses" ? `ip -n ${ns} -batch ${join(work, "flush.batch")}` : inNs("nft delete table inet fos1 2>/dev/null || true"));
  for (const b of ["previous", "current"] as const) sh(inNs(`${apply(b)} >/dev/null`)); // warm-up: links adopted, state dirs made
  const expected = w.kind === "addresses" ? w.n : 1;
  const samples = { previous: { cold: [] as number[], noop: [] as number[] }, current: { cold: [] as number[], noop: [] as number[] } };
  const time = (b: Build, step: Step) => {
    const t = performance.now();
    const out = sh(inNs(apply(b)));
    const s = (performance.now() - t) / 1000;
    const writes = Number(/"writes": (\d+)/.exec(out)?.[1]);
    if (writes !== (step === "cold" ? expected : 0)) throw new Error(`${b} ${step} ${w.kind} ${w.n}: ${writes} writes, expected ${step === "cold" ? expected : 0}`);
    samples[b][step].push(s);
    console.log(`previous ${w.kind} ${w.n}: ${b} ${step} ${s.toFixed(3)} s`);
  };
  for (let round = 0; round < ROUNDS; round++)
    for (const b of round % 2 ? (["current", "previous"] as const) : (["previous", "current"] as const)) {
      reset();
      time(b, "cold");
      time(b, "noop");
    }
  sh(`ip netns del ${ns}`);
  const ratio = (step: Step) => samples.current[step].map((x, i) => x / samples.previous[step][i]!);
  return { workload: w, samples, ratios: { cold: ratio("cold"), noop: ratio("noop") } };
}

/** The seed's form: VLAN K on eth1, address 10.<K/256>.<K%256>.1/24 (as hack/bench/vlans.ts). */
const vlanConfig = (n: number) =>
  Array.from({ length: n }, (_, i) => doc("network", "NetworkInterface", `v${i + 1}`, `{device: eth1, vlan: {id: ${i + 1}}, addresses: [10.${(i + 1) >> 8}.${(i + 1) & 255}.1/24]}`)).join("");

async function runLab(previous: string): Promise<Measured[]> {
  const lab = await Lab.boot([{ name: "router", nics: 2, memoryMiB: 2048 }], []);
  try {
    const vm = lab.vm("router");
    await vm.put("/root/fos1-previous", readFileSync(previous), "0755");
    const bins: Record<Build, string> = { previous: "/root/fos1-previous", current: "fos1" };
    const out: Measured[] = [];
    for (const n of LAB_VLANS) out.push(await runVlans(vm, n, bins));
    return out;
  } finally {
    await lab.shutdown();
  }
}

async function runVlans(vm: LabVm, n: number, bins: Record<Build, string>): Promise<Measured> {
  const cfg = `/root/vlans-${n}.yaml`;
  await vm.put(cfg, vlanConfig(n));
  const apply = (b: Build) => `${bins[b]} apply -f ${cfg} --state-dir /var/lib/fos1-${b} -o json`;
  const TIMEOUT = 3600;
  // Warm-up, not measured: eth1 up and sysctls set by each build once.
  for (const b of ["previous", "current"] as const) await vm.runOk(`${apply(b)} >/dev/null && ip link del group 241`, { timeoutSec: TIMEOUT });
  const samples = { previous: { cold: [] as number[], noop: [] as number[] }, current: { cold: [] as number[], noop: [] as number[] } };
  const time = async (b: Build, step: Step) => {
    const s = await timeOnGuest(vm, apply(b), TIMEOUT);
    const writes = Number(/"writes": (\d+)/.exec(await vm.runOk("grep -m1 -o '\"writes\": [0-9]*' /tmp/out"))?.[1]);
    if (writes !== (step === "cold" ? 2 * n : 0)) throw new Error(`${b} ${step} ${n} VLANs: ${writes} writes`);
    samples[b][step].push(s);
    console.log(`previous lab ${n} VLANs: ${b} ${step} ${s.toFixed(3)} s`);
  };
  for (let round = 0; round < LAB_ROUNDS; round++)
    for (const b of round % 2 ? (["current", "previous"] as const) : (["previous", "current"] as const)) {
      await time(b, "cold");
      await time(b, "noop");
      await timeOnGuest(vm, "ip link del group 241", TIMEOUT);
    }
  const ratio = (step: Step) => samples.current[step].map((x, i) => x / samples.previous[step][i]!);
  return { workload: { kind: "vlans", n }, samples, ratios: { cold: ratio("cold"), noop: ratio("noop") } };
}

interface Raw {
  benchmark: "previous";
  startedAt: string;
  commits: Record<Build, string>;
  rounds: number;
  cpu: string;
  hostLoad: { atStart: number; atEnd: number };
  units: string;
  workloads: Measured[];
  lab: Measured[];
}

const s3 = (x: number) => x.toFixed(3);
const r2 = (x: number) => `${x.toFixed(2)}×`;
const range = (xs: number[]) => {
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  return lo.toFixed(2) === hi.toFixed(2) ? r2(lo) : `${lo.toFixed(2)}–${hi.toFixed(2)}×`;
};
const label = (w: Workload) => `${w.n.toLocaleString("en-US").replace(/,/g, " ")} ${{ addresses: "addresses", firewall: "firewall rules", vlans: "VLANs" }[w.kind]}`;

function rowsOf(measured: Measured[]): string {
  return measured
    .map((m) => {
      const med = (b: Build, s: Step) => s3(median(m.samples[b][s]));
      return `| ${label(m.workload)} | ${med("previous", "cold")} | ${med("current", "cold")} | **${r2(median(m.ratios.cold))}** (${range(m.ratios.cold)}) | ${med("previous", "noop")} | ${med("current", "noop")} | **${r2(median(m.ratios.noop))}** (${range(m.ratios.noop)}) |`;
    })
    .join("\n");
}

const HEAD = `| workload | cold, earlier | cold, this build | **cold ratio** | no-op, earlier | no-op, this build | **no-op ratio** |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |`;

function section(raw: Raw): string {
  return `<!-- previous:begin (written by hack/bench/previous.ts) -->
## This build against an earlier one

\`hack/bench/previous.ts\` (${raw.startedAt.slice(0, 10)}, this build ${raw.commits.current} against ${raw.commits.previous}, ${raw.rounds} rounds, the two
interleaved and alternating which goes first; raw samples in [results/previous-${raw.startedAt.slice(0, 10)}.json](results/previous-${raw.startedAt.slice(0, 10)}.json)). On this
machine's CPU (${raw.cpu}, 2 shared cores, load ${raw.hostLoad.atStart.toFixed(1)} at the start and ${raw.hostLoad.atEnd.toFixed(1)} at the end), each
workload in a network namespace of its own, both executables compiled as \`make build\` compiles. Medians in
seconds, wall clock around \`fos1 apply -o json\`; the ratio is the median of the per-round ratios (this build /
the earlier one) with their range: **cold** from the addresses flushed or fos1's table deleted, **no-op** right after.

${HEAD}
${rowsOf(raw.workloads)}
${raw.lab.length ? `\nIn the lab's router VM (TCG, \`-cpu max\`, one vCPU, 2048 MiB; ${LAB_ROUNDS} rounds, seconds on the guest's clock): N VLANs on eth1 each with
an address, **cold** with the VLANs deleted (\`ip link del group 241\`), **no-op** right after; the earlier build copied into the VM.

${HEAD}
${rowsOf(raw.lab)}\n` : ""}<!-- previous:end -->`;
}

const base = process.env.BENCH_BASE ?? "HEAD~1";
const work = mkdtempSync(join(tmpdir(), "fos1-bench-previous-"));
try {
  const previous = buildPrevious(base, work);
  const commit = String((JSON.parse(sh(`${current} version -o json`)) as { commit?: unknown }).commit ?? "unknown");
  const atStart = loadavg()[0]!;
  const startedAt = new Date().toISOString();
  const workloads = WORKLOADS.map((w) => runWorkload(w, { previous: previous.path, current }, work));
  const lab = LAB_VLANS.length ? await runLab(previous.path) : [];
  const raw: Raw = { benchmark: "previous", startedAt, commits: { previous: previous.commit, current: commit }, rounds: ROUNDS, cpu: cpus()[0]?.model ?? "unknown", hostLoad: { atStart, atEnd: loadavg()[0]! }, units: "seconds: host wall clock here, the guest's clock in the lab", workloads, lab };
  writeFileSync(join(repo, "bench", "results", `previous-${startedAt.slice(0, 10)}.json`), JSON.stringify(raw, null, 1) + "\n");
  writeSection("previous", section(raw));
  console.log(section(raw));
} finally {
  rmSync(work, { recursive: true, force: true });
}

export {};
