// Which fos1 zone a flow's endpoint is in. Hubble knows Cilium identities, not fos1 zones: the
// hosts of a LAN are all "reserved:world" to it. So a zone is found, in this order, by
//   1. the router itself: the "reserved:host" label → host (FirewallRule's name for the router);
//   2. labels: the fos1.io/zone=<zone> label the translated Cilium policies select a zone's
//      pods by (src/cilium/translate/topology.ts), or every cilium.labels entry of one of a
//      zone's interfaces (any label source: k8s:zone=lan matches cilium: {labels: {zone: lan}});
//   3. address, longest prefix first: the router's own addresses → host; the networks of the
//      zone's interfaces (configured, and on the node itself also the kernel's, which include
//      DHCP and delegated prefixes); static Routes → the zone they leave by; DHCP on an
//      interface → the default route (0.0.0.0/0, ::/0) is its zone, so the internet is "wan";
//   4. otherwise unknown.
// Pure: built from the config objects and (optionally) the addresses observed on the host.
import type { LoadedObject } from "../api/load";
import type { ConfigObject } from "../api/kinds";
import { NetworkIndex, type InterfaceInfo } from "../api/network-index";
import { bits, contains, network, parseIp, parsePrefix, type Prefix } from "../api/ip";
import { desiredFirewall } from "../policy/model";
import type { Endpoint } from "./types";
import { ZONE_LABEL, ZONES_ALLOWED } from "../cilium/translate/topology";

export const HOST_ZONE = "host";
export const UNKNOWN_ZONE = "unknown";

/** The interfaces' addresses as the kernel has them (`ip -json address`), by kernel name. */
export interface HostAddresses {
  name: string;
  mac: string | null;
  addresses: { cidr: string }[];
}

interface ZoneNetwork {
  prefix: Prefix;
  zone: string;
}

interface ZoneLabels {
  zone: string;
  labels: [string, string][];
}

export class ZoneMap {
  private readonly networks: ZoneNetwork[];
  private readonly labelSets: ZoneLabels[];

  constructor(
    /** The config's zone names, sorted. */
    readonly zones: string[],
    networks: ZoneNetwork[],
    labelSets: ZoneLabels[],
  ) {
    // Longest prefix first; equal prefixes in two zones resolve by zone name, so the answer is stable.
    this.networks = [...networks].sort((a, b) => b.prefix.len - a.prefix.len || a.zone.localeCompare(b.zone));
    this.labelSets = [...labelSets].sort((a, b) => b.labels.length - a.labels.length || a.zone.localeCompare(b.zone));
  }

  zoneOf(endpoint: Endpoint | undefined, ip: string | undefined): string {
    const labels = endpoint?.labels ?? [];
    if (labels.includes("reserved:host")) return HOST_ZONE;
    if (labels.length) {
      const have = new Set(labels.map(withoutSource));
      // As the translated policies read it: a pod's zone label counts only where its namespace allows it.
      const allowed = Object.entries(ZONES_ALLOWED).every(([k, v]) => have.has(`${withoutSource(k)}=${v}`));
      const policyZone = allowed ? this.zones.find((z) => have.has(`${ZONE_LABEL}=${z}`)) : undefined;
      if (policyZone) return policyZone;
      const match = this.labelSets.find((s) => s.labels.every(([k, v]) => have.has(`${k}=${v}`)));
      if (match) return match.zone;
    }
    const addr = ip ? parseIp(ip) : null;
    if (addr) {
      const match = this.networks.find((n) => contains(n.prefix, addr));
      if (match) return match.zone;
    }
    return UNKNOWN_ZONE;
  }
}

// Hubble writes labels as source:key=value (k8s:app=web, reserved:world, cidr:10.0.0.0/8).
const withoutSource = (label: string) => label.replace(/^[a-z0-9-]+:/, "");

const DEFAULT_V4: Prefix = { family: 4, addr: 0n, len: 0 };
const DEFAULT_V6: Prefix = { family: 6, addr: 0n, len: 0 };
const hostPrefix = (p: Prefix): Prefix => ({ ...p, len: bits(p.family) });

export function zoneMapFromConfig(objects: LoadedObject<ConfigObject>[], host: HostAddresses[] = []): ZoneMap {
  const idx = new NetworkIndex(objects);
  const fwZones = desiredFirewall(objects).zones;
  // desiredFirewall names a member by kernel name, or mac:… for a NIC matched by MAC.
  const keyOf = (i: InterfaceInfo) => i.ifname ?? `mac:${i.obj.value.spec.mac!.toLowerCase()}`;
  const zoneOfInterface = (i: InterfaceInfo) => fwZones.find((z) => z.interfaces.includes(keyOf(i)))?.name;

  const networks: ZoneNetwork[] = [];
  /** The interfaces' own networks: where a static route's gateway is. */
  const connected: ZoneNetwork[] = [];
  const labelSets: ZoneLabels[] = [];
  const addAddress = (zone: string, cidr: string) => {
    const p = parsePrefix(cidr);
    if (!p) return;
    connected.push({ prefix: network(p), zone });
    networks.push({ prefix: network(p), zone }, { prefix: hostPrefix(p), zone: HOST_ZONE });
  };

  for (const i of idx.interfaces) {
    const zone = zoneOfInterface(i);
    if (!zone) continue;
    const spec = i.obj.value.spec;
    for (const cidr of spec.addresses ?? []) addAddress(zone, cidr);
    const key = keyOf(i);
    for (const link of host.filter((l) => l.name === key || (l.mac && key === `mac:${l.mac.toLowerCase()}`)))
      for (const a of link.addresses) addAddress(zone, a.cidr);
    if (spec.dhcp?.v4) networks.push({ prefix: DEFAULT_V4, zone });
    if (spec.dhcp?.v6) networks.push({ prefix: DEFAULT_V6, zone });
    const labels = Object.entries(spec.cilium?.labels ?? {});
    if (labels.length) labelSets.push({ zone, labels });
  }

  for (const r of idx.routes) {
    const s = r.value.spec;
    if (s.type && s.type !== "unicast") continue;
    const out = s.interface ? idx.resolve(s.interface) : undefined;
    const gateway = s.gateway ? parseIp(s.gateway) : null;
    const zone = out ? zoneOfInterface(out) : gateway ? connected.find((n) => contains(n.prefix, gateway))?.zone : undefined;
    if (!zone) continue;
    if (s.destination === "default") {
      if (!gateway || gateway.family === 4) networks.push({ prefix: DEFAULT_V4, zone });
      if (!gateway || gateway.family === 6) networks.push({ prefix: DEFAULT_V6, zone });
    } else {
      const p = parsePrefix(s.destination);
      if (p) networks.push({ prefix: network(p), zone });
    }
  }

  return new ZoneMap(fwZones.map((z) => z.name).sort(), networks, labelSets);
}
