// Cilium installed from Talos's inline manifests: a Job that runs `helm upgrade --install` with
// fos1's values (deploy/cilium/*.yaml, carried in a ConfigMap), the way Talos documents for a
// cluster that has no CNI yet — the Job uses the host network and KubePrism, as Cilium will.
//
// Why a Job and not manifests rendered at build time: rendering needs the chart, which no npm or
// Debian package ships and which may not be copied into this repository, so neither CI nor a
// developer's machine here could regenerate or test deploy/. What the Job runs is pinned instead:
//   - the helm image by digest (and in the Talos image cache, hack/image/cache-images.ts);
//   - the chart by sha256: the Job downloads it and checks it before helm reads it;
//   - every Cilium image by digest, in deploy/cilium/values.yaml.
// The install's cluster-admin binding lives only as long as the install: it is made adoptable by
// a one-object Helm release (RBAC_RELEASE), which the Job uninstalls — deleting the binding —
// once Cilium is installed; that release's record lives in its own empty namespace, the only
// place the service account may still write to afterwards.
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import type { KubeObject } from "./kube-api";

export const CILIUM_VERSION = "1.19.0";
/** Cilium's published chart, and its sha256 from the chart repository's index.yaml (the `digest` of cilium-1.19.0.tgz). */
export const CILIUM_CHART = {
  url: `https://helm.cilium.io/cilium-${CILIUM_VERSION}.tgz`,
  sha256: "5b774f0e0b93ad7127166cdac1bac5b64b5b9ac660cba4ab0363b9ac7f55a37e",
};
/** Helm 3.17.3 (alpine/helm): busybox wget and sha256sum fetch and check the chart in the same container. */
export const HELM_IMAGE = "docker.io/alpine/helm:3.17.3@sha256:d899e6316789fec04ee95300a18e454b7942539cbb3d89bde3e0655d6ca2e895";
const NAME = "cilium-install";
const NS = "kube-system";
/** The Helm release that owns the cluster-admin binding, and the namespace of its record. */
export const RBAC_RELEASE = { name: "cilium-install-rbac", namespace: "cilium-install" };
const CHART_FILE = "/tmp/cilium.tgz";

const labels = { "app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "fos1" };

/**
 * The binding, with the label and annotations by which Helm adopts an object that already exists
 * into a release (instead of refusing to install over it).
 */
function clusterAdminBinding(): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: {
      name: NAME,
      labels: { ...labels, "app.kubernetes.io/managed-by": "Helm" },
      annotations: { "meta.helm.sh/release-name": RBAC_RELEASE.name, "meta.helm.sh/release-namespace": RBAC_RELEASE.namespace },
    },
    // Installing a CNI creates CRDs, ClusterRoles and DaemonSets: only cluster-admin can.
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: [{ kind: "ServiceAccount", name: NAME, namespace: NS }],
  };
}

/** The shell script the Job runs: adopt the binding, fetch and check the chart, install, drop the binding. */
export function installScript(valueFiles: string[]): string {
  const rbac = `--namespace ${RBAC_RELEASE.namespace}`;
  return [
    "set -eu",
    // Its record as a ConfigMap in RBAC_RELEASE.namespace, which the Role below still lets it write.
    `HELM_DRIVER=configmap helm upgrade --install ${RBAC_RELEASE.name} /rbac-chart ${rbac}`,
    `wget -q -O ${CHART_FILE} ${CILIUM_CHART.url}`,
    `echo "${CILIUM_CHART.sha256}  ${CHART_FILE}" | sha256sum -c -`,
    `helm upgrade --install cilium ${CHART_FILE} --namespace ${NS} ${valueFiles.map((f) => `--values /values/${f}`).join(" ")}`,
    `HELM_DRIVER=configmap helm uninstall ${RBAC_RELEASE.name} ${rbac}`,
    "",
  ].join("\n");
}

/**
 * The manifests for values files (file name → text), given to Helm in order (later ones win).
 * The Job's name carries their digest: a Job's pod template is immutable, so changed values
 * make a new Job instead of a rejected update.
 */
export function ciliumInstallManifests(values: [file: string, text: string][]): KubeObject[] {
  const digest = createHash("sha256").update(JSON.stringify([CILIUM_VERSION, CILIUM_CHART, HELM_IMAGE, values])).digest("hex").slice(0, 10);
  const rbacChart = {
    "Chart.yaml": stringify({ apiVersion: "v2", name: RBAC_RELEASE.name, version: "1.0.0", description: "The Cilium install's cluster-admin binding, so that uninstalling this release deletes it" }),
    "binding.yaml": stringify(clusterAdminBinding(), { lineWidth: 0 }),
  };
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: RBAC_RELEASE.namespace, labels } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: NAME, namespace: NS, labels } },
    clusterAdminBinding(),
    {
      // Helm's record of RBAC_RELEASE: what the service account keeps once the binding is gone.
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: NAME, namespace: RBAC_RELEASE.namespace, labels },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "create", "update", "delete"] }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: NAME, namespace: RBAC_RELEASE.namespace, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: NAME },
      subjects: [{ kind: "ServiceAccount", name: NAME, namespace: NS }],
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${NAME}-values`, namespace: NS, labels }, data: Object.fromEntries(values) },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${NAME}-rbac-chart`, namespace: NS, labels }, data: rbacChart },
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
                command: ["/bin/sh", "-c"],
                args: [installScript(values.map(([file]) => file))],
                volumeMounts: [
                  { name: "values", mountPath: "/values", readOnly: true },
                  { name: "rbac-chart", mountPath: "/rbac-chart", readOnly: true },
                  { name: "tmp", mountPath: "/tmp" },
                ],
              },
            ],
            volumes: [
              { name: "values", configMap: { name: `${NAME}-values` } },
              {
                name: "rbac-chart",
                configMap: { name: `${NAME}-rbac-chart`, items: [{ key: "Chart.yaml", path: "Chart.yaml" }, { key: "binding.yaml", path: "templates/binding.yaml" }] },
              },
              { name: "tmp", emptyDir: {} },
            ],
          },
        },
      },
    },
  ];
}
