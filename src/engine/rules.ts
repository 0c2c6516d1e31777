// Policy routing rules (RoutingPolicy objects): fos1's own, marked with protocol FOS1_PROTO.
import { formatPrefix, network, parsePrefix, type Family } from "../api/ip";
import { canonicalPrefix } from "../api/ip";
import { FOS1_PROTO, type DesiredRule, type RuleEntry } from "./model";
import { GONE, type Op } from "./op";
import type { Reconciler } from "./reconciler";
import { splitJsonArrays } from "./host-reader";
import { MAIN_TABLE, tableNumber } from "./routes";
import type { DesireContext } from "./links/kinds/kind";

export type RuleChange = { do: "add" | "del"; rule: RuleEntry };

/** RoutingPolicy objects → desired rules (the table from the VRF; the family from an address, or as declared). */
export function desiredRules({ idx, refName }: DesireContext): DesiredRule[] {
  return idx.policies.map((p) => {
    const s = p.value.spec;
    const from = s.from ? parsePrefix(s.from)! : undefined;
    const to = s.to ? parsePrefix(s.to)! : undefined;
    const rule: DesiredRule = {
      ref: p.ref,
      family: from?.family ?? to?.family ?? (s.family === "ipv6" ? 6 : 4),
      priority: s.priority,
      table: s.vrf ? idx.vrf(s.vrf)!.value.spec.table : s.table === undefined || s.table === "main" ? MAIN_TABLE : s.table,
    };
    if (from) rule.from = formatPrefix(network(from));
    if (to) rule.to = formatPrefix(network(to));
    if (s.iif) rule.iif = refName(s.iif);
    if (s.oif) rule.oif = refName(s.oif);
    if (s.fwmark !== undefined) rule.fwmark = s.fwmark;
    if (s.fwmask !== undefined) rule.fwmask = s.fwmask;
    return rule;
  });
}

/** One entry of `ip -json rule show`, as far as fos1 reads it. */
export interface IpRule {
  priority: number;
  src?: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  iif?: string;
  oif?: string;
  fwmark?: string;
  fwmask?: string;
  table?: string;
  protocol?: string;
}

export function parseRules(json: string, family: Family): RuleEntry[] {
  const prefix = (a: string | undefined, len: number | undefined) =>
    a && a !== "all" ? (canonicalPrefix(`${a}/${len ?? (family === 4 ? 32 : 128)}`) ?? undefined) : undefined;
  return (JSON.parse(json) as IpRule[])
    .filter((r) => r.protocol === String(FOS1_PROTO))
    .map((r) => {
      const rule: RuleEntry = { family, priority: r.priority, table: tableNumber(r.table) };
      const from = prefix(r.src, r.srclen);
      const to = prefix(r.dst, r.dstlen);
      if (from) rule.from = from;
      if (to) rule.to = to;
      if (r.iif) rule.iif = r.iif;
      if (r.oif) rule.oif = r.oif;
      if (r.fwmark !== undefined) rule.fwmark = Number(r.fwmark);
      if (r.fwmask !== undefined) rule.fwmask = Number(r.fwmask);
      return rule;
    });
}

const KEYS: (keyof RuleEntry)[] = ["family", "priority", "from", "to", "iif", "oif", "fwmark", "fwmask", "table"];
const sameRule = (a: RuleEntry, b: RuleEntry) => KEYS.every((k) => (a[k] ?? "") === (b[k] ?? ""));

/** The kernel takes rules naming absent interfaces (they match once it appears); only a NIC whose name is still unknown (matched by MAC, not present) stops one. */
const usable = (r: DesiredRule) => ![r.iif, r.oif].some((n) => n?.startsWith("mac:"));

const fwmark = (r: RuleEntry) => (r.fwmark !== undefined ? `fwmark 0x${r.fwmark.toString(16)}${r.fwmask !== undefined ? `/0x${r.fwmask.toString(16)}` : ""}` : "");
const selectors = (r: RuleEntry) => [r.from ? `from ${r.from}` : "", r.to ? `to ${r.to}` : "", r.iif ? `iif ${r.iif}` : "", r.oif ? `oif ${r.oif}` : "", fwmark(r)];

export function describeRule(r: RuleEntry): string {
  const table = r.table === MAIN_TABLE ? "main" : String(r.table);
  return [`priority ${r.priority}`, ...selectors(r), `lookup ${table}`, r.family === 6 && !r.from && !r.to ? "(IPv6)" : ""].filter(Boolean).join(" ");
}

export const rules: Reconciler<DesiredRule[], RuleEntry[], RuleChange> = {
  resource: "rules",
  desired: (s) => s.rules,
  observed: (s) => s.rules,
  async observe(host) {
    const [v4, v6] = await Promise.all([host.routesAndRules4(), host.rules6()]);
    return { rules: [...parseRules(splitJsonArrays(v4)[1] ?? "[]", 4), ...parseRules(v6, 6)] };
  },
  plan(desired, observed, { degraded }) {
    const ops: Op<RuleChange>[] = [];
    const wanted = desired.filter(usable);
    for (const r of desired.filter((x) => !usable(x))) degraded.push({ ref: r.ref, subject: `rule ${describeRule(r)}`, reason: "it names a NIC matched by MAC that is not present" });
    for (const r of observed)
      if (!wanted.some((w) => sameRule(w, r))) ops.push({ resource: "rules", phase: "remove", action: "remove", ref: GONE, subject: `rule ${describeRule(r)}`, change: { do: "del", rule: r } });
    for (const r of wanted)
      if (!observed.some((o) => sameRule(o, r))) {
        const { ref: _ref, ...rule } = r;
        ops.push({ resource: "rules", phase: "rules", action: "add", ref: r.ref, subject: `rule ${describeRule(r)}`, change: { do: "add", rule } });
      }
    return ops;
  },
  write(ops, out) {
    for (const op of ops) {
      const r = op.change.rule;
      const line = [`rule ${op.change.do} priority ${r.priority}`, ...selectors(r), `table ${r.table} protocol ${FOS1_PROTO}`].filter(Boolean).join(" ");
      // `ip rule` takes IPv4 unless told otherwise, even for IPv6 addresses: IPv6 rules need `ip -6`.
      out.ip(op, line, { ipv6: r.family === 6 });
    }
  },
};
