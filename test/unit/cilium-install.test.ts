// What the shipped Cilium install (deploy/cilium/, deploy/manifests/, src/cluster/cilium-install.ts)
// promises a first boot: every image pinned by digest, no chart fetched unchecked, one operator
// on a one-node router, and no cluster-admin binding left once the install has run.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { CILIUM_CHART, HELM_IMAGE, installScript, RBAC_RELEASE } from "../../src/cluster/cilium-install";
import { ciliumImages, isPinned } from "../../src/cluster/cilium-images";
import { CONTROLLER_IMAGE } from "../../src/cluster/deploy-files";
import type { KubeObject } from "../../src/cluster/kube-api";

const repo = join(import.meta.dir, "..", "..");
const read = (path: string) => readFileSync(join(repo, path), "utf8");
const manifestFiles = readdirSync(join(repo, "deploy/manifests")).filter((f) => f.endsWith(".yaml")).map((f) => `deploy/manifests/${f}`);
const objects = (path: string) => parseAllDocuments(read(path)).map((d) => d.toJS() as KubeObject);
const installFiles = manifestFiles.filter((f) => f.includes("cilium-install"));
const values = (file: string) => parse(read(`deploy/cilium/${file}`)) as Record<string, any>;

type Container = { image: string; args?: string[]; command?: string[] };
/** Every container (init ones too) of every pod template in a stream's objects. */
function containers(objs: KubeObject[]): Container[] {
  return objs.flatMap((o) => {
    const spec = (o.spec as any)?.template?.spec ?? (o.spec as any)?.jobTemplate?.spec?.template?.spec;
    return spec ? [...(spec.initContainers ?? []), ...spec.containers] : [];
  });
}

/**
 * The URLs a script downloads without checking: each `wget -O FILE URL` must be followed by a
 * sha256sum check of FILE before any other line reads FILE. Helm's `--repo` always counts.
 */
function uncheckedFetches(script: string): string[] {
  const lines = script.split("\n");
  const bad = lines.filter((l) => /--repo\b/.test(l));
  lines.forEach((line, i) => {
    const m = /wget .*-O (\S+) (https?:\/\/\S+)/.exec(line);
    if (!m) return;
    const [, file, url] = m;
    const next = lines.slice(i + 1).find((l) => l.includes(file!));
    if (!next || !new RegExp(`^echo "[0-9a-f]{64}  ${file}" \\| sha256sum -c -$`).test(next)) bad.push(url!);
  });
  return bad;
}

/** Whether the script adopts the binding into RBAC_RELEASE, installs Cilium, and uninstalls that release as its last step. */
function dropsBindingLast(script: string): boolean {
  const steps = script.split("\n").filter((l) => l !== "");
  const at = (pattern: RegExp) => steps.findIndex((l) => pattern.test(l));
  const adopt = at(new RegExp(`helm upgrade --install ${RBAC_RELEASE.name} `));
  const install = at(/helm upgrade --install cilium /);
  const drop = at(new RegExp(`helm uninstall ${RBAC_RELEASE.name} --namespace ${RBAC_RELEASE.namespace}$`));
  return adopt >= 0 && adopt < install && install < drop && drop === steps.length - 1;
}

describe("images are pinned by digest", () => {
  test.each(manifestFiles)("%s: every container image but the controller's placeholder", (path) => {
    // The controller's image is fos1's own, named by make talos-config REGISTRY=… as pushed.
    const images = containers(objects(path)).map((c) => c.image).filter((i) => i !== CONTROLLER_IMAGE);
    expect(images.filter((i) => !isPinned(i))).toEqual([]);
  });

  test.each(["values.yaml", "values-direct-routing.yaml"])("every Cilium image the values name (%s over values.yaml)", (file) => {
    const merged = { ...values("values.yaml"), ...(file === "values.yaml" ? {} : values(file)) };
    const images = ciliumImages(merged);
    expect(images).toHaveLength(4);
    expect(images.filter((i) => !isPinned(i))).toEqual([]);
    expect(images).toContain("quay.io/cilium/operator-generic:v1.19.0@sha256:5b04006015e5800307dc6314676edc4c0bb7ac2fc7848be2b94b43bb030ab648");
  });

  test("the check catches a tag alone, a short digest and a value without its digest", () => {
    expect(isPinned("docker.io/alpine/helm:3.17.3")).toBe(false);
    expect(isPinned("quay.io/cilium/cilium:v1.19.0@sha256:be9f")).toBe(false);
    expect(isPinned(HELM_IMAGE)).toBe(true);
    const unpinned = values("values.yaml");
    unpinned.envoy.image.useDigest = false;
    expect(ciliumImages(unpinned).filter((i) => !isPinned(i))).toEqual(["quay.io/cilium/cilium-envoy:v1.35.9-1768828720-c6e4827ebca9c47af2a3a6540c563c30947bae29"]);
    delete unpinned.hubble.relay.image;
    expect(() => ciliumImages(unpinned)).toThrow("hubble.relay.image: the values must name the image");
  });
});

