// nftables decides by the first matching rule; Cilium has no order: a deny wins over every
// allow. One "pair" (a zone's traffic toward another zone, the router, …) is an ordered list of
// rules; this turns it into unordered allows and denies that decide the same way:
//   - every allow stays as it is (less what a deny above it already takes: it would not count);
//   - every deny loses what the allows above it (and the prelude: what nftables accepts before
//     any rule, e.g. the management ports) already took, so it cannot override them;
//   - "every other protocol" left in a deny (an `any` deny with a tcp allow above it) cannot be
//     written for Cilium: the deny is written without it and the allows below it lose other
//     protocols for its peers; when an allow outside the pair would let them through, the config
//     is refused.
import { intersectPeer, isNobody, peersMeet, subtractPeer, type Peer } from "./peer";
import { describeService, expressible, intersectService, isEmptyService, subtractService, type Service } from "./service";

/** Cilium L7 rules on a box's single port (DPIProfile). */
export type L7 = { http: true } | { dns: { matchName?: string; matchPattern?: string }[] };

export interface Box {
  peer: Peer;
  service: Service;
  l7?: L7;
  /** The fos1 objects ("Kind/name") this box comes from. */
  sources: string[];
}

export interface PairRule {
  ref: string;
  action: "allow" | "deny";
  peer: Peer;
  service: Service;
}

export interface PairProblem {
  ref: string;
  message: string;
}

export interface ResolvedPair {
  allows: Box[];
  /** The allows before the denies took their share: what the rules admit (narrowDenies). */
  admitted: Box[];
  denies: Box[];
  problems: PairProblem[];
  /** Allow rules that a deny above them covers whole: they never match, in nftables either. */
  shadowed: string[];
}

const overlapping = (a: Box, b: { peer: Peer; service: Service }) => !isEmptyService(intersectService(a.service, b.service)) && peersMeet(a.peer, b.peer);

function carve(d: Box, a: Box): Box[] {
  if (!overlapping(d, a)) return [d];
  const out: Box[] = [];
  const outside = subtractPeer(d.peer, a.peer);
  if (!isNobody(outside)) out.push({ ...d, peer: outside });
  const rest = subtractService(d.service, a.service);
  if (!isEmptyService(rest)) out.push({ ...d, peer: intersectPeer(d.peer, a.peer), service: rest });
  return out;
}

/**
 * What of an allow no deny takes (Cilium would deny the rest anyway): leaving that out saves
 * policy-map entries. Kept whole when carving would need "every other protocol".
 */
function shadowedAway(a: Box, denies: Box[]): Box[] {
  let pieces = [a];
  for (const d of denies) {
    const next = pieces.flatMap((p) => carve(p, d));
    if (next.every((p) => expressible(p.service))) pieces = next;
  }
  return pieces;
}

/**
 * @param prelude what is accepted before any rule (carved out of denies, not emitted here)
 * @param rules the pair's rules in evaluation order
 * @param fallback the pair's default when it allows (emitted after the rules), or null
 * @param otherAllows allows elsewhere for the same peers (e.g. a zone's forward default), only to judge what a deny may leave out
 */
export function resolvePair(prelude: Box[], rules: PairRule[], fallback: Box | null, otherAllows: Box[] = []): ResolvedPair {
  const allows: Box[] = [];
  const denies: Box[] = [];
  const problems: PairProblem[] = [];
  const above: Box[] = [...prelude];
  const unwritable: { ref: string; box: Box; carvedBy: Box[]; allowsAbove: number }[] = [];
  for (const r of rules) {
    const box: Box = { peer: r.peer, service: r.service, sources: [r.ref] };
    if (r.action === "allow") {
      allows.push(box);
      above.push(box);
      continue;
    }
    const carvedBy = above.filter((a) => overlapping(box, a));
    let pieces = [box];
    for (const a of carvedBy) pieces = pieces.flatMap((p) => carve(p, a));
    for (const p of pieces) {
      if (expressible(p.service)) denies.push(p);
      else unwritable.push({ ref: r.ref, box: p, carvedBy, allowsAbove: allows.length });
    }
  }
  if (fallback) allows.push(fallback);
  for (const u of unwritable) {
    // Cilium can deny TCP, UDP and ICMP but not "every other protocol" on its own. The deny is
    // written without it; allows below it (shadowed by it in nftables) lose other protocols for
    // its peers, so nothing gets through that nftables would stop. An allow elsewhere cannot be
    // narrowed that way: then the config is refused.
    const opener = otherAllows.find((a) => a.service.other && peersMeet(a.peer, u.box.peer));
    if (opener) {
      const carvers = u.carvedBy.map((c) => `${c.sources.length ? c.sources.join(", ") : "what nftables accepts first"} (${describeService(c.service)})`).join(" and ");
      problems.push({
        ref: u.ref,
        message: `this deny of every protocol comes below ${carvers}; Cilium has no order, so it would have to deny "every protocol but those", and it cannot write "every other protocol" while ${opener.sources.join(", ")} allows other protocols to the same peers. Name the deny's protocols (tcp, udp, icmp) instead`,
      });
      continue;
    }
    const written = { ...u.box.service, other: false };
    if (!isEmptyService(written)) denies.push({ ...u.box, service: written });
    for (let i = u.allowsAbove; i < allows.length; i++) {
      const a = allows[i]!;
      const shadowed = intersectPeer(a.peer, u.box.peer);
      if (!a.service.other || isNobody(shadowed)) continue;
      const outside = subtractPeer(a.peer, u.box.peer);
      allows.splice(i, 1, ...(isNobody(outside) ? [] : [{ ...a, peer: outside }]), { ...a, peer: shadowed, service: { ...a.service, other: false } });
      i += isNobody(outside) ? 0 : 1;
    }
  }
  // Deny wins in Cilium whatever the order, so no allow needs what any deny takes.
  const kept = allows.map((a) => ({ a, pieces: shadowedAway(a, denies) }));
  const shadowed = kept.filter((k) => !k.pieces.length && k.a !== fallback).flatMap((k) => k.a.sources);
  return { allows: kept.flatMap((k) => k.pieces), admitted: allows, denies, problems, shadowed };
}

/**
 * Denies cut down to what the allows beside them admit. On a default-deny endpoint that is the
 * same verdict for every packet — only denies of policies that are not fos1's stop applying —
 * and it can take far fewer policy-map entries (a deny of all 256 ICMP types becomes the few
 * types an allow admits). Used only when a policy would not fit otherwise.
 */
export function narrowDenies(denies: Box[], allows: Box[]): Box[] {
  return denies.flatMap((d) =>
    allows
      .filter((a) => overlapping(d, a))
      .map((a) => ({ ...d, peer: intersectPeer(d.peer, a.peer), service: intersectService(d.service, a.service) }))
      .filter((b) => expressible(b.service)),
  );
}
