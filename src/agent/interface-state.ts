// Per configured interface, how the last converge left it, from the apply result alone (no
// second look at the kernel): the operations and degradations of a link carry the ref of the
// NetworkInterface (or VRF) that asked for it.
import type { ApplyResult } from "../engine/apply";
import type { DesiredState, LinkKind } from "../engine/model";

/**
 * converged: the kernel holds what the config says. degraded: skipped until it can be done
 * (its NIC or parent is missing, or a link of that name is not fos1's). failed: the kernel
 * refused a change. unconverged: a change was accepted but the kernel did not keep it.
 */
export const INTERFACE_STATES = ["converged", "degraded", "failed", "unconverged"] as const;
export type InterfaceCondition = (typeof INTERFACE_STATES)[number];

export interface InterfaceState {
  /** The object's name (metadata.name). */
  interface: string;
  /** Kernel name; "mac:…" for a NIC matched by MAC. */
  device: string;
  kind: LinkKind;
  state: InterfaceCondition;
  /** Why, when it is not converged. */
  reason?: string;
}

export function interfaceStates(desired: DesiredState, result: ApplyResult): InterfaceState[] {
  // A VLAN parent named only by its device is kept up for the VLAN; it is not an object of its own.
  return desired.links
    .filter((l) => !l.implicit)
    .map((l) => {
      const base = { interface: l.ref.slice(l.ref.indexOf("/") + 1), device: l.name, kind: l.kind };
      const degraded = result.degraded.find((d) => d.ref === l.ref && d.subject.startsWith("link "));
      if (degraded) return { ...base, state: "degraded" as const, reason: `${degraded.subject}: ${degraded.reason}` };
      const failed = result.failed.find((f) => f.op.ref === l.ref);
      if (failed) return { ...base, state: "failed" as const, reason: `${failed.op.subject}: ${failed.error}` };
      const unkept = result.unconverged.find((o) => o.ref === l.ref);
      if (unkept) return { ...base, state: "unconverged" as const, reason: `${unkept.subject}: the kernel did not keep this change` };
      return { ...base, state: "converged" as const };
    })
    .sort((a, b) => a.interface.localeCompare(b.interface));
}
