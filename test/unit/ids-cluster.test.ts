// IDS blocks in the cluster (src/ids/cilium-sink.ts): a CiliumClusterwideNetworkPolicy
// denying the blocked sources, written through the CiliumClient's "ids-block" job against the
// FAKE API server (test/helpers/fake-apiserver.ts), checked against Cilium's published CRD
// schema, and removed source by source as blocks expire. Time is passed in (the CLI test,
// ids-cli.test.ts, runs a real short TTL).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { KubeCiliumClient, MANAGED_BY_LABEL, PURPOSE_LABEL, FIELD_MANAGER } from "../../src/cluster/cilium-client";
import type { ClientNodeKubeApi } from "../../src/cluster/kube-client";
import { CiliumSink, EXPIRY_ANNOTATION, IDS_BLOCK_POLICY, idsBlockPolicy } from "../../src/ids/cilium-sink";
import type { Block } from "../../src/ids/policy";
import { kubeApiFor, memoryLogger, startFakeCluster } from "../helpers/cluster";
import type { FakeApiServer } from "../helpers/fake-apiserver";
import { ciliumSchemaErrors } from "./cilium-schemas";

const CCNP = "ciliumclusterwidenetworkpolicies";
const T0 = Date.parse("2025-03-14T09:30:00Z");
const MINUTE = 60_000;

let fake: FakeApiServer;
let api: ClientNodeKubeApi;

beforeAll(() => {
  fake = startFakeCluster();
  api = kubeApiFor(fake);
});
afterAll(() => fake.stop());

const client = () => new KubeCiliumClient(api, async (type, purpose) => (await api.list(type, { labelSelector: `${MANAGED_BY_LABEL}=${FIELD_MANAGER},${PURPOSE_LABEL}=${purpose}` })).items, memoryLogger().log);
const sink = (max?: number) => new CiliumSink(client(), api, memoryLogger().log, max);
const block = (prefix: string, expiresAt: number): Block => ({ prefix, expiresAt, source: "ids:2001219", signature: "ET SCAN Potential SSH Scan", severity: 2 });

interface DenySpec {
  endpointSelector?: unknown;
  nodeSelector?: { matchLabels: Record<string, string> };
  ingressDeny: { fromCIDR: string[] }[];
  enableDefaultDeny: { ingress: boolean; egress: boolean };
}
const policy = () => fake.get(CCNP, IDS_BLOCK_POLICY) as { kind: string; metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> }; specs: DenySpec[] } | undefined;
const denied = () => policy()?.specs.map((s) => s.ingressDeny[0]!.fromCIDR);

