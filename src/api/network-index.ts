// Resolves the network kinds' references to each other: which interface a name means, its
// effective type and kernel name, who its parent and members are. Shared by the cross-object
// checks (api/checks) and by building the desired host state (host/desired).
import type { LoadedObject } from "./load";
import type { ConfigObject } from "./kinds";
import type { NetworkInterfaceT, RouteT, RoutingPolicyT, VRFT } from "./schema/network";

export type InterfaceType = "physical" | "bond" | "vlan" | "bridge";

export interface InterfaceInfo {
  obj: LoadedObject<NetworkInterfaceT>;
  name: string;
  type: InterfaceType;
  /** Kernel name when it is known without looking at the host (not for a NIC matched by MAC). */
  ifname?: string;
}

export class NetworkIndex {
  readonly interfaces: InterfaceInfo[] = [];
  readonly vrfs: LoadedObject<VRFT>[] = [];
  readonly routes: LoadedObject<RouteT>[] = [];
  readonly policies: LoadedObject<RoutingPolicyT>[] = [];
  private readonly byName = new Map<string, InterfaceInfo>();
  private readonly byDevice = new Map<string, InterfaceInfo>();

  constructor(objects: LoadedObject<ConfigObject>[]) {
    for (const o of objects) {
      switch (o.value.kind) {
        case "NetworkInterface": {
          const obj = o as LoadedObject<NetworkInterfaceT>;
          // A VLAN block with enabled: false keeps the settings but declares nothing.
          if (obj.value.spec.vlan?.enabled === false) break;
          const info: InterfaceInfo = { obj, name: obj.value.metadata.name, type: effectiveType(obj.value) };
          info.ifname = info.type === "physical" ? obj.value.spec.device : info.name;
          this.interfaces.push(info);
          this.byName.set(info.name, info);
          if (info.type === "physical" && obj.value.spec.device) this.byDevice.set(obj.value.spec.device, info);
          break;
        }
        case "VRF":
          this.vrfs.push(o as LoadedObject<VRFT>);
          break;
        case "Route":
          this.routes.push(o as LoadedObject<RouteT>);
          break;
        case "RoutingPolicy":
          this.policies.push(o as LoadedObject<RoutingPolicyT>);
          break;
      }
    }
  }

  /** An interface by object name, or a declared physical NIC by its device name. */
  resolve(ref: string): InterfaceInfo | undefined {
    return this.byName.get(ref) ?? this.byDevice.get(ref);
  }

  vrf(name: string): LoadedObject<VRFT> | undefined {
    return this.vrfs.find((v) => v.value.metadata.name === name);
  }

  /** The VLAN's parent: a declared interface, or (the seed's `device:` form) a bare kernel device. */
  vlanParent(i: InterfaceInfo): { info?: InterfaceInfo; device?: string } {
    const { vlan, device } = i.obj.value.spec;
    if (vlan?.parent) return { info: this.resolve(vlan.parent) };
    if (device) return { info: this.byDevice.get(device), device };
    return {};
  }

  members(i: InterfaceInfo): string[] {
    const spec = i.obj.value.spec;
    return i.type === "bond" ? (spec.bond?.members ?? []) : i.type === "bridge" ? (spec.bridge?.members ?? []) : [];
  }

  /** The VRF an interface belongs to, from its own `vrf` or a VRF's `members`. */
  vrfOf(i: InterfaceInfo): string | undefined {
    if (i.obj.value.spec.vrf) return i.obj.value.spec.vrf;
    return this.vrfs.find((v) => (v.value.spec.members ?? []).some((m) => this.resolve(m) === i))?.value.metadata.name;
  }
}

export function effectiveType(ni: NetworkInterfaceT): InterfaceType {
  const s = ni.spec;
  // The seed's form: a physical device with a vlan block is a VLAN on that device.
  if (s.type === "physical" && s.vlan && s.device) return "vlan";
  if (s.type) return s.type;
  if (s.bond) return "bond";
  if (s.bridge) return "bridge";
  if (s.vlan) return "vlan";
  return "physical";
}
