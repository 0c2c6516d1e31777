// Observes the host's links and their addresses with one `ip -json -details address show`.
// The engine (plan/apply) builds on the same observation; desired and observed state are
// separate types, as in Talos's network controllers.
import { runToolOk } from "./tool";

export interface ObservedAddress {
  family: "inet" | "inet6";
  cidr: string;
  scope: string;
}

export interface ObservedLink {
  name: string;
  index: number;
  kind: string; // "physical" when the kernel reports no linkinfo kind
  state: string; // operstate as the kernel reports it: UP, DOWN, UNKNOWN, LOWERLAYERDOWN …
  adminUp: boolean;
  mac: string | null;
  mtu: number;
  alias: string | null;
  master: string | null;
  addresses: ObservedAddress[];
}

interface IpJsonLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu: number;
  operstate?: string;
  address?: string;
  link_type?: string;
  ifalias?: string;
  master?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

export function parseIpAddressJson(json: string): ObservedLink[] {
  const raw = JSON.parse(json) as IpJsonLink[];
  return raw.map((l) => ({
    name: l.ifname,
    index: l.ifindex,
    kind: l.link_type === "loopback" ? "loopback" : (l.linkinfo?.info_kind ?? "physical"),
    state: l.operstate ?? "UNKNOWN",
    adminUp: l.flags?.includes("UP") ?? false,
    mac: l.link_type === "ether" ? (l.address ?? null) : null,
    mtu: l.mtu,
    alias: l.ifalias ?? null,
    master: l.master ?? null,
    addresses: (l.addr_info ?? [])
      .filter((a) => a.family === "inet" || a.family === "inet6")
      .map((a) => ({ family: a.family as "inet" | "inet6", cidr: `${a.local}/${a.prefixlen}`, scope: a.scope ?? "global" })),
  }));
}

export async function observeLinks(ip = "ip"): Promise<ObservedLink[]> {
  return parseIpAddressJson(await runToolOk({ purpose: "read interfaces", argv: [ip, "-json", "-details", "address", "show"] }));
}
