// The XDP part of the plan (pure): load missing filters (again, with fresh maps, when their
// sizes change), repair an index that misses listed prefixes, bring each filter's maps to the
// config (leaving prefixes added by `fos1 xdp block`, and adding them to a filter that lacks
// them, as many as its capacity leaves room for), detach fos1's programs no longer wanted,
// attach where an interface does not run the filter's program in an acceptable mode, and
// remove the pins of filters no longer configured.
//
// Detaches come before attaches because the kernel ties a bond's XDP to its members': a bond
// cannot take a native program while a member runs one, and a member can neither take nor
// drop a program while its bond runs one. A NIC with a program of its own that the config puts
// in a bond running one loses it even earlier, in the remove phase (an iproute2 line in that
// batch): the kernel refuses to enslave it otherwise, and enslaving is the links phase's work.
// An interface the remove phase deletes takes its program with it: nothing to detach.
import { GONE, type Degraded, type Op } from "../op";
import type { DesiredXdp, ObservedAttachment, ObservedXdp, ObservedXdpFilter } from "./model";
import { PROGRAM_NAME, yieldOrder } from "./model";
import type { MapSizes, RateLimit } from "../../bpf/layout";
import { parsePrefix } from "../../api/ip";

/** An XDP change in the xdp phase: apply.ts makes it through src/bpf. */
export type XdpAction =
  | { do: "load"; filter: string; sizes: MapSizes; /** the pinned maps are of another layout or size: made afresh */ reload?: true }
  | { do: "reindex"; filter: string }
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
const sameSizes = (a: MapSizes, b: MapSizes) => a.v4 === b.v4 && a.v6 === b.v6 && a.rate === b.rate && a.pagesV4 === b.pagesV4 && a.pagesV6 === b.pagesV6 && a.seenV6 === b.seenV6;
const n0 = (n: number) => n.toLocaleString("en");
const describeSizes = (s: MapSizes) => `capacity ${n0(s.v4)} IPv4, ${n0(s.v6)} IPv6; ${s.rate > 1 ? `${n0(s.rate)} rate-limited sources` : "no rate-limit buckets"}`;

type Dynamic = ObservedXdp["dynamic"][number];

/**
 * The dynamic blocks a filter has room for beside its config's blocklist, per family: when
 * they do not all fit, the IDS's yield before the operator's, and the oldest first. The static
 * list itself always fits (validation holds it to the capacity).
 */
function dynamicThatFits(dynamic: Dynamic[], blocklist: string[], sizes: MapSizes): { fits: Dynamic[]; left: Dynamic[] } {
  const familyOf = (p: string) => parsePrefix(p)!.family;
  const fits: Dynamic[] = [];
  const left: Dynamic[] = [];
  for (const family of [4, 6] as const) {
    const room = (family === 4 ? sizes.v4 : sizes.v6) - blocklist.filter((p) => familyOf(p) === family).length;
    // Best kept first: the reverse of the order in which they yield.
    const ranked = dynamic.filter((d) => familyOf(d.prefix) === family).sort((a, b) => yieldOrder(b, a));
    fits.push(...ranked.slice(0, Math.max(0, room)));
    left.push(...ranked.slice(Math.max(0, room)));
  }
  return { fits, left };
}

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
    const resized = !o.stale && o.sizes !== undefined && !sameSizes(o.sizes, f.sizes);
    // Fresh maps: what the pinned ones hold is not carried over, the ops below fill them.
    const fresh = Boolean(o.stale) || resized;
    const load = { do: "load", filter: f.name, sizes: f.sizes } as const;
    if (o.stale) op("change", f.ref, `XDP filter ${f.name}`, { ...load, reload: true }, `load again with fresh maps: the pinned ones are of another fos1 (${o.stale})`);
    else if (resized) op("change", f.ref, `XDP filter ${f.name}`, { ...load, reload: true }, `load again with fresh maps: ${describeSizes(o.sizes!)} → ${describeSizes(f.sizes)}`);
    else if (o.progId === null) op("add", f.ref, `XDP filter ${f.name}`, load, "load xdp_filter with its maps pinned");
    if (!fresh && o.unindexed) op("change", f.ref, `XDP index (${f.name})`, { do: "reindex", filter: f.name }, `compute it again from the lists: ${o.unindexed}`);
    const listed = fresh ? [] : o.blocklist;
    const listedSet = new Set(listed);
    const staticSet = new Set(f.blocklist);
    const ports = fresh ? [] : o.ports;
    const rate = fresh ? null : o.rate;
    const dyn = dynamicThatFits(
      observed.dynamic.filter((d) => !staticSet.has(d.prefix)),
      f.blocklist,
      f.sizes,
    );
    const dynamicHere = new Set(dyn.fits.map((d) => d.prefix));
    if (dyn.left.length)
      degraded.push({ ref: f.ref, subject: `XDP filter ${f.name}`, reason: `${dyn.left.length} dynamic block${dyn.left.length === 1 ? "" : "s"} beyond its capacity left out (the IDS's first, the oldest first): ${dyn.left.slice(0, 3).map((d) => d.prefix).join(", ")}${dyn.left.length > 3 ? ", …" : ""}` });
    // Removals first: they make room in a full list.
    for (const p of listed)
      if (!staticSet.has(p) && !dynamicHere.has(p)) op("remove", f.ref, `XDP block ${p} (${f.name})`, { do: "unblock", filter: f.name, prefix: p }, dynamic.has(p) ? "a dynamic block beyond the filter's capacity" : undefined);
    for (const p of f.blocklist)
      if (!listedSet.has(p)) op("add", f.ref, `XDP block ${p} (${f.name})`, { do: "block", filter: f.name, prefix: p });
    for (const d of dyn.fits)
      if (!listedSet.has(d.prefix))
        op("add", f.ref, `XDP block ${d.prefix} (${f.name})`, { do: "block", filter: f.name, prefix: d.prefix, until: d.expires }, `fos1 xdp block, ${d.expires ? `until ${d.expires}` : "no expiry"}`);
    for (const p of f.ports) if (!ports.includes(p)) op("add", f.ref, `XDP deny port ${p} (${f.name})`, { do: "deny-port", filter: f.name, port: p });
    for (const p of ports) if (!f.ports.includes(p)) op("remove", f.ref, `XDP deny port ${p} (${f.name})`, { do: "allow-port", filter: f.name, port: p });
    if (!sameRate(rate, f.rate)) op("change", f.ref, `XDP rate limit (${f.name})`, { do: "rate", filter: f.name, rate: f.rate }, `${describeRate(rate)} → ${describeRate(f.rate)}`);

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
      if (cur && o.progId !== null && !fresh && cur.progId === o.progId && modeOk) continue;
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
