// The firewall table fos1 loaded is kept with the key of the desired state it was compiled from
// (compiledFrom, observe.ts): a no-op plan of the same desired state by the same build trusts it
// without compiling, and anything else -- another desired state, another build, a table only
// listed -- is compiled and compared as before. The netns test in firewall.test.ts shows what
// nftables' generation does to the kept record on a real kernel.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { loadConfigText } from "../../src/api/load";
import { desiredState } from "../../src/engine/desired";
import { compileFirewall } from "../../src/engine/firewall/compile";
import type { ObservedFirewall } from "../../src/engine/firewall/observe";
import { compiledKey, firewall } from "../../src/engine/firewall/reconciler";
import type { DesiredFirewall } from "../../src/policy/model";

const file = resolve(import.meta.dir, "golden/firewall/nat-dnat.yaml");
const text = readFileSync(file, "utf8");
const desiredOf = (t: string): DesiredFirewall => desiredState(loadConfigText(t, file).objects).firewall;
const ctx = { links: null as never, degraded: [] };

function withSource<T>(source: string | undefined, run: () => T): T {
  const before = process.env.FOS1_SOURCE_DIGEST;
  if (source === undefined) delete process.env.FOS1_SOURCE_DIGEST;
  else process.env.FOS1_SOURCE_DIGEST = source;
  try {
    return run();
  } finally {
    if (before === undefined) delete process.env.FOS1_SOURCE_DIGEST;
    else process.env.FOS1_SOURCE_DIGEST = before;
  }
}

describe("the compiled table's key", () => {
  test("the same desired state and build give the same key; another desired state or build another; from source none", () => {
    const a = desiredOf(text), again = desiredOf(text);
    const other = desiredOf(text.replace(/8080/g, "8081"));
    expect(compiledKey(a, "build-1")).toBe(compiledKey(again, "build-1")!);
    expect(compiledKey(a, "build-1")).not.toBe(compiledKey(other, "build-1")!);
    expect(compiledKey(a, "build-1")).not.toBe(compiledKey(a, "build-2")!);
    expect(compiledKey(a, undefined)).toBeNull();
  });

  test("a plan trusts a kept table of its own key, and compiles and compares for anything else", () =>
    withSource("build-1", () => {
      const desired = desiredOf(text);
      const fw = compileFirewall(desired);
      const key = compiledKey(desired)!;
      // Kept by fos1's own load of this very desired state: nothing to do, whatever the compile would say.
      expect(firewall.plan(desired, { digest: fw.digest, shape: fw.shape, compiledFrom: key }, ctx)).toEqual([]);
      // A listed table (no key) that matches: nothing to do either, found by compiling.
      expect(firewall.plan(desired, { digest: fw.digest, shape: fw.shape }, ctx)).toEqual([]);
      // Kept from another desired state (the config changed since): compiled, and the table replaced.
      const stale: ObservedFirewall = { digest: "sha256:0", shape: { x: 1 }, compiledFrom: compiledKey(desiredOf(text.replace(/8080/g, "8081")))! };
      const ops = firewall.plan(desired, stale, ctx);
      expect(ops.map((o) => [o.action, o.change.digest, o.change.compiledFrom])).toEqual([["change", fw.digest, key]]);
      // Run from source: the key is never trusted.
      expect(withSource(undefined, () => firewall.plan(desired, { digest: "sha256:0", shape: {}, compiledFrom: key }, ctx).length)).toBe(1);
    }));
});
