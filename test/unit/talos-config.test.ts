// talos-patches/ and make talos-config (hack/talos-config/): every patch and every rendered
// document is checked against Talos's published machine-config schema (schemas/talos,
// v1.13.9), each document against its own kind's part of it.
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { contains, parsePrefix, type Prefix } from "../../src/api/ip";
import { loadConfigText } from "../../src/api/load";
import { CONTROLLER_IMAGE } from "../../src/cluster/deploy-files";
import type { KubeObject } from "../../src/cluster/kube-api";
import pkg from "../../package.json" with { type: "json" };
import { applyPatches, merge, parseStream, type Doc } from "../../hack/talos-config/config-set";
import { DEFAULT_FOS1_CONFIG, readPatches, render, SERVICE_SPEC } from "../../hack/talos-config/render";
import { TalosSchema } from "../../hack/talos-config/schema";

const repo = resolve(import.meta.dir, "../..");
const committed = (path: string) => readFileSync(join(repo, path), "utf8");
const kubeObjects = (stream: string) => parseAllDocuments(stream).map((d) => d.toJS() as KubeObject).filter((o) => o !== null);

let schema: TalosSchema;
beforeAll(() => {
  schema = TalosSchema.load();
});

const byKind = (docs: Doc[], kind: string | undefined) => docs.filter((d) => d.kind === kind);
const prefix = (text: string): Prefix => {
  const p = parsePrefix(text);
  if (!p) throw new Error(`not a prefix: ${text}`);
  return p;
};
const within = (inner: Prefix, outer: Prefix) => outer.len <= inner.len && contains(outer, inner);
const one = (docs: Doc[], kind: string | undefined) => {
  const found = byKind(docs, kind);
  expect(found).toHaveLength(1);
  return found[0] as Doc & Record<string, any>;
};

describe("talos-patches/*.yaml", () => {
  test("every document of every patch is valid for its kind", () => {
    const patches = readPatches(schema);
    expect(patches.map((p) => p.file)).toEqual(["talos-patches/cilium.yaml", "talos-patches/firewall.yaml", "talos-patches/kernel-modules.yaml", "talos-patches/management-link.yaml", "talos-patches/sysctls.yaml"]);
    for (const p of patches) for (const d of p.docs) expect({ file: p.file, problems: schema.check(d) }).toEqual({ file: p.file, problems: [] });
  });

  test("the management LinkConfig is the management interface of fos1's default config, as fos1 wants it", () => {
    const link = one(readPatches(schema).flatMap((p) => p.docs), "LinkConfig");
    const { objects, problems } = loadConfigText(readFileSync(DEFAULT_FOS1_CONFIG, "utf8"), "default-config.yaml");
    expect(problems).toEqual([]);
    const values = objects.map((o) => o.value as unknown as { kind: string; metadata: { name: string }; spec: Record<string, any> });
    const zones = values.filter((v) => v.kind === "FirewallZone" && v.spec.management === true).map((v) => v.metadata.name);
    const mgmt = values.filter((v) => v.kind === "NetworkInterface" && zones.includes(v.spec.zone));
    expect(mgmt).toHaveLength(1);
    expect(link.name).toBe(mgmt[0]?.spec.device);
    expect(link.addresses.map((a: { address: string }) => a.address)).toEqual(mgmt[0]?.spec.addresses);
  });
});

describe("the schema check names what is wrong, per document", () => {
  test.each([
    [{ cluster: { network: { cni: { name: "cilium" } } } }, 'cluster.network.cni.name: must be one of "flannel", "custom", "none"'],
    [{ machine: { network: { hostname: "r" } } }, 'machine: unknown field "network"'],
    [{ machine: { sysctls: { "net.ipv4.ip_forward": 1 } } }, "machine.sysctls.net.ipv4.ip_forward: must be string"],
    [{ apiVersion: "v1alpha1", kind: "LinkConfig", name: "eth3", addresses: [{ address: "192.168.99.1" }] }, 'addresses.0.address: must match pattern "^[0-9a-f.:]+/\\d{1,3}$"'],
    [{ apiVersion: "v1alpha1", kind: "NetworkDefaultActionConfig", ingress: "drop" }, 'ingress: must be one of "accept", "block"'],
    [{ apiVersion: "v1alpha1", kind: "ExtensionServiceConfig", configFiles: [] }, "(document): must have required property 'name'"],
  ])("%j", (doc, problem) => {
    expect(schema.check(doc)).toContain(problem);
  });

  test("an unknown kind lists the kinds Talos knows", () => {
    expect(schema.check({ apiVersion: "v1alpha1", kind: "LinkConfg" })[0]).toStartWith('kind: unknown document kind "LinkConfg"; Talos v1.13 knows ');
  });
});

