// The counters of fos1's nftables table, from one `nft -j list table inet fos1`: per rule (named
// by the comment the compiler gives it: the config object, or what the built-in rule is for),
// per zone pair (every counted rule of the pair's chain), and which zone each interface is in
// (read back from the table's input_zones map, so it is the firewall in force, not a config file).
import { FIREWALL_TABLE } from "../../engine/firewall/compile";
import { runTool } from "../../base/tool";

export interface RuleCounter {
  chain: string;
  /** The rule's comment ("FirewallRule/web", "zone lan forward policy"), or what it matches when it has none. */
  rule: string;
  /** What a packet it counts meets: accept, drop, reject, masquerade, snat, dnat, jump, … */
  verdict: string;
  packets: number;
  bytes: number;
}

export interface ZonePairCounter {
  fromZone: string;
  /** A zone, "host" (the router itself) or "any" (the from-zone's own forward policy, for zones it has no rules toward). */
  toZone: string;
  verdict: string;
  packets: number;
  bytes: number;
}

export interface FirewallCounters {
  /** Rules that share chain, name and verdict (one per address family, say) are summed. */
  rules: RuleCounter[];
  zonePairs: ZonePairCounter[];
  /** Zone name → its interfaces, as the table's input_zones map holds them. */
  zones: Record<string, string[]>;
}

type Expr = Record<string, unknown>;

interface NftItem {
  rule?: { chain: string; comment?: string; expr?: Expr[] };
  map?: { name: string; elem?: [unknown, { jump?: { target: string } }][] };
}

const VERDICTS = ["accept", "drop", "reject", "masquerade", "snat", "dnat", "redirect", "jump", "goto", "return", "queue"];

function counterOf(expr: Expr[]): { packets: number; bytes: number } | null {
  for (const e of expr) {
    const c = e.counter as { packets?: number; bytes?: number } | null | undefined;
    if (c && typeof c === "object") return { packets: c.packets ?? 0, bytes: c.bytes ?? 0 };
  }
  return null;
}

function verdictOf(expr: Expr[]): string {
  for (const e of [...expr].reverse()) for (const v of VERDICTS) if (v in e) return v;
  return "continue";
}

/** A name for a rule the compiler left without a comment: its connection-tracking match, else its position. */
function describeUnnamed(expr: Expr[], position: number): string {
  for (const e of expr) {
    const m = e.match as { left?: { ct?: { key: string } }; right?: unknown } | undefined;
    if (m?.left?.ct) return `ct ${m.left.ct.key} ${[m.right].flat().join(",")}`;
  }
  return `rule ${position}`;
}

/** Which zones a chain's packets travel between; null for chains that are not a zone's (input, vlan_…, nat). */
export function zonePairOfChain(chain: string): { fromZone: string; toZone: string } | null {
  // Zone names are DNS labels (no "_"), so "_" separates the parts.
  const parts = chain.split("_");
  if (parts[0] === "in" && parts.length === 2) return { fromZone: parts[1]!, toZone: "host" };
  if (parts[0] === "fwd" && parts.length === 2) return { fromZone: parts[1]!, toZone: "any" };
  if (parts[0] === "fwd" && parts.length === 3) return { fromZone: parts[1]!, toZone: parts[2]! };
  return null;
}

export function parseFirewallCounters(json: string): FirewallCounters {
  const items = (JSON.parse(json) as { nftables: NftItem[] }).nftables;
  const rules = new Map<string, RuleCounter>();
  const pairs = new Map<string, ZonePairCounter>();
  const zones: Record<string, string[]> = {};
  const positions = new Map<string, number>();
  for (const it of items) {
    if (it.map?.name === "input_zones")
      for (const [ifname, verdict] of it.map.elem ?? []) {
        const pair = zonePairOfChain(verdict.jump?.target ?? "");
        if (pair && typeof ifname === "string") (zones[pair.fromZone] ??= []).push(ifname);
      }
    const r = it.rule;
    if (!r || r.chain === "fos1_config") continue;
    const expr = r.expr ?? [];
    const position = (positions.get(r.chain) ?? 0) + 1;
    positions.set(r.chain, position);
    const count = counterOf(expr);
    if (!count) continue;
    const verdict = verdictOf(expr);
    const rule = r.comment ?? describeUnnamed(expr, position);
    // A port segment's chain ("fwd_lan_wan.3", engine/firewall/classify.ts) holds copies of its chain's rules.
    const chain = r.chain.split(".")[0]!;
    const key = JSON.stringify([chain, rule, verdict]);
    const sum = rules.get(key) ?? { chain, rule, verdict, packets: 0, bytes: 0 };
    sum.packets += count.packets;
    sum.bytes += count.bytes;
    rules.set(key, sum);
    const pair = zonePairOfChain(chain);
    if (pair) {
      const pkey = JSON.stringify([pair.fromZone, pair.toZone, verdict]);
      const p = pairs.get(pkey) ?? { ...pair, verdict, packets: 0, bytes: 0 };
      p.packets += count.packets;
      p.bytes += count.bytes;
      pairs.set(pkey, p);
    }
  }
  return { rules: [...rules.values()], zonePairs: [...pairs.values()], zones };
}

/** null when fos1 has no table (no zones or NAT configured). */
export async function readFirewallCounters(nft = "nft"): Promise<FirewallCounters | null> {
  const r = await runTool({ purpose: "read the firewall's counters", argv: [nft, "-j", "list", "table", "inet", FIREWALL_TABLE] });
  if (r.exitCode !== 0) {
    if (/No such file or directory/.test(r.stderr)) return null;
    throw new Error(`cannot read the firewall's counters: nft: ${r.stderr.trim()}`);
  }
  return parseFirewallCounters(r.stdout);
}
