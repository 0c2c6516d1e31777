// The registry of kinds: what apiVersion/kind a document may have, and its schema.
import type { TObject } from "@sinclair/typebox";
import { NetworkInterface, Route, RoutingPolicy, VRF, type NetworkInterfaceT, type RouteT, type RoutingPolicyT, type VRFT } from "./schema/network";

export interface KindInfo {
  apiVersion: string;
  kind: string;
  schema: TObject;
}

export const kinds: KindInfo[] = [NetworkInterface, VRF, Route, RoutingPolicy].map((schema) => ({
  apiVersion: schema.properties.apiVersion.const as string,
  kind: schema.properties.kind.const as string,
  schema,
}));

export type ConfigObject = NetworkInterfaceT | VRFT | RouteT | RoutingPolicyT;
