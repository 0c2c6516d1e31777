// Every resource type fos1's controllers read or write. The RBAC rules of the controller and
// the agent (manifests.ts) are derived from these lists, so the permissions granted are exactly
// the resources the code uses.
import { plural } from "../api/crds";
import { kinds } from "../api/kinds";
import { apiVersionOf, type ResourceType } from "./kube-api";

export const LEASE: ResourceType = { group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease", namespaced: true };
export const EVENT: ResourceType = { group: "events.k8s.io", version: "v1", plural: "events", kind: "Event", namespaced: true };

// Only the Cilium kinds the translation (src/cilium/translate) emits, and the IDS's blocks (a
// CiliumClusterwideNetworkPolicy too): the controller's RBAC grants each of them, so a kind listed
// here that nothing generates would be a permission nobody uses (a unit test translates every
// kind of fos1 object and checks that it meets each of these and nothing else).
export const CILIUM_CLUSTERWIDE_NETWORK_POLICY: ResourceType = { group: "cilium.io", version: "v2", plural: "ciliumclusterwidenetworkpolicies", kind: "CiliumClusterwideNetworkPolicy", namespaced: false };
export const CILIUM_EGRESS_GATEWAY_POLICY: ResourceType = { group: "cilium.io", version: "v2", plural: "ciliumegressgatewaypolicies", kind: "CiliumEgressGatewayPolicy", namespaced: false };

/** The Cilium kinds fos1 creates, cluster-wide; what it created of them is garbage-collected by label. */
export const CILIUM_RESOURCES: ResourceType[] = [CILIUM_CLUSTERWIDE_NETWORK_POLICY, CILIUM_EGRESS_GATEWAY_POLICY];
/** The IDS configuration of DPI profiles: ConfigMaps in the controller's own namespace only. */
export const CONFIG_MAP: ResourceType = { group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true };
/** The agent reads its own Node's labels (nodeSelector annotations are matched against them). */
export const NODE: ResourceType = { group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false };
/** Everything the controller generates. */
export const GENERATED_RESOURCES: ResourceType[] = [...CILIUM_RESOURCES, CONFIG_MAP];

/** Every fos1 kind, as its CRD (src/api/crds.ts) serves it: cluster-scoped. */
export const FOS1_RESOURCES: ResourceType[] = kinds.map((k) => {
  const [group = "", version = ""] = k.apiVersion.split("/");
  return { group, version, plural: plural(k.kind), kind: k.kind, namespaced: false };
});

export function generatedResourceOf(object: { apiVersion: string; kind: string }): ResourceType {
  const type = GENERATED_RESOURCES.find((r) => apiVersionOf(r) === object.apiVersion && r.kind === object.kind);
  if (!type) throw new Error(`${object.apiVersion} ${object.kind} is not a kind fos1 generates (${GENERATED_RESOURCES.map((r) => r.kind).join(", ")})`);
  return type;
}
