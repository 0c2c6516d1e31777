// deploy/manifests/ is generated (src/cluster/deploy-files.ts) and committed for Talos's inline
// manifests: it must be what its sources give today, and say what the deployment promises.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { deployFiles } from "../../src/cluster/deploy-files";
import type { KubeObject } from "../../src/cluster/kube-api";
import { CILIUM_RESOURCES, FOS1_RESOURCES } from "../../src/cluster/resources";
import { NODE_LOCAL_KINDS } from "../../src/api/kinds";
import { CONTROLLER_LISTEN } from "../../src/cluster/run-controller";
import { ENDPOINTS } from "../../src/agent/health-server";
import { FINALIZER } from "../../src/cluster/network-controller";
import { VALIDATIONS } from "../../src/cluster/admission";
import { translate } from "../../src/cilium/translate";
import { loadConfigText } from "../../src/api/load";
import { GENERATED_RESOURCES } from "../../src/cluster/resources";
import { ciliumSchemaErrors } from "./cilium-schemas";

const repo = join(import.meta.dir, "..", "..");
const files = deployFiles(repo);
const committed = (path: string) => readFileSync(join(repo, path), "utf8");
const objects = (path: string) => parseAllDocuments(committed(path)).map((d) => d.toJS() as KubeObject);
const find = (path: string, kind: string, name?: string) => objects(path).filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

test.each([...files.keys()])("%s is current with its sources (else: make generate)", (path) => {
  expect(committed(path) === files.get(path)).toBe(true);
});

test("every rendered document is a named Kubernetes object", () => {
  for (const path of files.keys())
    for (const o of objects(path)) {
      expect(o.apiVersion).toMatch(/^([a-z0-9.]+\/)?v\d/);
      expect(o.kind).toMatch(/^[A-Z]/);
      expect(o.metadata.name).toMatch(/^[a-z0-9][-a-z0-9.]*$/);
    }
});

