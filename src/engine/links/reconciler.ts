// Links: NICs adopted, bonds, VLANs, bridges and VRFs created, adjusted, enslaved, released and
// deleted. What differs between kinds is in kinds/; this is what every link has in common.
import { FOS1_GROUP, type DesiredLink, type ObservedLink } from "../model";
import { GONE, type Op } from "../op";
import type { Reconciler } from "../reconciler";
import { driverOf, LINK_KINDS } from "./kinds";
import type { Adjustment, LinkSetting } from "./kinds/kind";
import { deleteOrder } from "./order";
import type { LinkTopology } from "./topology";

export type LinkChange =
  | { do: "create"; link: DesiredLink }
  | { do: "delete"; name: string }
  | { do: "set"; name: string; set: LinkSetting };

type LinkOp = Op<LinkChange>;

export const links: Reconciler<DesiredLink[], ObservedLink[], LinkChange> = {
  resource: "links",
  desired: (s) => s.links,
  observed: (s) => s.links,
  observe: async (host) => ({ links: await host.links() }),
  plan(_desired, observed, { links: t }) {
    const ops: LinkOp[] = [];
    for (const o of t.released) {
      const now = t.after.get(o.name)!;
      const base = { resource: "links" as const, phase: "remove" as const, action: "change" as const, ref: GONE, subject: `link ${o.name}` };
      if (now.master) ops.push({ ...base, detail: `released from ${now.master}`, change: { do: "set", name: o.name, set: { master: null } } });
      ops.push({ ...base, detail: "no longer managed by fos1", change: { do: "set", name: o.name, set: { alias: "" } } });
    }
    for (const name of deleteOrder(observed, t.gone)) {
      const why = t.replaced.get(name);
      ops.push({ resource: "links", phase: "remove", action: why ? "replace" : "remove", ref: t.usable.get(name)?.ref ?? GONE, subject: `link ${name}`, ...(why ? { detail: why } : {}), change: { do: "delete", name } });
    }

    const settled: LinkOp[] = [];
    for (const l of t.usable.values()) {
      const o = t.after.get(l.name);
      const driver = LINK_KINDS[l.kind];
      if (!o) {
        ops.push({ resource: "links", phase: "links", action: t.replaced.has(l.name) ? "replace" : "add", ref: l.ref, subject: `link ${l.name}`, detail: driver.describe(l), change: { do: "create", link: l } });
        if (l.master) ops.push(...enslave(l, false, t));
      } else ops.push(...adjust(l, o, t));
      for (const a of driver.settle?.(l, o, (n) => t.usable.has(n)) ?? []) settled.push(setOp(l, a, o ? "change" : "add"));
    }
    return [...ops, ...settled];
  },
  write(ops, out) {
    for (const op of ops) out.ip(op, render(op.change));
  },
};

const setOp = (l: DesiredLink, a: Adjustment, action: "add" | "change" = "change"): LinkOp => ({
  resource: "links",
  phase: "links",
  action,
  ref: l.ref,
  subject: `link ${l.name}`,
  detail: a.detail,
  change: { do: "set", name: l.name, set: a.set },
});

/** What the kernel does to members of a master: the master wanted (joining), or the one there now (leaving). */
const masterBehaviour = (master: string | null | undefined, t: LinkTopology, which: "wanted" | "current" = "wanted") => {
  const m = !master ? undefined : which === "wanted" ? (t.usable.get(master) ?? t.after.get(master)) : (t.after.get(master) ?? t.usable.get(master));
  return m ? driverOf(m.kind)?.master : undefined;
};

/** Puts a link under its master, taken down first when the master's kind needs that. */
function enslave(l: DesiredLink, wasUp: boolean, t: LinkTopology): LinkOp[] {
  const ops: LinkOp[] = [];
  if (wasUp && masterBehaviour(l.master, t)?.joinDown) ops.push(setOp(l, { detail: `down to join ${l.master}`, set: { up: false } }));
  ops.push(setOp(l, { detail: `master ${l.master}`, set: { master: l.master! } }));
  if (l.up) ops.push(setOp(l, { detail: "up", set: { up: true } }));
  return ops;
}

function adjust(l: DesiredLink, o: ObservedLink, t: LinkTopology): LinkOp[] {
  // A VLAN's parent named only by device: kept up, nothing else of it is fos1's.
  if (l.implicit) return o.adminUp ? [] : [setOp(l, { detail: "up (parent of a VLAN)", set: { up: true } })];
  const ops: LinkOp[] = [];
  if (l.mtu !== undefined && l.mtu !== o.mtu && !masterBehaviour(l.master, t)?.memberMtu) ops.push(setOp(l, { detail: `mtu ${o.mtu} → ${l.mtu}`, set: { mtu: l.mtu } }));
  for (const a of LINK_KINDS[l.kind].adjust?.(l, o) ?? []) ops.push(setOp(l, a));
  const current = t.after.get(l.name)!;
  if ((l.master ?? null) !== current.master) {
    if (l.master) return [...ops, ...enslave(l, o.adminUp, t)];
    ops.push(setOp(l, { detail: `leaves ${current.master}`, set: { master: null } }));
    if (l.up && masterBehaviour(current.master, t, "current")?.leaveDown) return [...ops, setOp(l, { detail: "up", set: { up: true } })];
  }
  if (l.up !== o.adminUp) ops.push(setOp(l, { detail: l.up ? "up" : "down", set: { up: l.up } }));
  return ops;
}

const q = (s: string) => JSON.stringify(s);

/** The `ip -batch` line of a link change. */
export function render(c: LinkChange): string {
  switch (c.do) {
    case "delete":
      return `link del dev ${c.name}`;
    case "create": {
      const l = c.link;
      const driver = LINK_KINDS[l.kind];
      if (!driver.create) throw new Error(`fos1 cannot create a ${l.kind} link (${l.name})`);
      const parent = driver.parent?.(l);
      const common = `${l.mtu ? ` mtu ${l.mtu}` : ""} group ${FOS1_GROUP}${l.up && !l.master ? " up" : ""}`;
      return `link add${parent ? ` link ${parent}` : ""} name ${l.name}${common} type ${l.kind}${driver.create(l)}`;
    }
    case "set": {
      const s = c.set;
      const what =
        "up" in s ? (s.up ? "up" : "down")
        : "mtu" in s ? `mtu ${s.mtu}`
        : "alias" in s ? `alias ${q(s.alias)}`
        : "master" in s ? (s.master ? `master ${s.master}` : "nomaster")
        : `type ${s.type}${s.params.map(([k, v]) => ` ${k} ${v}`).join("")}`;
      return `link set dev ${c.name} ${what}`;
    }
  }
}
