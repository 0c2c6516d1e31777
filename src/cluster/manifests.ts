// The Kubernetes manifests that run fos1 in the cluster, as data (hack/generate-deploy.ts writes
// them to deploy/manifests/, where Talos inline manifests take them; a unit test keeps them
// current). Every permission is derived from the resource lists the code uses (resources.ts),
// and each verb from the calls it makes, so the ClusterRoles grant exactly what the controller
// and the agent touch (test/unit/cluster-controller.test.ts checks that every verb granted is
// used). An admission policy (admission.ts) narrows the controller's one broad verb, update,
// to finalizers; a Cilium policy (metrics-policy.ts) opens its port to Prometheus and the kubelet only.
import { admissionManifests } from "./admission";
import type { KubeObject, ResourceType } from "./kube-api";
import { metricsPolicy } from "./metrics-policy";
import { CILIUM_RESOURCES, CONFIG_MAP, EVENT, FOS1_RESOURCES, LEASE, NODE } from "./resources";
import { NODE_LOCAL_KINDS } from "../api/kinds";
import { CONTROLLER_LISTEN } from "./run-controller";

export const NAMESPACE = "fos1-system";
export const CONTROLLER = "fos1-controller";
export const AGENT = "fos1-agent";
const PART_OF = { "app.kubernetes.io/part-of": "fos1" };

interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** One rule per API group: the given verbs on those resources (and optional subresource). */
function rulesFor(types: ResourceType[], verbs: string[], subresource?: string): PolicyRule[] {
  const groups = [...new Set(types.map((t) => t.group))].sort();
  return groups.map((group) => ({
    apiGroups: [group],
    resources: types.filter((t) => t.group === group).map((t) => (subresource ? `${t.plural}/${subresource}` : t.plural)).sort(),
    verbs,
  }));
}

const labels = (name: string) => ({ "app.kubernetes.io/name": name, ...PART_OF });

function namespace(): KubeObject {
  // The controller needs no privilege at all: the restricted Pod Security level holds it to that.
  return { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE, labels: { ...PART_OF, "pod-security.kubernetes.io/enforce": "restricted" } } };
}

function serviceAccount(name: string): KubeObject {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: NAMESPACE, labels: labels(name) } };
}

function binding(kind: "ClusterRoleBinding" | "RoleBinding", name: string, roleKind: "ClusterRole" | "Role", subject: string, ns?: string): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind,
    metadata: { name, ...(ns ? { namespace: ns } : {}), labels: labels(subject) },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: roleKind, name },
    subjects: [{ kind: "ServiceAccount", name: subject, namespace: NAMESPACE }],
  };
}

function role(kind: "ClusterRole" | "Role", name: string, rules: PolicyRule[], ns?: string, owner = name): KubeObject {
  return { apiVersion: "rbac.authorization.k8s.io/v1", kind, metadata: { name, ...(ns ? { namespace: ns } : {}), labels: labels(owner) }, rules };
}

/** What the controller does with the objects it generates (cilium-client.ts, through informers). */
const GENERATED_VERBS = ["list", "watch", "create", "patch", "delete"];

/** The controller's permissions, cluster-wide: fos1's kinds, and the Cilium objects it makes. */
export function controllerClusterRules(): PolicyRule[] {
  return [
    // Informers list and watch (no get: they keep the objects); update only adds or removes
    // fos1's finalizer (the admission policy refuses anything else).
    ...rulesFor(FOS1_RESOURCES, ["list", "watch", "update"]),
    ...rulesFor(FOS1_RESOURCES, ["patch"], "status"),
    // Informers by label; server-side apply updates (patch) and creates (the API server also
    // asks for create when an apply makes a new object); garbage collection deletes.
    ...rulesFor(CILIUM_RESOURCES, GENERATED_VERBS),
    // The router nodes, for the management networks their agents write on them.
    ...rulesFor([NODE], ["list", "watch"]),
  ];
}

export interface ControllerDeployment {
  image: string;
  replicas?: number;
}

