// Port segments (src/engine/firewall/classify.ts): which rules a new flow meets, and in what
// order, must be exactly those of the linear chain whose protocol and port it matches --
// checked here on the layout itself for seeded random chains and every protocol and port of
// their universe; test/netns/firewall-classify.test.ts sends real packets through both.
import { describe, expect, test } from "bun:test";
import { classifyChain, MIN_RUN, REPLICATION, type ChainRule, type ClassifiedChain } from "../../src/engine/firewall/classify";
import { seededRandom } from "../helpers/seeded-random";

const TCP = 6;
const UDP = 17;

/** A rule named `name`, classifiable when given a protocol and ports. */
function r(name: string, proto?: number, ...ports: [number, number][]): ChainRule {
  const expr = [{ name }];
  return { expr, comment: name, ...(proto ? { l4: { proto, ports, rest: [{ rest: name }] } } : {}) };
}

const covers = (x: ChainRule, proto: number, port: number) => !x.l4 || (x.l4.proto === proto && x.l4.ports.some(([a, b]) => a <= port && port <= b));

/** The rules of the linear chain a (protocol, port) flow could match, in order. */
const linearPath = (rules: ChainRule[], proto: number, port: number) => rules.filter((x) => covers(x, proto, port)).map((x) => x.comment);

/** The same through the layout: each vmap rule sends the flow to its segment's chain and back; a rule left in place is met where it covers the flow. */
function classifiedPath(c: ClassifiedChain, rules: ChainRule[], proto: number, port: number): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  for (const rule of c.rules) {
    const vmap = (rule.expr[1] as { vmap?: { data: string } } | undefined)?.vmap;
    if (!vmap) {
      if (covers(rules.find((x) => x.comment === rule.comment)!, proto, port)) out.push(rule.comment);
      continue;
    }
    if ((rule.expr[0] as { match: { right: number } }).match.right !== proto) continue;
    const map = c.maps.find((m) => `@${m.name}` === vmap.data)!;
    const hits = map.elem.filter(([k]) => {
      const [a, b] = typeof k === "number" ? [k, k] : (k as { range: [number, number] }).range;
      return a <= port && port <= b;
    });
    expect(hits.length).toBeLessThanOrEqual(1); // disjoint segments
    if (!hits.length) continue;
    const target = (hits[0]![1] as { jump: { target: string } }).jump.target;
    out.push(...c.chains.find((ch) => ch.name === target)!.rules.map((x) => x.comment));
  }
  return out;
}

