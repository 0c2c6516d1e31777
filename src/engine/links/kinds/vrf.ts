// VRFs: a routing domain is a link bound to a table. Declared by VRF objects (members join by
// the VRF's `members` or their own `vrf`); the table is fixed at creation.
import type { LinkKindDriver } from "./kind";

export interface VrfParams {
  table: number;
}

export const vrf: LinkKindDriver = {
  kind: "vrf",
  created: true,
  declared: (ctx) => ctx.idx.vrfs.map((v) => ({ ref: v.ref, name: v.value.metadata.name, kind: "vrf" as const, vrf: { table: v.value.spec.table }, up: true, addresses: [] })),
  observe(link, data) {
    link.vrf = { table: Number(data.table) };
  },
  create: (l) => ` table ${l.vrf!.table}`,
  describe: (l) => `VRF, table ${l.vrf!.table}`,
  replaceReason(want, have) {
    if (have.vrf && want.vrf!.table !== have.vrf.table) return `VRF table ${have.vrf.table} → ${want.vrf!.table}`;
    return undefined;
  },
};
