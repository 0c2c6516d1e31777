// The management path as each router's agent knows it from its boot config, carried on its
// Node: the agent writes the networks of its management zones in an annotation, the controller
// reads them from every router node, and the translated host policy always admits the
// management ports from them (src/cilium/translate/subjects.ts). Pure.
import type { KubeObject } from "./kube-api";
import { formatPrefix, network, parsePrefix } from "../api/ip";

export const MANAGEMENT_ANNOTATION = "fos1.io/management-networks";

/** The annotation's value: the networks, comma-separated, in a stable order. */
export const managementAnnotation = (networks: string[]): string => [...new Set(networks)].sort().join(",");

/** Every router node's networks, once each, sorted; what does not parse is left out. */
export function managementNetworksOf(nodes: KubeObject[]): string[] {
  const all = nodes.flatMap((n) => (n.metadata.annotations?.[MANAGEMENT_ANNOTATION] ?? "").split(","));
  const nets = all.flatMap((c) => {
    const p = parsePrefix(c.trim());
    return p ? [formatPrefix(network(p))] : [];
  });
  return [...new Set(nets)].sort();
}