describe("classifyChain", () => {
  test(`a run shorter than ${MIN_RUN} stays as it is; a longer one becomes one map lookup per protocol, its segments' chains holding the covering rules in order`, () => {
    const short = Array.from({ length: MIN_RUN - 1 }, (_, i) => r(`s${i}`, TCP, [1000 + i, 1000 + i]));
    expect(classifyChain("fwd_a_b", short)).toEqual({ rules: short.map((x) => ({ expr: x.expr, comment: x.comment })), chains: [], maps: [] });
    const run = [r("ssh-admin", TCP, [22, 22]), r("ssh", TCP, [22, 22]), r("web", TCP, [80, 80], [443, 443]), r("high", TCP, [8000, 8999]), r("alt", TCP, [8080, 8080]), r("dns", UDP, [53, 53]), r("ntp", UDP, [123, 123]), r("games", UDP, [27000, 27100])];
    const c = classifyChain("fwd_a_b", [...run, r("policy")]);
    const lookup = (proto: number, map: string) => ({ expr: [{ match: { op: "==", left: { meta: { key: "l4proto" } }, right: proto } }, { vmap: { key: { payload: { protocol: "th", field: "dport" } }, data: `@${map}` } }] });
    expect(c.rules).toEqual([lookup(TCP, "fwd_a_b.m0"), lookup(UDP, "fwd_a_b.m1"), { expr: [{ name: "policy" }], comment: "policy" }]);
    expect(c.maps).toEqual([
      {
        name: "fwd_a_b.m0",
        elem: [
          [22, { jump: { target: "fwd_a_b.0" } }],
          [80, { jump: { target: "fwd_a_b.1" } }],
          [443, { jump: { target: "fwd_a_b.1" } }],
          [{ range: [8000, 8079] }, { jump: { target: "fwd_a_b.2" } }],
          [8080, { jump: { target: "fwd_a_b.3" } }],
          [{ range: [8081, 8999] }, { jump: { target: "fwd_a_b.2" } }],
        ],
      },
      {
        name: "fwd_a_b.m1",
        elem: [
          [53, { jump: { target: "fwd_a_b.4" } }],
          [123, { jump: { target: "fwd_a_b.5" } }],
          [{ range: [27000, 27100] }, { jump: { target: "fwd_a_b.6" } }],
        ],
      },
    ]);
    expect(c.chains.map((ch) => [ch.name, ch.rules.map((x) => x.comment)])).toEqual([
      ["fwd_a_b.0", ["ssh-admin", "ssh"]],
      ["fwd_a_b.1", ["web"]],
      ["fwd_a_b.2", ["high"]],
      ["fwd_a_b.3", ["high", "alt"]], // first match: the wider allow before the deny of 8080
      ["fwd_a_b.4", ["dns"]],
      ["fwd_a_b.5", ["ntp"]],
      ["fwd_a_b.6", ["games"]],
    ]);
    expect(c.chains[0]!.rules[0]!.expr).toEqual([{ rest: "ssh-admin" }]); // protocol and port matches dropped: the segment is them
  });

  test("a rule that cannot go in a segment stays in place and splits the runs around it; linear: true changes nothing", () => {
    const rules = [...Array.from({ length: 9 }, (_, i) => r(`a${i}`, TCP, [100 + i, 100 + i])), r("any-protocol"), ...Array.from({ length: 8 }, (_, i) => r(`b${i}`, UDP, [200 + 2 * i, 203 + 2 * i]))];
    const c = classifyChain("in_lan", rules);
    expect(c.rules.map((x) => x.comment ?? (x.expr[1] as { vmap: { data: string } }).vmap.data)).toEqual(["@in_lan.m0", "any-protocol", "@in_lan.m1"]);
    expect(c.chains.length).toBe(9 + 9); // b's: b0 alone, each rule with the next where they overlap, b7 alone
    expect(classifyChain("in_lan", rules, true).rules.map((x) => x.comment)).toEqual(rules.map((x) => x.comment));
  });

  test(`wide overlapping ranges that would copy rules more than ${REPLICATION} times over stay linear`, () => {
    // rule i covers 1000 + i .. 2000: segment k holds rules 0..k, about n²/2 copies
    const wide = Array.from({ length: 40 }, (_, i) => r(`w${i}`, TCP, [1000 + i, 2000]));
    const c = classifyChain("fwd_a_b", wide);
    expect(c.maps).toEqual([]);
    expect(c.rules.map((x) => x.comment)).toEqual(wide.map((x) => x.comment));
  });

  test("seeded random chains: for every protocol and port, the rules a flow meets are the linear chain's, in its order", () => {
    const rand = seededRandom(20261208);
    let classified = 0;
    for (let round = 0; round < 40; round++) {
      const n = 10 + Math.floor(rand() * 60);
      const rules = Array.from({ length: n }, (_, i) => {
        if (rand() < 0.08) return r(`x${i}`);
        const ranges = Array.from({ length: 1 + Math.floor(rand() * 3) }, (): [number, number] => {
          const a = Math.floor(rand() * 60);
          return rand() < 0.6 ? [a, a] : [a, a + Math.floor(rand() * 15)];
        });
        return r(`x${i}`, rand() < 0.5 ? TCP : UDP, ...ranges);
      });
      const c = classifyChain("fwd_a_b", rules);
      if (c.maps.length) classified++;
      for (const proto of [TCP, UDP, 1])
        for (let port = 0; port < 80; port++) expect(classifiedPath(c, rules, proto, port)).toEqual(linearPath(rules, proto, port));
    }
    expect(classified).toBeGreaterThan(20);
  });
});
