// Every link's traffic counters and bond-member state from one `ip -json -details -stats link
// show`: one process and one netlink dump per read however many links there are (reading
// /sys/class/net/*/statistics would be eight files per link).
import { ALIAS_PREFIX, isOwned } from "../../engine/model";
import { parseLinks } from "../../engine/links/observe";
import { runToolOk } from "../../base/tool";

/** Kinds that make up the router's network, as opposed to links of others (Cilium's veths and tunnels) and lo. */
export const ROUTER_KINDS: ReadonlySet<string> = new Set(["physical", "bond", "vlan", "bridge", "vrf"]);

export interface DirectionCounters {
  bytes: number;
  packets: number;
  errors: number;
  drops: number;
}

export interface LinkCounters {
  /** The kernel's name. */
  device: string;
  /** The fos1 object it serves (its alias fos1:<object>, or its own name when fos1 created it); "" when not fos1's. */
  interface: string;
  /** The kernel's kind: physical, vlan, bond, bridge, vrf, veth, loopback, … */
  kind: string;
  up: boolean;
  vlan: { id: number; parent: string } | null;
  /** As a bond member: its bond, whether the bond uses it (ACTIVE), whether its link is up (MII). */
  member: { bond: string; active: boolean; linkUp: boolean } | null;
  rx: DirectionCounters;
  tx: DirectionCounters;
}

interface IpStats {
  ifname: string;
  stats64?: Record<"rx" | "tx", { bytes: number; packets: number; errors: number; dropped: number }>;
}

const ZERO: IpStats["stats64"] = { rx: { bytes: 0, packets: 0, errors: 0, dropped: 0 }, tx: { bytes: 0, packets: 0, errors: 0, dropped: 0 } };

export function parseLinkCounters(json: string): LinkCounters[] {
  const stats = new Map((JSON.parse(json) as IpStats[]).map((s) => [s.ifname, s.stats64 ?? ZERO!]));
  return parseLinks(json).map((l) => {
    const s = stats.get(l.name) ?? ZERO!;
    const direction = (d: "rx" | "tx"): DirectionCounters => ({ bytes: s[d].bytes, packets: s[d].packets, errors: s[d].errors, drops: s[d].dropped });
    return {
      device: l.name,
      interface: l.alias?.startsWith(ALIAS_PREFIX) ? l.alias.slice(ALIAS_PREFIX.length) : isOwned(l) ? l.name : "",
      kind: l.kind,
      up: l.state === "UP" || (l.state === "UNKNOWN" && l.adminUp),
      vlan: l.vlan ? { id: l.vlan.id, parent: l.vlan.parent } : null,
      member: l.member ? { bond: l.member.of, active: l.member.state === "ACTIVE", linkUp: l.member.mii === "UP" } : null,
      rx: direction("rx"),
      tx: direction("tx"),
    };
  });
}

export async function readLinkCounters(ip = "ip"): Promise<LinkCounters[]> {
  return parseLinkCounters(await runToolOk({ purpose: "read interface counters", argv: [ip, "-json", "-details", "-stats", "link", "show"] }));
}
