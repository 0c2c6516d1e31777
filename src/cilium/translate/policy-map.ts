// Cilium enforces an endpoint's policy from one BPF hash map per endpoint, `bpf.policyMapMax`
// entries (16 384 by default). Each allowed or denied (peer identity, direction, protocol, port
// block) is one entry. Every CIDR in any policy becomes an identity of its own, and a CIDR rule
// selects every such identity inside it, so a big prefix × many ports fills the map; when it is
// full, the endpoint's policy cannot be regenerated and traffic to it fails (cilium/cilium
// #28337). fos1 counts before emitting and refuses what does not fit.
//
// The budget: 3/4 of bpf.policyMapMax (12 288 of the default 16 384). The other quarter is left
// for what Cilium adds to every endpoint (reserved identities: host, health, world, the
// cluster's own allows) and for policies that are not fos1's selecting the same pods or host.
// A pod selector is counted as one identity (pods of one zone with several label sets have
// several; the quarter left over absorbs that).
import { bits, type Prefix } from "../../api/ip";
import { within } from "./cidr-set";
import type { Peer } from "./peer";
import type { RenderedSubject, RuleItem } from "./render";
import { l4Keys } from "./service";

export const DEFAULT_POLICY_MAP_MAX = 16384;
export const budgetOf = (policyMapMax: number) => Math.floor((policyMapMax * 3) / 4);

/** Every prefix any policy names (rule CIDRs and their excepts): Cilium's CIDR identities. */
export class PrefixUniverse {
  private readonly sorted: Prefix[];
  constructor(prefixes: Prefix[]) {
    const seen = new Map<string, Prefix>();
    for (const p of prefixes) seen.set(`${p.family}/${p.addr}/${p.len}`, p);
    this.sorted = [...seen.values()].sort((a, b) => a.family - b.family || (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.len - b.len));
  }

  static of(subjects: RenderedSubject[]): PrefixUniverse {
    const items = subjects.flatMap((s) => Object.values(s.items).flat());
    return new PrefixUniverse(items.flatMap((i) => i.peer.cidrs.flatMap((b) => [b.net, ...b.except])));
  }

  private readonly memo = new Map<string, number>();

  /** The CIDR identities a block selects: the prefixes inside it and not inside one of its excepts. */
  selected(net: Prefix, except: Prefix[]): number {
    const key = [net, ...except].map((p) => `${p.family}:${p.addr}/${p.len}`).join(" ");
    let n = this.memo.get(key);
    if (n === undefined) this.memo.set(key, (n = this.count(net, except)));
    return n;
  }

  private count(net: Prefix, except: Prefix[]): number {
    const end = net.addr + (1n << BigInt(bits(net.family) - net.len));
    let lo = 0, hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const p = this.sorted[mid]!;
      if (p.family < net.family || (p.family === net.family && p.addr < net.addr)) lo = mid + 1;
      else hi = mid;
    }
    let n = 0;
    for (let i = lo; i < this.sorted.length; i++) {
      const p = this.sorted[i]!;
      if (p.family !== net.family || p.addr >= end) break;
      if (p.len >= net.len && !except.some((e) => within(p, e))) n++;
    }
    return Math.max(n, 1);
  }
}

function identities(p: Peer, universe: PrefixUniverse): number {
  if (p.all) return 1; // the L3 wildcard
  return p.selectors.length + p.entities.length + p.cidrs.reduce((n, b) => n + universe.selected(b.net, b.except), 0);
}

const itemEntries = (items: RuleItem[], universe: PrefixUniverse) => items.reduce((n, i) => n + identities(i.peer, universe) * l4Keys(i.service), 0);

/** Policy-map entries the subject's rules need on each endpoint it selects (an upper bound: overlaps are counted twice). */
export function policyMapEntries(r: RenderedSubject, universe: PrefixUniverse): number {
  return Object.values(r.items).reduce((n, items) => n + itemEntries(items, universe), 0);
}
