// The controller's building blocks on their own: the work queue's per-key dedupe and retries,
// and the status conditions' transition times.
import { describe, expect, test } from "bun:test";
import { conditionsFor, sameConditions, type Outcome } from "../../src/cluster/conditions";
import { WorkQueue } from "../../src/cluster/work-queue";
import { eventually, memoryLogger } from "../helpers/cluster";

describe("work queue", () => {
  test("a key added many times while queued is reconciled once; added while reconciling, once more after", async () => {
    const runs: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const q = new WorkQueue(
      async (key) => {
        runs.push(key);
        if (runs.length === 1) await gate;
      },
      { retry: { initialMs: 10, maxMs: 50 }, workers: 2, log: memoryLogger().log },
    );
    q.start();
    q.add("a");
    await eventually("a running", () => runs.length === 1);
    for (let i = 0; i < 10; i++) q.add("a"); // while "a" runs: one more run, not ten, and not in parallel
    q.add("b");
    q.add("b");
    await eventually("b done", () => runs.includes("b"));
    expect(runs.filter((k) => k === "a")).toHaveLength(1);
    release();
    await eventually("a again", () => runs.filter((k) => k === "a").length === 2);
    await q.stop();
    expect(runs.sort()).toEqual(["a", "a", "b"]);
  });

  test("a failing key comes back after a delay until it succeeds, then its failures are forgotten", async () => {
    let attempts = 0;
    const q = new WorkQueue(
      async () => {
        attempts++;
        if (attempts < 4) throw new Error(`attempt ${attempts} failed`);
      },
      { retry: { initialMs: 5, maxMs: 20 }, log: memoryLogger().log },
    );
    q.start();
    q.add("k");
    await eventually("three retries", () => attempts === 4);
    await eventually("failures forgotten", () => q.failuresOf("k") === 0);
    await q.stop();
  });
});

describe("status conditions", () => {
  const ok = { ok: true, reason: "Translated", message: "m" };
  const outcome = (applied: boolean, generation = 1): Outcome => ({
    generation,
    translated: ok,
    applied: applied ? { ok: true, reason: "Applied", message: "in force" } : { ok: false, reason: "ApplyFailed", message: "CiliumClusterwideNetworkPolicy/x: denied" },
  });

  test("Ready follows the first failure; lastTransitionTime moves only with status", () => {
    const t1 = new Date("2026-01-01T00:00:00Z");
    const t2 = new Date("2026-01-01T00:05:00Z");
    const first = conditionsFor(outcome(true), undefined, t1);
    expect(first.map((c) => [c.type, c.status, c.reason])).toEqual([["Translated", "True", "Translated"], ["Applied", "True", "Applied"], ["Ready", "True", "Ready"]]);
    const failed = conditionsFor(outcome(false, 2), first, t2);
    const by = Object.fromEntries(failed.map((c) => [c.type, c]));
    expect(by.Ready).toMatchObject({ status: "False", reason: "ApplyFailed", observedGeneration: 2, lastTransitionTime: "2026-01-01T00:05:00Z" });
    expect(by.Translated).toMatchObject({ status: "True", lastTransitionTime: "2026-01-01T00:00:00Z" });
    expect(sameConditions(first, failed)).toBe(false);
    expect(sameConditions(failed, conditionsFor(outcome(false, 2), failed, new Date()))).toBe(true);
  });
});
