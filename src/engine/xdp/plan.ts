// The XDP part of the plan (pure): load missing filters, bring each filter's maps to the
// config (leaving prefixes added by `fos1 xdp block`, and adding them to a filter that lacks
// them), detach fos1's programs no longer wanted, attach where an interface does not run the
// filter's program in an acceptable mode, and remove the pins of filters no longer configured.
//
// Detaches come before attaches because the kernel ties a bond's XDP to its members': a bond
// cannot take a native program while a member runs one, and a member can neither take nor
// drop a program while its bond runs one. A NIC with a program of its own that the config puts
// in a bond running one loses it even earlier, in the remove phase (an iproute2 line in that
// batch): the kernel refuses to enslave it otherwise, and enslaving is the links phase's work.
// An interface the remove phase deletes takes its program with it: nothing to detach.
import { GONE, type Degraded, type Op } from "../op";
import type { DesiredXdp, ObservedAttachment, ObservedXdp, ObservedXdpFilter } from "./model";
import { PROGRAM_NAME } from "./model";
import type { RateLimit } from "../../bpf/layout";

/** An XDP change in the xdp phase: apply.ts makes it through src/bpf. */
export type XdpAction =
  | { do: "load"; filter: string; /** the pinned maps are of another fos1's layout: made afresh */ reload?: true }
  | { do: "block"; filter: string; prefix: string; /** a dynamic block's expiry: not written once past */ until?: string | null }
  | { do: "unblock"; filter: string; prefix: string }
  | { do: "deny-port" | "allow-port"; filter: string; port: string }
  | { do: "rate"; filter: string; rate: RateLimit | null }
  | { do: "attach"; filter: string; ifname: string; mode: "auto" | "native" | "generic"; detachFirst: boolean }
  | { do: "detach"; ifname: string }
  | { do: "unload"; filter: string };

/**
 * An XDP change: an action through libbpf, or (in the remove phase, a line of its `ip -batch`)
 * taking fos1's program off a NIC that is about to join a bond running one.
 */
export type XdpChange = XdpAction | { do: "off-before-joining-bond"; ifname: string; mode: "native" | "generic" };
type XdpOp = Op<XdpChange>;
const sameRate = (a: RateLimit | null, b: RateLimit | null) => JSON.stringify(a) === JSON.stringify(b);
const describeRate = (r: RateLimit | null) => (r ? `${r.pps} pps, burst ${r.burst}, per /${r.v4Prefix} (IPv4) /${r.v6Prefix} (IPv6)` : "off");