describe("the IDS deny policy", () => {
  test("denies the blocked sources to every pod and to the router nodes, adding denies only; valid for Cilium's CRD", () => {
    const p = idsBlockPolicy(new Map([["203.0.113.7/32", T0 + MINUTE], ["2001:db8:bad::17/128", T0 + 2 * MINUTE]]))!;
    expect(ciliumSchemaErrors(p)).toBe("");
    const specs = p.specs as DenySpec[];
    expect(specs.map((s) => [s.endpointSelector ?? s.nodeSelector, s.ingressDeny, s.enableDefaultDeny])).toEqual([
      [{}, [{ fromCIDR: ["2001:db8:bad::17/128", "203.0.113.7/32"] }], { ingress: false, egress: false }],
      [{ matchLabels: { "fos1.io/role": "router" } }, [{ fromCIDR: ["2001:db8:bad::17/128", "203.0.113.7/32"] }], { ingress: false, egress: false }],
    ]);
    expect(idsBlockPolicy(new Map())).toBeNull();
  });

  test("blocks appear in the cluster, labelled fos1's and the ids-block job's, and go as each one expires; the last takes the policy with it", async () => {
    const s = sink();
    expect(await s.existing(T0)).toEqual([]);
    const r = await s.add([block("203.0.113.7/32", T0 + MINUTE), block("198.51.100.99/32", T0 + 2 * MINUTE)], T0);
    expect(r).toEqual({ written: ["203.0.113.7/32", "198.51.100.99/32"], failed: [] });
    expect(denied()).toEqual([["198.51.100.99/32", "203.0.113.7/32"], ["198.51.100.99/32", "203.0.113.7/32"]]);
    expect(policy()!.metadata.labels).toMatchObject({ [MANAGED_BY_LABEL]: "fos1", [PURPOSE_LABEL]: "ids-block" });
    expect(ciliumSchemaErrors(policy()!)).toBe("");

    await s.tick(T0 + MINUTE - 1);
    expect(denied()![0]).toEqual(["198.51.100.99/32", "203.0.113.7/32"]);
    await s.tick(T0 + MINUTE);
    expect(denied()).toEqual([["198.51.100.99/32"], ["198.51.100.99/32"]]);
    await s.tick(T0 + 2 * MINUTE);
    expect(policy()).toBeUndefined();
  });

  test("a restarted reader takes the blocks back from the policy and removes the ones that expired meanwhile", async () => {
    await sink().add([block("203.0.113.8/32", T0 + MINUTE), block("203.0.113.9/32", T0 + 3 * MINUTE)], T0);
    const again = sink();
    expect(await again.existing(T0 + 2 * MINUTE)).toEqual([{ prefix: "203.0.113.9/32", expiresAt: T0 + 3 * MINUTE, evictable: true }]);
    await again.tick(T0 + 2 * MINUTE);
    expect(denied()![0]).toEqual(["203.0.113.9/32"]);
    expect(JSON.parse(policy()!.metadata.annotations[EXPIRY_ANNOTATION]!)).toEqual({ "203.0.113.9/32": "2025-03-14T09:33:00.000Z" });
    await again.tick(T0 + 3 * MINUTE);
    expect(policy()).toBeUndefined();
  });

  test("the controller's own jobs leave the policy alone (their garbage collection is per job)", async () => {
    const s = sink();
    await s.add([block("203.0.113.10/32", T0 + MINUTE)], T0);
    const c = client();
    await c.applyNetworkPolicy([]);
    await c.configureDPIIntegration([]);
    expect(denied()![0]).toEqual(["203.0.113.10/32"]);
    await s.tick(T0 + MINUTE);
    expect(policy()).toBeUndefined();
  });

  test("at most the configured number of sources; beyond it the oldest make room (a batch larger than the whole policy loses its own first)", async () => {
    const s = sink(2);
    expect(await s.add([block("203.0.113.11/32", T0 + MINUTE), block("203.0.113.12/32", T0 + MINUTE + 1)], T0)).toEqual({ written: ["203.0.113.11/32", "203.0.113.12/32"], failed: [] });
    expect(await s.add([block("203.0.113.13/32", T0 + MINUTE + 2)], T0 + 2)).toEqual({ written: ["203.0.113.13/32"], failed: [] });
    expect(denied()![0]).toEqual(["203.0.113.12/32", "203.0.113.13/32"]);
    const r = await s.add([block("203.0.113.14/32", T0 + MINUTE + 3), block("203.0.113.15/32", T0 + MINUTE + 3), block("203.0.113.16/32", T0 + MINUTE + 3)], T0 + 3);
    expect(r.written).toEqual(["203.0.113.15/32", "203.0.113.16/32"]);
    expect(r.failed).toEqual([{ prefix: "203.0.113.14/32", error: "evicted at once: the batch is larger than --cluster-max-blocks (2)" }]);
    expect(denied()![0]).toEqual(["203.0.113.15/32", "203.0.113.16/32"]);
    await s.tick(T0 + 2 * MINUTE);
    expect(policy()).toBeUndefined();
  });

  test("sources the policy evicts leave the cluster's policy at the next tick", async () => {
    const s = sink();
    await s.add([block("203.0.113.17/32", T0 + MINUTE), block("203.0.113.18/32", T0 + MINUTE)], T0);
    await s.remove(["203.0.113.17/32", "198.51.100.1/32"]); // one it does not hold: no error
    await s.tick(T0 + 1);
    expect(denied()![0]).toEqual(["203.0.113.18/32"]);
    await s.tick(T0 + MINUTE);
    expect(policy()).toBeUndefined();
  });

  test("an API server that refuses: the batch fails and is not kept; the next write puts it in", async () => {
    const s = sink();
    const stop = fake.hook((req) => (req.path.includes(CCNP) ? Response.json({ kind: "Status", code: 503, message: "etcd unavailable" }, { status: 503 }) : undefined));
    const r = await s.add([block("203.0.113.14/32", T0 + MINUTE)], T0);
    stop();
    expect(r.written).toEqual([]);
    expect(r.failed.map((f) => f.prefix)).toEqual(["203.0.113.14/32"]);
    expect(policy()).toBeUndefined();
    expect((await s.add([block("203.0.113.14/32", T0 + MINUTE)], T0 + 1)).written).toEqual(["203.0.113.14/32"]);
    expect(denied()![0]).toEqual(["203.0.113.14/32"]);
    await s.tick(T0 + MINUTE);
    expect(policy()).toBeUndefined();
  });
});
