// What a rule matches at L4, as a set: TCP and UDP port ranges, ICMP and ICMPv6 types, and
// "every other protocol" (GRE, ESP, …), which Cilium can only allow or deny together with
// everything else (a rule without toPorts). Exact set algebra, so that an allow above a
// broader deny can be carved out of the deny.
import type { PortRange, Protocol } from "../../policy/model";

export type Ranges = [number, number][];

export interface Service {
  tcp: Ranges;
  udp: Ranges;
  icmp4: Ranges;
  icmp6: Ranges;
  other: boolean;
}

const PORTS: [number, number] = [1, 65535];
const TYPES: [number, number] = [0, 255];

/**
 * ICMP types that start an exchange (echo, timestamp, extended echo): what an allowed icmp or
 * icmpv6 rule admits. Replies and errors belong to tracked flows in Cilium as in nftables
 * (ct established,related), so admitting only these is at most stricter, never looser.
 */
export const ICMP4_QUERIES = [8, 13, 42];
export const ICMP6_QUERIES = [128, 160];

export const NONE: Service = { tcp: [], udp: [], icmp4: [], icmp6: [], other: false };
export const ANY: Service = { tcp: [PORTS], udp: [PORTS], icmp4: [TYPES], icmp6: [TYPES], other: true };

function normalize(rs: Ranges): Ranges {
  const sorted = [...rs].sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

const rIntersect = (a: Ranges, b: Ranges): Ranges =>
  normalize(a.flatMap(([l1, h1]) => b.flatMap(([l2, h2]): Ranges => (Math.max(l1, l2) <= Math.min(h1, h2) ? [[Math.max(l1, l2), Math.min(h1, h2)]] : []))));

function rSubtract(a: Ranges, b: Ranges): Ranges {
  let out = a.map(([l, h]): [number, number] => [l, h]);
  for (const [bl, bh] of b)
    out = out.flatMap(([l, h]): Ranges => {
      if (bh < l || bl > h) return [[l, h]];
      const keep: Ranges = [];
      if (l < bl) keep.push([l, bl - 1]);
      if (h > bh) keep.push([bh + 1, h]);
      return keep;
    });
  return normalize(out);
}

const fields = ["tcp", "udp", "icmp4", "icmp6"] as const;

export const intersectService = (a: Service, b: Service): Service => ({
  ...(Object.fromEntries(fields.map((f) => [f, rIntersect(a[f], b[f])])) as Pick<Service, (typeof fields)[number]>),
  other: a.other && b.other,
});

export const subtractService = (a: Service, b: Service): Service => ({
  ...(Object.fromEntries(fields.map((f) => [f, rSubtract(a[f], b[f])])) as Pick<Service, (typeof fields)[number]>),
  other: a.other && !b.other,
});

export const unionService = (a: Service, b: Service): Service => ({
  ...(Object.fromEntries(fields.map((f) => [f, normalize([...a[f], ...b[f]])])) as Pick<Service, (typeof fields)[number]>),
  other: a.other || b.other,
});

export const isEmptyService = (s: Service): boolean => !s.other && fields.every((f) => s[f].length === 0);
export const isAnyService = (s: Service): boolean => serviceKey(s) === serviceKey(ANY);
/** Cilium names TCP/UDP ports and ICMP types; "every other protocol" only as part of everything. */
export const expressible = (s: Service): boolean => !s.other || isAnyService(s);
export const serviceKey = (s: Service): string => JSON.stringify(s);

export function ports(protocol: "tcp" | "udp", ranges: PortRange[]): Service {
  return { ...NONE, [protocol]: normalize(ranges.map(([a, b]): [number, number] => [a, b])) };
}

/** A firewall rule's protocol and ports; ICMP allows admit the query types only (see ICMP4_QUERIES). */
export function serviceOf(protocol: Protocol, portRanges: PortRange[], action: "allow" | "deny"): Service {
  switch (protocol) {
    case "tcp":
    case "udp":
      return ports(protocol, portRanges.length ? portRanges : [PORTS]);
    case "icmp":
      return { ...NONE, icmp4: action === "allow" ? normalize(ICMP4_QUERIES.map((t) => [t, t])) : [TYPES] };
    case "icmpv6":
      return { ...NONE, icmp6: action === "allow" ? normalize(ICMP6_QUERIES.map((t) => [t, t])) : [TYPES] };
    case "any":
      return ANY;
  }
}

/**
 * An allow Cilium can write when "every other protocol" must go (an allow-everything rule split
 * around an L7 port): TCP and UDP as they are, ICMP as the query types, other protocols dropped
 * (stricter).
 */
export function writableAllow(s: Service): Service {
  if (expressible(s)) return s;
  const queries = (types: number[]) => normalize(types.map((t) => [t, t]));
  return { ...s, icmp4: rIntersect(s.icmp4, queries(ICMP4_QUERIES)), icmp6: rIntersect(s.icmp6, queries(ICMP6_QUERIES)), other: false };
}

export const icmpTypes = (family: 4 | 6, types: number[]): Service => ({ ...NONE, [family === 4 ? "icmp4" : "icmp6"]: normalize(types.map((t) => [t, t])) });

/** How many aligned power-of-two blocks cover [lo, hi]: the keys a port range takes in Cilium's policy map (an LPM on the port). */
function portBlocks([lo, hi]: [number, number]): number {
  if (lo === PORTS[0] && hi === PORTS[1]) return 1; // port 0: the wildcard
  let n = 0;
  for (let p = lo; p <= hi; n++) {
    let size = 1;
    while (p % (size * 2) === 0 && p + size * 2 - 1 <= hi) size *= 2;
    p += size;
  }
  return n;
}

/** Policy-map keys one peer identity takes for this service. */
export function l4Keys(s: Service): number {
  if (isAnyService(s)) return 1;
  const sum = (rs: Ranges, f: (r: [number, number]) => number) => rs.reduce((n, r) => n + f(r), 0);
  return sum(s.tcp, portBlocks) + sum(s.udp, portBlocks) + sum(s.icmp4, ([a, b]) => b - a + 1) + sum(s.icmp6, ([a, b]) => b - a + 1);
}

export interface PortProtocol {
  port: string;
  endPort?: number;
  protocol: "TCP" | "UDP";
}
export interface IcmpField {
  type: number;
  family: "IPv4" | "IPv6";
}

/** Cilium's `toPorts` entries hold at most 40 ports, `icmps` fields at most 40 types (the CRD's maxItems). */
export const MAX_PORTS_PER_RULE = 40;

const chunks = <T>(xs: T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

/** The L4 part of Cilium rules for a service: none (everything), or toPorts and icmps in separate rule items. */
export function renderService(s: Service): { toPorts?: { ports: PortProtocol[] }[]; icmps?: { fields: IcmpField[] }[] }[] {
  if (isAnyService(s)) return [{}];
  const out: { toPorts?: { ports: PortProtocol[] }[]; icmps?: { fields: IcmpField[] }[] }[] = [];
  const portList: PortProtocol[] = (["tcp", "udp"] as const).flatMap((proto) =>
    s[proto].map(([lo, hi]): PortProtocol => {
      const protocol = proto === "tcp" ? "TCP" : "UDP";
      if (lo === PORTS[0] && hi === PORTS[1]) return { port: "0", protocol };
      return lo === hi ? { port: String(lo), protocol } : { port: String(lo), endPort: hi, protocol };
    }),
  );
  if (portList.length) out.push({ toPorts: chunks(portList, MAX_PORTS_PER_RULE).map((ports) => ({ ports })) });
  const types: IcmpField[] = [
    ...s.icmp4.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i): IcmpField => ({ type: a + i, family: "IPv4" }))),
    ...s.icmp6.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i): IcmpField => ({ type: a + i, family: "IPv6" }))),
  ];
  if (types.length) out.push({ icmps: chunks(types, MAX_PORTS_PER_RULE).map((f) => ({ fields: f })) });
  return out;
}

/** A short human description ("tcp 80, 443; udp 53"). */
export function describeService(s: Service): string {
  if (isAnyService(s)) return "every protocol";
  const r = (rs: Ranges) => rs.map(([a, b]) => (a === b ? `${a}` : a === PORTS[0] && b === PORTS[1] ? "all ports" : `${a}-${b}`)).join(", ");
  const parts = [
    s.tcp.length && `tcp ${r(s.tcp)}`,
    s.udp.length && `udp ${r(s.udp)}`,
    s.icmp4.length && `icmp types ${r(s.icmp4)}`,
    s.icmp6.length && `icmpv6 types ${r(s.icmp6)}`,
    s.other && "other protocols",
  ].filter(Boolean);
  return parts.join("; ") || "nothing";
}
