// Addresses an IDS alert can never block, each with the reason:
//   - the networks of the management zones (FirewallZone management: true): the networks of
//     their interfaces' addresses and of the routes through them (the translation's topology,
//     src/cilium/translate/topology.ts), and on the node the kernel's global addresses of those
//     interfaces (a DHCP-addressed management port is in no config) — so an operator is never
//     locked out by an alert, true or false;
//   - the router's own addresses (configured, and the kernel's);
//   - what the operator lists (--allow CIDR);
//   - sources that are no host: unspecified, loopback, multicast, broadcast. A DHCP discover
//     comes from 0.0.0.0; blocking it would cut every new client off.
// A management zone's default route (the internet) is not part of it: that would allow every
// address. Pure: built from config objects and (optionally) the addresses observed on the host.
import { bits, contains, formatPrefix, network, parsePrefix, type Family, type Prefix } from "../api/ip";
import type { LoadedObject } from "../api/load";
import type { ConfigObject } from "../api/kinds";
import { topology } from "../cilium/translate/topology";

export interface AllowEntry {
  prefix: Prefix;
  why: string;
}

/** The kernel's addresses of a link, as `ip -json address` gives them (src/engine/observe.ts). */
export interface LinkAddresses {
  name: string;
  mac: string | null;
  addresses: { cidr: string; scope: string }[];
}

const NOT_A_HOST = "not a host's address (unspecified, loopback, multicast or broadcast)";
const BUILT_IN = ["0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/4", "255.255.255.255/32", "::/128", "::1/128", "ff00::/8"];

const hostPrefix = (p: Prefix): Prefix => ({ ...p, len: bits(p.family) });

export class Allowlist {
  constructor(readonly entries: AllowEntry[]) {}

  /** Why the address may not be blocked, or null when it may. */
  reasonFor(ip: { family: Family; addr: bigint }): string | null {
    const hit = this.entries.find((e) => contains(e.prefix, ip));
    return hit ? `${hit.why} (${formatPrefix(hit.prefix)})` : null;
  }
}

/** The operator's --allow CIDRs; throws naming the first one that is not a network. */
export function operatorAllowlist(cidrs: string[]): AllowEntry[] {
  return cidrs.map((text) => {
    const p = parsePrefix(text);
    if (!p) throw new Error(`--allow "${text}" is not a CIDR; give a network like 192.0.2.0/24 or 2001:db8::/48`);
    return { prefix: network(p), why: "allowed by --allow" };
  });
}

export function buildAllowlist(objects: LoadedObject<ConfigObject>[], links: LinkAddresses[], operator: AllowEntry[]): Allowlist {
  const entries: AllowEntry[] = BUILT_IN.map((c) => ({ prefix: parsePrefix(c)!, why: NOT_A_HOST }));
  const global = (l: LinkAddresses) => l.addresses.filter((a) => a.scope === "global").flatMap((a) => parsePrefix(a.cidr) ?? []);
  for (const zone of topology(objects).zones.filter((z) => z.management)) {
    const why = `management zone ${zone.name}`;
    for (const n of zone.networks) entries.push({ prefix: n, why });
    for (const i of zone.interfaces) {
      const mac = i.obj.value.spec.mac?.toLowerCase();
      for (const link of links.filter((l) => l.name === i.ifname || (mac !== undefined && l.mac === mac)))
        for (const p of global(link)) entries.push({ prefix: network(p), why });
    }
  }
  const own = "the router's own address";
  for (const o of objects)
    if (o.value.kind === "NetworkInterface")
      for (const a of o.value.spec.addresses ?? []) {
        const p = parsePrefix(a);
        if (p) entries.push({ prefix: hostPrefix(p), why: own });
      }
  for (const l of links) for (const p of global(l)) entries.push({ prefix: hostPrefix(p), why: own });
  return new Allowlist([...entries, ...operator]);
}
