// make bench / bun hack/bench/run.ts translate: fos1's translation of 10 000 FirewallRules over
// 50 zones into Cilium resources, beside a naive one-policy-per-rule translation
// (translate-config.ts), each run in a fresh process (translate-child.ts) so peak memory is the
// variant's own: time, peak resident memory, objects and rule items emitted, rounds interleaved.
// BENCH_TRANSLATE_RULES, BENCH_TRANSLATE_ROUNDS change the size and rounds.
// Writes bench/results/translate-<date>.json and the translate section of bench/README.md.
import { cpus, loadavg } from "node:os";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { median } from "./stats";
import { ZONES } from "./translate-config";

const repo = join(import.meta.dir, "..", "..");
const RULES = Number(process.env.BENCH_TRANSLATE_RULES ?? 10000);
const ROUNDS = Number(process.env.BENCH_TRANSLATE_ROUNDS ?? 5);
const VARIANTS = ["config", "fos1", "naive"] as const;
type Variant = (typeof VARIANTS)[number];

interface Sample {
  variant: Variant;
  ms: number;
  peakMiB: number;
  emitted: { objects: number; ruleItems: number; bytes: number; maxPolicyMapEntries?: number; refused?: number } | null;
}

function run(variant: Variant): Sample {
  const p = Bun.spawnSync([process.execPath, join(import.meta.dir, "translate-child.ts"), variant, String(RULES)], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`translate-child ${variant} failed: ${p.stderr.toString()}`);
  return JSON.parse(p.stdout.toString().trim().split("\n").at(-1)!) as Sample;
}

const startedAt = new Date().toISOString();
const loadAtStart = loadavg()[0]!;
const samples: Sample[] = [];
for (let round = 0; round < ROUNDS; round++) {
  // Every other round in reverse order, so drift on this shared machine hits the variants alike.
  const order = round % 2 ? [...VARIANTS].reverse() : [...VARIANTS];
  for (const v of order) {
    const s = run(v);
    samples.push(s);
    console.log(`round ${round + 1}/${ROUNDS} ${v}: ${s.ms.toFixed(0)} ms, peak ${s.peakMiB.toFixed(1)} MiB`);
  }
}
const commit = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: repo }).stdout.toString().trim();
const dirty = Bun.spawnSync(["git", "diff", "--quiet", "HEAD", "--", "src", "hack/bench"], { cwd: repo }).exitCode !== 0;
const of = (v: Variant) => samples.filter((s) => s.variant === v);
const summary = Object.fromEntries(
  VARIANTS.map((v) => [v, { ms: median(of(v).map((s) => s.ms)), peakMiB: median(of(v).map((s) => s.peakMiB)), emitted: of(v)[0]!.emitted }]),
) as Record<Variant, { ms: number; peakMiB: number; emitted: Sample["emitted"] }>;
const raw = { startedAt, commit: `${commit}${dirty ? "-dirty" : ""}`, cpu: cpus()[0]?.model ?? "unknown", load: { atStart: loadAtStart, atEnd: loadavg()[0]! }, rules: RULES, zones: ZONES, rounds: ROUNDS, summary, samples };

const n0 = (x: number) => Math.round(x).toLocaleString("en-US").replace(/,/g, " ");
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const date = startedAt.slice(0, 10);
const f = summary.fos1, nv = summary.naive, base = summary.config;
const row = (name: string, s: typeof f) =>
  `| ${name} | ${n0(s.emitted!.objects)} | ${n0(s.emitted!.ruleItems)} | ${mb(s.emitted!.bytes)} | ${n0(s.ms)} | ${s.peakMiB.toFixed(0)} | ${(s.peakMiB - base.peakMiB).toFixed(0)} |`;
const section = `<!-- translate:begin (written by hack/bench/translate.ts) -->
## Translate

\`hack/bench/translate.ts\` (${date}, source ${raw.commit}, ${ROUNDS} rounds, variants interleaved; raw samples in
[results/translate-${date}.json](results/translate-${date}.json)), on this machine (${raw.cpu}, 2 shared cores, load
${raw.load.atStart.toFixed(1)} at the start and ${raw.load.atEnd.toFixed(1)} at the end). Input: ${n0(RULES)} FirewallRules over ${ZONES} zones (one the
internet behind a DHCP uplink, ${ZONES - 1} LAN VLANs with a /16 each), drawn with a fixed seed by \`hack/bench/translate-config.ts\`:
1–3 ports per rule (from 12 toward the internet, 40 between LANs), 10% one of 4 port ranges, 8% denies, 10% with
sources and 10% with destinations (host groups of a zone, or internet services), 10% toward the router itself.
Each variant runs in a fresh process: **time** is the translation function alone (median, ms); **peak RSS** is the
process's VmHWM (the kernel's high-water mark, median, MiB), and **above baseline** subtracts a process that only
builds the config (${base.peakMiB.toFixed(0)} MiB). **fos1** is \`translate()\` (src/cilium/translate: ordered rules resolved into allows and
carved denies, merged per zone, counted against the policy map); **naive** writes one CiliumClusterwideNetworkPolicy per
rule with the same peers, nothing merged or carved (so its denies would also override the allows above them — it
is not even correct; it is the size and speed floor of "no thinking").

| variant | objects | rule items | JSON (MB) | time (ms) | peak RSS (MiB) | above baseline |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${row("fos1", f)}
${row("naive one-policy-per-rule", nv)}

- fos1 emits ${(nv.emitted!.objects / f.emitted!.objects).toFixed(0)}× fewer objects and ${(nv.emitted!.ruleItems / f.emitted!.ruleItems).toFixed(1)}× fewer rule items; it takes ${(f.ms / nv.ms).toFixed(1)}× the naive variant's time.
- The fullest endpoint policy needs ${n0(f.emitted!.maxPolicyMapEntries!)} policy-map entries of fos1's budget of 12 288 (3/4 of Cilium's default
  bpf.policyMapMax 16 384; src/cilium/translate/policy-map.ts says why). Policies over budget first get their denies
  narrowed to what their allows admit; ${f.emitted!.refused ? `${f.emitted!.refused} objects were refused` : "nothing was refused"}. The naive variant does no such accounting.
- The generator reuses address groups and ports as real rule sets do: every distinct CIDR is a Cilium identity. A
  first version of it (a fresh /24 and a random 500-port range per rule, 200 ports) needed over 200 000 entries on one
  endpoint, and fos1 refused the config with the numbers instead of emitting policies Cilium could not load.
<!-- translate:end -->`;

mkdirSync(join(repo, "bench", "results"), { recursive: true });
writeFileSync(join(repo, "bench", "results", `translate-${date}.json`), JSON.stringify(raw, null, 2) + "\n");
const readmePath = join(repo, "bench", "README.md");
const current = readFileSync(readmePath, "utf8");
const marked = /<!-- translate:begin[\s\S]*?<!-- translate:end -->/;
writeFileSync(readmePath, marked.test(current) ? current.replace(marked, section) : current.trimEnd() + "\n\n" + section + "\n");
console.log(section);
