// Config objects → desired host state. Runs on a config that passed validation, so every
// reference resolves; what is left open is only what needs the host (NICs matched by MAC).
import { canonicalIp, canonicalPrefix, formatPrefix, network, parseIp, parsePrefix } from "../api/ip";
import type { LoadedObject } from "../api/load";
import type { ConfigObject } from "../api/kinds";
import { NetworkIndex, type InterfaceInfo } from "../api/network-index";
import { desiredFirewall } from "../policy/model";
import { desiredXdp } from "./xdp/model";
import { ROUTER_SYSCTLS, type DesiredDhcp, type DesiredLink, type DesiredRoute, type DesiredRule, type DesiredState } from "./model";

const DEFAULT_MIIMON = 100;

export function desiredState(objects: LoadedObject<ConfigObject>[]): DesiredState {
  const idx = new NetworkIndex(objects);
  // A NIC matched by MAC has no name until plan looks at the host; refer to it by a
  // placeholder that plan rewrites everywhere.
  const ifname = (i: InterfaceInfo) => i.ifname ?? `mac:${i.obj.value.spec.mac!.toLowerCase()}`;
  const refName = (ref: string) => ifname(idx.resolve(ref)!);

  const masters = new Map<string, string>();
  for (const i of idx.interfaces) for (const m of idx.members(i)) masters.set(refName(m), i.name);
  for (const v of idx.vrfs) for (const m of v.value.spec.members ?? []) masters.set(refName(m), v.value.metadata.name);
  for (const i of idx.interfaces) if (i.obj.value.spec.vrf) masters.set(ifname(i), i.obj.value.spec.vrf);

  const links: DesiredLink[] = idx.vrfs.map((v) => ({
    ref: v.ref,
    name: v.value.metadata.name,
    kind: "vrf",
    vrf: { table: v.value.spec.table },
    up: true,
    addresses: [],
  }));

  const implicitParents = new Set<string>();
  for (const i of idx.interfaces) {
    const s = i.obj.value.spec;
    const link: DesiredLink = {
      ref: i.obj.ref,
      name: ifname(i),
      kind: i.type,
      up: s.up ?? true,
      addresses: (s.addresses ?? []).map((a) => canonicalPrefix(a)!),
    };
    if (s.mac) link.matchMac = s.mac.toLowerCase();
    if (s.mtu !== undefined) link.mtu = s.mtu;
    const master = masters.get(link.name);
    if (master) link.master = master;
    if (i.type === "bond") {
      const b = s.bond!;
      link.bond = { mode: b.mode, miimon: b.miimon ?? DEFAULT_MIIMON };
      if (b.lacpRate) link.bond.lacpRate = b.lacpRate;
      if (b.xmitHashPolicy) link.bond.xmitHashPolicy = b.xmitHashPolicy;
      if (b.minLinks !== undefined) link.bond.minLinks = b.minLinks;
      if (b.primary) link.bond.primary = refName(b.primary);
    }
    if (i.type === "bridge") link.bridge = { vlanFiltering: s.bridge!.vlanFiltering ?? false, stp: s.bridge!.stp ?? false };
    if (i.type === "vlan") {
      const parent = idx.vlanParent(i);
      const parentName = parent.info ? ifname(parent.info) : parent.device!;
      link.vlan = { parent: parentName, id: s.vlan!.id, protocol: s.vlan!.protocol ?? "802.1Q" };
      if (!parent.info && !implicitParents.has(parentName)) {
        implicitParents.add(parentName);
        links.push({ ref: i.obj.ref, name: parentName, kind: "physical", implicit: true, up: true, addresses: [] });
      }
    }
    links.push(link);
  }

  const routes: DesiredRoute[] = idx.routes.map((r) => {
    const s = r.value.spec;
    const gw = s.gateway ? parseIp(s.gateway) : null;
    const dst = s.destination === "default" ? { family: gw!.family, addr: 0n, len: 0 } : network(parsePrefix(s.destination)!);
    const route: DesiredRoute = {
      ref: r.ref,
      family: dst.family,
      dst: formatPrefix(dst),
      table: s.vrf ? idx.vrf(s.vrf)!.value.spec.table : s.table === undefined || s.table === "main" ? 254 : s.table,
      // The kernel gives IPv6 routes metric 1024 when none is asked for; say so, so they compare.
      metric: s.metric ?? (dst.family === 6 ? 1024 : 0),
      type: s.type ?? "unicast",
    };
    if (s.gateway) route.gateway = canonicalIp(s.gateway)!;
    if (s.interface) route.dev = refName(s.interface);
    return route;
  });

  const rules: DesiredRule[] = idx.policies.map((p) => {
    const s = p.value.spec;
    const from = s.from ? parsePrefix(s.from)! : undefined;
    const to = s.to ? parsePrefix(s.to)! : undefined;
    const rule: DesiredRule = {
      ref: p.ref,
      family: from?.family ?? to?.family ?? (s.family === "ipv6" ? 6 : 4),
      priority: s.priority,
      table: s.vrf ? idx.vrf(s.vrf)!.value.spec.table : s.table === undefined || s.table === "main" ? 254 : s.table,
    };
    if (from) rule.from = formatPrefix(network(from));
    if (to) rule.to = formatPrefix(network(to));
    if (s.iif) rule.iif = refName(s.iif);
    if (s.oif) rule.oif = refName(s.oif);
    if (s.fwmark !== undefined) rule.fwmark = s.fwmark;
    if (s.fwmask !== undefined) rule.fwmask = s.fwmask;
    return rule;
  });

  const dhcp: DesiredDhcp[] = idx.interfaces
    .filter((i) => i.obj.value.spec.dhcp)
    .map((i) => {
      const d = i.obj.value.spec.dhcp!;
      const spec: DesiredDhcp = { ref: i.obj.ref, ifname: ifname(i), v4: d.v4 ?? true, v6: d.v6 ?? false };
      if (d.prefixDelegation) {
        const assign = idx.interfaces
          .filter((l) => l.obj.value.spec.delegatedPrefix && idx.resolve(l.obj.value.spec.delegatedPrefix.from) === i)
          .map((l) => ({ ifname: ifname(l), subnetId: l.obj.value.spec.delegatedPrefix!.subnetId }));
        spec.v6 = true;
        spec.prefixDelegation = { assign, ...(d.prefixDelegation.hintLength ? { hintLength: d.prefixDelegation.hintLength } : {}) };
      }
      return spec;
    });

  return { sysctls: { ...ROUTER_SYSCTLS }, firewall: desiredFirewall(objects), links, routes, rules, dhcp, xdp: desiredXdp(objects) };
}
