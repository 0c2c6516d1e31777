// The firewall: fos1's nftables table, compiled from the zones, rules, VLAN policies and NAT
// (compile.ts) and replaced whole in one transaction, or left alone when the table in force is
// the one compiled from the same config (its digest and shape, observe.ts).
import { createHash } from "node:crypto";
import { DEFAULT_STATE_DIR } from "../../base/state-dir";
import type { DesiredFirewall } from "../../policy/model";
import type { Op } from "../op";
import type { Reconciler } from "../reconciler";
import { compileFirewall, compileLockdown, FIREWALL_TABLE, type CompiledFirewall } from "./compile";
import { keepLoaded, observeFirewall, type ObservedFirewall } from "./observe";

/** The table to load and what it is (digest and shape; none: no table); `lockdown`, what to load instead if nft refuses it when no config's table of fos1's is in force. */
export type FirewallChange = {
  commands: CompiledFirewall["commands"];
  digest: string;
  shape: CompiledFirewall["shape"];
  /** compiledKey of the desired state the commands were compiled from, when there is one. */
  compiledFrom?: string;
  lockdown?: CompiledFirewall["commands"];
};

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

/**
 * What a desired state compiles to depends on it and on fos1's own source (FOS1_SOURCE_DIGEST,
 * stamped by `make build`): the table fos1 loads is kept with this key (observe.ts), so a no-op
 * apply of the same desired state by the same build knows the table is the one it would load
 * without compiling 10 000 rules again. None when fos1 runs from source.
 */
export function compiledKey(desired: DesiredFirewall, source = process.env.FOS1_SOURCE_DIGEST): string | null {
  return source ? "sha256:" + createHash("sha256").update(source).update("\0").update(JSON.stringify(desired)).digest("hex") : null;
}

export const firewall: Reconciler<DesiredFirewall, ObservedFirewall | null, FirewallChange> = {
  resource: "firewall",
  desired: (s) => s.firewall,
  observed: (s) => s.firewall,
  observe: async (host) => ({ firewall: await observeFirewall({ stateDir: host.env.stateDir ?? DEFAULT_STATE_DIR }) }),
  plan(desired, present) {
    const key = compiledKey(desired);
    // Kept only while nftables' generation stays where fos1's own load left it: the table is what this desired state compiles to.
    if (key !== null && present?.compiledFrom === key) return [];
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
      change: { commands: fw.commands, digest: fw.digest, shape: fw.shape, ...(key ? { compiledFrom: key } : {}), ...fallback },
    };
    return [op];
  },
  write(ops, out, env) {
    for (const op of ops) {
      const { change } = op;
      const loaded = Object.keys(change.shape).length ? { digest: change.digest, shape: change.shape, ...(change.compiledFrom ? { compiledFrom: change.compiledFrom } : {}) } : null;
      out.nft(op, change.commands, {
        ...(change.lockdown ? { ifRefused: change.lockdown } : {}),
        loaded: (generations) => keepLoaded(env.stateDir ?? DEFAULT_STATE_DIR, generations, loaded),
      });
    }
  },
};
