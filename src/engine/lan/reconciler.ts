// The LAN services (DHCP server, router advertisements, DNS): one dnsmasq run by a supervisor
// that outlives one apply, which only the agent has. Without one (a one-shot `fos1 apply`) they
// are observed as absent and nothing is planned for them; the agent's supervisor takes the new
// services in the last phase, once the links and addresses they serve are there.
import type { Reconciler } from "../reconciler";
import { isEmptyLan, NO_LAN, type DesiredLan } from "./model";

export type LanChange = { serve: DesiredLan };

const describe = (l: DesiredLan) =>
  [l.dhcp.length ? `DHCP on ${l.dhcp.map((d) => d.ifname).join(", ")}` : "", l.ra.length ? `RA on ${l.ra.map((r) => r.ifname).join(", ")}` : "", l.dns ? `DNS for ${l.dns.ifnames.join(", ")}` : ""]
    .filter(Boolean)
    .join("; ");

export const lan: Reconciler<DesiredLan, DesiredLan | undefined, LanChange> = {
  resource: "lan",
  desired: (s) => s.lan ?? NO_LAN,
  observed: (s) => s.lan,
  observe: async (host) => (host.env.lan ? { lan: host.env.lan.running() ?? NO_LAN } : {}),
  plan(desired, serving) {
    // A LAN whose interfaces are named by MAC and absent serves nothing there.
    const named = (n: string) => !n.startsWith("mac:");
    const want: DesiredLan = {
      dhcp: desired.dhcp.filter((d) => named(d.ifname)),
      ra: desired.ra.filter((r) => named(r.ifname)),
      dns: desired.dns && { ...desired.dns, ifnames: desired.dns.ifnames.filter(named) },
    };
    if (!serving || JSON.stringify(want) === JSON.stringify(serving)) return [];
    const action = isEmptyLan(serving) ? "add" : isEmptyLan(want) ? "remove" : "change";
    const refs = [...want.dhcp.map((d) => d.ref), ...want.ra.map((r) => r.ref), ...(want.dns ? [want.dns.ref] : [])];
    return [{ resource: "lan", phase: "lan", action, ref: refs.length === 1 ? refs[0]! : "(LAN services)", subject: "LAN services (dnsmasq)", detail: isEmptyLan(want) ? "dnsmasq stops" : describe(want), change: { serve: want } }];
  },
  write(ops, out, env) {
    out.call(async () => {
      const failed = [];
      for (const op of ops)
        try {
          if (!env.lan) throw new Error("no LAN services supervisor runs in this process (only fos1 agent runs them)");
          await env.lan.converge(op.change.serve);
        } catch (err) {
          failed.push({ op, error: (err as Error).message });
        }
      return failed;
    });
  },
};
