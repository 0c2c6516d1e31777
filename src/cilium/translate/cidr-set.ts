// Sets of addresses as Cilium's CIDR rules write them: blocks `{cidr, except: [...]}`. Exact
// set algebra on them (intersection, difference), because prefixes either nest or are
// disjoint: what an earlier allow takes out of a later deny becomes an `except` entry.
import { bits, formatPrefix, network, parsePrefix, type Prefix } from "../../api/ip";

export interface Block {
  /** A network (no host bits). */
  net: Prefix;
  /** Networks strictly inside `net`, none inside another. */
  except: Prefix[];
}

/** Disjoint blocks. */
export type CidrSet = Block[];

/** inner lies in outer (a shift, not a mask: this runs millions of times on large configs). */
export function within(inner: Prefix, outer: Prefix): boolean {
  if (inner.family !== outer.family || inner.len < outer.len) return false;
  const host = BigInt(bits(outer.family) - outer.len);
  return inner.addr >> host === outer.addr >> host;
}

const overlaps = (a: Prefix, b: Prefix): boolean => within(a, b) || within(b, a);

const order = (a: Prefix, b: Prefix) => a.family - b.family || (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.len - b.len);

/**
 * The prefixes none of which lies inside another, sorted. Sorted by address (shorter first),
 * a prefix inside an earlier kept one is inside the last kept one: prefixes nest or are disjoint.
 */
function outermost(ps: Prefix[]): Prefix[] {
  const out: Prefix[] = [];
  for (const p of [...ps].sort(order)) {
    const last = out[out.length - 1];
    if (!last || !within(p, last)) out.push(p);
  }
  return out;
}

function block(net: Prefix, except: Prefix[]): Block | null {
  const inside = except.filter((e) => overlaps(e, net));
  if (inside.some((e) => within(net, e))) return null; // an except covers the whole block
  return { net, except: outermost(inside) };
}

export function cidrSet(cidrs: (string | Prefix)[]): CidrSet {
  const nets = cidrs.map((c) => network(typeof c === "string" ? parsePrefix(c)! : c));
  return outermost(nets).map((net) => ({ net, except: [] }));
}

export function intersect(a: CidrSet, b: CidrSet): CidrSet {
  const out: Block[] = [];
  for (const x of a)
    for (const y of b) {
      if (!overlaps(x.net, y.net)) continue;
      const b2 = block(within(x.net, y.net) ? x.net : y.net, [...x.except, ...y.except]);
      if (b2) out.push(b2);
    }
  return out.sort((p, q) => order(p.net, q.net));
}

function minus(x: Block, y: Block): Block[] {
  if (!overlaps(x.net, y.net)) return [x];
  const out: (Block | null)[] = [];
  if (within(x.net, y.net)) {
    // x lies inside y: what is left of x is what y excepts.
    for (const e of y.except) if (overlaps(e, x.net)) out.push(block(within(x.net, e) ? x.net : e, x.except));
  } else {
    out.push(block(x.net, [...x.except, y.net]));
    for (const e of y.except) if (within(e, x.net)) out.push(block(e, x.except));
  }
  return out.filter((b): b is Block => b !== null);
}

/** Whether a ∩ b is not empty, without building it. */
export function cidrsMeet(a: CidrSet, b: CidrSet): boolean {
  for (const x of a)
    for (const y of b) {
      if (!overlaps(x.net, y.net)) continue;
      const inner = within(x.net, y.net) ? x.net : y.net;
      if (!x.except.some((e) => within(inner, e)) && !y.except.some((e) => within(inner, e))) return true;
    }
  return false;
}

export function subtract(a: CidrSet, b: CidrSet): CidrSet {
  let out = a;
  for (const y of b) out = out.flatMap((x) => minus(x, y));
  return out.sort((p, q) => order(p.net, q.net));
}

export function union(a: CidrSet, b: CidrSet): CidrSet {
  return [...a, ...subtract(b, a)].sort((p, q) => order(p.net, q.net));
}

/** Cilium's CIDRRule. */
export function cidrRule(b: Block): { cidr: string; except?: string[] } {
  return b.except.length ? { cidr: formatPrefix(b.net), except: b.except.map(formatPrefix) } : { cidr: formatPrefix(b.net) };
}

export const cidrKey = (s: CidrSet): string => s.map((b) => [formatPrefix(b.net), ...b.except.map(formatPrefix)].join("!")).join(",");
