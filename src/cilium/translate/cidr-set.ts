// Sets of addresses as Cilium's CIDR rules write them: blocks `{cidr, except: [...]}`. Exact
// set algebra on them (intersection, difference), because prefixes either nest or are
// disjoint: what an earlier allow takes out of a later deny becomes an `except` entry.
import { formatPrefix, network, overlaps, parsePrefix, type Prefix } from "../../api/ip";

export interface Block {
  /** A network (no host bits). */
  net: Prefix;
  /** Networks strictly inside `net`, none inside another. */
  except: Prefix[];
}

/** Disjoint blocks. */
export type CidrSet = Block[];

export const within = (inner: Prefix, outer: Prefix): boolean => inner.len >= outer.len && overlaps(inner, outer);

const order = (a: Prefix, b: Prefix) => a.family - b.family || (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.len - b.len);

/** The prefixes none of which lies inside another, sorted. */
function outermost(ps: Prefix[]): Prefix[] {
  const sorted = [...ps].sort((a, b) => a.len - b.len);
  const out: Prefix[] = [];
  for (const p of sorted) if (!out.some((o) => within(p, o))) out.push(p);
  return out.sort(order);
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
