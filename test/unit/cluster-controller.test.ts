// fos1 controller end to end against the FAKE API server (test/helpers/fake-apiserver.ts): real
// @kubernetes/client-node requests, informers, work queue, leader election, the real translation
// (src/cilium/translate), Cilium objects, status conditions, events and finalizers.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { plural } from "../../src/api/crds";
import { MANAGED_BY_LABEL, PURPOSE_LABEL } from "../../src/cluster/cilium-client";
import { ciliumTranslator } from "../../src/cluster/cilium-translator";
import type { Condition } from "../../src/cluster/conditions";
import type { KubeApi } from "../../src/cluster/kube-api";
import { FINALIZER } from "../../src/cluster/network-controller";
import { MANAGEMENT_ANNOTATION } from "../../src/cluster/management-networks";
import { agentManifests, controllerManifests } from "../../src/cluster/manifests";
import { runController, type ControllerRunOptions } from "../../src/cluster/run-controller";
import { eventually, kubeApiFor, memoryLogger, startFakeCluster } from "../helpers/cluster";
import type { FakeApiServer } from "../helpers/fake-apiserver";
import { rbacAuthorizer } from "../helpers/rbac";
import type { RequestAttributes } from "../helpers/fake-apiserver";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { FOS1_RESOURCES } from "../../src/cluster/resources";

const translate = ciliumTranslator("fos1-system");

