// A chain's rules, first match wins, laid out so that classifying a new flow takes a few
// lookups instead of a walk over every rule. Pure: rules in, chains and maps out.
//
// A run of consecutive rules that each match a transport protocol (TCP or UDP) and destination
// ports, and keep no state of their own, becomes one verdict-map lookup per protocol, keyed by
// `th dport` with intervals: each protocol's ports are cut into disjoint segments at every rule's
// port boundaries, and each segment jumps to a chain holding, in their order, only the run's rules
// of that protocol whose ports cover it, without their protocol and port matches (the segment is
// them). A packet of one protocol never matches the run's rules of the other, and one that no rule
// of its segment decides returns from the jump and goes on after the run, as it would have after
// the run's last rule: first-match order and every verdict stay as in the linear chain. Segments
// holding the same rules share a chain. One map per protocol, not one keyed by
// `meta l4proto . th dport`: the kernel looks a single interval up in a tree, in about the same
// time at 10 000 segments as at 10, where a concatenation of intervals (pipapo) takes time that
// grows with its elements (about 4 µs more per new flow per 1 000 of them, measured here).
//
// What stays linear, in place:
//   - rules that match any protocol, ICMP, or a protocol with no ports (they would be copied
//     into every segment);
//   - rules with a rate limit (each copy would keep its own bucket, multiplying the rate);
//   - runs shorter than MIN_RUN (a map lookup costs about as much as a few rules);
//   - a run whose segments would hold more than REPLICATION times its rules (wide, overlapping
//     port ranges): its copies would cost more memory than its walk costs time.
// A segment chain is named after its chain with a suffix after a dot ("fwd_lan_wan.3"): zone
// and chain names hold no dot, so counters read back sum a rule's copies under its own chain.

/** One rule of a chain, as the compiler emits it. */
export interface ChainRule {
  /** The whole rule, for the linear layout. */
  expr: unknown[];
  comment?: string;
  /**
   * What a segment needs to hold it: its transport protocol and destination ports, and the rule
   * without its protocol and port matches. Absent: the rule stays linear.
   */
  l4?: { proto: number; ports: [number, number][]; rest: unknown[] };
}

export interface ClassifiedChain {
  /** The chain's own rules, in order: linear rules and one vmap rule per classified run. */
  rules: { expr: unknown[]; comment?: string }[];
  /** Segment chains, created before the maps that jump to them. */
  chains: { name: string; rules: { expr: unknown[]; comment?: string }[] }[];
  /** Interval verdict maps keyed by destination port, one per protocol of each classified run. */
  maps: { name: string; elem: [unknown, unknown][] }[];
}

export const MIN_RUN = 8;
export const REPLICATION = 4;

/** Lays out a chain's rules (see the top of the file); `linear` keeps them as they are. */
export function classifyChain(name: string, rules: ChainRule[], linear = false): ClassifiedChain {
  const out: ClassifiedChain = { rules: [], chains: [], maps: [] };
  let i = 0;
  while (i < rules.length) {
    let j = i;
    while (j < rules.length && rules[j]!.l4) j++;
    const run = rules.slice(i, j);
    const segments = !linear && run.length >= MIN_RUN ? segment(run) : null;
    if (segments) emitRun(name, run, segments, out);
    else for (const r of run) out.rules.push(plain(r));
    if (j < rules.length) out.rules.push(plain(rules[j]!));
    i = j + 1;
  }
  return out;
}

const plain = (r: ChainRule) => ({ expr: r.expr, ...(r.comment ? { comment: r.comment } : {}) });

interface Segment {
  proto: number;
  from: number;
  to: number;
  /** Indexes into the run, in order. */
  members: number[];
}

/**
 * The run's disjoint protocol-and-port segments, each with the rules covering it (adjacent ones
 * holding the same rules merged), or null when they would hold too many copies.
 */
function segment(run: ChainRule[]): Segment[] | null {
  const out: Segment[] = [];
  let copies = 0;
  for (const proto of [...new Set(run.map((r) => r.l4!.proto))].sort((a, b) => a - b)) {
    // Sweep the port line: at each boundary, rules start or stop covering it.
    const starts = new Map<number, number[]>();
    const ends = new Map<number, number[]>();
    run.forEach((r, k) => {
      if (r.l4!.proto !== proto) return;
      for (const [a, b] of r.l4!.ports) {
        (starts.get(a) ?? starts.set(a, []).get(a)!).push(k);
        (ends.get(b + 1) ?? ends.set(b + 1, []).get(b + 1)!).push(k);
      }
    });
    const points = [...new Set([...starts.keys(), ...ends.keys()])].sort((a, b) => a - b);
    // How many of a rule's ranges cover the point: ranges of one rule may overlap.
    const active = new Map<number, number>();
    for (let p = 0; p < points.length - 1; p++) {
      const at = points[p]!;
      for (const k of ends.get(at) ?? []) {
        const left = active.get(k)! - 1;
        if (left) active.set(k, left);
        else active.delete(k);
      }
      for (const k of starts.get(at) ?? []) active.set(k, (active.get(k) ?? 0) + 1);
      if (!active.size) continue;
      const members = [...active.keys()].sort((a, b) => a - b);
      const last = out[out.length - 1];
      if (last && last.proto === proto && last.to === at - 1 && sameList(last.members, members)) last.to = points[p + 1]! - 1;
      else {
        out.push({ proto, from: at, to: points[p + 1]! - 1, members });
        copies += members.length;
        if (copies > REPLICATION * run.length) return null;
      }
    }
  }
  return out;
}

const sameList = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function emitRun(name: string, run: ChainRule[], segments: Segment[], out: ClassifiedChain): void {
  const chainOf = new Map<string, string>();
  for (const proto of [...new Set(segments.map((s) => s.proto))]) {
    const elem: [unknown, unknown][] = [];
    for (const s of segments.filter((x) => x.proto === proto)) {
      const key = s.members.join(",");
      let target = chainOf.get(key);
      if (!target) {
        target = `${name}.${out.chains.length}`;
        chainOf.set(key, target);
        out.chains.push({ name: target, rules: s.members.map((k) => ({ expr: run[k]!.l4!.rest, ...(run[k]!.comment ? { comment: run[k]!.comment } : {}) })) });
      }
      elem.push([s.from === s.to ? s.from : { range: [s.from, s.to] }, { jump: { target } }]);
    }
    const map = `${name}.m${out.maps.length}`;
    out.maps.push({ name: map, elem });
    const l4proto = { match: { op: "==", left: { meta: { key: "l4proto" } }, right: proto } };
    out.rules.push({ expr: [l4proto, { vmap: { key: { payload: { protocol: "th", field: "dport" } }, data: `@${map}` } }] });
  }
}