/** Namespace, service account, RBAC, the Deployment (2 replicas, leader election) and its disruption budget. */
export function controllerManifests(o: ControllerDeployment): KubeObject[] {
  const lease: PolicyRule[] = [
    // create cannot be limited by name (the object does not exist yet); the rest can.
    { apiGroups: [LEASE.group], resources: [LEASE.plural], verbs: ["create"] },
    { apiGroups: [LEASE.group], resources: [LEASE.plural], resourceNames: [CONTROLLER], verbs: ["get", "update"] },
  ];
  // The IDS configuration it generates lives in its own namespace only.
  const own: PolicyRule[] = [...lease, ...rulesFor([CONFIG_MAP], GENERATED_VERBS)];
  // Events about cluster-scoped objects live in "default" (events.ts).
  const events: PolicyRule[] = [{ apiGroups: [EVENT.group], resources: [EVENT.plural], verbs: ["create"] }];
  const podLabels = labels(CONTROLLER);
  const port = CONTROLLER_LISTEN.port;
  // The kubelet's probes: /healthz while the process answers; /readyz once a leader's caches are
  // synced, or a standby's campaign reached the API server (controller-readiness.ts).
  const probe = (path: string) => ({ httpGet: { path, port: "http" }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 });
  return [
    namespace(),
    serviceAccount(CONTROLLER),
    role("ClusterRole", CONTROLLER, controllerClusterRules()),
    binding("ClusterRoleBinding", CONTROLLER, "ClusterRole", CONTROLLER),
    role("Role", CONTROLLER, own, NAMESPACE),
    binding("RoleBinding", CONTROLLER, "Role", CONTROLLER, NAMESPACE),
    role("Role", `${CONTROLLER}-events`, events, "default", CONTROLLER),
    binding("RoleBinding", `${CONTROLLER}-events`, "Role", CONTROLLER, "default"),
    ...admissionManifests(FOS1_RESOURCES, [CONTROLLER, AGENT].map((name) => ({ namespace: NAMESPACE, name })), { ...PART_OF }),
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: CONTROLLER, namespace: NAMESPACE, labels: podLabels },
      spec: {
        replicas: o.replicas ?? 2,
        selector: { matchLabels: podLabels },
        template: {
          // The de-facto annotations Prometheus's Kubernetes pod discovery is commonly configured by.
          metadata: { labels: podLabels, annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(port), "prometheus.io/path": "/metrics" } },
          spec: {
            serviceAccountName: CONTROLLER,
            // A router is often one node: spread replicas when there are several, never refuse to run.
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: podLabels } } }],
              },
            },
            tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }],
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } },
            containers: [
              {
                name: "controller",
                image: o.image,
                args: ["controller", "--namespace", NAMESPACE, "--lease-name", CONTROLLER],
                env: [
                  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                  { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                  { name: "FOS1_LOG_FORMAT", value: "json" },
                ],
                ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
                livenessProbe: probe("/healthz"),
                readinessProbe: probe("/readyz"),
                resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "512Mi" } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: CONTROLLER, namespace: NAMESPACE, labels: podLabels },
      spec: { minAvailable: 1, selector: { matchLabels: podLabels } },
    },
    // Last: Cilium's CRDs exist only once Cilium is installed, and what Talos applies before it
    // (the controller above) must not wait on it.
    metricsPolicy({ namespace: NAMESPACE, podLabels, port, labels: podLabels }),
  ];
}

/** The agent's permissions: read the node-local kinds (its node's share of them) and its Node's labels, and write its management networks there. */
export function agentClusterRules(): PolicyRule[] {
  const nodeLocal = FOS1_RESOURCES.filter((t) => (NODE_LOCAL_KINDS as readonly string[]).includes(t.kind));
  // Its Node: read for its labels; patched (server-side apply) with its management networks.
  return [...rulesFor(nodeLocal, ["get", "list", "watch"]), { apiGroups: [""], resources: ["nodes"], verbs: ["get", "patch"] }];
}

/**
 * The agent's one namespaced permission: asking for its own next token (agent-credential.ts).
 * It runs on the host (a Talos extension service), not in a pod, so no projected token is
 * mounted for it: it mints a short-lived one once with the admin kubeconfig Talos hands out on
 * the node, then renews it with itself before it expires — no long-lived token Secret.
 */
export function agentTokenRules(): PolicyRule[] {
  return [{ apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"], resourceNames: [AGENT] }];
}

export function agentManifests(): KubeObject[] {
  return [
    namespace(),
    serviceAccount(AGENT),
    role("ClusterRole", AGENT, agentClusterRules()),
    binding("ClusterRoleBinding", AGENT, "ClusterRole", AGENT),
    role("Role", `${AGENT}-token`, agentTokenRules(), NAMESPACE, AGENT),
    binding("RoleBinding", `${AGENT}-token`, "Role", AGENT, NAMESPACE),
  ];
}
