// The ValidatingAdmissionPolicy that holds fos1's own service accounts to what their code does
// with fos1's objects. RBAC can only grant "update" whole: the controller needs it to add and
// remove its finalizer, and with that alone it could rewrite any rule's spec. Through the main
// resource this policy lets those accounts add or remove fos1's finalizer and change nothing
// else; they never create or delete a fos1 object. Status is written through the status
// subresource, which the policy does not match: for a CRD with `subresources.status` the API
// server drops every change made there except to status. Pure data: manifests.ts puts it in
// deploy/manifests/fos1-controller.yaml.
import type { KubeObject, ResourceType } from "./kube-api";
import { FINALIZER } from "./network-controller";

export const ADMISSION_POLICY = "fos1-service-accounts";

/** The API server's user name of a service account. */
export const serviceAccountUser = (namespace: string, name: string) => `system:serviceaccount:${namespace}:${name}`;

const quoted = (s: string) => `'${s}'`;

/** `path` is the same in object and oldObject, absent in both included. */
function unchanged(path: string): string {
  const parent = path.slice(0, path.lastIndexOf("."));
  const field = path.slice(path.lastIndexOf(".") + 1);
  return `has(object${parent}.${field}) == has(oldObject${parent}.${field}) && (!has(object${parent}.${field}) || object${path} == oldObject${path})`;
}

/** The finalizers of `of` other than fos1's. */
const otherFinalizers = (of: "object" | "oldObject") =>
  `has(${of}.metadata.finalizers) ? ${of}.metadata.finalizers.filter(f, f != ${quoted(FINALIZER)}) : []`;

// Every check but the first passes a CREATE or DELETE (object or oldObject is null there): the
// first one alone refuses those, with its own message.
const onlyOnUpdate = (expression: string) => `request.operation != 'UPDATE' || (${expression})`;

export interface Validation {
  expression: string;
  message: string;
  reason: "Forbidden";
}

export const VALIDATIONS: Validation[] = [
  { expression: "request.operation == 'UPDATE'", message: "fos1's service accounts never create or delete fos1 objects", reason: "Forbidden" },
  { expression: onlyOnUpdate(unchanged(".spec")), message: "fos1's service accounts may not change a fos1 object's spec", reason: "Forbidden" },
  ...["labels", "annotations", "ownerReferences"].map((f): Validation => ({
    expression: onlyOnUpdate(unchanged(`.metadata.${f}`)),
    message: `fos1's service accounts may not change a fos1 object's metadata.${f}`,
    reason: "Forbidden",
  })),
  { expression: onlyOnUpdate("variables.otherFinalizers == variables.oldOtherFinalizers"), message: `fos1's service accounts may add or remove only the finalizer ${FINALIZER}`, reason: "Forbidden" },
];

/** The policy over fos1's kinds (their main resource) for these service accounts, and its binding. */
export function admissionManifests(kinds: ResourceType[], accounts: { namespace: string; name: string }[], labels: Record<string, string>): KubeObject[] {
  const groups = [...new Set(kinds.map((k) => k.group))].sort();
  const users = accounts.map((a) => quoted(serviceAccountUser(a.namespace, a.name))).join(", ");
  return [
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: ADMISSION_POLICY, labels },
      spec: {
        // A policy that cannot be evaluated refuses: the accounts it holds are fos1's own.
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: groups.map((group) => ({
            apiGroups: [group],
            apiVersions: ["*"],
            operations: ["CREATE", "UPDATE", "DELETE"],
            resources: kinds.filter((k) => k.group === group).map((k) => k.plural).sort(),
          })),
        },
        matchConditions: [{ name: "fos1-service-account", expression: `request.userInfo.username in [${users}]` }],
        variables: [
          { name: "otherFinalizers", expression: otherFinalizers("object") },
          { name: "oldOtherFinalizers", expression: otherFinalizers("oldObject") },
        ],
        validations: VALIDATIONS,
      },
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: ADMISSION_POLICY, labels },
      spec: { policyName: ADMISSION_POLICY, validationActions: ["Deny"] },
    },
  ];
}