describe("no chart is fetched unchecked", () => {
  test.each(installFiles)("%s: the install's script checks the chart's sha256 before Helm reads it", (path) => {
    const [c] = containers(objects(path));
    const script = c!.args!.join("\n");
    expect(uncheckedFetches(script)).toEqual([]);
    expect(script).toContain(CILIUM_CHART.url);
    expect(script).toContain(CILIUM_CHART.sha256);
    expect(CILIUM_CHART.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  test("no other shipped manifest downloads anything", () => {
    for (const path of manifestFiles.filter((f) => !installFiles.includes(f))) expect(read(path)).not.toMatch(/helm\.cilium\.io|--repo|wget |curl /);
  });

  test("the check catches Helm's --repo, a download never checked and one checked too late", () => {
    expect(uncheckedFetches("helm upgrade --install cilium cilium --repo https://helm.cilium.io/")).toHaveLength(1);
    expect(uncheckedFetches("wget -q -O /tmp/c.tgz https://x/c.tgz\nhelm install c /tmp/c.tgz")).toEqual(["https://x/c.tgz"]);
    const late = `wget -q -O /tmp/c.tgz https://x/c.tgz\nhelm install c /tmp/c.tgz\necho "${"a".repeat(64)}  /tmp/c.tgz" | sha256sum -c -`;
    expect(uncheckedFetches(late)).toEqual(["https://x/c.tgz"]);
  });
});

describe("a single-node router", () => {
  test.each(["values.yaml", "values-direct-routing.yaml"])("runs one Cilium operator (%s)", (file) => {
    const merged = { ...values("values.yaml"), ...values(file) };
    expect(merged.operator.replicas).toBe(1);
  });
});

describe("no cluster-admin binding survives the install", () => {
  const adminBindings = (path: string) => objects(path).filter((o) => o.kind === "ClusterRoleBinding" && (o.roleRef as { name: string }).name === "cluster-admin");

  test("fos1's own manifests bind nobody to cluster-admin", () => {
    for (const path of manifestFiles.filter((f) => !installFiles.includes(f))) expect(adminBindings(path)).toEqual([]);
  });

  test.each(installFiles)("%s: the install's binding belongs to the release the script uninstalls once Cilium is installed", (path) => {
    const [binding, ...others] = adminBindings(path);
    expect(others).toEqual([]);
    // Helm adopts an existing object into a release only with exactly these.
    expect(binding!.metadata.labels).toMatchObject({ "app.kubernetes.io/managed-by": "Helm" });
    expect(binding!.metadata.annotations).toEqual({ "meta.helm.sh/release-name": RBAC_RELEASE.name, "meta.helm.sh/release-namespace": RBAC_RELEASE.namespace });
    // The release's one template is that binding.
    const chart = objects(path).find((o) => o.kind === "ConfigMap" && o.metadata.name === "cilium-install-rbac-chart")!.data as Record<string, string>;
    expect(parse(chart["binding.yaml"]!)).toEqual(binding);
    expect(dropsBindingLast(containers(objects(path))[0]!.args!.join("\n"))).toBe(true);
    // What the service account keeps afterwards: Helm's record of that release, in its own namespace.
    const kept = objects(path).filter((o) => o.kind === "Role");
    expect(kept.map((r) => [r.metadata.namespace, r.rules])).toEqual([[RBAC_RELEASE.namespace, [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "create", "update", "delete"] }]]]);
  });

  test("a script that never drops the binding, or drops it before installing Cilium, is caught", () => {
    const steps = installScript(["values.yaml"]).split("\n");
    expect(dropsBindingLast(steps.join("\n"))).toBe(true);
    expect(dropsBindingLast(steps.filter((l) => !l.includes("uninstall")).join("\n"))).toBe(false);
    const early = [steps[0], steps.find((l) => l.includes("uninstall")), ...steps.slice(1).filter((l) => !l.includes("uninstall"))];
    expect(dropsBindingLast(early.join("\n"))).toBe(false);
  });
});
