// Static routes (Route objects): fos1's own, marked with protocol FOS1_PROTO in every table, so
// routes of the kernel, DHCP, Talos and Cilium are never read as fos1's or touched.
import { canonicalIp, canonicalPrefix, contains, formatPrefix, network, parseIp, parsePrefix, type Family } from "../api/ip";
import { FOS1_PROTO, type DesiredLink, type DesiredRoute, type RouteEntry } from "./model";
import { GONE, type Op } from "./op";
import type { Reconciler } from "./reconciler";
import { splitJsonArrays } from "./host-reader";
import type { DesireContext } from "./links/kinds/kind";

export type RouteChange = { do: "replace" | "del"; route: RouteEntry };

export const MAIN_TABLE = 254;
const TABLE_NAMES: Record<string, number> = { main: MAIN_TABLE, local: 255, default: 253 };
export const tableNumber = (t: string | undefined) => (t === undefined ? MAIN_TABLE : (TABLE_NAMES[t] ?? Number(t)));
const tableName = (t: number) => (t === MAIN_TABLE ? "main" : String(t));

/** Route objects → desired routes (table from the VRF, metric as the kernel will report it). */
export function desiredRoutes({ idx, refName }: DesireContext): DesiredRoute[] {
  return idx.routes.map((r) => {
    const s = r.value.spec;
    const gw = s.gateway ? parseIp(s.gateway) : null;
    const dst = s.destination === "default" ? { family: gw!.family, addr: 0n, len: 0 } : network(parsePrefix(s.destination)!);
    const route: DesiredRoute = {
      ref: r.ref,
      family: dst.family,
      dst: formatPrefix(dst),
      table: s.vrf ? idx.vrf(s.vrf)!.value.spec.table : s.table === undefined || s.table === "main" ? MAIN_TABLE : s.table,
      // The kernel gives IPv6 routes metric 1024 when none is asked for; say so, so they compare.
      metric: s.metric ?? (dst.family === 6 ? 1024 : 0),
      type: s.type ?? "unicast",
    };
    if (s.gateway) route.gateway = canonicalIp(s.gateway)!;
    if (s.interface) route.dev = refName(s.interface);
    return route;
  });
}

/** One entry of `ip -json route show`, as far as fos1 reads it. */
export interface IpRoute {
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
    const route: RouteEntry = { family, dst: canonicalPrefix(dst) ?? dst, table: tableNumber(r.table), metric: r.metric ?? 0, type: (r.type ?? "unicast") as RouteEntry["type"] };
    if (r.gateway) route.gateway = canonicalIp(r.gateway) ?? r.gateway;
    if (r.dev) route.dev = r.dev;
    return route;
  });
}

/** The link a route leaves by: its dev, or the configured link whose network holds its gateway. */
export function routeLink(r: RouteEntry, links: DesiredLink[]): string | undefined {
  if (r.dev || !r.gateway) return r.dev;
  const gw = parseIp(r.gateway);
  if (!gw) return undefined;
  return links.find((l) => l.addresses.some((a) => contains(parsePrefix(a)!, gw)))?.name;
}

const sameRouteKey = (a: RouteEntry, b: RouteEntry) => a.family === b.family && a.dst === b.dst && a.table === b.table && a.metric === b.metric;
/** `want` without a dev leaves the choice to the kernel (it picks the link the gateway is on). */
const sameRoute = (have: RouteEntry, want: RouteEntry) =>
  sameRouteKey(have, want) && have.type === want.type && (have.gateway ?? "") === (want.gateway ?? "") && (!want.dev || have.dev === want.dev);

export function describeRoute(r: RouteEntry): string {
  const dst = r.dst === "0.0.0.0/0" || r.dst === "::/0" ? `default${r.family === 6 ? " (IPv6)" : ""}` : r.dst;
  return [r.type !== "unicast" ? r.type : "", dst, r.gateway ? `via ${r.gateway}` : "", r.dev ? `dev ${r.dev}` : "", `table ${tableName(r.table)}`, r.metric ? `metric ${r.metric}` : ""]
    .filter(Boolean)
    .join(" ");
}

export const routes: Reconciler<{ routes: DesiredRoute[]; links: DesiredLink[] }, RouteEntry[], RouteChange> = {
  resource: "routes",
  desired: (s) => ({ routes: s.routes, links: s.links }),
  observed: (s) => s.routes,
  observe: async (host) => ({ routes: parseRoutes(splitJsonArrays(await host.routesAndRules4())[0] ?? "[]") }),
  plan(desired, observed, { links: t, degraded }) {
    const ops: Op<RouteChange>[] = [];
    const wanted: DesiredRoute[] = [];
    for (const r of desired.routes) {
      const via = routeLink(r, desired.links);
      if (via && !t.usable.has(via)) degraded.push({ ref: r.ref, subject: `route ${describeRoute(r)}`, reason: `interface ${via} is not available` });
      else wanted.push(r);
    }
    // The kernel removes a route with its link.
    const surviving = observed.filter((r) => !(r.dev && t.gone.has(r.dev)));
    for (const r of surviving)
      if (!wanted.some((w) => sameRouteKey(w, r))) ops.push({ resource: "routes", phase: "remove", action: "remove", ref: GONE, subject: `route ${describeRoute(r)}`, change: { do: "del", route: r } });
    // `replace` both adds and corrects, so a re-run after a crash is harmless.
    for (const r of wanted) {
      const o = surviving.find((x) => sameRouteKey(x, r));
      if (o && sameRoute(o, r)) continue;
      const { ref: _ref, ...route } = r;
      ops.push({ resource: "routes", phase: "routes", action: o ? "change" : "add", ref: r.ref, subject: `route ${describeRoute(r)}`, ...(o ? { detail: `was ${describeRoute(o)}` } : {}), change: { do: "replace", route } });
    }
    return ops;
  },
  write(ops, out) {
    for (const op of ops) {
      const { do: verb, route: r } = op.change;
      const type = r.type === "unicast" ? "" : `${r.type} `;
      out.ip(op, `route ${verb} ${type}${r.dst}${r.gateway ? ` via ${r.gateway}` : ""}${r.dev ? ` dev ${r.dev}` : ""} table ${r.table} metric ${r.metric} proto ${FOS1_PROTO}`);
    }
  },
};
