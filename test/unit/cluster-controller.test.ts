// fos1 controller end to end against the FAKE API server (test/helpers/fake-apiserver.ts): real
// @kubernetes/client-node requests, informers, work queue, leader election, Cilium objects,
// status conditions, events and finalizers.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { ConfigObject } from "../../src/api/kinds";
import { MANAGED_BY_LABEL, PURPOSE_LABEL, SOURCES_ANNOTATION } from "../../src/cluster/cilium-client";
import type { Condition } from "../../src/cluster/conditions";
import type { KubeApi } from "../../src/cluster/kube-api";
import { FINALIZER } from "../../src/cluster/network-controller";
import type { Translation } from "../../src/cluster/outcomes";
import { runController, type ControllerRunOptions } from "../../src/cluster/run-controller";
import { eventually, kubeApiFor, memoryLogger, startFakeCluster } from "../helpers/cluster";
import type { FakeApiServer } from "../helpers/fake-apiserver";

// A STAND-IN for the translation (another change owns it): one CiliumClusterwideNetworkPolicy
// per FirewallRule allowing its TCP ports, and a refusal for rules that log (to see a refusal
// reach the status). Enough to drive the controller; the translation has its own tests.
function standInTranslate(objects: ConfigObject[]): Translation {
  const translation: Translation = { pieces: [], verdicts: new Map() };
  for (const o of objects) {
    if (o.kind !== "FirewallRule") continue;
    const ref = `FirewallRule/${o.metadata.name}`;
    if (o.spec.log) {
      translation.verdicts.set(ref, { ok: false, reason: "NotExpressible", message: "Cilium policies cannot log" });
      continue;
    }
    translation.verdicts.set(ref, { ok: true, reason: "Translated", message: "one policy" });
    translation.pieces.push({
      purpose: "network-policy",
      sources: [ref],
      object: {
        apiVersion: "cilium.io/v2",
        kind: "CiliumClusterwideNetworkPolicy",
        metadata: { name: `fos1-${o.metadata.name}`, annotations: { [SOURCES_ANNOTATION]: ref } },
        spec: { endpointSelector: {}, egress: [{ toPorts: [{ ports: (o.spec.ports ?? []).map((p) => ({ port: String(p), protocol: "TCP" })) }] }] },
      },
    });
  }
  return translation;
}