export function planXdp(desired: DesiredXdp, observed: ObservedXdp, present: Set<string>, degraded: Degraded[]): XdpOp[] {
  if (observed.error) {
    for (const f of desired.filters) degraded.push({ ref: f.ref, subject: `XDP filter ${f.name}`, reason: `XDP cannot be used on this host: ${observed.error}` });
    return [];
  }
  const ops: XdpOp[] = [];
  const op = (action: Op["action"], ref: string, subject: string, change: XdpAction, detail?: string) =>
    ops.push({ resource: "xdp", phase: "xdp", action, ref, subject, ...(detail ? { detail } : {}), change });
  const have = new Map(observed.filters.map((f) => [f.name, f]));
  const ours = new Set(observed.filters.flatMap((f) => (f.progId === null ? [] : [f.progId])));
  const dynamic = new Set(observed.dynamic.map((d) => d.prefix));
  const attach: XdpOp[] = [];

  for (const f of desired.filters) {
    const o: ObservedXdpFilter = have.get(f.name) ?? { name: f.name, progId: null, blocklist: [], ports: [], rate: null };
    if (o.stale) op("change", f.ref, `XDP filter ${f.name}`, { do: "load", filter: f.name, reload: true }, `load again with fresh maps: the pinned ones are of another fos1 (${o.stale})`);
    else if (o.progId === null) op("add", f.ref, `XDP filter ${f.name}`, { do: "load", filter: f.name }, "load xdp_filter with its maps pinned");
    for (const p of f.blocklist)
      if (!o.blocklist.includes(p)) op("add", f.ref, `XDP block ${p} (${f.name})`, { do: "block", filter: f.name, prefix: p });
    for (const d of observed.dynamic)
      if (!o.blocklist.includes(d.prefix) && !f.blocklist.includes(d.prefix))
        op("add", f.ref, `XDP block ${d.prefix} (${f.name})`, { do: "block", filter: f.name, prefix: d.prefix, until: d.expires }, `fos1 xdp block, ${d.expires ? `until ${d.expires}` : "no expiry"}`);
    for (const p of o.blocklist)
      if (!f.blocklist.includes(p) && !dynamic.has(p)) op("remove", f.ref, `XDP block ${p} (${f.name})`, { do: "unblock", filter: f.name, prefix: p });
    for (const p of f.ports) if (!o.ports.includes(p)) op("add", f.ref, `XDP deny port ${p} (${f.name})`, { do: "deny-port", filter: f.name, port: p });
    for (const p of o.ports) if (!f.ports.includes(p)) op("remove", f.ref, `XDP deny port ${p} (${f.name})`, { do: "allow-port", filter: f.name, port: p });
    if (!sameRate(o.rate, f.rate)) op("change", f.ref, `XDP rate limit (${f.name})`, { do: "rate", filter: f.name, rate: f.rate }, `${describeRate(o.rate)} → ${describeRate(f.rate)}`);

    for (const ifname of f.interfaces) {
      if (ifname.startsWith("mac:")) continue; // settleNames already reported it degraded
      if (!present.has(ifname)) {
        degraded.push({ ref: f.ref, subject: `XDP on ${ifname}`, reason: `interface ${ifname} is not present` });
        continue;
      }
      const now = observed.attached[ifname] ?? [];
      const foreign = now.find((a) => a.progName !== PROGRAM_NAME);
      if (foreign) {
        degraded.push({ ref: f.ref, subject: `XDP on ${ifname}`, reason: `${ifname} runs XDP program ${foreign.progName} (id ${foreign.progId}), which is not fos1's; fos1 does not replace it` });
        continue;
      }
      const cur = now[0];
      const modeOk = !cur || f.mode === "auto" || cur.mode === f.mode;
      if (cur && o.progId !== null && !o.stale && cur.progId === o.progId && modeOk) continue;
      // The kernel swaps programs atomically only within one mode: a mode change detaches first.
      attach.push({
        resource: "xdp",
        phase: "xdp",
        action: cur ? "change" : "add",
        ref: f.ref,
        subject: `XDP on ${ifname}`,
        detail: cur ? (modeOk ? `program id ${cur.progId} → filter ${f.name}` : `${cur.mode} → ${f.mode} mode`) : `filter ${f.name}, mode ${f.mode}`,
        change: { do: "attach", filter: f.name, ifname, mode: f.mode, detachFirst: !modeOk },
      });
    }
  }
  const wanted = new Set(desired.filters.flatMap((f) => f.interfaces));
  const joinsXdpBond = new Set(desired.filters.flatMap((f) => f.bondMembers));
  const isOurs = (a: ObservedAttachment) => a.progName === PROGRAM_NAME && ours.has(a.progId);
  for (const [ifname, list] of Object.entries(observed.attached).sort(([a], [b]) => a.localeCompare(b))) {
    if (wanted.has(ifname) || !present.has(ifname) || !list.some(isOurs)) continue;
    if (joinsXdpBond.has(ifname))
      for (const a of list.filter(isOurs))
        ops.push({ resource: "xdp", phase: "remove", action: "remove", ref: GONE, subject: `XDP on ${ifname}`, detail: "its bond runs XDP: the kernel gives it the bond's program", change: { do: "off-before-joining-bond", ifname, mode: a.mode === "generic" ? "generic" : "native" } });
    else op("remove", GONE, `XDP on ${ifname}`, { do: "detach", ifname });
  }
  ops.push(...attach);

  const desiredNames = new Set(desired.filters.map((f) => f.name));
  for (const f of observed.filters)
    if (!desiredNames.has(f.name)) op("remove", GONE, `XDP filter ${f.name}`, { do: "unload", filter: f.name }, "its program and maps are unpinned");
  return ops;
}
