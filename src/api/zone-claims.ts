// Which zone claims which interface, and from where: a NetworkInterface's `zone`, a
// FirewallZone's `interfaces` or its `interfaceSelector`. The security checks report clashes
// (an interface in two zones); the LAN services' checks find the interfaces a zone serves.
import type { LoadedObject } from "./load";
import type { ConfigObject } from "./kinds";
import type { InterfaceInfo, NetworkIndex } from "./network-index";
import type { FieldPath } from "./problems";
import type { FirewallZoneT } from "./schema/security";

export interface ZoneClaim {
  zone: string;
  /** The interface claimed, or undefined when the reference names none (the path says where). */
  iface: InterfaceInfo | undefined;
  ref: string;
  o: LoadedObject;
  path: FieldPath;
}

export function zoneClaims(objects: LoadedObject<ConfigObject>[], idx: NetworkIndex): ZoneClaim[] {
  const claims: ZoneClaim[] = [];
  for (const i of idx.interfaces) {
    const zone = i.obj.value.spec.zone;
    if (zone) claims.push({ zone, iface: i, ref: i.name, o: i.obj, path: ["spec", "zone"] });
  }
  for (const z of objects.filter((o) => o.value.kind === "FirewallZone") as LoadedObject<FirewallZoneT>[]) {
    const zone = z.value.metadata.name;
    (z.value.spec.interfaces ?? []).forEach((ref, n) => claims.push({ zone, iface: idx.resolve(ref), ref, o: z, path: ["spec", "interfaces", n] }));
    const selector = z.value.spec.interfaceSelector?.matchLabels;
    if (selector)
      for (const i of idx.interfaces)
        if (Object.entries(selector).every(([k, v]) => (i.obj.value.metadata.labels ?? {})[k] === v)) claims.push({ zone, iface: i, ref: i.name, o: z, path: ["spec", "interfaceSelector"] });
  }
  return claims;
}
