// No-op re-apply on this machine's own CPU (run by hack/bench/run.ts as "noop-host"): the VLAN
// benchmark runs in the TCG lab, several times slower than hardware, but the issue's "no-op
// re-apply of 4 094 VLANs under 1 s" is an absolute time. This host's kernel has no 8021q, so
// the stand-in is N interfaces (veth pairs) in a network namespace, each with one IPv4 address
// from the config: the same kind of state fos1 observes, plans and leaves alone. Variants
// interleaved round by round, each a fresh process, wall time on the host clock:
//   fos1 apply (addresses absent) | bare `ip -batch` of its lines | no-op re-apply |
//   no-op of a config not seen before | the observation dump alone | `fos1 --help`
// Environment: BENCH_NOOP_SIZES (default 1000,4094; even), BENCH_ROUNDS (default 5).
// Writes bench/results/noop-host-<date>.json and its section of bench/README.md.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median, pairedRatio } from "./stats";

const repo = resolve(import.meta.dir, "../..");
const fos1 = join(repo, "dist", "fos1");
const SIZES = (process.env.BENCH_NOOP_SIZES ?? "1000,4094").split(",").map((s) => Number(s.trim()));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
if (!SIZES.every((n) => Number.isInteger(n) && n >= 2 && n % 2 === 0 && n <= 8192)) throw new Error(`BENCH_NOOP_SIZES: even interface counts 2–8192, got ${SIZES.join(",")}`);
if (!existsSync(fos1)) throw new Error("dist/fos1 is missing: run make build first");

const NS = "fos1-bench-noop";
const FOS1_PROTO = 241; // src/engine/model.ts

type Variant = "fos1" | "batch" | "noop" | "noopUnseen" | "observe" | "fos1Start";

