// The cluster.inlineManifests of make talos-config: what Talos applies to the cluster when it
// bootstraps, read from deploy/ as `make generate` wrote it (never copied by hand), in the order
// the cluster needs it:
//   cilium-install   the CNI: a Job on the host network that tolerates every taint and reaches
//                    the API server through KubePrism, so it runs before any CNI or kube-proxy
//                    exists, and installs Cilium with Helm from deploy/cilium/values.yaml
//   fos1-crds        every CRD of deploy/crds/
//   fos1-agent-rbac  the agent's read-only ClusterRole, service account and token
//   fos1-controller  its namespace, RBAC and Deployment; the Deployment's image is the
//                    committed placeholder, or the one pushed to REGISTRY when given
// Talos sorts the objects of all its manifests before applying them (Namespaces, then
// CustomResourceDefinitions, then the rest by name), and each file here already puts its
// Namespace and CRDs first; the controller's pods wait for Cilium like every other pod.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments, type YAMLMap, type YAMLSeq } from "yaml";
import { CRD_DIR } from "../../src/api/crds";
import { CONTROLLER_IMAGE, MANIFEST_DIR } from "../../src/cluster/deploy-files";

/** One entry of cluster.inlineManifests, as Talos's schema names its fields. */
export interface InlineManifest {
  name: string;
  contents: string;
}

/** The inline manifests from the committed deploy/ files; `controllerImage` null keeps the placeholder. */
export function clusterManifests(repo: string, controllerImage: string | null): InlineManifest[] {
  const read = (path: string) => readFileSync(join(repo, path), "utf8");
  const crds = readdirSync(join(repo, CRD_DIR)).filter((f) => f.endsWith(".yaml")).sort();
  if (crds.length === 0) throw new Error(`${CRD_DIR}/ holds no CRDs (make crds writes them)`);
  const controllerFile = `${MANIFEST_DIR}/fos1-controller.yaml`;
  const controller = read(controllerFile);
  return [
    { name: "cilium-install", contents: read(`${MANIFEST_DIR}/cilium-install.yaml`) },
    { name: "fos1-crds", contents: joinStreams(crds.map((f) => read(`${CRD_DIR}/${f}`))) },
    { name: "fos1-agent-rbac", contents: read(`${MANIFEST_DIR}/fos1-agent-rbac.yaml`) },
    { name: "fos1-controller", contents: controllerImage === null ? controller : withControllerImage(controller, controllerImage, controllerFile) },
  ];
}

/** Multi-document YAML streams as one stream. */
export function joinStreams(streams: string[]): string {
  return streams.map((s) => (s.endsWith("\n") ? s : `${s}\n`)).join("---\n");
}

/**
 * The stream with `image` in place of the placeholder CONTROLLER_IMAGE, which must be the image
 * of exactly one container; everything else, comments included, stays as it was.
 */
export function withControllerImage(stream: string, image: string, file: string): string {
  const docs = parseAllDocuments(stream);
  const found = docs.flatMap((doc) => {
    const containers = doc.getIn(["spec", "template", "spec", "containers"]) as YAMLSeq<YAMLMap> | undefined;
    return (containers?.items ?? []).filter((c) => c.get("image") === CONTROLLER_IMAGE);
  });
  if (found.length !== 1) throw new Error(`${file} has ${found.length} containers with the image ${CONTROLLER_IMAGE}, not 1 (make generate writes it)`);
  found[0]!.set("image", image);
  return docs.map((d) => d.toString({ lineWidth: 0 })).join("");
}
