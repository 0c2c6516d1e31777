// Cilium installed from Talos's inline manifests: a Job that runs `helm upgrade --install` with
// fos1's values (deploy/cilium/*.yaml, carried in a ConfigMap), the way Talos documents
// for a cluster that has no CNI yet — the Job uses the host network and KubePrism, as Cilium
// will. It needs the chart and images from the internet at first boot; nothing here can check
// that the image tags exist (this machine has no registry access), so they are named once below.
import { createHash } from "node:crypto";
import type { KubeObject } from "./kube-api";

export const CILIUM_VERSION = "1.19.0";
export const HELM_IMAGE = "docker.io/alpine/helm:3.17.3";
const NAME = "cilium-install";
const NS = "kube-system";

/**
 * The manifests for values files (file name → text), given to Helm in order (later ones win).
 * The Job's name carries their digest: a Job's pod template is immutable, so changed values
 * make a new Job instead of a rejected update.
 */
export function ciliumInstallManifests(values: [file: string, text: string][]): KubeObject[] {
  const digest = createHash("sha256").update(JSON.stringify([CILIUM_VERSION, values])).digest("hex").slice(0, 10);
  const labels = { "app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "fos1" };
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: NAME, namespace: NS, labels } },
    {
      // Installing a CNI creates CRDs, ClusterRoles and DaemonSets: only cluster-admin can.
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: NAME, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
      subjects: [{ kind: "ServiceAccount", name: NAME, namespace: NS }],
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${NAME}-values`, namespace: NS, labels }, data: Object.fromEntries(values) },
    {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: `${NAME}-${digest}`, namespace: NS, labels },
      spec: {
        backoffLimit: 10,
        ttlSecondsAfterFinished: 86400,
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: NAME,
            restartPolicy: "OnFailure",
            // No CNI yet: only the host network exists, and the node is tainted not-ready.
            hostNetwork: true,
            tolerations: [{ operator: "Exists" }],
            nodeSelector: { "node-role.kubernetes.io/control-plane": "" },
            containers: [
              {
                name: "helm",
                image: HELM_IMAGE,
                env: [
                  // KubePrism on the host: there is no Service network before Cilium.
                  { name: "KUBERNETES_SERVICE_HOST", value: "localhost" },
                  { name: "KUBERNETES_SERVICE_PORT", value: "7445" },
                  { name: "HOME", value: "/tmp" },
                ],
                args: ["upgrade", "--install", "cilium", "cilium", "--repo", "https://helm.cilium.io/", "--version", CILIUM_VERSION, "--namespace", NS, ...values.flatMap(([file]) => ["--values", `/values/${file}`])],
                volumeMounts: [
                  { name: "values", mountPath: "/values", readOnly: true },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [
              { name: "values", configMap: { name: `${NAME}-values` } },
              { name: "tmp", emptyDir: {} },
            ],
          },
        },
      },
    },
  ];
}
