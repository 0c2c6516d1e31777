// The blocklist index (src/bpf/xdp-index.ts) exists only to make the program fast: whatever
// the list and however it was written -- all at once, or a few prefixes at a time with bits of
// removed ones left behind -- a source must be dropped exactly when a listed prefix contains
// it, and counted on the longest such prefix. Hand-picked cases (xdp-prog.test.ts) cannot
// reach the corners of an index of covers, bits and /32 entries, so here the real program
// (BPF_PROG_TEST_RUN on dist/bpf/xdp_filter.o) is compared, source by source, with a plain
// containment check over the list (test/helpers/prefix-reference.ts) on random lists of every
// length that nest and touch, at the edges of every prefix and at random
// (test/helpers/xdp-differential.ts runs the steps). Packets never leave the kernel's test
// run, so any address may be a source. The fixed seeds always run, plus one drawn per run and
// printed; FOS1_XDP_DIFF_SEED=N runs only N. hack/bench/xdp-differential.ts is the same with
// 100 000 prefixes per family.
import { afterEach, describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { XdpFilter } from "../../src/bpf/xdp-filter";
import { removePinRoot, testPinRoot } from "../helpers/bpffs";
import { everyLength, runDifferential, type RunOptions, type Step } from "../helpers/xdp-differential";

const OBJECT = join(resolve(import.meta.dir, "../.."), "dist/bpf/xdp_filter.o");
const RUN: Omit<RunOptions, "seed"> = { count: 1500, randomWhole: 3000, randomBatch: 250, aroundBatch: 40, cycles: 4 };

const drawn = Math.floor(Math.random() * 2 ** 31);
const SEEDS = process.env.FOS1_XDP_DIFF_SEED ? [Number(process.env.FOS1_XDP_DIFF_SEED)] : [20261208, 7, 424242, drawn];
console.log(`xdp-differential: seeds ${SEEDS.join(", ")} (repeat one with FOS1_XDP_DIFF_SEED=N)`);

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

/** A step as the test shows it on failure: where, and only what went wrong. */
const wrong = (s: Step) => ({
  step: s.step,
  problems: s.problems,
  verdicts: s.comparison.verdictMismatches,
  reasons: s.comparison.reasonMismatches,
  hits: s.comparison.hitMismatches,
  onlyInFilter: s.comparison.onlyInFilter,
  onlyInReference: s.comparison.onlyInReference,
  driftAfterWholeWrite: ([4, 6] as const).filter((f) => s.driftShouldBeZero[f] && s.drift[f]).map((f) => `IPv${f}: ${s.drift[f]}`),
});
const right = (s: Step) => ({ step: s.step, problems: [], verdicts: [], reasons: [], hits: [], onlyInFilter: [], onlyInReference: [], driftAfterWholeWrite: [] });

describe("the program's verdicts and hit counts equal plain containment over the list", () => {
  for (const seed of SEEDS) {
    test(`seed ${seed}: ${RUN.count} prefixes per family written whole, then small batches, each step compared`, () => {
      const pinRoot = testPinRoot(`diff-${seed}`);
      const filter = XdpFilter.load({ object: OBJECT, pinRoot, sizes: { v4: 2 * RUN.count, v6: 2 * RUN.count, rate: 1 } });
      cleanup = () => {
        filter.close();
        removePinRoot(pinRoot);
      };
      const run = runDifferential(filter, { ...RUN, seed }, (s) => {
        expect(wrong(s)).toEqual(right(s));
        if (s.step === "whole list") expect(s.comparison.probes).toBeGreaterThanOrEqual(10_000);
      });
      // Neither answer is trivial: the list drops some sources from anywhere, and passes most.
      expect(run.anywhere.drops).toBeGreaterThan(0);
      expect(run.anywhere.drops).toBeLessThan(run.anywhere.probes / 2);
      // The batches did what they are for: left bits behind, and listed every length at some point.
      expect(run.drift).toBeGreaterThan(0);
      expect(everyLength().filter((l) => !run.lengthsListed.has(l))).toEqual([]);
      console.log(`xdp-differential: seed ${seed}: ${run.probes} sources compared, ${run.listedAtEnd} prefixes listed at the end`);
    }, 60_000);
  }
});
