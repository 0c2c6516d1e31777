// The management path is guarded on every way into the kernel: a config that would lock the
// operator out, or leave the router's management ports open to every network, is refused
// (exit 2 from the CLI unless --force; kept out of force by the agent, which says why). The
// firewall itself always opens the management ports to management zones (compile.ts), so
// what is checked here is that such a zone exists, that one of its interfaces will be there,
// up, with an address, and that fos1's firewall is not taken away from under a running box.
import type { DesiredState, ObservedState } from "../engine/model";

/** The host's NICs, when known: a management NIC this host does not have lets nobody in. */
export interface HostNics {
  names: Set<string>;
  macs: Set<string>;
}

const hostNics = (observed: ObservedState): HostNics => ({
  names: new Set(observed.links.map((l) => l.name)),
  macs: new Set(observed.links.flatMap((l) => (l.mac ? [l.mac] : []))),
});

/**
 * Why applying desired would cut the operator off or open the router up, or nothing. Without
 * an observation (fos1 plan offline) the NICs are taken as present and no table as in force.
 */
export function guardReasons(desired: DesiredState, observed?: ObservedState): string[] {
  const zones = desired.firewall.zones;
  if (!zones.length) {
    // No zone means no filter table: with one in force, removing it opens every port of the
    // router (Talos's apid, etcd, the kubelet, the API server) to every network.
    const inForce = observed?.firewall;
    return inForce && Object.keys(inForce.shape).some((k) => k === "input")
      ? ["the config has no FirewallZone, so fos1's firewall in force would be removed and the router's management ports (50000, 50001, 6443, 10250, 2379-2380) left open to every network"]
      : [];
  }
  return lockoutReasons(desired, observed && hostNics(observed));
}

function lockoutReasons(desired: DesiredState, host?: HostNics): string[] {
  const zones = desired.firewall.zones;
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
