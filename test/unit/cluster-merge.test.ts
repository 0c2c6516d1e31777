// The agent's merge of node-local cluster objects over its boot config (the shipped default
// config here: management zone on eth3, 192.168.99.1/24): what is taken, what the boot config
// keeps on the management path, and which node an object is for.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ConfigObject } from "../../src/api/kinds";
import { desiredState } from "../../src/engine/desired";
import { mergeOverBoot, selectForNode } from "../../src/agent/cluster-merge";
import { loadConfigText } from "../../src/api/load";
import { managementNetworks } from "../../src/policy/model";

const bootFile = join(import.meta.dir, "..", "..", "src", "api", "default-config.yaml");
const bootText = readFileSync(bootFile, "utf8");

const obj = (kind: string, name: string, spec: Record<string, unknown>) =>
  ({ apiVersion: kind === "XDPFilter" ? "security.fos1.io/v1alpha1" : "network.fos1.io/v1alpha1", kind, metadata: { name }, spec }) as unknown as ConfigObject;

const merge = (...cluster: ConfigObject[]) => mergeOverBoot(bootText, "config.yaml", cluster);
const reasons = (m: ReturnType<typeof merge>) => Object.fromEntries(m.leftOut.map((l) => [l.ref, l.reason]));

describe("merging cluster objects over the boot config", () => {
  test("new links and routes away from the management path are taken and end up in the host's desired state", () => {
    const m = merge(
      obj("NetworkInterface", "iot", { vlan: { parent: "trunk", id: 30 }, addresses: ["192.168.30.1/24"], zone: "lan" }),
      obj("Route", "lab", { destination: "10.30.0.0/16", gateway: "192.168.30.254" }),
    );
    expect(m.leftOut).toEqual([]);
    expect(m.taken.sort()).toEqual(["NetworkInterface/iot", "Route/lab"]);
    const d = desiredState(m.objects);
    expect(d.links.find((l) => l.name === "iot")).toMatchObject({ vlan: { parent: "eth2", id: 30 }, addresses: ["192.168.30.1/24"] });
    expect(d.routes.some((r) => r.dst === "10.30.0.0/16" && r.gateway === "192.168.30.254")).toBe(true);
    expect(m.text).toContain("name: iot");
  });

  test("a cluster object replaces the boot object of the same kind and name", () => {
    const m = merge(obj("NetworkInterface", "guest", { vlan: { parent: "trunk", id: 20 }, addresses: ["192.168.20.1/24", "192.168.21.1/24"], delegatedPrefix: { from: "uplink", subnetId: 20 }, zone: "guest" }));
    expect(m.leftOut).toEqual([]);
    const guest = desiredState(m.objects).links.find((l) => l.name === "guest");
    expect(guest?.addresses).toEqual(["192.168.20.1/24", "192.168.21.1/24"]);
    expect(m.objects.filter((o) => o.ref === "NetworkInterface/guest")).toHaveLength(1);
  });

  test("the boot config wins on the management path; the other cluster objects are still taken", () => {
    const m = merge(
      obj("NetworkInterface", "mgmt", { device: "eth3", addresses: ["10.199.0.1/24"], zone: "mgmt" }), // re-addresses the management NIC
      obj("Route", "steal", { destination: "192.168.99.128/25", gateway: "192.168.10.254" }), // part of the management network elsewhere
      obj("RoutingPolicy", "everything", { priority: 100, family: "ipv4", table: 200 }), // every packet to another table first
      obj("VRF", "blue", { table: 100, members: ["mgmt"] }), // the management NIC into a VRF
      obj("XDPFilter", "mgmt-drop", { interfaces: ["mgmt"], blocklist: ["192.168.99.0/24"] }),
      obj("RoutingPolicy", "guests-out", { priority: 1000, family: "ipv4", iif: "guest", table: 200 }), // fine: only guest's traffic
      obj("Route", "wide", { destination: "192.168.0.0/16", gateway: "192.168.10.254" }), // fine: less specific than 192.168.99.0/24
    );
    const why = reasons(m);
    expect(Object.keys(why).sort()).toEqual(["NetworkInterface/mgmt", "Route/steal", "RoutingPolicy/everything", "VRF/blue", "XDPFilter/mgmt-drop"]);
    for (const reason of Object.values(why)) expect(reason).toContain("management path");
    expect(m.taken.sort()).toEqual(["Route/wide", "RoutingPolicy/guests-out"]);
    const d = desiredState(m.objects);
    expect(d.links.find((l) => l.name === "eth3")).toMatchObject({ addresses: ["192.168.99.1/24"] });
    expect(d.links.find((l) => l.name === "eth3")?.master).toBeUndefined();
  });

  test("the boot config also decides who faces the internet: an interface moved into the uplinks' zone, or out of it, is left out", () => {
    const m = merge(
      obj("NetworkInterface", "iot", { vlan: { parent: "trunk", id: 30 }, addresses: ["192.168.30.1/24"], zone: "wan" }), // a LAN treated as the internet
      obj("NetworkInterface", "uplink", { bond: { mode: "802.3ad", members: ["wan1", "wan2"], lacpRate: "fast", xmitHashPolicy: "layer3+4" }, dhcp: { v4: true, v6: true, prefixDelegation: { hintLength: 56 } }, zone: "lan" }), // the uplink out of wan
      obj("NetworkInterface", "lab", { vlan: { parent: "trunk", id: 40 }, addresses: ["192.168.40.1/24"], zone: "lan" }), // fine
    );
    const why = reasons(m);
    expect(Object.keys(why).sort()).toEqual(["NetworkInterface/iot", "NetworkInterface/uplink"]);
    for (const reason of Object.values(why)) expect(reason).toContain("it would change who is in the zone wan (the uplinks' zone)");
    expect(m.taken).toEqual(["NetworkInterface/lab"]);
  });

  test("a cluster object that makes the merged config invalid is left out, saying why", () => {
    const m = merge(obj("Route", "nowhere", { destination: "10.40.0.0/16", interface: "nosuch" }), obj("Route", "lab", { destination: "10.30.0.0/16", gateway: "192.168.10.254" }));
    expect(reasons(m)["Route/nowhere"]).toContain("the merged config is invalid");
    expect(reasons(m)["Route/nowhere"]).toContain("nosuch");
    expect(m.taken).toEqual(["Route/lab"]);
  });
});

