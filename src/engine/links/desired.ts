// NetworkInterface and VRF objects → desired links: what every link has (name, addresses,
// MTU, state, master), then each kind's own part from its driver (kinds/).
import { canonicalPrefix } from "../../api/ip";
import type { InterfaceInfo, NetworkIndex } from "../../api/network-index";
import type { DesiredLink } from "../model";
import { LINK_KINDS } from "./kinds";
import type { DesireContext } from "./kinds/kind";

/**
 * A NIC matched by MAC has no name until plan looks at the host: it is referred to by a
 * placeholder that plan rewrites everywhere (names.ts).
 */
export const kernelName = (i: InterfaceInfo) => i.ifname ?? `mac:${i.obj.value.spec.mac!.toLowerCase()}`;

export function desireContext(idx: NetworkIndex): DesireContext {
  return { idx, ifname: kernelName, refName: (ref) => kernelName(idx.resolve(ref)!) };
}

export function desiredLinks(ctx: DesireContext): DesiredLink[] {
  const { idx } = ctx;
  const masters = new Map<string, string>();
  for (const i of idx.interfaces) for (const m of idx.members(i)) masters.set(ctx.refName(m), i.name);
  for (const v of idx.vrfs) for (const m of v.value.spec.members ?? []) masters.set(ctx.refName(m), v.value.metadata.name);
  for (const i of idx.interfaces) if (i.obj.value.spec.vrf) masters.set(ctx.ifname(i), i.obj.value.spec.vrf);

  const links: DesiredLink[] = Object.values(LINK_KINDS).flatMap((k) => k.declared?.(ctx) ?? []);
  const implied = new Map<string, DesiredLink>();
  for (const i of idx.interfaces) {
    const s = i.obj.value.spec;
    const link: DesiredLink = { ref: i.obj.ref, name: ctx.ifname(i), kind: i.type, up: s.up ?? true, addresses: (s.addresses ?? []).map((a) => canonicalPrefix(a)!) };
    if (s.mac) link.matchMac = s.mac.toLowerCase();
    if (s.mtu !== undefined) link.mtu = s.mtu;
    const master = masters.get(link.name);
    if (master) link.master = master;
    // A link it implies comes before the first link that implies it.
    for (const extra of LINK_KINDS[i.type].desire?.(link, i, ctx) ?? [])
      if (!implied.has(extra.name)) {
        implied.set(extra.name, extra);
        links.push(extra);
      }
    links.push(link);
  }
  return links;
}
