// The XDP part of the host's state. Each XDPFilter object is its own loaded xdp_filter
// program with its own maps, pinned under <pin root>/xdp/<name>/ (maps by name, the program
// as "xdp_filter"), so two filters never share a blocklist, and a later process finds both
// the program (to compare with what an interface runs) and the maps (to diff their contents).
//
// Bonds. A filter that names a bond runs there and the kernel runs it on every member, present
// and future. A filter that names members of a bond filters that bond member by member: fos1
// attaches it to every member the config gives the bond, so a member that joins gets it and
// one that leaves (and that the filter does not name) loses it, as with the kernel's own
// propagation. Filtering some members of a bond and not others is never what an operator
// means: with LACP or a failover the flows move between members at the partner's whim.
import { join } from "node:path";
import { canonicalPrefix, network, parsePrefix, formatPrefix } from "../../api/ip";
import type { LoadedObject } from "../../api/load";
import type { ConfigObject } from "../../api/kinds";
import { NetworkIndex, type InterfaceInfo } from "../../api/network-index";
import { XDP_CAPACITY_DEFAULT, XDP_RATE_SOURCES_DEFAULT, type XDPFilterT } from "../../api/schema/security";
import { sizesFor, type MapSizes, type RateLimit } from "../../bpf/layout";
import type { XdpMode, XdpModeRequest } from "../../bpf/xdp";

export const PROGRAM_NAME = "xdp_filter";
export const DEFAULT_PIN_ROOT = "/sys/fs/bpf/fos1";

/** fos1's pin root; FOS1_BPF_PIN_ROOT moves it (tests, a second instance). */
export function pinRoot(): string {
  return process.env.FOS1_BPF_PIN_ROOT || DEFAULT_PIN_ROOT;
}
export const filtersDir = (root = pinRoot()) => join(root, "xdp");
export const filterDir = (name: string, root = pinRoot()) => join(filtersDir(root), name);

export interface DesiredXdpFilter {
  ref: string;
  name: string;
  mode: XdpModeRequest;
  /**
   * Where fos1 attaches the program, as kernel names (a NIC matched by MAC: "mac:…" until plan
   * settles it): the interfaces the filter names, and the other members of a bond whose members
   * it names.
   */
  interfaces: string[];
  /**
   * Members of the bonds the filter names (kernel names; MAC-matched ones left out): the kernel
   * gives them the bond's program, which it refuses while a member runs a program of its own.
   */
  bondMembers: string[];
  /** Canonical networks. */
  blocklist: string[];
  /** "tcp/22" */
  ports: string[];
  rate: RateLimit | null;
  /** The maps' sizes: capacity per family, rate-limited sources (1 without a rate limit). */
  sizes: MapSizes;
}

export interface DesiredXdp {
  filters: DesiredXdpFilter[];
}

export interface ObservedXdpFilter {
  name: string;
  /** Id of the pinned program; null when the maps are pinned but the program is not (yet). */
  progId: number | null;
  /**
   * Why the pinned maps are not this fos1's (pinned by a fos1 of another map layout): the
   * filter is loaded again, its maps made afresh. Its lists then read as empty.
   */
  stale?: string;
  /** The pinned maps' sizes (absent when there are none, or they are stale). */
  sizes?: MapSizes;
  /**
   * Why the index does not lead to every listed prefix (a writer killed half way): apply
   * computes it again from the lists.
   */
  unindexed?: string;
  blocklist: string[];
  ports: string[];
  rate: RateLimit | null;
}

export interface ObservedAttachment {
  mode: XdpMode;
  progId: number;
  progName: string;
}

export interface ObservedXdp {
  filters: ObservedXdpFilter[];
  /** XDP programs per interface, for the interfaces present (none attached: absent or []). */
  attached: Record<string, ObservedAttachment[]>;
  /**
   * Prefixes `fos1 xdp block` added and that have not expired: apply leaves them alone, and
   * puts them in every filter that lacks them (one loaded later, or reloaded with fresh maps).
   */
  dynamic: { prefix: string; expires: string | null; addedAt: string; origin?: "ids" }[];
  /** Why XDP could not be observed (no libbpf, no bpffs): the filters are then degraded, the rest applies. */
  error?: string;
}

/**
 * The order in which dynamic blocks give up their room in a full filter: the IDS's before the
 * operator's, the oldest first (apply's plan and `fos1 xdp block` alike).
 */
export const yieldOrder = (a: { origin?: "ids"; addedAt?: string }, b: { origin?: "ids"; addedAt?: string }) =>
  Number(b.origin === "ids") - Number(a.origin === "ids") || (a.addedAt ?? "").localeCompare(b.addedAt ?? "");

export const EMPTY_OBSERVED_XDP: ObservedXdp = { filters: [], attached: {}, dynamic: [] };

export function desiredXdp(objects: LoadedObject<ConfigObject>[], idx = new NetworkIndex(objects)): DesiredXdp {
  const filters = objects.filter((o) => o.value.kind === "XDPFilter") as LoadedObject<XDPFilterT>[];
  const kernelName = (i: InterfaceInfo) => i.ifname ?? `mac:${i.obj.value.spec.mac!.toLowerCase()}`;
  const bondOf = new Map<InterfaceInfo, InterfaceInfo>();
  // References resolve: desired state is only built from a config that passed validation.
  const membersOf = (b: InterfaceInfo) => idx.members(b).map((m) => idx.resolve(m)!);
  for (const b of idx.interfaces) if (b.type === "bond") for (const m of membersOf(b)) bondOf.set(m, b);
  const named = new Map(filters.map((f) => [f, f.value.spec.interfaces.map((ref) => idx.resolve(ref)!)]));
  // A filter naming members of a bond covers the bond member by member (validation allows one such filter per bond).
  const bondsNamedBy = (f: LoadedObject<XDPFilterT>) => new Set(named.get(f)!.flatMap((i) => bondOf.get(i) ?? []));

  return {
    filters: filters.map((f) => {
      const s = f.value.spec;
      const r = s.rateLimit;
      const ifs = named.get(f)!;
      const followed = [...bondsNamedBy(f)].flatMap(membersOf);
      return {
        ref: f.ref,
        name: f.value.metadata.name,
        mode: s.mode ?? "auto",
        interfaces: [...new Set([...ifs, ...followed])].map(kernelName),
        bondMembers: ifs.filter((i) => i.type === "bond").flatMap((b) => membersOf(b).flatMap((m) => (m.ifname ? [m.ifname] : []))),
        blocklist: [...new Set((s.blocklist ?? []).map((c) => formatPrefix(network(parsePrefix(c)!))))],
        ports: [...new Set((s.denyPorts ?? []).map((p) => `${p.protocol}/${p.port}`))],
        rate: r ? { pps: r.packetsPerSecond, burst: r.burst, v4Prefix: r.v4PrefixLength ?? 32, v6Prefix: r.v6PrefixLength ?? 64 } : null,
        sizes: sizesFor(s.capacity?.ipv4 ?? XDP_CAPACITY_DEFAULT, s.capacity?.ipv6 ?? XDP_CAPACITY_DEFAULT, r ? (r.trackedSources ?? XDP_RATE_SOURCES_DEFAULT) : 1),
      };
    }),
  };
}

/** A CIDR as the maps store it, or null when it is not a network (host bits, not a prefix). */
export function canonicalNetwork(text: string): string | null {
  const p = parsePrefix(text);
  if (!p || formatPrefix(network(p)) !== canonicalPrefix(text)) return null;
  return formatPrefix(p);
}