const nic = (name: string, device: string, address: string) => ({ apiVersion: "network.fos1.io/v1alpha1", kind: "NetworkInterface", metadata: { name }, spec: { device, addresses: [address] } });
const zone = (name: string, spec: Record<string, unknown> = {}) => ({ apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallZone", metadata: { name }, spec: { interfaces: [name], ...spec } });
const base = [nic("wan", "eth0", "203.0.113.2/24"), nic("lan", "eth1", "192.168.10.1/24"), nic("dmz", "eth2", "192.168.20.1/24"), nic("lab", "eth3", "192.168.30.1/24"), zone("lan"), zone("wan")];

function rule(name: string, ports: number[] | undefined, extra: Record<string, unknown> = {}) {
  return { apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallRule", metadata: { name }, spec: { fromZone: "lan", toZone: "wan", protocol: "tcp", ...(ports ? { ports } : {}), action: "allow", ...extra } };
}

const CCNP = "ciliumclusterwidenetworkpolicies";
const RULES = "firewallrules";
const ZONES = "firewallzones";

function seed(fake: FakeApiServer) {
  for (const o of base) fake.put(plural(o.kind), o);
}

function conditions(fake: FakeApiServer, name: string, plural = RULES): Record<string, Condition> {
  const status = fake.get(plural, name)?.status as { conditions?: Condition[] } | undefined;
  return Object.fromEntries((status?.conditions ?? []).map((c) => [c.type, c]));
}

/** Every port a policy names in its rules ("80", "8080-8090"). */
function portsOf(fake: FakeApiServer, policy: string): string[] | undefined {
  const o = fake.get(CCNP, policy);
  if (!o) return undefined;
  const found = new Set<string>();
  JSON.stringify(o.spec, (key, v: unknown) => {
    if (key === "ports" && Array.isArray(v)) for (const p of v as { port: string; endPort?: number }[]) found.add(p.endPort ? `${p.port}-${p.endPort}` : p.port);
    return v;
  });
  return [...found].sort();
}

function controllerOptions(api: KubeApi, identity: string, log = memoryLogger().log): ControllerRunOptions {
  return {
    api,
    translate,
    log,
    namespace: "fos1-system",
    leaseName: "fos1-controller",
    identity,
    leaseDurationMs: 2000,
    renewDeadlineMs: 1500,
    retryPeriodMs: 250,
    informerBackoff: { initialMs: 50, maxMs: 400 },
    retry: { initialMs: 20, maxMs: 400 },
  };
}

describe("fos1 controller against the fake API server", () => {
  let fake: FakeApiServer;
  let stop: AbortController;
  let running: Promise<unknown>;

  beforeEach(() => {
    fake = startFakeCluster();
    seed(fake);
    stop = new AbortController();
    running = runController(controllerOptions(kubeApiFor(fake), "controller-0"), stop.signal);
  });

  afterEach(async () => {
    stop.abort();
    await running;
    await fake.stop();
  });

  test("a FirewallRule created → Cilium policies appear labelled as fos1's; the rule gets a finalizer, Ready/Translated/Applied, placements and an event", async () => {
    fake.put(RULES, rule("web", [80, 443]));
    await eventually("the lan zone's policy with the rule's ports", () => portsOf(fake, "fos1-zone-lan")?.join() === "443,80");
    const policy = fake.get(CCNP, "fos1-zone-lan")!;
    expect(policy.metadata.labels).toMatchObject({ [MANAGED_BY_LABEL]: "fos1", [PURPOSE_LABEL]: "network-policy", "fos1.io/owner-kind": "FirewallZone" });
    expect(fake.get(CCNP, "fos1-host")).toBeDefined();

    const c = await eventually("Ready=True", () => (conditions(fake, "web").Ready?.status === "True" ? conditions(fake, "web") : undefined));
    for (const type of ["Translated", "Applied", "Ready"]) {
      expect(c[type]).toMatchObject({ status: "True", observedGeneration: 1 });
      expect(c[type]!.reason).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(c[type]!.lastTransitionTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    expect(c.Applied!.message).toContain("CiliumClusterwideNetworkPolicy/fos1-zone-lan");
    const placements = (fake.get(RULES, "web")!.status as { placements: { target: string; objects: string[] }[] }).placements;
    expect(placements.find((p) => p.target === "cilium")?.objects).toContain("CiliumClusterwideNetworkPolicy/fos1-zone-lan");
    expect(placements.some((p) => p.target === "nftables")).toBe(true);
    expect(fake.get(RULES, "web")!.metadata.finalizers).toContain(FINALIZER);
    const events = await eventually("an Applied event", () => {
      const e = fake.list("events", "default").filter((ev) => (ev.regarding as { name: string }).name === "web");
      return e.length ? e : undefined;
    });
    expect(events[0]).toMatchObject({ reason: "Applied", type: "Normal", reportingController: "fos1.io/controller", regarding: { kind: "FirewallRule", name: "web" } });
  });

  test("a FirewallRule changed → the policy is updated and observedGeneration follows", async () => {
    fake.put(RULES, rule("web", [80]));
    await eventually("the first policy", () => portsOf(fake, "fos1-zone-lan")?.join() === "80");
    fake.put(RULES, rule("web", [8080]));
    await eventually("the updated policy", () => portsOf(fake, "fos1-zone-lan")?.join() === "8080");
    const c = await eventually("status of generation 2", () => (conditions(fake, "web").Ready?.observedGeneration === 2 ? conditions(fake, "web") : undefined));
    expect(c.Ready!.status).toBe("True");
  });

  test("deleted → what no fos1 object wants any more is garbage-collected before the finalizer lets the object go; the rest stays", async () => {
    fake.put(ZONES, zone("dmz"));
    fake.put(RULES, rule("web", [80]));
    await eventually("the dmz zone's policy", () => fake.get(CCNP, "fos1-zone-dmz"));
    await eventually("the finalizers", () => fake.get(ZONES, "dmz")?.metadata.finalizers?.includes(FINALIZER) && fake.get(RULES, "web")?.metadata.finalizers?.includes(FINALIZER));
    fake.remove(ZONES, "dmz");
    fake.remove(RULES, "web");
    // While the finalizers hold, the objects are still there, terminating.
    expect(fake.get(ZONES, "dmz")?.metadata.deletionTimestamp).toBeDefined();
    await eventually("the zone gone", () => fake.get(ZONES, "dmz") === undefined && fake.get(RULES, "web") === undefined);
    expect(fake.get(CCNP, "fos1-zone-dmz")).toBeUndefined();
    expect(portsOf(fake, "fos1-zone-lan")).toEqual([]); // the rule's port left the zone's policy
    expect(fake.get(CCNP, "fos1-zone-lan")).toBeDefined();
  });

  test("a Cilium object someone else deletes or edits is put back; objects fos1 did not make are left alone", async () => {
    fake.put(CCNP, { apiVersion: "cilium.io/v2", kind: "CiliumClusterwideNetworkPolicy", metadata: { name: "someone-elses" }, spec: { endpointSelector: {} } });
    fake.put(RULES, rule("web", [80]));
    await eventually("the policy", () => portsOf(fake, "fos1-zone-lan")?.join() === "80");
    fake.remove(CCNP, "fos1-zone-lan");
    await eventually("the policy back", () => portsOf(fake, "fos1-zone-lan")?.join() === "80");
    const edited = fake.get(CCNP, "fos1-zone-lan")!;
    fake.put(CCNP, { ...edited, spec: { endpointSelector: {}, egress: [] } });
    await eventually("the edit undone", () => portsOf(fake, "fos1-zone-lan")?.join() === "80");
    expect(fake.get(CCNP, "someone-elses")).toBeDefined();
  });

  test("a DPIProfile → its IDS ConfigMap in the controller's namespace; deleted → the ConfigMap is collected", async () => {
    const dpi = { apiVersion: "security.fos1.io/v1alpha1", kind: "DPIProfile", metadata: { name: "web" }, spec: { applications: ["http", "bittorrent"], actions: { block: ["bittorrent"] } } };
    fake.put("dpiprofiles", dpi);
    const cm = await eventually("the IDS ConfigMap", () => fake.get("configmaps", "fos1-ids-web", "fos1-system"));
    expect(cm.metadata.labels).toMatchObject({ [MANAGED_BY_LABEL]: "fos1", [PURPOSE_LABEL]: "dpi" });
    expect(Object.values(cm.data as Record<string, string>).join("\n")).toContain("bittorrent");
    await eventually("Ready", () => conditions(fake, "web", "dpiprofiles").Ready?.status === "True");
    fake.remove("dpiprofiles", "web");
    await eventually("the ConfigMap collected", () => !fake.get("configmaps", "fos1-ids-web", "fos1-system") && !fake.get("dpiprofiles", "web"));
  });

  test("a rule the translation refuses → Refused on it, the others say what holds them back, Cilium keeps what it had, a Warning event", async () => {
    fake.put(RULES, rule("web", [80]));
    await eventually("the policy", () => portsOf(fake, "fos1-zone-lan")?.join() === "80");
    // A deny of every protocol below a tcp allow, while the zone lets other protocols through:
    // Cilium has no order and cannot write "every protocol but tcp/80".
    fake.put(ZONES, zone("lab", { forward: "accept" }));
    fake.put(RULES, rule("lab-web", [80], { fromZone: "lab", toZone: "lan", priority: 10 }));
    await eventually("the lab zone's policy", () => fake.get(CCNP, "fos1-zone-lab"));
    const labPolicy = fake.get(CCNP, "fos1-zone-lab")!.metadata.resourceVersion;
    fake.put(RULES, { ...rule("lab-block", undefined), spec: { fromZone: "lab", toZone: "lan", action: "deny", priority: 20 } });
    fake.put(RULES, rule("web", [80, 8080]));
    const c = await eventually("Refused", () => (conditions(fake, "lab-block").Translated?.reason === "Refused" ? conditions(fake, "lab-block") : undefined));
    expect(c.Translated!.message).toContain("FirewallRule/lab-web");
    expect(c.Ready).toMatchObject({ status: "False", reason: "Refused" });
    const other = await eventually("web held back", () => (conditions(fake, "web").Translated?.reason === "OtherObjectRefused" ? conditions(fake, "web") : undefined));
    expect(other.Translated!.message).toContain("FirewallRule/lab-block");
    // Nothing changed in Cilium: web's new port is not there, the lab policy is as it was.
    expect(portsOf(fake, "fos1-zone-lan")).toEqual(["80"]);
    expect(fake.get(CCNP, "fos1-zone-lab")!.metadata.resourceVersion).toBe(labPolicy);
    await eventually("a Warning event", () => fake.list("events", "default").some((e) => e.type === "Warning" && e.reason === "Refused"));
    fake.remove(RULES, "lab-block");
    await eventually("applied once nothing is refused", () => portsOf(fake, "fos1-zone-lan")?.join() === "80,8080");
    await eventually("web Ready again", () => conditions(fake, "web").Ready?.status === "True");
  });

  test("the router nodes' management networks (their agents' annotation) are always admitted by the host policy; a deny that would close them is refused", async () => {
    // This router's boot config manages it from 192.168.10.0/24, which the cluster's objects call lan.
    fake.put("nodes", { apiVersion: "v1", kind: "Node", metadata: { name: "r1", labels: { "fos1.io/role": "router" }, annotations: { [MANAGEMENT_ANNOTATION]: "192.168.10.0/24" } } });
    fake.put(RULES, rule("web", [80]));
    const admitted = () => JSON.stringify(fake.get(CCNP, "fos1-host")?.spec ?? {});
    await eventually("the host policy admits 6443 from 192.168.10.0/24", () => admitted().includes('"cidr":"192.168.10.0/24"') && portsOf(fake, "fos1-host")?.includes("6443"));
    const before = fake.get(CCNP, "fos1-host")!.metadata.resourceVersion;
    fake.put(RULES, rule("no-api", [6443], { toZone: "host", action: "deny" }));
    const c = await eventually("Refused", () => (conditions(fake, "no-api").Translated?.reason === "Refused" ? conditions(fake, "no-api") : undefined));
    expect(c.Translated!.message).toContain("would cut the management path: tcp 6443 from the management networks of the router nodes' boot configs (192.168.10.0/24)");
    await eventually("a Warning event", () => fake.list("events", "default").some((e) => e.type === "Warning" && e.reason === "Refused" && JSON.stringify(e).includes("no-api")));
    expect(fake.get(CCNP, "fos1-host")!.metadata.resourceVersion).toBe(before);
  });

  test("an invalid set (a rule naming an unknown zone) changes nothing in Cilium and says why", async () => {
    fake.put(RULES, rule("web", [80]));
    await eventually("the policy", () => portsOf(fake, "fos1-zone-lan")?.join() === "80");
    await eventually("web's finalizer", () => fake.get(RULES, "web")?.metadata.finalizers?.includes(FINALIZER));
    fake.put(RULES, rule("typo", [25], { toZone: "wna" }));
    fake.put(RULES, rule("web", [80, 8080]));
    const bad = await eventually("Invalid on typo", () => (conditions(fake, "typo").Translated?.reason === "Invalid" ? conditions(fake, "typo") : undefined));
    expect(bad.Translated!.message).toContain("wna");
    const other = await eventually("web held back by typo", () => (conditions(fake, "web").Translated?.reason === "OtherObjectInvalid" ? conditions(fake, "web") : undefined));
    expect(other.Translated!.message).toContain("FirewallRule/typo");
    expect(portsOf(fake, "fos1-zone-lan")).toEqual(["80"]); // the previous policy stays in force
    fake.remove(RULES, "typo");
    await eventually("web's change applied once the set is valid", () => portsOf(fake, "fos1-zone-lan")?.join() === "80,8080");
  });

  test("watch history lost (410 Gone) while changes happened → the informers list again and converge", async () => {
    fake.put(ZONES, zone("dmz"));
    fake.put(RULES, rule("web", [80]));
    await eventually("the policies", () => portsOf(fake, "fos1-zone-lan")?.join() === "80" && fake.get(CCNP, "fos1-zone-dmz"));
    await eventually("dmz's finalizer", () => fake.get(ZONES, "dmz")?.metadata.finalizers?.includes(FINALIZER));
    // Keep the controller from watching while the cluster changes, then forget the history.
    const unblock = fake.hook((req) => (req.watch ? Response.json({ kind: "Status", code: 503, message: "try later" }, { status: 503 }) : undefined));
    fake.closeWatches();
    fake.put(RULES, rule("web", [443]));
    fake.put(RULES, rule("mail", [25]));
    fake.remove(ZONES, "dmz");
    fake.compact();
    const before = fake.requests.length;
    unblock();
    await eventually("web and mail in the policy", () => portsOf(fake, "fos1-zone-lan")?.join() === "25,443");
    await eventually("dmz collected", () => !fake.get(CCNP, "fos1-zone-dmz") && !fake.get(ZONES, "dmz"));
    // The resumed watches really were answered 410 and followed by lists.
    const after = fake.requests.slice(before);
    expect(fake.expiredWatches).toBeGreaterThan(0);
    expect(after.some((r) => /^GET \/apis\/security.fos1.io\/v1alpha1\/firewallrules(\?|$)/.test(r) && !r.includes("watch=true"))).toBe(true);
  });

  test("a 409 Conflict on update (someone else wrote first) → retried with the fresh object; their change is kept", async () => {
    let conflicts = 0;
    fake.hook((req) => {
      if (req.method === "PUT" && req.path.endsWith(`/${RULES}/web`) && conflicts === 0) {
        conflicts++;
        // Another client changes the rule just before the controller's update lands.
        const current = fake.get(RULES, "web")!;
        fake.put(RULES, { ...current, metadata: { ...current.metadata, labels: { team: "net" } } });
      }
      return undefined;
    });
    fake.put(RULES, rule("web", [80]));
    await eventually("the finalizer", () => fake.get(RULES, "web")?.metadata.finalizers?.includes(FINALIZER));
    await eventually("Ready", () => conditions(fake, "web").Ready?.status === "True");
    const puts = fake.requests.filter((r) => r.startsWith("PUT ") && r.includes(`/${RULES}/web`));
    expect(conflicts).toBe(1);
    expect(fake.conflicts).toBeGreaterThan(0);
    expect(puts.length).toBeGreaterThanOrEqual(2);
    expect(fake.get(RULES, "web")!.metadata.labels).toEqual({ team: "net" });
  });
});

describe("leader election between two controller instances", () => {
  test("only the leader writes; when it stops renewing, the other takes over within the lease duration and carries on", async () => {
    const fake = startFakeCluster();
    seed(fake);
    const api = kubeApiFor(fake);
    const a = new AbortController();
    const b = new AbortController();
    // A crashed leader does not release the Lease: the other must wait it out.
    const runA = runController({ ...controllerOptions(api, "controller-a"), releaseOnStop: false }, a.signal);
    await eventually("a leads", () => (fake.get("leases", "fos1-controller", "fos1-system")?.spec as { holderIdentity?: string } | undefined)?.holderIdentity === "controller-a");
    const runB = runController(controllerOptions(api, "controller-b"), b.signal);
    try {
      fake.put(RULES, rule("web", [80]));
      await eventually("a's policy", () => portsOf(fake, "fos1-zone-lan")?.join() === "80");
      const events = () => fake.list("events", "default");
      await eventually("a's event", () => events().some((e) => e.reportingInstance === "controller-a"));
      expect(events().some((e) => e.reportingInstance === "controller-b")).toBe(false);

      a.abort();
      expect(await runA).toBe("stopped");
      fake.put(RULES, rule("dns", [53], { protocol: "udp" }));
      const lease = await eventually("b leads", () => {
        const spec = fake.get("leases", "fos1-controller", "fos1-system")?.spec as { holderIdentity?: string; leaseTransitions?: number } | undefined;
        return spec?.holderIdentity === "controller-b" ? spec : undefined;
      });
      expect(lease.leaseTransitions).toBe(1);
      await eventually("b's policy for the rule created after a stopped", () => portsOf(fake, "fos1-zone-lan")?.join() === "53,80", 30_000);
      await eventually("b's event", () => events().some((e) => e.reportingInstance === "controller-b"));
    } finally {
      a.abort();
      b.abort();
      await Promise.all([runA, runB]);
      await fake.stop();
    }
  }, 60_000);
});

describe("the controller under the RBAC of deploy/manifests", () => {
  const controllerAccount = { namespace: "fos1-system", name: "fos1-controller" };

  test("its ClusterRole and Roles allow everything it does: lease, Cilium objects, finalizers, status, events, cleanup", async () => {
    const fake = startFakeCluster(rbacAuthorizer(controllerManifests({ image: "unused" }), controllerAccount));
    seed(fake);
    const stop = new AbortController();
    const running = runController(controllerOptions(kubeApiFor(fake), "controller-0"), stop.signal);
    try {
      fake.put(RULES, rule("web", [80]));
      await eventually("Ready", () => conditions(fake, "web").Ready?.status === "True");
      await eventually("an event", () => fake.list("events", "default").length > 0);
      fake.remove(RULES, "web");
      await eventually("cleanup", () => !fake.get(RULES, "web") && portsOf(fake, "fos1-zone-lan")?.length === 0);
      expect(fake.denied).toEqual([]);
    } finally {
      stop.abort();
      await running;
      await fake.stop();
    }
  });

  test("every verb its roles grant is one it uses: the seed's objects translated, applied and deleted again", async () => {
    const manifests = controllerManifests({ image: "unused" });
    const allow = rbacAuthorizer(manifests, controllerAccount);
    const used = new Set<string>();
    // fos1's kinds are granted alike: any of them gets a finalizer and a status when it is a
    // source of Cilium objects or an invalid set's culprit (a node-local kind too), so one kind
    // using a verb uses the grant.
    const fos1Plurals = new Set(FOS1_RESOURCES.map((r) => r.plural));
    const key = (group: string, resource: string, verb: string, namespace = "") => {
      const [plural = "", sub] = resource.split("/");
      return fos1Plurals.has(plural) ? `${verb} fos1/${sub ?? ""} ` : `${verb} ${group}/${resource} ${namespace}`;
    };
    const fake = startFakeCluster((a: RequestAttributes) => (used.add(key(a.group, a.resource, a.verb, a.namespace)), allow(a)));
    // The seed's golden input has every translated kind: rules and zones, a NAT policy, a DPI profile.
    const seedObjects = parseAllDocuments(readFileSync(join(import.meta.dir, "golden/translate/seed.yaml"), "utf8")).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
    const stop = new AbortController();
    const running = runController(controllerOptions(kubeApiFor(fake), "controller-0"), stop.signal);
    try {
      for (const o of seedObjects) fake.put(plural(o.kind), o);
      await eventually("an egress gateway policy and an IDS ConfigMap", () => fake.list("ciliumegressgatewaypolicies").length > 0 && fake.list("configmaps", "fos1-system").length > 0);
      await eventually("finalizers and status written", () => used.has(key("security.fos1.io", "firewallrules", "update")) && used.has(key("security.fos1.io", "firewallrules/status", "patch")));
      await eventually("an event", () => fake.list("events", "default").length > 0);
      for (const o of seedObjects) fake.remove(plural(o.kind), o.metadata.name);
      await eventually("every generated object collected", () => fake.list(CCNP).length === 0 && fake.list("ciliumegressgatewaypolicies").length === 0 && fake.list("configmaps", "fos1-system").length === 0);
      await eventually("every fos1 object gone", () => seedObjects.every((o) => !fake.get(plural(o.kind), o.metadata.name)));
    } finally {
      stop.abort();
      await running;
      await fake.stop();
    }
    expect(fake.denied).toEqual([]);
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
    const granted = manifests
      .filter((m) => (m.kind === "ClusterRole" || m.kind === "Role") && String(m.metadata.name).startsWith("fos1-controller"))
      .flatMap((m) => (m.rules as Rule[]).flatMap((r) => r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => key(g, res, v, m.kind === "Role" ? m.metadata.namespace : ""))))));
    // A cluster-wide grant is used by a request in any namespace.
    const usedAnywhere = new Set([...used].map((u) => u.replace(/ [^ ]*$/, " ")));
    expect(granted.filter((g) => !(used.has(g) || (g.endsWith(" ") && usedAnywhere.has(g))))).toEqual([]);
  }, 60_000);

  test("with the agent's read-only role instead, its writes are refused (the evaluation is real)", async () => {
    const agentAccount = { namespace: "fos1-system", name: "fos1-agent" };
    const fake = startFakeCluster(rbacAuthorizer([...controllerManifests({ image: "unused" }), ...agentManifests()], agentAccount));
    seed(fake);
    const stop = new AbortController();
    const running = runController(controllerOptions(kubeApiFor(fake), "controller-0"), stop.signal);
    try {
      await eventually("a refused request", () => fake.denied.length > 0);
      expect(fake.denied.some((d) => d.includes("coordination.k8s.io/leases fos1-system/"))).toBe(true);
      expect(fake.list("leases", "fos1-system")).toEqual([]);
    } finally {
      stop.abort();
      await running;
      await fake.stop();
    }
  });
});
