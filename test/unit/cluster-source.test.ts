// The agent's view of the cluster (src/cluster/node-source.ts) against the FAKE API server
// (test/helpers/fake-apiserver.ts), with the agent's RBAC from deploy/manifests enforced: the
// node-local objects meant for this node, following changes to them and to the Node's labels;
// and the management networks it writes on its Node for the controller.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mergeOverBoot } from "../../src/agent/cluster-merge";
import { ClusterSource } from "../../src/cluster/node-source";
import { MANAGEMENT_ANNOTATION, managementNetworksOf } from "../../src/cluster/management-networks";
import { agentManifests } from "../../src/cluster/manifests";
import { eventually, kubeApiFor, memoryLogger, startFakeCluster } from "../helpers/cluster";
import type { FakeApiServer } from "../helpers/fake-apiserver";
import { rbacAuthorizer } from "../helpers/rbac";

const route = (name: string, destination: string, selector?: Record<string, string>) => ({
  apiVersion: "network.fos1.io/v1alpha1",
  kind: "Route",
  metadata: { name },
  spec: { destination, gateway: "192.168.10.254", ...(selector ? { nodeSelector: selector } : {}) },
});

let fake: FakeApiServer;
let source: ClusterSource;
let changes = 0;

beforeEach(() => {
  fake = startFakeCluster(rbacAuthorizer(agentManifests(), { namespace: "fos1-system", name: "fos1-agent" }));
  fake.put("nodes", { apiVersion: "v1", kind: "Node", metadata: { name: "r1", labels: { "fos1.io/role": "router", "topology.kubernetes.io/zone": "a" } } });
  fake.put("routes", route("everywhere", "10.1.0.0/16"));
  fake.put("routes", route("zone-a", "10.2.0.0/16", { "topology.kubernetes.io/zone": "a" }));
  fake.put("routes", route("zone-b", "10.3.0.0/16", { "topology.kubernetes.io/zone": "b" }));
  fake.put("firewallrules", { apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallRule", metadata: { name: "r" }, spec: { fromZone: "lan", toZone: "wan", action: "allow" } });
  source = new ClusterSource({ api: kubeApiFor(fake), node: "r1", log: memoryLogger().log, backoff: { initialMs: 50, maxMs: 400 }, nodeRefreshMs: 100 });
  changes = 0;
  source.onChange(() => changes++);
  source.start();
});

afterEach(async () => {
  await source.stop();
  await fake.stop();
});

const names = () => source.selected().map((o) => o.metadata.name).sort();

test("takes the node-local objects meant for this node, with only the agent's read-only permissions", async () => {
  await source.synced;
  expect(names()).toEqual(["everywhere", "zone-a"]);
  expect(fake.denied).toEqual([]);
  // Merged over the shipped boot config, they become routes of the host.
  const bootFile = join(import.meta.dir, "..", "..", "src", "api", "default-config.yaml");
  const merged = mergeOverBoot(readFileSync(bootFile, "utf8"), "config.yaml", source.selected());
  expect(merged.taken.sort()).toEqual(["Route/everywhere", "Route/zone-a"]);
});

test("follows objects added, changed and deleted, and the Node's labels", async () => {
  await source.synced;
  const before = changes;
  fake.put("routes", route("new", "10.4.0.0/16", { "fos1.io/role": "router" }));
  fake.remove("routes", "everywhere");
  await eventually("the new route in, the deleted one out", () => names().join() === "new,zone-a");
  expect(changes).toBeGreaterThan(before);
  fake.put("nodes", { apiVersion: "v1", kind: "Node", metadata: { name: "r1", labels: { "fos1.io/role": "router", "topology.kubernetes.io/zone": "b" } } });
  await eventually("the zone-b route instead of zone-a", () => names().join() === "new,zone-b");
});

test("writes its boot config's management networks on its Node for the controller, under the agent's RBAC, and follows a change of them", async () => {
  const log = memoryLogger();
  let networks = ["192.168.99.0/24"];
  const writer = new ClusterSource({ api: kubeApiFor(fake), node: "r1", log: log.log, backoff: { initialMs: 50, maxMs: 400 }, nodeRefreshMs: 100, managementNetworks: () => networks });
  writer.start();
  try {
    const annotation = () => fake.get("nodes", "r1")?.metadata.annotations?.[MANAGEMENT_ANNOTATION];
    await eventually("the annotation", () => annotation() === "192.168.99.0/24");
    networks = ["fd00:99::/64", "192.168.99.0/24"];
    await eventually("the annotation follows", () => annotation() === "192.168.99.0/24,fd00:99::/64");
    expect(fake.denied).toEqual([]);
    // Its labels are left as they were.
    expect(fake.get("nodes", "r1")?.metadata.labels).toEqual({ "fos1.io/role": "router", "topology.kubernetes.io/zone": "a" });
    expect(managementNetworksOf([fake.get("nodes", "r1")!])).toEqual(["192.168.99.0/24", "fd00:99::/64"]);
  } finally {
    await writer.stop();
  }
});