const sh = (cmd: string) => {
  const r = Bun.spawnSync(["sh", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd}: exit ${r.exitCode}: ${r.stderr.toString().slice(0, 2000)}`);
  return r.stdout.toString();
};
const inNs = (cmd: string) => `nsenter --net=/run/netns/${NS} sh -c '${cmd}'`;

const name = (i: number) => `${i % 2 ? "b" : "a"}${i >> 1}`;
function config(n: number): string {
  return Array.from({ length: n }, (_, i) => {
    const k = i >> 1;
    return `---\napiVersion: network.fos1.io/v1alpha1\nkind: NetworkInterface\nmetadata: {name: n${name(i)}}\nspec: {device: ${name(i)}, addresses: [10.${k >> 8}.${k & 255}.${i % 2 ? 129 : 1}/25]}\n`;
  }).join("");
}

interface SizeResult {
  interfaces: number;
  ops: number;
  samples: Record<Variant, number[]>;
  medians: Record<Variant, number>;
}

function runSize(n: number, work: string): SizeResult {
  sh(`ip netns del ${NS} 2>/dev/null || true; ip netns add ${NS}`);
  const links = Array.from({ length: n / 2 }, (_, k) => `link add ${name(2 * k)} type veth peer name ${name(2 * k + 1)}`);
  writeFileSync(join(work, "links.batch"), links.join("\n") + "\n");
  sh(`ip -n ${NS} -batch ${join(work, "links.batch")}`);
  const cfg = join(work, `noop-${n}.yaml`);
  const state = join(work, `state-${n}`);
  writeFileSync(cfg, config(n));
  const apply = `${fos1} apply -f ${cfg} --state-dir ${state} -o json`;
  // Warm-up, not measured: links up and sysctls set, so the measured apply adds addresses only.
  sh(inNs(`${apply} >/dev/null`));
  const flushLines = Array.from({ length: n }, (_, i) => `address flush dev ${name(i)}`).join("\n") + "\n";
  writeFileSync(join(work, "flush.batch"), flushLines);
  const flush = () => sh(`ip -n ${NS} -batch ${join(work, "flush.batch")}`);
  flush();
  const planned = JSON.parse(sh(inNs(`${fos1} plan -f ${cfg} -o json`))) as { ops: { phase: string; write: string }[] };
  const lines = planned.ops.map((o) => o.write);
  if (lines.length !== n || planned.ops.some((o) => o.phase !== "addresses")) throw new Error(`plan for ${n}: expected ${n} address adds, got ${lines.slice(0, 3).join("; ")}…`);
  writeFileSync(join(work, "addresses.batch"), lines.join("\n") + "\n");
  writeFileSync(join(work, "observe.batch"), `route show table all proto ${FOS1_PROTO}\nrule show\n`);

  const commands: Record<Variant, string> = {
    fos1: apply,
    batch: `ip -force -batch ${join(work, "addresses.batch")}`,
    noop: apply,
    noopUnseen: `rm -f ${state}/configs/*.objects.json; ${apply}`,
    // fos1's firewall observe is a netlink request for nftables' generation, no process, while the generation stays.
    observe: `ip -json -details address show >/dev/null && ip -json -batch ${join(work, "observe.batch")} >/dev/null && ip -json -6 rule show >/dev/null`,
    fos1Start: `${fos1} --help`,
  };
  const time = (v: Variant, expectWrites?: number) => {
    const t = performance.now();
    const out = sh(inNs(`${commands[v]}`));
    const s = (performance.now() - t) / 1000;
    if (expectWrites !== undefined && !new RegExp(`"writes": ${expectWrites}\\b`).test(out)) throw new Error(`${v} at ${n}: expected writes ${expectWrites}: ${out.slice(0, 300)}`);
    samples[v].push(s);
    console.log(`noop-host ${n}: ${v} ${s.toFixed(3)} s`);
  };
  const samples = Object.fromEntries((Object.keys(commands) as Variant[]).map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which cold variant goes first, so drift in the machine's load hits both.
    for (const v of round % 2 ? (["batch", "fos1"] as const) : (["fos1", "batch"] as const)) {
      time(v, v === "fos1" ? n : undefined);
      time("noop", 0);
      time("noopUnseen", 0);
      time("observe");
      flush();
    }
    time("fos1Start");
  }
  sh(`ip netns del ${NS}`);
  const medians = Object.fromEntries(Object.entries(samples).map(([v, xs]) => [v, median(xs)])) as Record<Variant, number>;
  return { interfaces: n, ops: n, samples, medians };
}

interface Raw {
  benchmark: "noop-host";
  startedAt: string;
  commit: string;
  rounds: number;
  cpu: string;
  hostLoad: { atStart: number; atEnd: number };
  units: string;
  sizes: SizeResult[];
}

function runAll(): Raw {
  const commit = String((JSON.parse(sh(`${fos1} version -o json`)) as { commit?: unknown }).commit ?? "unknown");
  const work = mkdtempSync(join(tmpdir(), "fos1-bench-noop-"));
  const atStart = loadavg()[0]!;
  const startedAt = new Date().toISOString();
  try {
    const sizes = SIZES.map((n) => runSize(n, work));
    return { benchmark: "noop-host", startedAt, commit, rounds: ROUNDS, cpu: cpus()[0]?.model ?? "unknown", hostLoad: { atStart, atEnd: loadavg()[0]! }, units: "seconds, host wall clock", sizes };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const s3 = (x: number) => x.toFixed(3);
const ratioText = (x: { median: number; min: number; max: number }) => `**${r2(x.median)}** (${x.min.toFixed(2)}–${x.max.toFixed(2)})`;
const r2 = (x: number) => `${x.toFixed(2)}×`;
const n0 = (x: number) => x.toLocaleString("en-US").replace(/,/g, " ");

function section(raw: Raw): string {
  const date = raw.startedAt.slice(0, 10);
  const rows = raw.sizes.map((x) => {
    const m = x.medians;
    return `| ${n0(x.interfaces)} | ${s3(m.fos1)} | ${s3(m.batch)} | ${ratioText(pairedRatio(x.samples.fos1, x.samples.batch))} | **${s3(m.noop)}** | ${s3(m.noopUnseen)} | ${s3(m.observe)} | ${ratioText(pairedRatio(x.samples.noop, x.samples.observe))} | ${ratioText(pairedRatio(x.samples.noopUnseen, x.samples.observe))} | ${s3(m.fos1Start)} |`;
  });
  const largest = raw.sizes.at(-1)!;
  return `<!-- noop-host:begin (written by hack/bench/noop-host.ts) -->
## No-op re-apply on this machine's CPU

\`hack/bench/noop-host.ts\` (${date}, fos1 built from ${raw.commit}, ${raw.rounds} rounds, variants interleaved; raw samples in
[results/noop-host-${date}.json](results/noop-host-${date}.json)). The VLAN benchmark above runs under TCG; this one
runs on the machine itself (${raw.cpu}, 2 shared cores, load ${raw.hostLoad.atStart.toFixed(1)} at the start and ${raw.hostLoad.atEnd.toFixed(1)} at the end), whose
kernel has no 8021q: N interfaces (veth pairs) in a network namespace stand in for the VLANs, each with one IPv4 address
from the config. Medians in seconds, wall clock around each command (a fresh process every time):
**fos1 apply** adds the N addresses; **bare \`ip -batch\`** runs exactly its lines; **no-op re-apply** is fos1 apply on the
converged host (writes 0); **not seen before** is the same with the objects fos1 kept of the config removed, so it parses
and validates the YAML; **observation dump** is the reads fos1 does, alone (its three \`ip -json\` dumps; the firewall's observe
is a netlink request, no process). Ratios are taken sample by sample within a round (back to back), then the median and range.

| interfaces | fos1 apply | bare \`ip -batch\` | fos1 / batch (per round) | **no-op re-apply** | no-op, not seen before | observation dump | no-op / dump (per round) | not seen / dump | \`fos1 --help\` |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join("\n")}

- **Target: cold apply at most 2× the bare \`ip -batch\`** (median of per-round ratios): ${raw.sizes.map((x) => `${n0(x.interfaces)}: ${r2(pairedRatio(x.samples.fos1, x.samples.batch).median)}`).join(", ")} — ${raw.sizes.every((x) => pairedRatio(x.samples.fos1, x.samples.batch).median <= 2) ? "met" : "**not met**"}. fos1's start (\`fos1 --help\`) alone is ${raw.sizes.map((x) => `${s3(x.medians.fos1Start)} s`).join(" and ")} beside it.
- **Target: no-op re-apply of ${n0(largest.interfaces)} at most 1.5× the bare observation**: ${r2(pairedRatio(largest.samples.noop, largest.samples.observe).median)} (a config not seen before: ${r2(pairedRatio(largest.samples.noopUnseen, largest.samples.observe).median)}) — ${pairedRatio(largest.samples.noop, largest.samples.observe).median <= 1.5 ? "met" : "**not met**"}.
- **No-op re-apply of ${n0(largest.interfaces)} interfaces under 1 s**: ${largest.medians.noop < 1 ? "met" : "not met"} — ${s3(largest.medians.noop)} s (${s3(largest.medians.noopUnseen)} s for a config not seen before).
<!-- noop-host:end -->`;
}

function writeReadme(raw: Raw) {
  const readmePath = join(repo, "bench", "README.md");
  const current = readFileSync(readmePath, "utf8");
  const marked = /<!-- noop-host:begin[\s\S]*?<!-- noop-host:end -->/;
  const text = section(raw);
  // Right after the VLAN section it completes.
  const updated = marked.test(current) ? current.replace(marked, text) : current.replace("<!-- vlans:end -->", `<!-- vlans:end -->\n\n${text}`);
  writeFileSync(readmePath, updated);
  console.log(text);
}

// BENCH_NOOP_REPORT=bench/results/noop-host-DATE.json re-renders the README section only.
const reportOnly = process.env.BENCH_NOOP_REPORT;
const raw = reportOnly ? (JSON.parse(readFileSync(resolve(reportOnly), "utf8")) as Raw) : runAll();
if (!reportOnly) {
  mkdirSync(join(repo, "bench", "results"), { recursive: true });
  writeFileSync(join(repo, "bench", "results", `noop-host-${raw.startedAt.slice(0, 10)}.json`), JSON.stringify(raw, null, 2) + "\n");
}
writeReadme(raw);
