// Bridges. VLAN filtering and STP change in place.
import type { Adjustment, LinkKindDriver } from "./kind";

export interface BridgeParams {
  vlanFiltering: boolean;
  stp: boolean;
}

/** The kernel's defaults: a new bridge is created with only what differs from them. */
const KERNEL_DEFAULT: BridgeParams = { vlanFiltering: false, stp: false };

function params(want: BridgeParams, have: BridgeParams): [string, number][] {
  const out: [string, number][] = [];
  if (want.vlanFiltering !== have.vlanFiltering) out.push(["vlan_filtering", want.vlanFiltering ? 1 : 0]);
  if (want.stp !== have.stp) out.push(["stp_state", want.stp ? 1 : 0]);
  return out;
}
const spelled = (p: [string, number][]) => p.map(([k, v]) => ` ${k} ${v}`).join("");

export const bridge: LinkKindDriver = {
  kind: "bridge",
  created: true,
  desire(link, from) {
    const b = from.obj.value.spec.bridge!;
    link.bridge = { vlanFiltering: b.vlanFiltering ?? false, stp: b.stp ?? false };
  },
  observe(link, data) {
    link.bridge = { vlanFiltering: Number(data.vlan_filtering ?? 0) === 1, stp: Number(data.stp_state ?? 0) !== 0 };
  },
  // Only what differs from the kernel's defaults: a kernel built without VLAN filtering refuses
  // even "vlan_filtering 0".
  create: (l) => spelled(params(l.bridge!, KERNEL_DEFAULT)),
  describe: () => "bridge",
  adjust(want, have): Adjustment[] {
    if (!have.bridge) return [];
    const p = params(want.bridge!, have.bridge);
    return p.length ? [{ detail: `bridge${spelled(p)}`, set: { type: "bridge", params: p } }] : [];
  },
};
