// The order links are built up and torn down in: what a link rides on (its parent) or belongs
// to (its master) exists before it, and goes after it.
import type { DesiredLink, ObservedLink } from "../model";
import { driverOf } from "./kinds";

const parentOf = (l: DesiredLink | ObservedLink) => driverOf(l.kind)?.parent?.(l);

/** Links ordered so that everything a link depends on (its parent, its master) comes first. */
export function topoOrder(links: DesiredLink[]): DesiredLink[] {
  const byName = new Map(links.map((l) => [l.name, l]));
  const out: DesiredLink[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (l: DesiredLink) => {
    if (state.get(l.name)) return;
    state.set(l.name, "visiting");
    for (const dep of [parentOf(l), l.master]) {
      const d = dep ? byName.get(dep) : undefined;
      if (d && !state.get(d.name)) visit(d);
    }
    state.set(l.name, "done");
    out.push(l);
  };
  [...links].sort((a, b) => a.name.localeCompare(b.name)).forEach(visit);
  return out;
}

/** Children before parents: a VLAN before what it rides on, deepest first. */
export function deleteOrder(links: ObservedLink[], gone: Set<string>): string[] {
  const byName = new Map(links.map((l) => [l.name, l]));
  const depth = (name: string): number => {
    const link = byName.get(name);
    const parent = link && parentOf(link);
    return parent && byName.has(parent) ? 1 + depth(parent) : 0;
  };
  return [...gone].sort((a, b) => depth(b) - depth(a) || a.localeCompare(b));
}

/** The link an observed link rides on (a VLAN's parent), if any. */
export const observedParent = (l: ObservedLink) => parentOf(l);