describe("make talos-config without talosctl", () => {
  let out: string;
  let message: string;
  let rendered: Doc[];
  let patchSet: Doc[];
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), "fos1-talos-config-"));
    message = await render({ out, fos1Config: DEFAULT_FOS1_CONFIG, registry: null, talosctl: null, schema });
    rendered = parseStream(readFileSync(join(out, "controlplane.yaml"), "utf8"), "controlplane.yaml");
    patchSet = parseStream(readFileSync(join(out, "patches.yaml"), "utf8"), "patches.yaml");
  });

  test("every rendered document is valid for its kind", () => {
    for (const d of [...rendered, ...patchSet]) expect(schema.check(d)).toEqual([]);
  });

  test("the example's machine and cluster carry the patches: no CNI, no kube-proxy, forwarding, vrf", () => {
    const config = one(rendered, undefined);
    expect(config.machine.type).toBe("controlplane");
    expect(config.machine.install.disk).toBe("/dev/sda");
    expect(config.cluster.allowSchedulingOnControlPlanes).toBe(true);
    expect(config.cluster.network.cni).toEqual({ name: "none" });
    expect(config.cluster.proxy).toEqual({ disabled: true });
    expect(config.machine.sysctls["net.ipv4.ip_forward"]).toBe("1");
    expect(config.machine.sysctls["net.ipv6.conf.all.forwarding"]).toBe("1");
    expect(config.machine.sysctls["net.ipv4.conf.all.rp_filter"]).toBe("2");
    expect(config.machine.sysctls["net.netfilter.nf_conntrack_max"]).toBe("262144");
    expect(config.machine.kernel.modules).toEqual([{ name: "vrf" }]);
  });

  test("the cluster is dual stack: an IPv4 and an IPv6 pod subnet and service subnet, as Cilium's values want", () => {
    const { network } = one(rendered, undefined).cluster as { network: { podSubnets: string[]; serviceSubnets: string[] } };
    const pods = network.podSubnets.map(prefix);
    const services = network.serviceSubnets.map(prefix);
    expect(pods.map((p) => p.family)).toEqual([4, 6]);
    expect(services.map((p) => p.family)).toEqual([4, 6]);
    expect(network.podSubnets).toEqual(["10.244.0.0/16", "fd00:10:244::/56"]);
    expect(network.serviceSubnets).toEqual(["10.96.0.0/12", "fd00:10:96::/112"]);
    // Kubernetes: a /64 per node at most 16 bits below the pod subnet; an IPv6 service range of /108 or smaller.
    expect(64 - pods[1]!.len).toBeLessThanOrEqual(16);
    expect(services[1]!.len).toBeGreaterThanOrEqual(108);
    const values = parse(committed("deploy/cilium/values.yaml")) as { ipv4: { enabled: boolean }; ipv6: { enabled: boolean } };
    expect([values.ipv4.enabled, values.ipv6.enabled]).toEqual([true, true]);
    // Direct routing sends pod traffic natively only inside these CIDRs: they must cover the pod subnets.
    const direct = parse(committed("deploy/cilium/values-direct-routing.yaml")) as { ipv4NativeRoutingCIDR: string; ipv6NativeRoutingCIDR: string };
    expect(within(pods[0]!, prefix(direct.ipv4NativeRoutingCIDR))).toBe(true);
    expect(within(pods[1]!, prefix(direct.ipv6NativeRoutingCIDR))).toBe(true);
    // fos1's cluster zone admits these subnets' traffic and masquerades the pods: the same subnets.
    const cluster = (parseAllDocuments(committed("src/api/default-config.yaml")).map((d) => d.toJS()) as { kind: string; spec: { cluster?: { podCIDRs: string[]; serviceCIDRs: string[] } } }[]).find((o) => o.kind === "FirewallZone" && o.spec.cluster)!.spec.cluster!;
    expect(cluster).toMatchObject({ podCIDRs: network.podSubnets, serviceCIDRs: network.serviceSubnets });
  });

  describe("cluster.inlineManifests", () => {
    type Manifest = { name: string; contents: string };
    const manifests = () => (one(rendered, undefined).cluster as { inlineManifests: Manifest[] }).inlineManifests;
    const objectsOf = (name: string) => kubeObjects(manifests().find((m) => m.name === name)!.contents);
    const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;

    test("Cilium's install first, then fos1's CRDs, the agent's RBAC and the controller", () => {
      expect(manifests().map((m) => m.name)).toEqual(["cilium-install", "fos1-crds", "fos1-agent-rbac", "fos1-controller"]);
      // The same list in patches.yaml, which talosctl gen config merges in.
      expect((one(patchSet, undefined).cluster as { inlineManifests: Manifest[] }).inlineManifests).toEqual(manifests());
    });

    test("fos1-crds carries every CRD of deploy/crds/, as generated", () => {
      const files = readdirSync(join(repo, "deploy/crds")).filter((f) => f.endsWith(".yaml"));
      expect(files.length).toBeGreaterThan(0);
      const expected = files.flatMap((f) => kubeObjects(committed(`deploy/crds/${f}`)));
      const carried = objectsOf("fos1-crds");
      expect(carried.map(key).sort()).toEqual(expected.map(key).sort());
      expect(carried.every((o) => o.kind === "CustomResourceDefinition")).toBe(true);
      for (const crd of expected) expect(carried.find((o) => key(o) === key(crd))).toEqual(crd);
    });

    test("the agent's RBAC, the controller and Cilium's install are deploy/manifests/ as generated", () => {
      expect(manifests().find((m) => m.name === "fos1-agent-rbac")!.contents).toBe(committed("deploy/manifests/fos1-agent-rbac.yaml"));
      expect(manifests().find((m) => m.name === "fos1-controller")!.contents).toBe(committed("deploy/manifests/fos1-controller.yaml"));
      expect(manifests().find((m) => m.name === "cilium-install")!.contents).toBe(committed("deploy/manifests/cilium-install.yaml"));
      expect(objectsOf("fos1-agent-rbac").map(key)).toEqual(expect.arrayContaining(["ClusterRole//fos1-agent", "ClusterRoleBinding//fos1-agent", "ServiceAccount/fos1-system/fos1-agent"]));
      expect(objectsOf("fos1-controller").map(key)).toEqual(expect.arrayContaining(["Namespace//fos1-system", "ClusterRole//fos1-controller", "Deployment/fos1-system/fos1-controller"]));
      const deployment = objectsOf("fos1-controller").find((o) => o.kind === "Deployment")!;
      expect((deployment.spec as any).template.spec.containers[0].image).toBe(CONTROLLER_IMAGE);
      expect(message).toContain(`placeholder image ${CONTROLLER_IMAGE}, which no registry holds`);
    });

    test("Cilium's install runs before the cluster has a CNI: host network, every taint tolerated, the API server through KubePrism", () => {
      const config = one(rendered, undefined);
      expect([config.cluster.network.cni, config.cluster.proxy]).toEqual([{ name: "none" }, { disabled: true }]);
      const job = objectsOf("cilium-install").find((o) => o.kind === "Job")!;
      const pod = (job.spec as any).template.spec;
      expect(pod.hostNetwork).toBe(true);
      expect(pod.tolerations).toContainEqual({ operator: "Exists" });
      expect(pod.containers[0].env).toEqual(expect.arrayContaining([{ name: "KUBERNETES_SERVICE_HOST", value: "localhost" }, { name: "KUBERNETES_SERVICE_PORT", value: "7445" }]));
      const values = objectsOf("cilium-install").find((o) => o.kind === "ConfigMap")!.data as Record<string, string>;
      expect(values["values.yaml"]).toBe(committed("deploy/cilium/values.yaml"));
    });

    test("they apply cleanly: namespaces, roles and service accounts they name exist; Namespaces and CRDs lead each manifest; no object twice with different contents", () => {
      const all = manifests().flatMap((m) => kubeObjects(m.contents));
      // Each file stands alone (fos1-system is in both fos1 files); an object in two must be the same object.
      for (const o of all) expect(all.filter((p) => key(p) === key(o))).toEqual(all.filter((p) => key(p) === key(o)).map(() => o));
      const namespaces = new Set(["default", "kube-system", ...all.filter((o) => o.kind === "Namespace").map((o) => o.metadata.name)]);
      for (const o of all) if (o.metadata.namespace !== undefined) expect({ object: key(o), namespace: namespaces.has(o.metadata.namespace) }).toEqual({ object: key(o), namespace: true });
      const has = (kind: string, name: string, namespace?: string) => all.some((o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace);
      for (const b of all.filter((o) => o.kind === "ClusterRoleBinding" || o.kind === "RoleBinding")) {
        const ref = b.roleRef as { kind: string; name: string };
        const exists = ref.name === "cluster-admin" || has(ref.kind, ref.name, ref.kind === "Role" ? b.metadata.namespace : undefined);
        expect({ binding: key(b), roleRef: exists }).toEqual({ binding: key(b), roleRef: true });
        for (const s of b.subjects as { kind: string; name: string; namespace: string }[]) expect({ binding: key(b), subject: has(s.kind, s.name, s.namespace) }).toEqual({ binding: key(b), subject: true });
      }
      const first = (o: KubeObject) => o.kind === "Namespace" || o.kind === "CustomResourceDefinition";
      for (const m of manifests()) {
        const kinds = kubeObjects(m.contents).map(first);
        expect({ manifest: m.name, leading: kinds.indexOf(false) < 0 || kinds.lastIndexOf(true) < kinds.indexOf(false) }).toEqual({ manifest: m.name, leading: true });
      }
    });
  });

  test("Talos configures only the management link, and its ingress firewall blocks all but what fos1's config opens, from where it opens it", () => {
    expect(one(rendered, "LinkConfig").name).toBe("eth3");
    expect(byKind(rendered, "DHCPv4Config")).toEqual([]);
    expect(one(rendered, "NetworkDefaultActionConfig").ingress).toBe("block");
    const rules = Object.fromEntries(
      (byKind(rendered, "NetworkRuleConfig") as { name: string; portSelector: { protocol: string; ports: (number | string)[] }; ingress: { subnet: string }[] }[]).map((r) => [
        r.name,
        `${r.portSelector.protocol} ${r.portSelector.ports.join(",")} from ${r.ingress.map((i) => i.subnet).join(",")}`,
      ]),
    );
    expect(rules).toEqual({
      // The default config: management on eth3, a second node would join there, the uplink's
      // DHCP clients, and the LAN services on lan and guest (IPv6 from their delegated prefixes).
      "fos1-management": "tcp 50000,50001,6443,10250,2379-2380 from 192.168.99.0/24",
      "fos1-cluster-nodes": "tcp 50000,50001,6443,10250,2379-2380,4240,4244 from 192.168.99.0/24",
      "fos1-cluster-tunnel": "udp 8472 from 192.168.99.0/24",
      "fos1-dhcp-client": "udp 68 from 0.0.0.0/0",
      "fos1-dhcpv6-client": "udp 546 from fe80::/10",
      "fos1-lan-dhcp-server-udp": "udp 67 from 0.0.0.0/0",
      "fos1-lan-dhcpv6-server-udp": "udp 547 from fe80::/10",
      "fos1-lan-dns-udp": "udp 53 from 192.168.10.0/24,::/0",
      "fos1-lan-dns-tcp": "tcp 53 from 192.168.10.0/24,::/0",
      "fos1-guest-dhcp-server-udp": "udp 67 from 0.0.0.0/0",
      "fos1-guest-dhcpv6-server-udp": "udp 547 from fe80::/10",
      "fos1-guest-dns-udp": "udp 53 from 192.168.20.0/24,::/0",
      "fos1-guest-dns-tcp": "tcp 53 from 192.168.20.0/24,::/0",
    });
  });

  test("the ExtensionServiceConfig hands the service fos1's default config where its spec reads it", () => {
    const spec = parse(readFileSync(SERVICE_SPEC, "utf8")) as { name: string; container: { args: string[] } };
    const esc = one(rendered, "ExtensionServiceConfig");
    expect(esc.name).toBe(spec.name);
    expect(esc.configFiles).toHaveLength(1);
    expect(esc.configFiles[0].mountPath).toBe(spec.container.args[spec.container.args.indexOf("--file") + 1]);
    expect(esc.configFiles[0].content).toBe(readFileSync(DEFAULT_FOS1_CONFIG, "utf8"));
    expect(loadConfigText(esc.configFiles[0].content, "esc").problems).toEqual([]);
  });

  test("patches.yaml holds one legacy document, as talosctl --config-patch wants, and says how to use it", () => {
    expect(byKind(patchSet, undefined)).toHaveLength(1);
    expect([...new Set(patchSet.map((d) => d.kind ?? "v1alpha1"))]).toEqual(["v1alpha1", "NetworkDefaultActionConfig", "LinkConfig", "NetworkRuleConfig", "ExtensionServiceConfig"]);
    expect(message).toContain("no secrets: talosctl is not installed");
    expect(message).toContain(`talosctl gen config fos1 https://192.168.99.1:6443 --config-patch @${resolve(import.meta.dir, "../../talos-patches/example/controlplane.yaml")} --config-patch @${join(out, "patches.yaml")}`);
    expect(readFileSync(join(out, "controlplane.yaml"), "utf8")).toStartWith("# The example with the fos1 patches merged in, WITHOUT secrets");
  });

  test("an invalid fos1 config is refused with fos1's own messages and writes nothing", async () => {
    const bad = join(out, "bad.yaml");
    writeFileSync(bad, "apiVersion: network.fos1.io/v1alpha1\nkind: NetworkInterface\nmetadata: {name: x}\nspec: {device: eth0, mtu: 10}\n");
    const target = join(out, "never");
    await expect(render({ out: target, fos1Config: bad, registry: null, talosctl: null, schema })).rejects.toThrow(`${bad} is not a valid fos1 config:\n${bad}:4:`);
    expect(existsSync(target)).toBe(false);
    rmSync(out, { recursive: true, force: true });
  });
});

