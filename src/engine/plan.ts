// plan(desired, observed) → ordered, minimal operations. Pure: no I/O, the same inputs always
// give the same plan, and a host that already matches gives no operation at all. Each
// reconciler plans its own resource; this orders them into phases (op.ts).
import type { DesiredState, ObservedState } from "./model";
import { PHASES, type Degraded, type Plan, type Resource } from "./op";
import type { PlanContext } from "./reconciler";
import { RECONCILERS } from "./reconcilers";
import { settleNames } from "./names";
import { linkTopology } from "./links/topology";

export interface PlanOptions {
  /** Resources to leave as they are (a rollback with no config to go back to keeps the firewall in force). */
  leave?: Resource[];
}

export function plan(desiredIn: DesiredState, observed: ObservedState, opts: PlanOptions = {}): Plan {
  const degraded: Degraded[] = [];
  const desired = settleNames(desiredIn, observed.links, degraded);
  const ctx: PlanContext = { links: linkTopology(desired.links, observed.links, degraded), degraded };
  const planned = RECONCILERS.filter((r) => !opts.leave?.includes(r.resource)).map((r) => r.plan(r.desired(desired), r.observed(observed), ctx));
  // Within a phase the reconcilers' operations follow each other in build-up order; removals
  // go the other way (what rides on something goes before it).
  const ops = PHASES.flatMap((phase) => (phase === "remove" ? [...planned].reverse() : planned).flatMap((list) => list.filter((o) => o.phase === phase)));
  return { ops, degraded };
}