describe("fos1-controller.yaml", () => {
  const path = "deploy/manifests/fos1-controller.yaml";

  test("a Deployment of 2 replicas that elect a leader, unprivileged", () => {
    const [d] = find(path, "Deployment", "fos1-controller");
    const spec = d!.spec as { replicas: number; template: { spec: { serviceAccountName: string; securityContext: object; containers: { args: string[]; env: { name: string }[]; securityContext: object }[] } } };
    expect(spec.replicas).toBe(2);
    const pod = spec.template.spec;
    expect(pod.serviceAccountName).toBe("fos1-controller");
    expect(pod.containers[0]!.args).toEqual(["controller", "--namespace", "fos1-system", "--lease-name", "fos1-controller"]);
    expect(pod.containers[0]!.env.map((e) => e.name)).toContain("POD_NAME");
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(pod.containers[0]!.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(find(path, "PodDisruptionBudget")[0]!.spec).toMatchObject({ minAvailable: 1 });
  });

  test("its pods answer the kubelet's probes and Prometheus on the port the controller listens on", () => {
    const [d] = find(path, "Deployment", "fos1-controller");
    type Probe = { httpGet: { path: string; port: string } };
    const template = (d!.spec as { template: { metadata: { annotations: Record<string, string> }; spec: { containers: { args: string[]; ports: { name: string; containerPort: number }[]; livenessProbe: Probe; readinessProbe: Probe }[] } } }).template;
    const container = template.spec.containers[0]!;
    // No --listen: the controller's default, every address of the pod.
    expect(container.args.some((a) => a.startsWith("--listen"))).toBe(false);
    expect(CONTROLLER_LISTEN.host).toBe("0.0.0.0");
    const port = container.ports.find((p) => p.containerPort === CONTROLLER_LISTEN.port);
    expect(port).toBeDefined();
    expect([container.livenessProbe.httpGet, container.readinessProbe.httpGet]).toEqual([
      { path: "/healthz", port: port!.name },
      { path: "/readyz", port: port!.name },
    ]);
    expect(ENDPOINTS).toContain("/healthz");
    expect(ENDPOINTS).toContain("/readyz");
    expect(template.metadata.annotations).toEqual({ "prometheus.io/scrape": "true", "prometheus.io/port": String(CONTROLLER_LISTEN.port), "prometheus.io/path": "/metrics" });
  });

  test("its ClusterRole names exactly fos1's kinds, the Cilium kinds it manages and Nodes (read: the router nodes' management networks), no wildcard, no secrets", () => {
    const rules = find(path, "ClusterRole", "fos1-controller")[0]!.rules as Rule[];
    const all = rules.flatMap((r) => [...r.apiGroups, ...r.resources, ...r.verbs]);
    expect(all).not.toContain("*");
    const resources = new Set(rules.flatMap((r) => r.resources));
    expect(resources).toEqual(new Set([...FOS1_RESOURCES.flatMap((t) => [t.plural, `${t.plural}/status`]), ...CILIUM_RESOURCES.map((t) => t.plural), "nodes"]));
    expect(rules.filter((r) => r.resources.includes("nodes")).flatMap((r) => r.verbs).sort()).toEqual(["list", "watch"]);
    // fos1's own objects: read, finalizers (update), status (patch) — never created or deleted.
    for (const r of rules.filter((r) => r.apiGroups.some((g) => g.endsWith("fos1.io")))) expect(r.verbs).not.toContain("delete");
  });

  test("in its namespace: the Lease, updated only by name, and ConfigMaps; events only where cluster-scoped objects' events go", () => {
    const own = find(path, "Role", "fos1-controller")[0]!;
    expect(own.metadata.namespace).toBe("fos1-system");
    const rules = own.rules as Rule[];
    for (const r of rules.filter((r) => r.resources.includes("leases") && r.verbs.includes("update"))) expect(r.resourceNames).toEqual(["fos1-controller"]);
    expect(rules.some((r) => r.apiGroups.includes("") && r.resources.includes("configmaps"))).toBe(true);
    expect(find(path, "Role", "fos1-controller-events")[0]!.metadata.namespace).toBe("default");
  });
});

test("fos1-agent-rbac.yaml: the agent only reads its node-local kinds, and reads and patches Nodes (its labels; its management networks)", () => {
  const rules = find("deploy/manifests/fos1-agent-rbac.yaml", "ClusterRole", "fos1-agent")[0]!.rules as Rule[];
  expect(new Set(rules.filter((r) => !r.resources.includes("nodes")).flatMap((r) => r.verbs))).toEqual(new Set(["get", "list", "watch"]));
  expect(rules.filter((r) => r.resources.includes("nodes")).flatMap((r) => r.verbs).sort()).toEqual(["get", "patch"]);
  const kinds = FOS1_RESOURCES.filter((t) => rules.some((r) => r.resources.includes(t.plural))).map((t) => t.kind);
  expect(kinds.sort()).toEqual([...NODE_LOCAL_KINDS].sort());
  expect(rules.some((r) => r.apiGroups.includes("") && r.resources.includes("nodes"))).toBe(true);
});

test("fos1-agent-rbac.yaml: no long-lived token Secret; in fos1-system the agent may only ask for its own next token", () => {
  const path = "deploy/manifests/fos1-agent-rbac.yaml";
  expect(find(path, "Secret")).toEqual([]);
  const roles = find(path, "Role");
  expect(roles.map((r) => [r.metadata.name, r.metadata.namespace])).toEqual([["fos1-agent-token", "fos1-system"]]);
  expect(roles[0]!.rules).toEqual([{ apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"], resourceNames: ["fos1-agent"] }]);
  const binding = find(path, "RoleBinding")[0]!;
  expect(binding.roleRef).toMatchObject({ kind: "Role", name: "fos1-agent-token" });
  expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "fos1-agent", namespace: "fos1-system" }]);
});

test.each(["cilium-install.yaml", "cilium-install-direct-routing.yaml"])("%s hands Helm the values files as they are in deploy/cilium/", (file) => {
  const path = `deploy/manifests/${file}`;
  const data = find(path, "ConfigMap")[0]!.data as Record<string, string>;
  expect(data["values.yaml"]).toBe(committed("deploy/cilium/values.yaml"));
  // The container runs one shell script (cilium-install.ts); Helm's arguments are words of it.
  const words = (find(path, "Job")[0]!.spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers[0]!.args.join(" ").split(/\s+/);
  const given = words.flatMap((a, i) => (words[i - 1] === "--values" ? [a.replace("/values/", "")] : []));
  expect(given.sort()).toEqual(Object.keys(data).sort());
});

describe("fos1-controller.yaml: least privilege beyond RBAC", () => {
  const path = "deploy/manifests/fos1-controller.yaml";
  type Vap = { spec: { failurePolicy: string; matchConstraints: { resourceRules: { apiGroups: string[]; operations: string[]; resources: string[] }[] }; matchConditions: { expression: string }[]; variables: { name: string; expression: string }[]; validations: { expression: string; message: string }[] } };

  test("a ValidatingAdmissionPolicy, bound with Deny, holds both service accounts to finalizers on every fos1 kind", () => {
    const vap = find(path, "ValidatingAdmissionPolicy")[0] as unknown as Vap & KubeObject;
    const binding = find(path, "ValidatingAdmissionPolicyBinding")[0]!;
    expect(vap.apiVersion).toBe("admissionregistration.k8s.io/v1");
    expect(binding.spec).toEqual({ policyName: vap.metadata.name, validationActions: ["Deny"] });
    expect(vap.spec.failurePolicy).toBe("Fail");
    const rules = vap.spec.matchConstraints.resourceRules;
    // The main resource of every kind, never the status subresource (status writes stay allowed).
    expect(new Set(rules.flatMap((r) => r.resources))).toEqual(new Set(FOS1_RESOURCES.map((t) => t.plural)));
    for (const r of rules) expect(r.operations).toEqual(["CREATE", "UPDATE", "DELETE"]);
    expect(vap.spec.matchConditions[0]!.expression).toBe("request.userInfo.username in ['system:serviceaccount:fos1-system:fos1-controller', 'system:serviceaccount:fos1-system:fos1-agent']");
    expect(vap.spec.validations).toEqual(VALIDATIONS);
  });

  test("its CEL is well formed: balanced, quoting closed, only the variables admission defines, and each field it guards compared old to new", () => {
    const vap = find(path, "ValidatingAdmissionPolicy")[0] as unknown as Vap;
    const defined = new Set(vap.spec.variables.map((v) => v.name));
    const expressions = [...vap.spec.matchConditions, ...vap.spec.variables, ...vap.spec.validations].map((e) => e.expression);
    for (const e of expressions) {
      const outside = e.replace(/'[^']*'/g, "0");
      expect(outside).not.toContain("'"); // every string literal closed
      let depth = 0;
      for (const ch of outside) {
        depth += ch === "(" || ch === "[" ? 1 : ch === ")" || ch === "]" ? -1 : 0;
        expect(depth).toBeGreaterThanOrEqual(0);
      }
      expect(depth).toBe(0);
      // The roots a ValidatingAdmissionPolicy's CEL environment has (no params: the policy has no paramKind).
      for (const root of outside.match(/(?<![.\w])[a-zA-Z_]\w*(?=\.)/g) ?? []) expect(["object", "oldObject", "request", "variables"]).toContain(root);
      for (const v of outside.match(/variables\.(\w+)/g) ?? []) expect(defined).toContain(v.slice("variables.".length));
    }
    const updates = vap.spec.validations.map((v) => v.expression).join("\n");
    for (const field of ["object.spec", "object.metadata.labels", "object.metadata.annotations", "object.metadata.ownerReferences"]) {
      expect(updates).toContain(`${field} == old${field[0]!.toUpperCase()}${field.slice(1)}`);
    }
    expect(vap.spec.variables.map((v) => v.expression).join("\n")).toContain(`f != '${FINALIZER}'`);
  });

  test("a CiliumNetworkPolicy opens the controller's port to the host (kubelet) and Prometheus only, valid against Cilium's schema", () => {
    const [cnp] = find(path, "CiliumNetworkPolicy");
    expect(ciliumSchemaErrors(cnp!)).toBe("");
    const [d] = find(path, "Deployment", "fos1-controller");
    const podLabels = (d!.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    type Ingress = { fromEntities?: string[]; fromEndpoints?: { matchLabels: Record<string, string> }[]; toPorts: { ports: { port: string; protocol: string }[] }[] };
    const spec = cnp!.spec as { endpointSelector: { matchLabels: Record<string, string> }; ingress: Ingress[]; egress?: unknown };
    expect(cnp!.metadata.namespace).toBe("fos1-system");
    expect(spec.endpointSelector.matchLabels).toEqual(podLabels);
    expect(spec.egress).toBeUndefined();
    expect(spec.ingress.map((i) => i.fromEntities ?? i.fromEndpoints!.map((e) => e.matchLabels))).toEqual([["host"], [{ "app.kubernetes.io/name": "prometheus" }]]);
    for (const i of spec.ingress) expect(i.toPorts).toEqual([{ ports: [{ port: String(CONTROLLER_LISTEN.port), protocol: "TCP" }] }]);
  });

  test("the controller may write only the kinds the translation emits: the golden inputs give exactly those", () => {
    const golden = join(repo, "test/unit/golden/translate");
    const kinds = new Set<string>();
    for (const file of ["seed.yaml", "ordering.yaml"]) {
      const loaded = loadConfigText(readFileSync(join(golden, file), "utf8"), file);
      expect(loaded.problems).toEqual([]);
      for (const o of translate(loaded.objects.map((l) => l.value)).objects) kinds.add(`${o.apiVersion} ${o.kind}`);
    }
    expect(kinds).toEqual(new Set(GENERATED_RESOURCES.map((r) => `${r.group ? `${r.group}/` : ""}${r.version} ${r.kind}`)));
  });
});