describe("make talos-config REGISTRY=…", () => {
  test("the controller's Deployment runs REGISTRY/fos1-controller:VERSION; every other field is as generated", async () => {
    const out = mkdtempSync(join(tmpdir(), "fos1-talos-config-"));
    const message = await render({ out, fos1Config: DEFAULT_FOS1_CONFIG, registry: "registry.example:5000/lab", talosctl: null, schema });
    const rendered = parseStream(readFileSync(join(out, "controlplane.yaml"), "utf8"), "controlplane.yaml");
    rmSync(out, { recursive: true, force: true });
    for (const d of rendered) expect(schema.check(d)).toEqual([]);
    const image = `registry.example:5000/lab/fos1-controller:${pkg.version}`;
    const { inlineManifests } = one(rendered, undefined).cluster as { inlineManifests: { name: string; contents: string }[] };
    const controller = kubeObjects(inlineManifests.find((m) => m.name === "fos1-controller")!.contents);
    const generated = kubeObjects(committed("deploy/manifests/fos1-controller.yaml"));
    const deployment = generated.find((o) => o.kind === "Deployment")! as any;
    deployment.spec.template.spec.containers[0].image = image;
    expect(controller).toEqual(generated);
    expect(message).toContain(`The controller's Deployment runs ${image}`);
  });

  test.each(["https://ghcr.io/you", "ghcr.io/you/", "ghcr.io/You", "ghcr.io/you:1.0/x", "ghcr.io/you fos1"])("REGISTRY=%s is refused with what is allowed, and writes nothing", async (registry) => {
    const target = join(mkdtempSync(join(tmpdir(), "fos1-talos-config-")), "never");
    await expect(render({ out: target, fos1Config: DEFAULT_FOS1_CONFIG, registry, talosctl: null, schema })).rejects.toThrow(
      `REGISTRY=${JSON.stringify(registry)} is not a registry and path: give a host with an optional port and path, such as ghcr.io/you or 192.168.99.10:5000/lab`,
    );
    expect(existsSync(target)).toBe(false);
  });
});

