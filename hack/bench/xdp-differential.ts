// XDP differential run (run by hack/bench/run.ts): the comparison of
// test/netns/xdp-differential.test.ts -- fos1's program (dist/bpf/xdp_filter.o, through
// BPF_PROG_TEST_RUN) against plain containment over the list, verdict, reason and hit count
// of every source -- at a size a test cannot afford: a random list of BENCH_XDPDIFF_PREFIXES
// prefixes per family (default 100 000) written whole, every prefix's edges and
// BENCH_XDPDIFF_RANDOM random sources per family (default 100 000: over 1 000 000 sources in
// all), then BENCH_XDPDIFF_CYCLES times the small batches of the test (default 4), each
// compared around what it touched, then every edge again. The same generator, reference and
// steps as the test (test/helpers/prefix-reference.ts, test/helpers/xdp-differential.ts);
// only the sizes differ. Not a timing benchmark: what it reports is the mismatches (0 expected,
// else the exit status is 1), with each step's time beside them. BENCH_XDPDIFF_SEED repeats a
// run (default 20261208). Writes bench/results/xdp-differential-<date>.json. Root.
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg, release } from "node:os";
import { join, resolve } from "node:path";
import { XdpFilter } from "../../src/bpf/xdp-filter";
import { removePinRoot, testPinRoot } from "../../test/helpers/bpffs";
import { everyLength, runDifferential, type RunOptions, type Step } from "../../test/helpers/xdp-differential";

const repo = resolve(import.meta.dir, "../..");
const intEnv = (name: string, def: number, min: number) => {
  const v = Number(process.env[name] ?? def);
  if (!(Number.isInteger(v) && v >= min)) throw new Error(`${name}: an integer ≥ ${min}, got ${process.env[name]}`);
  return v;
};

const options: RunOptions = {
  seed: intEnv("BENCH_XDPDIFF_SEED", 20261208, 0),
  count: intEnv("BENCH_XDPDIFF_PREFIXES", 100_000, 100),
  randomWhole: intEnv("BENCH_XDPDIFF_RANDOM", 100_000, 0),
  randomBatch: 2_000,
  aroundBatch: 500,
  cycles: intEnv("BENCH_XDPDIFF_CYCLES", 4, 1),
};

/** A step's record: its numbers, and the first mismatches of each kind when there are any. */
const record = (s: Step) => ({
  step: s.step,
  added: s.added,
  removed: s.removed,
  probes: s.comparison.probes,
  drops: s.comparison.drops,
  verdictMismatches: s.comparison.verdictMismatchCount,
  reasonMismatches: s.comparison.reasonMismatches.length,
  hitMismatches: s.comparison.hitMismatchCount,
  listMismatches: s.comparison.onlyInFilter.length + s.comparison.onlyInReference.length,
  problems: s.problems,
  drift: s.drift,
  driftAfterWholeWrite: ([4, 6] as const).filter((f) => s.driftShouldBeZero[f] && s.drift[f]).length,
  seconds: Number(s.seconds.toFixed(3)),
  ...(mismatches(s) ? { examples: { verdicts: s.comparison.verdictMismatches, reasons: s.comparison.reasonMismatches, hits: s.comparison.hitMismatches, onlyInFilter: s.comparison.onlyInFilter, onlyInReference: s.comparison.onlyInReference } } : {}),
});

/** Everything that went wrong in a step, counted. */
const mismatches = (s: Step) =>
  s.comparison.verdictMismatchCount +
  s.comparison.reasonMismatches.length +
  s.comparison.hitMismatchCount +
  s.comparison.onlyInFilter.length +
  s.comparison.onlyInReference.length +
  s.problems.length +
  ([4, 6] as const).filter((f) => s.driftShouldBeZero[f] && s.drift[f]).length;

function gitCommit(): string {
  const git = (...args: string[]) => Bun.spawnSync(["git", ...args], { cwd: repo });
  const dirty = git("diff", "--quiet", "HEAD").exitCode === 0 ? "" : "-dirty";
  return (git("rev-parse", "--short=12", "HEAD").stdout.toString().trim() || "unknown") + dirty;
}

const started = new Date();
const load1AtStart = loadavg()[0]!;
const pinRoot = testPinRoot("bench-diff");
const filter = XdpFilter.load({ object: join(repo, "dist/bpf/xdp_filter.o"), pinRoot, sizes: { v4: 2 * options.count, v6: 2 * options.count, rate: 1 } });
const steps: ReturnType<typeof record>[] = [];
let wrong = 0;
console.log(`xdp-differential: ${options.count} prefixes per family, seed ${options.seed}`);
const summary = (() => {
  try {
    return runDifferential(filter, options, (s) => {
      steps.push(record(s));
      wrong += mismatches(s);
      console.log(`  ${s.step}: ${s.comparison.probes} sources, ${s.comparison.drops} dropped, ${mismatches(s)} mismatches, ${s.seconds.toFixed(1)} s`);
      if (mismatches(s)) console.log(JSON.stringify(steps.at(-1)!.examples, null, 2));
    });
  } finally {
    filter.close();
    removePinRoot(pinRoot);
  }
})();

const lengthsNeverListed = everyLength().filter((l) => !summary.lengthsListed.has(l));
const date = started.toISOString().slice(0, 10);
const raw = {
  benchmark: "xdp-differential",
  date,
  commit: gitCommit(),
  host: { kernel: release(), cpus: navigator.hardwareConcurrency, load1AtStart, load1AtEnd: loadavg()[0]! },
  options,
  totals: {
    probes: summary.probes,
    mismatches: wrong,
    seconds: Number(((Date.now() - started.getTime()) / 1000).toFixed(1)),
    anywhere: summary.anywhere,
    driftLeftByBatches: summary.drift,
    lengthsNeverListed,
    listedAtEnd: summary.listedAtEnd,
  },
  steps,
};
const resultsDir = join(repo, "bench", "results");
mkdirSync(resultsDir, { recursive: true });
const out = join(resultsDir, `xdp-differential-${date}.json`);
writeFileSync(out, JSON.stringify(raw, null, 2) + "\n");
console.log(
  `xdp-differential: ${summary.probes} sources compared in ${raw.totals.seconds} s, ${wrong} mismatches (0 expected)` +
    (lengthsNeverListed.length ? `; lengths never listed: ${lengthsNeverListed.join(" ")}` : "") +
    `; ${out}`,
);
if (wrong) process.exitCode = 1;
