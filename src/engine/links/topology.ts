// Which links a plan can act on and what the host looks like once the remove phase has run.
// Computed once per plan (plan.ts) and read by every reconciler: addresses go only on usable
// links, routes through a deleted link go with it, XDP attaches where a link will be.
import { isOwned, type DesiredLink, type ObservedLink } from "../model";
import type { Degraded } from "../op";
import { driverOf, isCreatedKind } from "./kinds";
import { observedParent, topoOrder } from "./order";

export interface LinkTopology {
  /** Desired links that can be acted on, in dependency order. */
  usable: Map<string, DesiredLink>;
  /** Owned links the remove phase deletes to create them again, and why. */
  replaced: Map<string, string>;
  /** Owned links the remove phase deletes for good. */
  removed: Set<string>;
  /** replaced and removed together. */
  gone: Set<string>;
  /** The host's links as they will be once the remove phase has run. */
  after: Map<string, ObservedLink>;
  /** NICs fos1 adopted that the config no longer names: released in the remove phase. */
  released: ObservedLink[];
  /** Links there once the links phase has run. */
  present: Set<string>;
}

export function linkTopology(desired: DesiredLink[], observed: ObservedLink[], degraded: Degraded[]): LinkTopology {
  const obs = new Map(observed.map((l) => [l.name, l]));
  const desiredNames = new Set(desired.map((l) => l.name));

  const usable = new Map<string, DesiredLink>();
  for (const l of topoOrder(desired)) {
    const o = obs.get(l.name);
    const parent = driverOf(l.kind)?.parent?.(l);
    if (!isCreatedKind(l.kind) && !o) {
      degraded.push({ ref: l.ref, subject: `link ${l.name}`, reason: `NIC ${l.name} is not present on this host` });
      continue;
    }
    if (parent && !usable.has(parent)) {
      degraded.push({ ref: l.ref, subject: `link ${l.name}`, reason: `its parent ${parent} is not available` });
      continue;
    }
    if (o && !isOwned(o) && isCreatedKind(l.kind)) {
      degraded.push({ ref: l.ref, subject: `link ${l.name}`, reason: `a ${o.kind} named ${l.name} exists and is not fos1's; fos1 does not touch it` });
      continue;
    }
    usable.set(l.name, l);
  }

  // Owned links to delete: unwanted ones fos1 created, and those whose fixed attributes changed.
  const replaced = new Map<string, string>();
  const removed = new Set<string>();
  for (const o of observed) {
    if (!isOwned(o)) continue;
    const want = usable.get(o.name);
    if (!want) {
      if (isCreatedKind(o.kind) && !desiredNames.has(o.name)) removed.add(o.name);
      continue;
    }
    const why = replaceReason(want, o);
    if (why) replaced.set(o.name, why);
  }
  // The kernel deletes a link with the one it rides on: count it gone too, and re-create it if wanted.
  for (let grew = true; grew; ) {
    grew = false;
    for (const o of observed) {
      const parent = observedParent(o);
      if (parent && (replaced.has(parent) || removed.has(parent)) && !replaced.has(o.name) && !removed.has(o.name)) {
        if (usable.has(o.name)) replaced.set(o.name, `its parent ${parent} is re-created`);
        else removed.add(o.name);
        grew = true;
      }
    }
  }
  const gone = new Set([...removed, ...replaced.keys()]);

  const after = new Map<string, ObservedLink>();
  for (const o of observed) {
    if (gone.has(o.name)) continue;
    const masterGone = o.master !== null && gone.has(o.master);
    const takenDown = masterGone && driverOf(obs.get(o.master!)!.kind)?.master?.leaveDown === true;
    after.set(o.name, { ...o, master: masterGone ? null : o.master, adminUp: takenDown ? false : o.adminUp });
  }
  const released = observed.filter((o) => isOwned(o) && !isCreatedKind(o.kind) && !desiredNames.has(o.name));
  return { usable, replaced, removed, gone, after, released, present: new Set([...after.keys(), ...usable.keys()]) };
}

function replaceReason(want: DesiredLink, have: ObservedLink): string | undefined {
  if (!isCreatedKind(want.kind)) return undefined;
  if (have.kind !== want.kind) return `it is a ${have.kind}, a ${want.kind} is wanted`;
  return driverOf(want.kind)!.replaceReason?.(want, have);
}
