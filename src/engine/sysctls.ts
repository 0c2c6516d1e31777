// Kernel settings a router needs (forwarding), as files under /proc/sys: read and written
// directly, no process.
import { writeFileSync } from "node:fs";
import type { Op, OpFailure } from "./op";
import type { Reconciler } from "./reconciler";

export type SysctlChange = { key: string; value: string };

const dotted = (key: string) => key.replace(/\//g, ".");

export async function readSysctls(keys: string[]): Promise<Record<string, string>> {
  const values = await Promise.all(keys.map((k) => Bun.file(`/proc/sys/${k}`).text().then((t) => t.trim(), () => "")));
  return Object.fromEntries(keys.map((k, i) => [k, values[i]!]));
}

export const sysctls: Reconciler<Record<string, string>, Record<string, string>, SysctlChange> = {
  resource: "sysctls",
  desired: (s) => s.sysctls,
  observed: (s) => s.sysctls,
  observe: async (_host, desired) => ({ sysctls: await readSysctls(Object.keys(desired)) }),
  plan(desired, observed) {
    const ops: Op<SysctlChange>[] = [];
    for (const [key, value] of Object.entries(desired))
      if (observed[key] !== value)
        ops.push({ resource: "sysctls", phase: "sysctl", action: "change", ref: "(router)", subject: `sysctl ${dotted(key)}`, detail: `${observed[key] || "unset"} → ${value}`, change: { key, value } });
    return ops;
  },
  write(ops, out) {
    out.call(() =>
      ops.flatMap((op): OpFailure[] => {
        try {
          writeFileSync(`/proc/sys/${op.change.key}`, op.change.value);
          return [];
        } catch (err) {
          return [{ op, error: `cannot set ${dotted(op.change.key)}: ${(err as Error).message}` }];
        }
      }),
    );
  },
};