describe("which cluster objects are for this node", () => {
  const labels = { "kubernetes.io/hostname": "r1", "fos1.io/role": "router", "topology.kubernetes.io/zone": "a" };

  test("by spec.nodeSelector, every label matching (none: every node); cluster-level kinds are the controller's", () => {
    const selected = selectForNode(
      [
        obj("Route", "everywhere", { destination: "10.1.0.0/16", gateway: "192.168.10.254" }),
        obj("Route", "zone-a", { destination: "10.2.0.0/16", gateway: "192.168.10.254", nodeSelector: { "fos1.io/role": "router", "topology.kubernetes.io/zone": "a" } }),
        obj("Route", "zone-c", { destination: "10.3.0.0/16", gateway: "192.168.10.254", nodeSelector: { "topology.kubernetes.io/zone": "c" } }),
        obj("Route", "one-of-two", { destination: "10.4.0.0/16", gateway: "192.168.10.254", nodeSelector: { "fos1.io/role": "router", "kubernetes.io/hostname": "r2" } }),
        { apiVersion: "security.fos1.io/v1alpha1", kind: "FirewallRule", metadata: { name: "r" }, spec: { fromZone: "lan", toZone: "wan", action: "allow" } } as ConfigObject,
      ],
      labels,
    );
    expect(selected.map((o) => o.metadata.name)).toEqual(["everywhere", "zone-a"]);
  });
});

test("the boot config's management networks, which the agent writes on its Node: the management zone's interfaces' networks", () => {
  const loaded = loadConfigText(bootText, "config.yaml");
  expect(managementNetworks(loaded.objects)).toEqual(["192.168.99.0/24"]);
  const twoNetworks = bootText.replace("spec: {device: eth3, addresses: [192.168.99.1/24], zone: mgmt}", "spec: {device: eth3, addresses: [192.168.99.1/24, 192.168.98.7/25, 'fd00:99::1/64'], zone: mgmt}");
  expect(managementNetworks(loadConfigText(twoNetworks, "config.yaml").objects)).toEqual(["192.168.98.0/25", "192.168.99.0/24", "fd00:99::/64"]);
});
