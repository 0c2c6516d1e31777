// NetworkInterfaces with `dhcp` → what the DHCP client runs with, one spec per uplink; the
// LAN interfaces that take a /64 of an uplink's delegated prefix are assigned to it.
import type { DesireContext } from "../links/kinds/kind";
import type { DesiredDhcp } from "../model";
import { formatPrefix, network, parsePrefix } from "../../api/ip";

const networkOf = (cidr: string) => formatPrefix(network(parsePrefix(cidr)!));

export function desiredDhcp({ idx, ifname }: DesireContext): DesiredDhcp[] {
  return idx.interfaces
    .filter((i) => i.obj.value.spec.dhcp)
    .map((i) => {
      const d = i.obj.value.spec.dhcp!;
      const spec: DesiredDhcp = { ref: i.obj.ref, ifname: ifname(i), v4: d.v4 ?? true, v6: d.v6 ?? false };
      if (d.classlessStaticRoutes) {
        spec.classlessStaticRoutes = true;
        // Every network the config puts on another interface — the LANs, management — whether
        // or not its link is up yet: a server's route must not claim one before it comes up.
        spec.protectedNetworks = [
          ...new Set(idx.interfaces.filter((o) => o !== i).flatMap((o) => (o.obj.value.spec.addresses ?? []).filter((a) => !a.includes(":")).map(networkOf))),
        ].sort();
      }
      if (d.prefixDelegation) {
        const assign = idx.interfaces
          .filter((l) => l.obj.value.spec.delegatedPrefix && idx.resolve(l.obj.value.spec.delegatedPrefix.from) === i)
          .map((l) => ({ ifname: ifname(l), subnetId: l.obj.value.spec.delegatedPrefix!.subnetId }));
        spec.v6 = true;
        spec.prefixDelegation = { assign, ...(d.prefixDelegation.hintLength ? { hintLength: d.prefixDelegation.hintLength } : {}) };
      }
      return spec;
    });
}
