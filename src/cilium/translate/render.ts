// Subjects → CiliumClusterwideNetworkPolicy objects: boxes sharing a peer become one rule
// (their ports merged), then rules sharing the ports become one rule (their peers merged), so a
// zone is one object however many rules name it; its policy-map entries are counted against the
// budget (policy-map.ts); an object too large for the API server is split in parts.
import { cidrRule } from "./cidr-set";
import type { Box, L7 } from "./pair";
import { peerKey, unionPeer, type Peer } from "./peer";
import { renderService, serviceKey, unionService, type PortProtocol } from "./service";
import type { Direction, Subject } from "./subjects";

export interface RuleItem {
  peer: Peer;
  service: Box["service"];
  l7?: L7;
  sources: string[];
}

const l7Key = (l7?: L7) => (l7 ? JSON.stringify(l7) : "");

function groupBy<T>(xs: T[], key: (x: T) => string, merge: (a: T, b: T) => T): T[] {
  const out = new Map<string, T>();
  for (const x of xs) {
    const k = key(x);
    const prev = out.get(k);
    out.set(k, prev ? merge(prev, x) : x);
  }
  return [...out.values()];
}

const sources = (a: string[], b: string[]) => [...new Set([...a, ...b])];

/** The fewest rule items covering exactly the union of the boxes. */
export function mergeBoxes(boxes: Box[]): RuleItem[] {
  const byPeer = groupBy(boxes, (b) => `${peerKey(b.peer)}@${l7Key(b.l7)}`, (a, b) => ({ ...a, service: unionService(a.service, b.service), sources: sources(a.sources, b.sources) }));
  const byService = groupBy(byPeer, (b) => `${serviceKey(b.service)}@${l7Key(b.l7)}`, (a, b) => ({ ...a, peer: unionPeer(a.peer, b.peer), sources: sources(a.sources, b.sources) }));
  return byService.sort((a, b) => (peerKey(a.peer) + serviceKey(a.service) + l7Key(a.l7) < peerKey(b.peer) + serviceKey(b.service) + l7Key(b.l7) ? -1 : 1));
}

type CiliumRule = Record<string, unknown>;

function peerFields(p: Peer, way: "from" | "to"): CiliumRule {
  if (p.all) return { [`${way}Entities`]: ["all"] };
  const out: CiliumRule = {};
  if (p.selectors.length) out[`${way}Endpoints`] = p.selectors;
  if (p.cidrs.length) out[`${way}CIDRSet`] = p.cidrs.map(cidrRule);
  if (p.entities.length) out[`${way}Entities`] = p.entities;
  return out;
}

function l7Rules(l7: L7): Record<string, unknown> {
  return "http" in l7 ? { http: [{}] } : { dns: l7.dns };
}

export function renderItems(items: RuleItem[], way: "from" | "to", deny: boolean): CiliumRule[] {
  return items.flatMap((item) =>
    renderService(item.service).map((l4) => {
      const rule: CiliumRule = { ...peerFields(item.peer, way), ...l4 };
      if (item.l7 && !deny && l4.toPorts) rule.toPorts = (l4.toPorts as { ports: PortProtocol[] }[]).map((tp) => ({ ...tp, rules: l7Rules(item.l7!) }));
      return rule;
    }),
  );
}

export interface RenderedSubject {
  subject: Subject;
  items: { ingress: RuleItem[]; ingressDeny: RuleItem[]; egress: RuleItem[]; egressDeny: RuleItem[] };
}

export function mergeSubject(subject: Subject): RenderedSubject {
  const m = (d: Direction) => ({ allows: mergeBoxes(d.allows), denies: mergeBoxes(d.denies) });
  const i = m(subject.ingress), e = m(subject.egress);
  return { subject, items: { ingress: i.allows, ingressDeny: i.denies, egress: e.allows, egressDeny: e.denies } };
}

/**
 * The API server takes objects up to about 1.5 MiB (etcd's request limit); fos1 keeps each
 * policy under 1 MiB of JSON and splits a larger one into parts with the same selector (Cilium
 * applies their union, so the result is the same).
 */
export const MAX_OBJECT_BYTES = 1024 * 1024;

const SECTIONS = [
  ["ingress", "from", false],
  ["ingressDeny", "from", true],
  ["egress", "to", false],
  ["egressDeny", "to", true],
] as const;

export interface PolicyPart {
  name: string;
  spec: Record<string, unknown>;
  sources: string[];
}

export function policyParts(r: RenderedSubject, maxBytes = MAX_OBJECT_BYTES): PolicyPart[] {
  const s = r.subject;
  const head = { description: s.description, ...s.selector, enableDefaultDeny: s.defaultDeny };
  const parts: { spec: Record<string, CiliumRule[]>; sources: Set<string>; bytes: number }[] = [];
  const fresh = () => {
    const p = { spec: {} as Record<string, CiliumRule[]>, sources: new Set<string>(), bytes: JSON.stringify(head).length };
    parts.push(p);
    return p;
  };
  let part = fresh();
  for (const [section, way, deny] of SECTIONS)
    for (const item of r.items[section]) {
      const rules = renderItems([item], way, deny);
      const bytes = JSON.stringify(rules).length;
      if (part.bytes + bytes > maxBytes && part.bytes > JSON.stringify(head).length) part = fresh();
      (part.spec[section] ??= []).push(...rules);
      part.bytes += bytes;
      for (const src of item.sources) part.sources.add(src);
    }
  return parts.map((p, n) => ({ name: n === 0 ? s.name : `${s.name}-${n + 1}`, spec: { ...head, ...p.spec }, sources: [...p.sources].sort() }));
}
