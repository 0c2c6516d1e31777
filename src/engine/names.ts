// NICs matched by MAC get the name the host gives them, and every reference to them follows:
// until then the desired state calls them "mac:<address>" (links/desired.ts).
import type { DesiredLink, DesiredState, ObservedLink } from "./model";
import type { Degraded } from "./op";
import { driverOf, isCreatedKind } from "./links/kinds";

export function settleNames(d: DesiredState, observed: ObservedLink[], degraded: Degraded[]): DesiredState {
  if (!d.links.some((l) => l.matchMac)) return d;
  const rename = new Map<string, string>();
  for (const l of d.links) {
    if (!l.matchMac) continue;
    const nic = observed.find((o) => o.mac === l.matchMac && !isCreatedKind(o.kind) && !o.vlan);
    if (nic) rename.set(l.name, nic.name);
    else degraded.push({ ref: l.ref, subject: `link with MAC ${l.matchMac}`, reason: `no NIC with MAC ${l.matchMac} is present` });
  }
  const r = (n: string) => rename.get(n) ?? n;
  const links = d.links
    .filter((l) => !l.matchMac || rename.has(l.name))
    .map((l) => {
      const out: DesiredLink = { ...l, name: r(l.name) };
      if (l.master) out.master = r(l.master);
      return driverOf(l.kind)?.rename?.(out, r) ?? out;
    });
  const routes = d.routes.map((x) => (x.dev ? { ...x, dev: r(x.dev) } : x));
  const rules = d.rules.map((x) => ({ ...x, ...(x.iif ? { iif: r(x.iif) } : {}), ...(x.oif ? { oif: r(x.oif) } : {}) }));
  const all = (names: string[]) => names.map(r);
  const firewall = {
    ...d.firewall,
    zones: d.firewall.zones.map((z) => ({ ...z, interfaces: all(z.interfaces) })),
    vlanPolicies: d.firewall.vlanPolicies.map((v) => ({ ...v, fromInterfaces: all(v.fromInterfaces), toInterfaces: all(v.toInterfaces) })),
    nat: d.firewall.nat.map((n) => ({ ...n, interface: r(n.interface) })),
  };
  const dhcp = d.dhcp.map((s) => {
    const pd = s.prefixDelegation;
    return { ...s, ifname: r(s.ifname), ...(pd ? { prefixDelegation: { ...pd, assign: pd.assign.map((a) => ({ ...a, ifname: r(a.ifname) })) } } : {}) };
  });
  const xdp = d.xdp && { filters: d.xdp.filters.map((f) => ({ ...f, interfaces: all(f.interfaces) })) };
  const lan = d.lan && {
    dhcp: d.lan.dhcp.map((s) => ({ ...s, ifname: r(s.ifname) })),
    ra: d.lan.ra.map((s) => ({ ...s, ifname: r(s.ifname) })),
    dns: d.lan.dns && { ...d.lan.dns, ifnames: all(d.lan.dns.ifnames) },
  };
  return { ...d, links, routes, rules, firewall, dhcp, ...(xdp ? { xdp } : {}), ...(lan ? { lan } : {}) };
}
