// The registry of kinds: what apiVersion/kind a document may have, and its schema.
import type { TObject } from "@sinclair/typebox";
import { NetworkInterface, Route, RoutingPolicy, VRF, type NetworkInterfaceT, type RouteT, type RoutingPolicyT, type VRFT } from "./schema/network";
import { FirewallRule, FirewallZone, NATPolicy, VLANPolicy, XDPFilter, type FirewallRuleT, type FirewallZoneT, type NATPolicyT, type VLANPolicyT, type XDPFilterT } from "./schema/security";
import { DPIProfile, type DPIProfileT } from "./schema/dpi";
import { DHCPServer, DNSResolver, RouterAdvertisement, type DHCPServerT, type DNSResolverT, type RouterAdvertisementT } from "./schema/services";

export interface KindInfo {
  apiVersion: string;
  kind: string;
  schema: TObject;
}

export const kinds: KindInfo[] = [NetworkInterface, VRF, Route, RoutingPolicy, NATPolicy, DHCPServer, RouterAdvertisement, DNSResolver, FirewallZone, FirewallRule, VLANPolicy, XDPFilter, DPIProfile].map((schema) => ({
  apiVersion: schema.properties.apiVersion.const as string,
  kind: schema.properties.kind.const as string,
  schema,
}));

/** The node-local kinds the agent takes from the cluster (configured on the node, not by Cilium). */
export const NODE_LOCAL_KINDS = ["NetworkInterface", "VRF", "Route", "RoutingPolicy", "NATPolicy", "DHCPServer", "RouterAdvertisement", "DNSResolver", "XDPFilter"] as const;

export type ConfigObject =
  | NetworkInterfaceT
  | VRFT
  | RouteT
  | RoutingPolicyT
  | NATPolicyT
  | DHCPServerT
  | RouterAdvertisementT
  | DNSResolverT
  | FirewallZoneT
  | FirewallRuleT
  | VLANPolicyT
  | XDPFilterT
  | DPIProfileT;
