// The other side of a Cilium rule: pods chosen by label selectors, addresses (CIDR blocks),
// reserved entities, or everything. Set algebra over the parts, so deny rules can be carved.
import { cidrKey, cidrsMeet, intersect, subtract, union, type CidrSet } from "./cidr-set";

export interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values?: string[] }[];
}

/** Cilium's reserved identities fos1 names. */
export type Entity = "all" | "host" | "remote-node" | "health" | "kube-apiserver" | "world";

export interface Peer {
  /** Every identity (toEntities: all). */
  all: boolean;
  selectors: Selector[];
  cidrs: CidrSet;
  entities: Entity[];
}

export const NOBODY: Peer = { all: false, selectors: [], cidrs: [], entities: [] };
export const EVERYONE: Peer = { ...NOBODY, all: true };

export const selectorKey = (s: Selector): string => JSON.stringify(s);
export const peerKey = (p: Peer): string => (p.all ? "*" : `${p.selectors.map(selectorKey).sort().join("|")}#${cidrKey(p.cidrs)}#${[...p.entities].sort().join(",")}`);

export const isNobody = (p: Peer): boolean => !p.all && !p.selectors.length && !p.cidrs.length && !p.entities.length;

const sameSelectors = (a: Selector[], b: Selector[]) => {
  const keys = new Set(b.map(selectorKey));
  return a.filter((s) => keys.has(selectorKey(s)));
};

/** Whether a and b share any identity, without building the intersection. */
export function peersMeet(a: Peer, b: Peer): boolean {
  if (a.all) return !isNobody(b);
  if (b.all) return !isNobody(a);
  const keys = new Set(b.selectors.map(selectorKey));
  return a.selectors.some((s) => keys.has(selectorKey(s))) || a.entities.some((e) => b.entities.includes(e)) || cidrsMeet(a.cidrs, b.cidrs);
}

export function intersectPeer(a: Peer, b: Peer): Peer {
  if (a.all) return b;
  if (b.all) return a;
  return { all: false, selectors: sameSelectors(a.selectors, b.selectors), cidrs: intersect(a.cidrs, b.cidrs), entities: a.entities.filter((e) => b.entities.includes(e)) };
}

/**
 * a − b. Selectors are compared whole: within one pair of zones every peer has the same zone
 * selector or none, so that is exact there. Nothing is ever carved out of "everything".
 */
export function subtractPeer(a: Peer, b: Peer): Peer {
  if (b.all) return NOBODY;
  if (a.all) throw new Error("internal: cannot carve a peer out of every identity");
  const drop = new Set(b.selectors.map(selectorKey));
  return { all: false, selectors: a.selectors.filter((s) => !drop.has(selectorKey(s))), cidrs: subtract(a.cidrs, b.cidrs), entities: a.entities.filter((e) => !b.entities.includes(e)) };
}

export function unionPeer(a: Peer, b: Peer): Peer {
  if (a.all || b.all) return EVERYONE;
  const keys = new Set(a.selectors.map(selectorKey));
  return {
    all: false,
    selectors: [...a.selectors, ...b.selectors.filter((s) => !keys.has(selectorKey(s)))],
    cidrs: union(a.cidrs, b.cidrs),
    entities: [...new Set([...a.entities, ...b.entities])].sort(),
  };
}

export const cidrPeer = (cidrs: CidrSet): Peer => ({ ...NOBODY, cidrs });