const base = [
  { apiVersion: "network.fos1.io/v1alpha1", kind: "NetworkInterface", metadata: { name: "wan" }, spec: { device: "eth0", addresses: ["203.0.113.2/24"] } },
  { apiVersion: "network.fos1.io/v1alpha1", kind: "NetworkInterface", metadata: { name: "lan" }, spec: { device: "eth1", addresses: ["192.168.10.1/24"] } },
  { apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallZone", metadata: { name: "lan" }, spec: { interfaces: ["lan"] } },
  { apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallZone", metadata: { name: "wan" }, spec: { interfaces: ["wan"] } },
];

function rule(name: string, ports: number[], extra: Record<string, unknown> = {}) {
  return { apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallRule", metadata: { name }, spec: { fromZone: "lan", toZone: "wan", protocol: "tcp", ports, action: "allow", ...extra } };
}

const CCNP = "ciliumclusterwidenetworkpolicies";
const RULES = "firewallrules";

function seed(fake: FakeApiServer) {
  for (const o of base) fake.put(`${o.kind.toLowerCase()}s`, o);
}

function conditions(fake: FakeApiServer, name: string): Record<string, Condition> {
  const status = fake.get(RULES, name)?.status as { conditions?: Condition[] } | undefined;
  return Object.fromEntries((status?.conditions ?? []).map((c) => [c.type, c]));
}

function portsOf(fake: FakeApiServer, policy: string): string[] | undefined {
  const spec = fake.get(CCNP, policy)?.spec as { egress: { toPorts: { ports: { port: string }[] }[] }[] } | undefined;
  return spec?.egress[0]?.toPorts[0]?.ports.map((p) => p.port);
}

function controllerOptions(api: KubeApi, identity: string, log = memoryLogger().log): ControllerRunOptions {
  return {
    api,
    translate: standInTranslate,
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

  test("a FirewallRule created → its Cilium policy appears labelled as fos1's, the rule gets a finalizer, Ready/Translated/Applied and an event", async () => {
    fake.put(RULES, rule("web", [80, 443]));
    await eventually("the policy", () => fake.get(CCNP, "fos1-web"));
    const policy = fake.get(CCNP, "fos1-web")!;
    expect(policy.metadata.labels).toMatchObject({ [MANAGED_BY_LABEL]: "fos1", [PURPOSE_LABEL]: "network-policy" });
    expect(portsOf(fake, "fos1-web")).toEqual(["80", "443"]);

    const c = await eventually("Ready=True", () => (conditions(fake, "web").Ready?.status === "True" ? conditions(fake, "web") : undefined));
    for (const type of ["Translated", "Applied", "Ready"]) {
      expect(c[type]).toMatchObject({ status: "True", observedGeneration: 1 });
      expect(c[type]!.reason).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(c[type]!.lastTransitionTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    expect(c.Applied!.message).toContain("CiliumClusterwideNetworkPolicy/fos1-web");
    expect(fake.get(RULES, "web")!.metadata.finalizers).toContain(FINALIZER);
    const events = await eventually("an Applied event", () => {
      const e = fake.list("events", "default").filter((ev) => (ev.regarding as { name: string }).name === "web");
      return e.length ? e : undefined;
    });
    expect(events[0]).toMatchObject({ reason: "Applied", type: "Normal", reportingController: "fos1.io/controller", regarding: { kind: "FirewallRule", name: "web" } });
  });

  test("a FirewallRule changed → its policy is updated and observedGeneration follows", async () => {
    fake.put(RULES, rule("web", [80]));
    await eventually("the first policy", () => portsOf(fake, "fos1-web")?.join() === "80");
    fake.put(RULES, rule("web", [8080, 8443]));
    await eventually("the updated policy", () => portsOf(fake, "fos1-web")?.join() === "8080,8443");
    const c = await eventually("status of generation 2", () => (conditions(fake, "web").Ready?.observedGeneration === 2 ? conditions(fake, "web") : undefined));
    expect(c.Ready!.status).toBe("True");
  });

  test("a FirewallRule deleted → its policy is garbage-collected before the finalizer lets the rule go; other rules' policies stay", async () => {
    fake.put(RULES, rule("web", [80]));
    fake.put(RULES, rule("dns", [53]));
    await eventually("the finalizer on web", () => fake.get(RULES, "web")?.metadata.finalizers?.includes(FINALIZER));
    await eventually("both policies", () => fake.get(CCNP, "fos1-web") && fake.get(CCNP, "fos1-dns"));
    fake.remove(RULES, "web");
    // While the finalizer holds, the rule is still there, terminating.
    expect(fake.get(RULES, "web")?.metadata.deletionTimestamp).toBeDefined();
    await eventually("the rule gone", () => fake.get(RULES, "web") === undefined);
    expect(fake.get(CCNP, "fos1-web")).toBeUndefined();
    expect(fake.get(CCNP, "fos1-dns")).toBeDefined();
  });

  test("a Cilium object someone else deletes or edits is put back; objects fos1 did not make are left alone", async () => {
    fake.put(CCNP, { apiVersion: "cilium.io/v2", kind: "CiliumClusterwideNetworkPolicy", metadata: { name: "someone-elses" }, spec: { endpointSelector: {} } });
    fake.put(RULES, rule("web", [80]));
    await eventually("the policy", () => fake.get(CCNP, "fos1-web"));
    fake.remove(CCNP, "fos1-web");
    await eventually("the policy back", () => fake.get(CCNP, "fos1-web"));
    const edited = fake.get(CCNP, "fos1-web")!;
    fake.put(CCNP, { ...edited, spec: { endpointSelector: {}, egress: [] } });
    await eventually("the edit undone", () => portsOf(fake, "fos1-web")?.join() === "80");
    expect(fake.get(CCNP, "someone-elses")).toBeDefined();
  });

  test("a rule the translation refuses: Translated=False with its reason, no policy, a Warning event", async () => {
    fake.put(RULES, rule("logged", [22], { log: true }));
    const c = await eventually("Translated=False", () => (conditions(fake, "logged").Translated?.status === "False" ? conditions(fake, "logged") : undefined));
    expect(c.Translated).toMatchObject({ reason: "NotExpressible", message: "Cilium policies cannot log" });
    expect(c.Ready).toMatchObject({ status: "False", reason: "NotExpressible" });
    expect(fake.get(CCNP, "fos1-logged")).toBeUndefined();
    await eventually("a Warning event", () => fake.list("events", "default").some((e) => e.type === "Warning" && e.reason === "NotExpressible"));
  });

  test("an invalid set (a rule naming an unknown zone) changes nothing in Cilium and says why on every object", async () => {
    fake.put(RULES, rule("web", [80]));
    await eventually("the policy", () => fake.get(CCNP, "fos1-web"));
    fake.put(RULES, rule("typo", [25], { toZone: "wna" }));
    fake.put(RULES, rule("web", [80, 81]));
    const bad = await eventually("Translated=False on typo", () => (conditions(fake, "typo").Translated?.reason === "Invalid" ? conditions(fake, "typo") : undefined));
    expect(bad.Translated!.message).toContain("wna");
    const other = await eventually("web blocked by typo", () => (conditions(fake, "web").Translated?.reason === "OtherObjectInvalid" ? conditions(fake, "web") : undefined));
    expect(other.Translated!.message).toContain("FirewallRule/typo");
    expect(portsOf(fake, "fos1-web")).toEqual(["80"]); // the previous policy stays in force
    expect(fake.get(CCNP, "fos1-typo")).toBeUndefined();
    fake.remove(RULES, "typo");
    await eventually("web's change applied once the set is valid", () => portsOf(fake, "fos1-web")?.join() === "80,81");
  });

  test("watch history lost (410 Gone) while changes happened → the informers list again and converge", async () => {
    fake.put(RULES, rule("web", [80]));
    fake.put(RULES, rule("old", [21]));
    await eventually("both policies", () => fake.get(CCNP, "fos1-web") && fake.get(CCNP, "fos1-old"));
    await eventually("old's finalizer", () => fake.get(RULES, "old")?.metadata.finalizers?.includes(FINALIZER));
    // Keep the controller from watching while the cluster changes, then forget the history.
    const unblock = fake.hook((req) => (req.watch ? Response.json({ kind: "Status", code: 503, message: "try later" }, { status: 503 }) : undefined));
    fake.closeWatches();
    fake.put(RULES, rule("web", [443]));
    fake.put(RULES, rule("new", [25]));
    fake.remove(RULES, "old");
    fake.compact();
    const expired = fake.requests.length;
    unblock();
    await eventually("web updated", () => portsOf(fake, "fos1-web")?.join() === "443");
    await eventually("new's policy", () => fake.get(CCNP, "fos1-new"));
    await eventually("old collected", () => !fake.get(CCNP, "fos1-old") && !fake.get(RULES, "old"));
    // The resumed watches really were answered 410 and followed by lists.
    const after = fake.requests.slice(expired);
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
      await eventually("a's policy", () => fake.get(CCNP, "fos1-web"));
      const events = () => fake.list("events", "default");
      await eventually("a's event", () => events().some((e) => e.reportingInstance === "controller-a"));
      expect(events().some((e) => e.reportingInstance === "controller-b")).toBe(false);

      a.abort();
      expect(await runA).toBe("stopped");
      fake.put(RULES, rule("dns", [53]));
      const lease = await eventually("b leads", () => {
        const spec = fake.get("leases", "fos1-controller", "fos1-system")?.spec as { holderIdentity?: string; leaseTransitions?: number } | undefined;
        return spec?.holderIdentity === "controller-b" ? spec : undefined;
      });
      expect(lease.leaseTransitions).toBe(1);
      await eventually("b's policy for the rule created after a stopped", () => fake.get(CCNP, "fos1-dns"), 30_000);
      await eventually("b's event", () => events().some((e) => e.reportingInstance === "controller-b"));
    } finally {
      a.abort();
      b.abort();
      await Promise.all([runA, runB]);
      await fake.stop();
    }
  }, 60_000);
});
