// Observes the host with iproute2's JSON output: links (with linkinfo and bond-member state)
// and addresses, fos1's own routes (proto FOS1_PROTO) in every table, and fos1's own rules.
// Three read-only processes run side by side; writes are never done here.
import type { Family } from "../api/ip";
import { canonicalIp, canonicalPrefix } from "../api/ip";
import { FOS1_PROTO, ROUTER_SYSCTLS, type ObservedLink, type ObservedState, type RouteEntry, type RuleEntry } from "./model";
import { runToolOk } from "../base/tool";
import { observeFirewall } from "./firewall/observe";
import { observeXdp } from "./xdp/observe";

export interface ObserveXdpOptions {
  /** XDP filters are configured: observe them even when none is pinned yet. */
  wanted: boolean;
  /** Where `fos1 xdp block` records its (dynamic) prefixes. */
  stateDir: string;
}

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
    const data = info.info_data ?? {};
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
    if (kind === "bond")
      link.bond = {
        mode: String(data.mode),
        miimon: Number(data.miimon ?? 0),
        ...(data.ad_lacp_rate !== undefined ? { lacpRate: String(data.ad_lacp_rate) } : {}),
        ...(data.xmit_hash_policy !== undefined ? { xmitHashPolicy: String(data.xmit_hash_policy) } : {}),
        ...(data.min_links !== undefined ? { minLinks: Number(data.min_links) } : {}),
        ...(data.primary !== undefined ? { primary: String(data.primary) } : {}),
      };
    if (kind === "vlan") link.vlan = { parent: l.link ?? "", id: Number(data.id), protocol: String(data.protocol ?? "802.1Q") };
    if (kind === "bridge") link.bridge = { vlanFiltering: Number(data.vlan_filtering ?? 0) === 1, stp: Number(data.stp_state ?? 0) !== 0 };
    if (kind === "vrf") link.vrf = { table: Number(data.table) };
    if (info.info_slave_kind === "bond" && l.master) {
      const s = info.info_slave_data ?? {};
      link.member = {
        of: l.master,
        ...(s.state !== undefined ? { state: String(s.state) } : {}),
        ...(s.mii_status !== undefined ? { mii: String(s.mii_status) } : {}),
        ...(s.ad_aggregator_id !== undefined ? { aggregatorId: Number(s.ad_aggregator_id) } : {}),
      };
    }
    return link;
  });
}

const TABLE_NAMES: Record<string, number> = { main: 254, local: 255, default: 253 };
const tableNumber = (t: string | undefined) => (t === undefined ? 254 : (TABLE_NAMES[t] ?? Number(t)));

interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table?: string;
  metric?: number;
}

export function parseRoutes(json: string): RouteEntry[] {
  return (JSON.parse(json) as IpRoute[]).map((r) => {
    const family: Family = r.dst.includes(":") || r.gateway?.includes(":") ? 6 : 4;
    const dst = r.dst === "default" ? (family === 4 ? "0.0.0.0/0" : "::/0") : r.dst.includes("/") ? r.dst : `${r.dst}/${family === 4 ? 32 : 128}`;
    const route: RouteEntry = {
      family,
      dst: canonicalPrefix(dst) ?? dst,
      table: tableNumber(r.table),
      metric: r.metric ?? 0,
      type: (r.type ?? "unicast") as RouteEntry["type"],
    };
    if (r.gateway) route.gateway = canonicalIp(r.gateway) ?? r.gateway;
    if (r.dev) route.dev = r.dev;
    return route;
  });
}

interface IpRule {
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

/** `ip -json -batch` prints one JSON array per command, back to back. */
export function splitJsonArrays(text: string): string[] {
  const out: string[] = [];
  let depth = 0, start = -1, inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "[") {
      if (depth++ === 0) start = i;
    } else if (c === "]" && --depth === 0) out.push(text.slice(start, i + 1));
  }
  return out;
}

export async function observeLinks(ip = "ip"): Promise<ObservedLink[]> {
  return parseLinks(await runToolOk({ purpose: "read interfaces", argv: [ip, "-json", "-details", "address", "show"] }));
}

export async function readSysctls(keys: string[]): Promise<Record<string, string>> {
  const values = await Promise.all(keys.map((k) => Bun.file(`/proc/sys/${k}`).text().then((t) => t.trim(), () => "")));
  return Object.fromEntries(keys.map((k, i) => [k, values[i]!]));
}

export async function observeHost(ip = "ip", sysctlKeys: string[] = Object.keys(ROUTER_SYSCTLS), xdp?: ObserveXdpOptions): Promise<ObservedState> {
  const [links, v4, v6, sysctls] = await Promise.all([
    observeLinks(ip),
    runToolOk({ purpose: "read routes and rules", argv: [ip, "-json", "-batch", "-"], stdin: `route show table all proto ${FOS1_PROTO}\nrule show\n` }),
    runToolOk({ purpose: "read IPv6 rules", argv: [ip, "-json", "-6", "rule", "show"] }),
    readSysctls(sysctlKeys),
  ]);
  const firewall = await observeFirewall();
  const [routes = "[]", rules4 = "[]"] = splitJsonArrays(v4);
  const state: ObservedState = { sysctls, firewall, links, routes: parseRoutes(routes), rules: [...parseRules(rules4, 4), ...parseRules(v6, 6)] };
  if (xdp) {
    try {
      state.xdp = observeXdp(links.map((l) => l.name), xdp);
    } catch (err) {
      // Without libbpf or bpffs the links, routes and firewall must still converge.
      state.xdp = { filters: [], attached: {}, dynamic: [], error: (err as Error).message };
    }
  }
  return state;
}
