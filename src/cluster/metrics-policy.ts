// The controller's one port (/metrics, /healthz, /readyz) is for Prometheus and the kubelet
// only: a CiliumNetworkPolicy selecting the controller's pods. Once a policy with ingress rules
// selects them they are default-deny inbound, so these two allows are all that reaches them
// (their egress, to the API server, is left alone). Pure data: manifests.ts puts it in
// deploy/manifests/fos1-controller.yaml.
import type { KubeObject } from "./kube-api";

/**
 * Prometheus's pods, in any namespace, by the label the Prometheus Operator and the
 * kube-prometheus-stack chart give them. In a namespaced policy an endpoint selector without a
 * namespace label means "this namespace only": the Exists expression widens it to all.
 */
export const PROMETHEUS_SELECTOR = {
  matchLabels: { "app.kubernetes.io/name": "prometheus" },
  matchExpressions: [{ key: "k8s:io.kubernetes.pod.namespace", operator: "Exists" }],
};

export interface MetricsPolicyOptions {
  namespace: string;
  /** The controller pods' labels (the Deployment's selector). */
  podLabels: Record<string, string>;
  port: number;
  labels: Record<string, string>;
}

export function metricsPolicy(o: MetricsPolicyOptions): KubeObject {
  const toPort = [{ ports: [{ port: String(o.port), protocol: "TCP" }] }];
  return {
    apiVersion: "cilium.io/v2",
    kind: "CiliumNetworkPolicy",
    metadata: { name: "fos1-controller-metrics", namespace: o.namespace, labels: o.labels },
    spec: {
      description: "fos1 controller: its metrics and probe port for Prometheus and the kubelet only",
      endpointSelector: { matchLabels: o.podLabels },
      ingress: [
        // The kubelet probes /healthz and /readyz from its own node: Cilium's host entity.
        { fromEntities: ["host"], toPorts: toPort },
        { fromEndpoints: [PROMETHEUS_SELECTOR], toPorts: toPort },
      ],
    },
  };
}
