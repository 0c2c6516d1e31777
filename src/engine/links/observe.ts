// Links as the kernel reports them (`ip -json -details address show`): the facts every link
// has, then each kind's own part from its driver (kinds/), and the link's addresses.
import type { Family } from "../../api/ip";
import { canonicalPrefix } from "../../api/ip";
import type { ObservedLink } from "../model";
import { driverOf } from "./kinds";

const FOREVER = 4294967295;

interface IpLink {
  ifindex: number;
  ifname: string;
  link?: string;
  flags?: string[];
  mtu: number;
  operstate?: string;
  address?: string;
  link_type?: string;
  ifalias?: string;
  group?: string;
  master?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: Record<string, unknown>;
    info_slave_kind?: string;
    info_slave_data?: Record<string, unknown>;
  };
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string; dynamic?: boolean; noprefixroute?: boolean; valid_life_time?: number }[];
}

export function parseLinks(json: string): ObservedLink[] {
  return (JSON.parse(json) as IpLink[]).map((l) => {
    const info = l.linkinfo ?? {};
    const kind = l.link_type === "loopback" ? "loopback" : (info.info_kind ?? "physical");
    const link: ObservedLink = {
      name: l.ifname,
      index: l.ifindex,
      kind,
      state: l.operstate ?? "UNKNOWN",
      adminUp: l.flags?.includes("UP") ?? false,
      mac: l.link_type === "ether" ? (l.address?.toLowerCase() ?? null) : null,
      mtu: l.mtu,
      alias: l.ifalias ?? null,
      group: l.group === undefined || l.group === "default" ? 0 : Number(l.group),
      master: l.master ?? null,
      addresses: (l.addr_info ?? [])
        .filter((a) => a.family === "inet" || a.family === "inet6")
        .map((a) => ({
          family: (a.family === "inet" ? 4 : 6) as Family,
          cidr: canonicalPrefix(`${a.local}/${a.prefixlen}`) ?? `${a.local}/${a.prefixlen}`,
          scope: a.scope ?? "global",
          // dhcpcd marks every address it installs noprefixroute, also those with an infinite lease.
          dynamic: a.dynamic === true || a.noprefixroute === true || (a.valid_life_time !== undefined && a.valid_life_time !== FOREVER),
        })),
    };
    driverOf(kind)?.observe?.(link, info.info_data ?? {}, l.link);
    if (info.info_slave_kind && l.master) driverOf(info.info_slave_kind)?.observeMember?.(link, l.master, info.info_slave_data ?? {});
    return link;
  });
}
