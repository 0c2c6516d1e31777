// Kubernetes RBAC evaluated over a set of manifests (ClusterRoles, Roles and their bindings) for
// one service account: what the API server would allow it. For the FAKE API server's authorizer.
import type { KubeObject } from "../../src/cluster/kube-api";
import type { RequestAttributes } from "./fake-apiserver";

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

const has = (list: string[] | undefined, value: string) => Boolean(list?.includes(value) || list?.includes("*"));

function allows(rule: Rule, a: RequestAttributes): boolean {
  if (!has(rule.apiGroups, a.group) || !has(rule.resources, a.resource) || !has(rule.verbs, a.verb)) return false;
  // A rule naming objects never covers requests without a name (create, list, watch).
  return !rule.resourceNames?.length || (a.name !== undefined && rule.resourceNames.includes(a.name));
}

export function rbacAuthorizer(manifests: KubeObject[], serviceAccount: { namespace: string; name: string }) {
  const bound = (b: KubeObject) =>
    ((b.subjects as { kind: string; name: string; namespace?: string }[] | undefined) ?? []).some(
      (s) => s.kind === "ServiceAccount" && s.name === serviceAccount.name && s.namespace === serviceAccount.namespace,
    );
  const roleOf = (b: KubeObject) => b.roleRef as { kind: string; name: string };
  const find = (kind: string, name: string, namespace?: string) =>
    manifests.find((m) => m.kind === kind && m.metadata.name === name && m.metadata.namespace === namespace)?.rules as Rule[] | undefined;
  const clusterRules = manifests.filter((m) => m.kind === "ClusterRoleBinding" && bound(m)).flatMap((b) => find("ClusterRole", roleOf(b).name) ?? []);
  const namespaced = manifests
    .filter((m) => m.kind === "RoleBinding" && bound(m))
    .map((b) => ({ namespace: b.metadata.namespace, rules: (roleOf(b).kind === "Role" ? find("Role", roleOf(b).name, b.metadata.namespace) : find("ClusterRole", roleOf(b).name)) ?? [] }));
  return (a: RequestAttributes): boolean =>
    clusterRules.some((r) => allows(r, a)) || namespaced.some((n) => n.namespace === a.namespace && n.rules.some((r) => allows(r, a)));
}
