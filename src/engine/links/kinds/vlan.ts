// 802.1Q (and 802.1ad) VLANs. Id, parent and protocol are fixed at creation: a change of any is
// a new link. The kernel deletes a VLAN with its parent. A VLAN whose parent the config names
// only by `device` (the seed's form) makes that NIC an implicit link: fos1 keeps it up and
// owns nothing else of it.
import type { LinkKindDriver } from "./kind";

export interface VlanParams {
  parent: string;
  id: number;
  protocol: "802.1Q" | "802.1ad";
}

export const vlan: LinkKindDriver = {
  kind: "vlan",
  created: true,
  desire(link, from, ctx) {
    const s = from.obj.value.spec.vlan!;
    const parent = ctx.idx.vlanParent(from);
    const parentName = parent.info ? ctx.ifname(parent.info) : parent.device!;
    link.vlan = { parent: parentName, id: s.id, protocol: s.protocol ?? "802.1Q" };
    if (parent.info) return [];
    return [{ ref: from.obj.ref, name: parentName, kind: "physical", implicit: true, up: true, addresses: [] }];
  },
  observe(link, data, lower) {
    link.vlan = { parent: lower ?? "", id: Number(data.id), protocol: String(data.protocol ?? "802.1Q") as VlanParams["protocol"] };
  },
  rename: (l, name) => ({ ...l, vlan: { ...l.vlan!, parent: name(l.vlan!.parent) } }),
  parent: (l) => l.vlan?.parent,
  create: (l) => ` id ${l.vlan!.id} protocol ${l.vlan!.protocol}`,
  describe: (l) => `VLAN ${l.vlan!.id} on ${l.vlan!.parent}`,
  replaceReason(want, have) {
    const w = want.vlan!, h = have.vlan;
    if (!h) return undefined;
    if (w.id !== h.id) return `VLAN id ${h.id} → ${w.id}`;
    if (w.parent !== h.parent) return `parent ${h.parent} → ${w.parent}`;
    if (w.protocol !== h.protocol) return `protocol ${h.protocol} → ${w.protocol}`;
    return undefined;
  },
};
