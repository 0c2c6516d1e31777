// The XDP part of the host's state. Each XDPFilter object is its own loaded xdp_filter
// program with its own maps, pinned under <pin root>/xdp/<name>/ (maps by name, the program
// as "xdp_filter"), so two filters never share a blocklist, and a later process finds both
// the program (to compare with what an interface runs) and the maps (to diff their contents).
import { join } from "node:path";
import { canonicalPrefix, network, parsePrefix, formatPrefix } from "../../api/ip";
import type { LoadedObject } from "../../api/load";
import type { ConfigObject } from "../../api/kinds";
import { NetworkIndex } from "../../api/network-index";
import type { XDPFilterT } from "../../api/schema/security";
import type { RateLimit } from "../../bpf/layout";
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
  /** Kernel names (a NIC matched by MAC: "mac:…" until plan settles it). */
  interfaces: string[];
  /** Canonical networks. */
  blocklist: string[];
  /** "tcp/22" */
  ports: string[];
  rate: RateLimit | null;
}

export interface DesiredXdp {
  filters: DesiredXdpFilter[];
}

export interface ObservedXdpFilter {
  name: string;
  /** Id of the pinned program; null when the maps are pinned but the program is not (yet). */
  progId: number | null;
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
  /** Prefixes `fos1 xdp block` added and that have not expired: apply leaves them alone. */
  dynamic: string[];
  /** Why XDP could not be observed (no libbpf, no bpffs): the filters are then degraded, the rest applies. */
  error?: string;
}

export const EMPTY_OBSERVED_XDP: ObservedXdp = { filters: [], attached: {}, dynamic: [] };

export function desiredXdp(objects: LoadedObject<ConfigObject>[]): DesiredXdp {
  const idx = new NetworkIndex(objects);
  const filters = objects.filter((o) => o.value.kind === "XDPFilter") as LoadedObject<XDPFilterT>[];
  return {
    filters: filters.map((f) => {
      const s = f.value.spec;
      const r = s.rateLimit;
      return {
        ref: f.ref,
        name: f.value.metadata.name,
        mode: s.mode ?? "auto",
        interfaces: s.interfaces.map((ref) => {
          const i = idx.resolve(ref)!;
          return i.ifname ?? `mac:${i.obj.value.spec.mac!.toLowerCase()}`;
        }),
        blocklist: [...new Set((s.blocklist ?? []).map((c) => formatPrefix(network(parsePrefix(c)!))))],
        ports: [...new Set((s.denyPorts ?? []).map((p) => `${p.protocol}/${p.port}`))],
        rate: r ? { pps: r.packetsPerSecond, burst: r.burst, v4Prefix: r.v4PrefixLength ?? 32, v6Prefix: r.v6PrefixLength ?? 64 } : null,
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
