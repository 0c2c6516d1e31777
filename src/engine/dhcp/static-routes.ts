// Option 121 (classless static routes) of an uplink's lease, screened: which routes fos1
// installs, which it refuses, and the ip batch that makes the kernel match. Pure.
//
// Why fos1 and not dhcpcd installs them: dhcpcd 9.4 installs every route the server sends and
// has no per-route filter, and its hook scripts run after it has installed them, so a route
// that sends the management network out the uplink would be in force, however briefly, at
// every renewal. fos1 keeps dhcpcd from acting on option 121 at all (config.ts) and installs
// from the lease only what passes here: a route never reaches the kernel unless it overlaps no
// connected, LAN or management network. Overlap either way counts — a /25 inside the management
// /24 would win by longest match; a /8 around a LAN /24 claims hosts the operator may add.
import { formatPrefix, network, overlaps, parsePrefix, type Prefix } from "../../api/ip";
import type { ClasslessRoute, ScreenedRoutes } from "./spec";

/** Route protocol number of the option-121 routes fos1 installs (fos1's own static routes are 241). */
export const FOS1_DHCP_ROUTE_PROTO = 242;

/**
 * Splits the offered routes into those to install and those refused, each refused one with the
 * protected networks it overlaps. The default route (0.0.0.0/0) is left out of both: the
 * uplink's default route is dhcpcd's, from the router option, and a default overlaps everything.
 * A destination with host bits set is taken as its network, as the kernel would.
 */
export function screenClasslessRoutes(offered: ClasslessRoute[], protectedNetworks: string[]): ScreenedRoutes {
  const guarded = protectedNetworks.map(parsePrefix).filter((p): p is Prefix => p?.family === 4).map(network);
  const result: ScreenedRoutes = { accepted: [], refused: [] };
  const seen = new Set<string>();
  for (const r of offered) {
    const dst = parsePrefix(r.dst);
    if (!dst || dst.family !== 4 || dst.len === 0) continue;
    const route = { dst: formatPrefix(network(dst)), gateway: r.gateway };
    if (seen.has(route.dst)) continue; // the first of two routes to one destination, as the kernel's replace would keep the last
    seen.add(route.dst);
    const hit = [...new Set(guarded.filter((g) => overlaps(g, dst)).map(formatPrefix))].sort();
    if (hit.length) result.refused.push({ ...route, overlaps: hit });
    else result.accepted.push(route);
  }
  return result;
}

/** The networks of an `ip -json addr show` dump's global IPv4 addresses: what the router is connected to. */
export function connectedNetworks(ipAddrJson: string): string[] {
  const links = JSON.parse(ipAddrJson) as { addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[] }[];
  return links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === "inet" && a.scope !== "host").map((a) => formatPrefix(network(parsePrefix(`${a.local}/${a.prefixlen}`)!))));
}

/** A route of FOS1_DHCP_ROUTE_PROTO as `ip -json route show` prints it. */
export interface InstalledRoute {
  dst: string;
  gateway?: string;
  dev: string;
  metric?: number;
}

/**
 * `ip -batch` lines that make the kernel's option-121 routes on ifname exactly want: replace
 * what differs, delete what is no longer wanted. Empty when nothing differs.
 */
export function classlessRouteBatch(ifname: string, metric: number, want: ClasslessRoute[], installed: InstalledRoute[]): string[] {
  const mine = installed.filter((r) => r.dev === ifname);
  const lines: string[] = [];
  for (const r of want) {
    const onLink = r.gateway === "0.0.0.0";
    const have = mine.find((i) => i.dst === r.dst);
    if (have && (have.gateway ?? "0.0.0.0") === r.gateway && (have.metric ?? 0) === metric) continue;
    // A stale one of another metric would stay beside the new one: replace matches on metric too.
    if (have && (have.metric ?? 0) !== metric) lines.push(`route del ${have.dst} dev ${ifname} metric ${have.metric ?? 0} proto ${FOS1_DHCP_ROUTE_PROTO}`);
    lines.push(`route replace ${r.dst}${onLink ? " scope link" : ` via ${r.gateway}`} dev ${ifname} metric ${metric} proto ${FOS1_DHCP_ROUTE_PROTO}`);
  }
  for (const i of mine)
    if (!want.some((r) => r.dst === i.dst)) lines.push(`route del ${i.dst} dev ${ifname} metric ${i.metric ?? 0} proto ${FOS1_DHCP_ROUTE_PROTO}`);
  return lines;
}