describe("patching", () => {
  test("Talos's pod and service subnets are replaced whole, as Talos does, not appended", () => {
    const base = { cluster: { network: { podSubnets: ["10.244.0.0/16"], serviceSubnets: ["10.96.0.0/12"], cni: { urls: ["a"] } } } };
    const patch = { cluster: { network: { podSubnets: ["10.244.0.0/16", "fd00:10:244::/56"], serviceSubnets: ["10.96.0.0/12", "fd00:10:96::/112"], cni: { urls: ["b"] } } } };
    expect(merge(base, patch)).toEqual({ cluster: { network: { ...patch.cluster.network, cni: { urls: ["a", "b"] } } } });
  });

  test("mappings merge, lists append, scalars are replaced", () => {
    expect(merge({ a: { b: 1, c: [1] }, d: "x" }, { a: { c: [2], e: 3 }, d: "y" })).toEqual({ a: { b: 1, c: [1, 2], e: 3 }, d: "y" });
  });

  test("a patch document merges into the one of its kind and name, or joins the set", () => {
    const set = [{ version: "v1alpha1", machine: { type: "controlplane" } }, { apiVersion: "v1alpha1", kind: "LinkConfig", name: "eth3", mtu: 1500 }];
    const patched = applyPatches(set, [{ machine: { sysctls: { a: "1" } } }, { apiVersion: "v1alpha1", kind: "LinkConfig", name: "eth3", mtu: 9000 }, { apiVersion: "v1alpha1", kind: "LinkConfig", name: "eth0" }]);
    expect(patched).toEqual([
      { version: "v1alpha1", machine: { type: "controlplane", sysctls: { a: "1" } } },
      { apiVersion: "v1alpha1", kind: "LinkConfig", name: "eth3", mtu: 9000 },
      { apiVersion: "v1alpha1", kind: "LinkConfig", name: "eth0" },
    ]);
  });
});
