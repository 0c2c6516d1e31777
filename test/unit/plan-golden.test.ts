// plan() golden files, in the style of OpenWrt firewall4's tests: each folder of
// test/unit/golden/plan/ holds a config (config.yaml), the host as observed (observed.json,
// an ObservedState as the reconcilers read it), and the exact operations planned, in order,
// each with what it writes (plan.txt): the line of `ip -batch` ("-6 " when it needs ip -6),
// the change a direct write makes, and for the nft transaction its size and digest (its
// commands are the firewall compiler's goldens, test/unit/golden/firewall/). A folder may add
// running-dhcp.json: what the agent's DHCP supervisor runs. `UPDATE_GOLDEN=1 bun test
// test/unit/plan-golden.test.ts` rewrites plan.txt; review the diff before committing it.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfigText } from "../../src/api/load";
import { desiredState } from "../../src/engine/desired";
import { plan } from "../../src/engine/plan";
import { rendered } from "../../src/engine/apply";
import type { ObservedState } from "../../src/engine/model";
import type { Op, Plan } from "../../src/engine/op";
import type { FirewallChange } from "../../src/engine/firewall/reconciler";

const GOLDEN = join(import.meta.dir, "golden", "plan");
const UPDATE = process.env.UPDATE_GOLDEN === "1";
const SIGN: Record<Op["action"], string> = { add: "+", change: "~", remove: "-", replace: "-/+" };

function text(p: Plan): string {
  const writes = rendered(p.ops);
  const ops = p.ops.map((op, i) => {
    const head = `${op.phase.padEnd(9)} ${SIGN[op.action].padEnd(3)} ${op.subject}${op.detail ? `: ${op.detail}` : ""}  [${op.ref}]`;
    const fw = op.resource === "firewall" ? (op.change as FirewallChange) : null;
    const write = fw ? `nft -j -f: ${fw.commands.length} commands, table digest ${fw.digest.slice(0, 19)}…` : writes[i];
    return `${head}\n    ${write}`;
  });
  const degraded = p.degraded.map((d) => `degraded  ${d.ref}: ${d.subject}: ${d.reason}`);
  return [...(ops.length ? ops : ["(no operations: the host matches the config)"]), ...degraded].join("\n") + "\n";
}

describe("plan() golden files", () => {
  for (const name of readdirSync(GOLDEN).sort()) {
    const dir = join(GOLDEN, name);
    test(name, () => {
      const loaded = loadConfigText(readFileSync(join(dir, "config.yaml"), "utf8"), `${name}/config.yaml`);
      expect(loaded.problems).toEqual([]);
      const observed = JSON.parse(readFileSync(join(dir, "observed.json"), "utf8")) as ObservedState;
      if (existsSync(join(dir, "running-dhcp.json"))) observed.dhcp = JSON.parse(readFileSync(join(dir, "running-dhcp.json"), "utf8"));
      const desired = desiredState(loaded.objects);
      const got = text(plan(desired, observed));
      const file = join(dir, "plan.txt");
      if (UPDATE || !existsSync(file)) writeFileSync(file, got);
      expect(got).toBe(readFileSync(file, "utf8"));
      // The plan is a function of its inputs: the same again, and nothing left once applied is not
      // something a golden can show, but planning twice must agree.
      expect(text(plan(desired, observed))).toBe(got);
    });
  }
});
