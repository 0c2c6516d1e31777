// Bonds (802.3ad with LACP, active-backup, …). The mode cannot change on a live bond, so a new
// mode is a new bond; the LACP rate changes only while the bond is down; the primary needs
// its member enslaved first. The kernel wants a member down to enslave it, takes it down when
// it leaves, and gives it the bond's MTU.
import type { LinkKindDriver } from "./kind";

const DEFAULT_MIIMON = 100;

export interface BondParams {
  mode: string;
  miimon: number;
  lacpRate?: "slow" | "fast";
  xmitHashPolicy?: string;
  minLinks?: number;
  /** Kernel name of the preferred member. */
  primary?: string;
}

export interface ObservedBond {
  mode: string;
  miimon: number;
  lacpRate?: string;
  xmitHashPolicy?: string;
  minLinks?: number;
  primary?: string;
}

/** A bond member's state (ACTIVE/BACKUP), MII status and 802.3ad aggregator. */
export interface BondMember {
  of: string;
  state?: string;
  mii?: string;
  aggregatorId?: number;
}

/** The parameters that differ from what the bond has (all of them for a new bond), as ip spells them. */
function params(b: BondParams, current?: ObservedBond): [string, string | number][] {
  const out: [string, string | number][] = [];
  if (!current || current.miimon !== b.miimon) out.push(["miimon", b.miimon]);
  if (b.lacpRate && current?.lacpRate !== b.lacpRate) out.push(["lacp_rate", b.lacpRate]);
  if (b.xmitHashPolicy && current?.xmitHashPolicy !== b.xmitHashPolicy) out.push(["xmit_hash_policy", b.xmitHashPolicy]);
  if (b.minLinks !== undefined && current?.minLinks !== b.minLinks) out.push(["min_links", b.minLinks]);
  return out;
}
const spelled = (p: [string, string | number][]) => p.map(([k, v]) => ` ${k} ${v}`).join("");

export const bond: LinkKindDriver = {
  kind: "bond",
  created: true,
  master: { joinDown: true, leaveDown: true, memberMtu: true },
  desire(link, from, ctx) {
    const b = from.obj.value.spec.bond!;
    link.bond = { mode: b.mode, miimon: b.miimon ?? DEFAULT_MIIMON };
    if (b.lacpRate) link.bond.lacpRate = b.lacpRate;
    if (b.xmitHashPolicy) link.bond.xmitHashPolicy = b.xmitHashPolicy;
    if (b.minLinks !== undefined) link.bond.minLinks = b.minLinks;
    if (b.primary) link.bond.primary = ctx.refName(b.primary);
  },
  observe(link, data) {
    link.bond = {
      mode: String(data.mode),
      miimon: Number(data.miimon ?? 0),
      ...(data.ad_lacp_rate !== undefined ? { lacpRate: String(data.ad_lacp_rate) } : {}),
      ...(data.xmit_hash_policy !== undefined ? { xmitHashPolicy: String(data.xmit_hash_policy) } : {}),
      ...(data.min_links !== undefined ? { minLinks: Number(data.min_links) } : {}),
      ...(data.primary !== undefined ? { primary: String(data.primary) } : {}),
    };
  },
  observeMember(link, master, s) {
    link.member = {
      of: master,
      ...(s.state !== undefined ? { state: String(s.state) } : {}),
      ...(s.mii_status !== undefined ? { mii: String(s.mii_status) } : {}),
      ...(s.ad_aggregator_id !== undefined ? { aggregatorId: Number(s.ad_aggregator_id) } : {}),
    };
  },
  rename: (l, name) => (l.bond!.primary ? { ...l, bond: { ...l.bond!, primary: name(l.bond!.primary) } } : l),
  create: (l) => ` mode ${l.bond!.mode}${spelled(params(l.bond!))}`,
  describe: (l) => `bond, mode ${l.bond!.mode}`,
  replaceReason(want, have) {
    if (have.bond && want.bond!.mode !== have.bond.mode) return `bond mode ${have.bond.mode} → ${want.bond!.mode} needs a new bond`;
    return undefined;
  },
  adjust(want, have) {
    const b = want.bond!;
    if (!have.bond) return [];
    const out = [];
    if (b.lacpRate && have.bond.lacpRate !== b.lacpRate) {
      // The kernel changes the LACP rate only on a bond that is down.
      out.push({ detail: `lacp_rate ${have.bond.lacpRate} → ${b.lacpRate} (bond briefly down)`, set: { up: false } });
      out.push({ detail: "", set: { type: "bond" as const, params: [["lacp_rate", b.lacpRate] as [string, string]] } });
      if (want.up) out.push({ detail: "up", set: { up: true } });
    }
    const rest = params({ ...b, lacpRate: undefined }, have.bond);
    if (rest.length) out.push({ detail: `bond${spelled(rest)}`, set: { type: "bond" as const, params: rest } });
    return out;
  },
  settle(want, have, present) {
    const primary = want.bond!.primary;
    if (!primary || !present(primary) || have?.bond?.primary === primary) return [];
    return [{ detail: `primary ${primary}`, set: { type: "bond", params: [["primary", primary]] } }];
  },
};
