// XDP filters (XDPFilter objects): each its own loaded xdp_filter with pinned maps; planned
// by plan.ts, written through libbpf by apply.ts, except taking a program off a NIC that
// joins a bond running one, which is a line of the remove phase's `ip -batch`.
import { DEFAULT_STATE_DIR } from "../../base/state-dir";
import type { Reconciler } from "../reconciler";
import type { Op } from "../op";
import { applyXdp } from "./apply";
import { EMPTY_OBSERVED_XDP, type DesiredXdp, type ObservedXdp } from "./model";
import { observeXdp } from "./observe";
import { planXdp, type XdpAction, type XdpChange } from "./plan";

const NONE: DesiredXdp = { filters: [] };

export const xdp: Reconciler<DesiredXdp, ObservedXdp | undefined, XdpChange> = {
  resource: "xdp",
  desired: (s) => s.xdp ?? NONE,
  observed: (s) => s.xdp,
  async observe(host, desired) {
    const links = await host.links();
    try {
      return { xdp: observeXdp(links.map((l) => l.name), { wanted: desired.filters.length > 0, stateDir: host.env.stateDir ?? DEFAULT_STATE_DIR }) };
    } catch (err) {
      // Without libbpf or bpffs the links, routes and firewall must still converge.
      return { xdp: { ...EMPTY_OBSERVED_XDP, error: (err as Error).message } };
    }
  },
  plan(desired, observed, { links, degraded }) {
    if (!desired.filters.length && !observed?.filters.length && !observed?.error) return [];
    // A link this apply creates (a new bond) is there by the time the xdp phase runs.
    return planXdp(desired, observed ?? EMPTY_OBSERVED_XDP, links.present, degraded);
  },
  write(ops, out) {
    const viaBpf: Op<XdpAction>[] = [];
    for (const op of ops) {
      const c = op.change;
      if (c.do === "off-before-joining-bond") out.ip(op, `link set dev ${c.ifname} ${c.mode === "generic" ? "xdpgeneric" : "xdpdrv"} off`);
      else viaBpf.push(op as Op<XdpAction>);
    }
    if (viaBpf.length) out.call(() => applyXdp(viaBpf));
  },
};
