// The operator must never be locked out: a config that leaves no way in from a management
// zone is refused by `fos1 apply` unless --force. The firewall itself always opens the
// management ports to management zones (compile.ts), so what remains to check is that such a
// zone exists and that one of its interfaces will be there, up, with an address.
import type { DesiredState } from "../engine/model";

/** The host's NICs, when known: a management NIC this host does not have lets nobody in. */
export interface HostNics {
  names: Set<string>;
  macs: Set<string>;
}

export function lockoutReasons(desired: DesiredState, host?: HostNics): string[] {
  const zones = desired.firewall.zones;
  if (!zones.length) return [];
  const mgmt = zones.filter((z) => z.management);
  if (!mgmt.length) return [`no FirewallZone has management: true, so the firewall would admit the operator from nowhere (zones: ${zones.map((z) => z.name).join(", ")})`];
  const ifaces = mgmt.flatMap((z) => z.interfaces);
  if (!ifaces.length) return [`management zone ${mgmt.map((z) => z.name).join(", ")} has no interfaces`];
  const present = (name: string) => {
    if (!host) return true;
    const mac = name.startsWith("mac:") ? name.slice(4) : desired.links.find((l) => l.name === name)?.matchMac;
    return mac ? host.macs.has(mac) : host.names.has(name);
  };
  const reachable = ifaces.some((name) => {
    const link = desired.links.find((l) => l.name === name);
    // An interface the config does not manage keeps whatever the host gave it (Talos's own link).
    if (!link) return true;
    if (link.kind === "physical" && !present(name)) return false;
    return link.up && (link.addresses.length > 0 || desired.dhcp.some((d) => d.ifname === name));
  });
  return reachable ? [] : [`no interface of the management zone (${ifaces.join(", ")}) would be present and up with an address or DHCP`];
}
