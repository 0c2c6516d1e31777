// Addresses fos1 manages: the static ones of the links it owns. DHCP and SLAAC addresses,
// link-local ones, and every address of a link the config does not manage are left alone.
import type { DesiredLink, ObservedLink } from "./model";
import { GONE, type Op } from "./op";
import type { Reconciler } from "./reconciler";

export type AddressChange = { do: "add" | "del"; cidr: string; dev: string };

/** Addresses fos1 manages on a link: not DHCP/SLAAC ones, not IPv6 link-local. */
export function staticAddresses(o: ObservedLink): string[] {
  return o.addresses.filter((a) => !a.dynamic && a.scope !== "link" && a.scope !== "host").map((a) => a.cidr);
}

export const addresses: Reconciler<DesiredLink[], ObservedLink[], AddressChange> = {
  resource: "addresses",
  desired: (s) => s.links,
  observed: (s) => s.links,
  // The links' dump carries every link's addresses: the reader reads it once for both.
  observe: async (host) => ({ links: await host.links() }),
  plan(_desired, _observed, { links: t }) {
    const ops: Op<AddressChange>[] = [];
    const released = new Set(t.released.map((o) => o.name));
    for (const o of t.after.values()) {
      const link = t.usable.get(o.name);
      const want = link && !link.implicit ? link : released.has(o.name) ? undefined : null;
      if (want === null) continue; // not fos1's
      for (const cidr of staticAddresses(o))
        if (!want?.addresses.includes(cidr))
          ops.push({ resource: "addresses", phase: "remove", action: "remove", ref: want?.ref ?? GONE, subject: `address ${cidr} on ${o.name}`, change: { do: "del", cidr, dev: o.name } });
    }
    for (const l of t.usable.values()) {
      if (l.implicit) continue;
      const present = new Set(t.after.has(l.name) ? staticAddresses(t.after.get(l.name)!) : []);
      for (const cidr of l.addresses)
        if (!present.has(cidr)) ops.push({ resource: "addresses", phase: "addresses", action: "add", ref: l.ref, subject: `address ${cidr} on ${l.name}`, change: { do: "add", cidr, dev: l.name } });
    }
    return ops;
  },
  write(ops, out) {
    // IPv6 addresses skip duplicate address detection: a router's own static address must work at once.
    for (const op of ops) out.ip(op, `address ${op.change.do} ${op.change.cidr} dev ${op.change.dev}${op.change.do === "add" && op.change.cidr.includes(":") ? " nodad" : ""}`);
  },
};
