// The controller's metrics and readiness, fed by a real run of the controller against the FAKE
// API server (test/helpers/fake-apiserver.ts): what /metrics and /readyz of `fos1 controller`
// say after creating, changing and deleting objects, after API errors and lost watches, and for
// a leader and a standby.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { plural } from "../../src/api/crds";
import { FIELD_MANAGER, MANAGED_BY_LABEL } from "../../src/cluster/cilium-client";
import { ciliumTranslator } from "../../src/cluster/cilium-translator";
import { ControllerMetrics } from "../../src/cluster/controller-metrics";
import { observeAll, type ControllerObserver } from "../../src/cluster/controller-observer";
import { ControllerReadiness } from "../../src/cluster/controller-readiness";
import { KubeError } from "../../src/cluster/kube-api";
import { apiErrorReason } from "../../src/cluster/observed-kube-api";
import { GENERATED_RESOURCES } from "../../src/cluster/resources";
import { runController } from "../../src/cluster/run-controller";
import { eventually, kubeApiFor, memoryLogger, startFakeCluster } from "../helpers/cluster";
import type { FakeApiServer } from "../helpers/fake-apiserver";
import { samples, value, type Sample } from "../helpers/prometheus";

const nic = (name: string, device: string, address: string) => ({ apiVersion: "network.fos1.io/v1alpha1", kind: "NetworkInterface", metadata: { name }, spec: { device, addresses: [address] } });
const zone = (name: string) => ({ apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallZone", metadata: { name }, spec: { interfaces: [name] } });
const rule = (name: string, toZone: string, ports: number[]) => ({ apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallRule", metadata: { name }, spec: { fromZone: "lan", toZone, protocol: "tcp", ports, action: "allow" } });
const base = [nic("wan", "eth0", "203.0.113.2/24"), nic("lan", "eth1", "192.168.10.1/24"), nic("dmz", "eth2", "192.168.20.1/24"), zone("lan"), zone("wan")];

const CCNP = "CiliumClusterwideNetworkPolicy";

/** A controller instance as `fos1 controller` wires it: metrics and readiness fed by one observer. */
class Instance {
  readonly metrics = new ControllerMetrics();
  readonly readiness = new ControllerReadiness();
  /** Every queue depth the controller reported, in order. */
  readonly depths: number[] = [];
  private readonly stop = new AbortController();
  readonly running: Promise<"stopped" | "lost">;

  constructor(fake: FakeApiServer, identity: string) {
    const depths: Partial<ControllerObserver> = { queueDepth: (n) => this.depths.push(n) };
    this.running = runController(
      {
        api: kubeApiFor(fake),
        translate: ciliumTranslator("fos1-system"),
        log: memoryLogger().log,
        namespace: "fos1-system",
        leaseName: "fos1-controller",
        identity,
        leaseDurationMs: 2000,
        renewDeadlineMs: 1500,
        retryPeriodMs: 250,
        informerBackoff: { initialMs: 50, maxMs: 400 },
        retry: { initialMs: 20, maxMs: 400 },
        observer: observeAll(this.metrics, this.readiness, depths),
      },
      this.stop.signal,
    );
  }

  async scrape(): Promise<Sample[]> {
    return samples(await this.metrics.render());
  }

  async halt(): Promise<void> {
    this.stop.abort();
    await this.running;
  }
}

/** The objects fos1 made in the cluster, by kind: what the translated-objects gauge should say once converged. */
function madeByFos1(fake: FakeApiServer): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of GENERATED_RESOURCES) {
    const namespace = type.namespaced ? "fos1-system" : undefined;
    counts.set(type.kind, fake.list(type.plural, namespace).filter((o) => o.metadata.labels?.[MANAGED_BY_LABEL] === FIELD_MANAGER).length);
  }
  return counts;
}

function gauge(all: Sample[]): Map<string, number> {
  return new Map(all.filter((s) => s.name === "fos1_controller_translated_objects").map((s) => [s.labels.kind!, s.value]));
}

const count = (all: Sample[], name: string, labels: Record<string, string>) => value(all, name, labels) ?? 0;

/**
 * Waits until the controller is ready, nothing is queued, the gauge agrees with what the cluster
 * holds and `also` holds (a reconcile in progress is not queued: say what it must have counted).
 */
async function converged(fake: FakeApiServer, c: Instance, what: string, also: (all: Sample[]) => boolean = () => true): Promise<Sample[]> {
  return eventually(what, async () => {
    const all = await c.scrape();
    const idle = c.readiness.report().ready && value(all, "fos1_controller_queue_depth") === 0;
    return idle && JSON.stringify([...gauge(all)]) === JSON.stringify([...madeByFos1(fake)]) && also(all) ? all : undefined;
  });
}

const successes = (all: Sample[], kind: string) => count(all, "fos1_controller_reconciles_total", { kind, outcome: "success" });

describe("controller metrics against the fake API server", () => {
  let fake: FakeApiServer;
  let c: Instance;

  beforeEach(() => {
    fake = startFakeCluster();
    for (const o of base) fake.put(plural(o.kind), o);
    c = new Instance(fake, "controller-0");
  });

  afterEach(async () => {
    await c.halt();
    await fake.stop();
  });

  test("create, update, delete: reconciles counted by kind and outcome, durations observed, translated objects follow the Cilium objects, the queue drains to 0", async () => {
    const start = await converged(fake, c, "the first sync counted", (all) => successes(all, "sync") >= 1);
    const ccnp0 = gauge(start).get(CCNP)!;
    expect(ccnp0).toBeGreaterThan(0);

    fake.put("firewallzones", zone("dmz"));
    fake.put("firewallrules", rule("web", "dmz", [80]));
    await eventually("the dmz zone's policy", () => fake.get("ciliumclusterwidenetworkpolicies", "fos1-zone-dmz"));
    // Each change is translated again (a sync), and the objects' own reconciles (finalizer, status) run.
    const created = await converged(fake, c, "a sync and the rule's reconcile counted after the create", (all) => successes(all, "sync") > successes(start, "sync") && successes(all, "FirewallRule") >= 1);
    expect(gauge(created).get(CCNP)).toBe(ccnp0 + 1);

    fake.put("firewallrules", rule("web", "dmz", [80, 443]));
    await eventually("the rule's new port in the policy", () => JSON.stringify(fake.get("ciliumclusterwidenetworkpolicies", "fos1-zone-dmz")?.spec).includes('"443"'));
    const updated = await converged(fake, c, "a sync counted after the update", (all) => successes(all, "sync") > successes(created, "sync"));
    expect(gauge(updated).get(CCNP)).toBe(ccnp0 + 1);

    fake.remove("firewallrules", "web");
    fake.remove("firewallzones", "dmz");
    await eventually("the dmz zone and its policy gone", () => !fake.get("firewallzones", "dmz") && !fake.get("ciliumclusterwidenetworkpolicies", "fos1-zone-dmz"));
    const deleted = await converged(fake, c, "a sync and the zone's finalizer counted after the delete", (all) => successes(all, "sync") > successes(updated, "sync") && successes(all, "FirewallZone") > successes(updated, "FirewallZone"));
    expect(gauge(deleted).get(CCNP)).toBe(ccnp0);

    for (const outcome of ["error", "invalid", "refused"]) expect(count(deleted, "fos1_controller_reconciles_total", { kind: "sync", outcome })).toBe(0);
    // Every reconcile counted was timed, under the same kind.
    for (const kind of ["sync", "FirewallRule", "FirewallZone"]) {
      const total = deleted.filter((s) => s.name === "fos1_controller_reconciles_total" && s.labels.kind === kind).reduce((sum, s) => sum + s.value, 0);
      expect(value(deleted, "fos1_controller_reconcile_duration_seconds_count", { kind })).toBe(total);
    }
    expect(value(deleted, "fos1_controller_reconcile_duration_seconds_sum", { kind: "sync" })).toBeGreaterThan(0);
    // The queue held work on the way and is empty now.
    expect(Math.max(...c.depths)).toBeGreaterThan(0);
    expect(c.depths.at(-1)).toBe(0);
    expect(value(deleted, "fos1_controller_errors_total", { kind: CCNP, reason: "InternalError" })).toBeUndefined();
  });

  test("an API error is counted by kind and reason, the sync that hit it as an error; the retry succeeds", async () => {
    await converged(fake, c, "the first sync");
    let injected = 0;
    fake.hook((req) => {
      if (req.method !== "PATCH" || !req.path.endsWith("/ciliumclusterwidenetworkpolicies/fos1-zone-dmz") || injected > 0) return undefined;
      injected++;
      return Response.json({ kind: "Status", apiVersion: "v1", status: "Failure", code: 500, reason: "InternalError", message: "injected by the test" }, { status: 500 });
    });
    fake.put("firewallzones", zone("dmz"));
    await eventually("the dmz zone's policy, after the retry", () => fake.get("ciliumclusterwidenetworkpolicies", "fos1-zone-dmz"));
    const all = await converged(fake, c, "converged after the retry");
    expect(injected).toBe(1);
    expect(value(all, "fos1_controller_errors_total", { kind: CCNP, reason: "InternalError" })).toBe(1);
    expect(count(all, "fos1_controller_reconciles_total", { kind: "sync", outcome: "error" })).toBe(1);
  });

  test("an invalid set is a sync with outcome invalid, and the translated objects stay what Cilium holds", async () => {
    const before = await converged(fake, c, "the first sync");
    fake.put("firewallrules", rule("typo", "wna", [25]));
    const all = await eventually("an invalid sync", async () => {
      const now = await c.scrape();
      return count(now, "fos1_controller_reconciles_total", { kind: "sync", outcome: "invalid" }) >= 1 ? now : undefined;
    });
    expect(gauge(all)).toEqual(gauge(before));
    expect(count(all, "fos1_controller_reconciles_total", { kind: "sync", outcome: "error" })).toBe(0);
  });

  test("lost watches: informers restarting are counted by resource and reason (expired: listed again; failed), the refusals as API errors", async () => {
    await converged(fake, c, "the first sync");
    const unblock = fake.hook((req) => (req.watch ? Response.json({ kind: "Status", code: 503, message: "try later" }, { status: 503 }) : undefined));
    fake.closeWatches();
    fake.put("firewallrules", rule("web", "wan", [443]));
    fake.compact();
    await eventually("a refused watch counted", async () => count(await c.scrape(), "fos1_controller_errors_total", { kind: "FirewallRule", reason: "ServiceUnavailable" }) >= 1);
    expect(count(await c.scrape(), "fos1_controller_watch_restarts_total", { resource: "firewallrules", reason: "expired" })).toBe(0);
    unblock();
    await eventually("the rule translated after the re-list", () => JSON.stringify(fake.get("ciliumclusterwidenetworkpolicies", "fos1-zone-lan")?.spec).includes('"443"'));
    const all = await c.scrape();
    expect(count(all, "fos1_controller_watch_restarts_total", { resource: "firewallrules", reason: "failed" })).toBeGreaterThanOrEqual(1);
    expect(count(all, "fos1_controller_watch_restarts_total", { resource: "firewallrules", reason: "expired" })).toBeGreaterThanOrEqual(1);
  });
});

describe("leadership and readiness", () => {
  test("the leader is ready only once its caches are synced; a standby is ready and names the leader; stopped, neither leads nor counts objects", async () => {
    const fake = startFakeCluster();
    for (const o of base) fake.put(plural(o.kind), o);
    // The leader's first list of FirewallRules does not get through until the test lets it.
    const unblock = fake.hook((req) => (req.method === "GET" && !req.watch && req.path.endsWith("/firewallrules") ? Response.json({ kind: "Status", code: 503, message: "try later" }, { status: 503 }) : undefined));
    const a = new Instance(fake, "controller-a");
    let b: Instance | undefined;
    try {
      await eventually("a leads", () => a.readiness.report().leadership === "leader");
      expect(a.readiness.report()).toMatchObject({ ready: false, cachesSynced: false, status: "leading; waiting for the informers' first lists" });
      expect(value(await a.scrape(), "fos1_controller_leader")).toBe(1);

      b = new Instance(fake, "controller-b");
      const standby = await eventually("b a standby", () => (b!.readiness.report().leadership === "standby" ? b!.readiness.report() : undefined));
      expect(standby).toMatchObject({ ready: true, leader: "controller-a", status: "standby: controller-a leads" });
      expect(value(await b.scrape(), "fos1_controller_leader")).toBe(0);

      unblock();
      await converged(fake, a, "a synced and converged");
      expect(a.readiness.report()).toMatchObject({ ready: true, cachesSynced: true, status: "leading; caches synced" });
      expect(Math.max(...gauge(await b.scrape()).values())).toBe(0);

      await a.halt();
      const stopped = await a.scrape();
      expect(a.readiness.report()).toMatchObject({ ready: false, leadership: "stopped" });
      expect(value(stopped, "fos1_controller_leader")).toBe(0);
      expect(Math.max(...gauge(stopped).values())).toBe(0);
      expect(value(stopped, "fos1_controller_queue_depth")).toBe(0);
      await eventually("b takes over", async () => value(await b!.scrape(), "fos1_controller_leader") === 1);
    } finally {
      await a.halt();
      await b?.halt();
      await fake.stop();
    }
  });

  test("before any answer from the API server an instance is not ready, and says so", () => {
    expect(new ControllerReadiness().report()).toMatchObject({ ready: false, leadership: "starting" });
    const r = new ControllerReadiness();
    r.leadership({ state: "unknown", error: "connect ECONNREFUSED 10.96.0.1:443" });
    expect(r.report()).toMatchObject({ ready: false, status: "cannot campaign for the Lease: connect ECONNREFUSED 10.96.0.1:443" });
  });
});

test("an API error's reason: the Status reason, else one from the HTTP status, else NoResponse", () => {
  expect(apiErrorReason(new KubeError(409, "Conflict", "the object has been modified"))).toBe("Conflict");
  expect(apiErrorReason(new KubeError(503, "", "HTTP 503"))).toBe("ServiceUnavailable");
  expect(apiErrorReason(new KubeError(418, "", "HTTP 418"))).toBe("HTTP418");
  expect(apiErrorReason(new TypeError("fetch failed"))).toBe("NoResponse");
});
