// The firewall: fos1's nftables table, compiled from the zones, rules, VLAN policies and NAT
// (compile.ts) and replaced whole in one transaction, or left alone when the table in force is
// the one compiled from the same config (its digest and shape, observe.ts).
import { DEFAULT_STATE_DIR } from "../../base/state-dir";
import type { DesiredFirewall } from "../../policy/model";
import type { Op } from "../op";
import type { Reconciler } from "../reconciler";
import { compileFirewall, compileLockdown, FIREWALL_TABLE, type CompiledFirewall } from "./compile";
import { keepLoaded, observeFirewall, type ObservedFirewall } from "./observe";

/** The table to load and what it is (digest and shape; none: no table); `lockdown`, what to load instead if nft refuses it when no config's table of fos1's is in force. */
export type FirewallChange = { commands: CompiledFirewall["commands"]; digest: string; shape: CompiledFirewall["shape"]; lockdown?: CompiledFirewall["commands"] };

const sameShape = (a: Record<string, number>, b: Record<string, number>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v);
const countRules = (shape: Record<string, number>) => Object.entries(shape).filter(([k]) => !k.startsWith("@")).reduce((n, [, v]) => n + v, 0);
const countChains = (shape: Record<string, number>) => Object.keys(shape).filter((k) => !k.startsWith("@")).length;

/** An apply plans twice against one desired state (before its writes and to check them): compiled once. */
const compiled = new WeakMap<DesiredFirewall, CompiledFirewall>();
function compileOnce(desired: DesiredFirewall): CompiledFirewall {
  let fw = compiled.get(desired);
  if (!fw) compiled.set(desired, (fw = compileFirewall(desired)));
  return fw;
}

export const firewall: Reconciler<DesiredFirewall, ObservedFirewall | null, FirewallChange> = {
  resource: "firewall",
  desired: (s) => s.firewall,
  observed: (s) => s.firewall,
  observe: async (host) => ({ firewall: await observeFirewall({ stateDir: host.env.stateDir ?? DEFAULT_STATE_DIR }) }),
  plan(desired, present) {
    const fw = compileOnce(desired);
    const empty = !Object.keys(fw.shape).length;
    const matches = empty ? present === null : present?.digest === fw.digest && sameShape(present.shape, fw.shape);
    if (matches) return [];
    // With no config table of fos1's in force (none at all, or the lockdown a refused boot left),
    // a refusal must leave the lockdown standing, never nothing.
    const lockdown = empty ? null : compileLockdown(desired);
    const fallback = lockdown && (present === null || present.digest === lockdown.digest) ? { lockdown: lockdown.commands } : {};
    const op: Op<FirewallChange> = {
      resource: "firewall",
      phase: "firewall",
      action: empty ? "remove" : present ? (present.digest === fw.digest ? "replace" : "change") : "add",
      ref: "(firewall)",
      subject: `nftables table inet ${FIREWALL_TABLE}`,
      detail: empty ? "no zones or NAT configured" : present?.digest === fw.digest ? "edited outside fos1: restored" : `${countRules(fw.shape)} rules in ${countChains(fw.shape)} chains`,
      change: { commands: fw.commands, digest: fw.digest, shape: fw.shape, ...fallback },
    };
    return [op];
  },
  write(ops, out, env) {
    for (const op of ops) {
      const { change } = op;
      const loaded = Object.keys(change.shape).length ? { digest: change.digest, shape: change.shape } : null;
      out.nft(op, change.commands, {
        ...(change.lockdown ? { ifRefused: change.lockdown } : {}),
        loaded: (generations) => keepLoaded(env.stateDir ?? DEFAULT_STATE_DIR, generations, loaded),
      });
    }
  },
};
