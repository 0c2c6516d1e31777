// One measured run of the translate benchmark in a fresh process (bun hack/bench/translate-child.ts
// VARIANT RULES): builds the config, times the variant, and prints one JSON line with the time,
// the process's peak resident memory (VmHWM: the kernel's high-water mark, so nothing between
// samples is missed) and what was emitted. VARIANT "config" only builds the config: the baseline.
import { readFileSync } from "node:fs";
import { translate } from "../../src/cilium/translate";
import { benchConfig, naiveTranslate, ruleItems } from "./translate-config";

const [variant, rulesArg] = process.argv.slice(2);
const objects = benchConfig(Number(rulesArg));
const start = performance.now();
let emitted: { objects: number; ruleItems: number; bytes: number; maxPolicyMapEntries?: number; refused?: number } | null = null;
if (variant === "fos1") {
  const r = translate(objects);
  emitted = { objects: r.objects.length, ruleItems: ruleItems(r.objects), bytes: JSON.stringify(r.objects).length, maxPolicyMapEntries: Math.max(...Object.values(r.policyMap.entries)), refused: r.refused.length };
} else if (variant === "naive") {
  const o = naiveTranslate(objects);
  emitted = { objects: o.length, ruleItems: ruleItems(o), bytes: JSON.stringify(o).length };
} else if (variant !== "config") throw new Error(`unknown variant ${variant}`);
const ms = performance.now() - start;
const peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]);
console.log(JSON.stringify({ variant, ms, peakMiB: peakKiB / 1024, emitted }));
