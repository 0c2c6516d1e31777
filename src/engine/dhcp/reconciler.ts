// The DHCP client of the uplinks: dhcpcd, run by a supervisor that outlives one apply, which
// only the agent has. Without one (a one-shot `fos1 apply`) DHCP is observed as absent and
// nothing is planned for it; the agent's supervisor takes the specs in the last phase.
import type { DesiredDhcp } from "../model";
import type { Reconciler } from "../reconciler";
import type { DhcpClientSpec } from "./spec";

export type DhcpChange = { specs: DhcpClientSpec[] };

const same = (a: DhcpClientSpec[], b: DhcpClientSpec[]) => JSON.stringify(a) === JSON.stringify(b);
const names = (specs: DhcpClientSpec[]) => specs.map((s) => s.ifname).join(", ");

export const dhcp: Reconciler<DesiredDhcp[], DhcpClientSpec[] | undefined, DhcpChange> = {
  resource: "dhcp",
  desired: (s) => s.dhcp,
  observed: (s) => s.dhcp,
  observe: async (host) => (host.env.dhcp ? { dhcp: host.env.dhcp.running() } : {}),
  plan(all, running) {
    // A NIC matched by MAC that is not present has no name to run dhcpcd on (it is reported degraded with its link).
    const named = (n: string) => !n.startsWith("mac:");
    const desired = all.filter((s) => named(s.ifname)).map((s) => (s.prefixDelegation ? { ...s, prefixDelegation: { ...s.prefixDelegation, assign: s.prefixDelegation.assign.filter((a) => named(a.ifname)) } } : s));
    if (!running || same(desired, running)) return [];
    const action = !running.length ? "add" : !desired.length ? "remove" : "change";
    const detail = desired.length ? `dhcpcd on ${names(desired)}` : "dhcpcd stops";
    return [{ resource: "dhcp", phase: "dhcp", action, ref: desired.length === 1 ? desired[0]!.ref : "(uplinks)", subject: "DHCP client", detail, change: { specs: desired } }];
  },
  write(ops, out, env) {
    out.call(async () => {
      if (!env.dhcp) return ops.map((op) => ({ op, error: "no DHCP supervisor runs in this process (only fos1 agent runs the DHCP client)" }));
      const failed = [];
      for (const op of ops)
        try {
          await env.dhcp.converge(op.change.specs);
        } catch (err) {
          failed.push({ op, error: `DHCP client: ${(err as Error).message}` });
        }
      return failed;
    });
  },
};
