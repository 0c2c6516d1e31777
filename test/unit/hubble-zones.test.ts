// Which fos1 zone a Hubble endpoint is in (src/flows/zones.ts), on the router of the
// recorded flows (test/unit/hubble/router.yaml).
import { describe, expect, test } from "bun:test";
import { loadConfigText } from "../../src/api/load";
import { zoneMapFromConfig, type HostAddresses } from "../../src/flows/zones";

const ROUTER = new URL("./hubble/router.yaml", import.meta.url).pathname;
const objects = async () => loadConfigText(await Bun.file(ROUTER).text(), ROUTER).objects;
const world = { labels: ["reserved:world"] };

describe("zones of flow endpoints", () => {
  test("lists the config's zones", async () => {
    expect(zoneMapFromConfig(await objects()).zones).toEqual(["guest", "lan", "mgmt", "wan"]);
  });

  test("an address is in the zone whose interface network holds it, IPv4 and IPv6", async () => {
    const zones = zoneMapFromConfig(await objects());
    expect(zones.zoneOf(world, "192.168.10.23")).toBe("lan");
    expect(zones.zoneOf(world, "192.168.20.77")).toBe("guest");
    expect(zones.zoneOf(world, "192.168.99.10")).toBe("mgmt");
    expect(zones.zoneOf(world, "2001:db8:10::23")).toBe("lan");
    expect(zones.zoneOf(world, "2001:db8:20::77")).toBe("guest");
  });

  test("the router's own addresses and the reserved:host identity are the host", async () => {
    const zones = zoneMapFromConfig(await objects());
    expect(zones.zoneOf(world, "192.168.10.1")).toBe("host");
    expect(zones.zoneOf(world, "2001:db8:10::1")).toBe("host");
    expect(zones.zoneOf({ labels: ["reserved:host"] }, "203.0.113.9")).toBe("host");
  });

  test("everything else is behind the DHCP uplink's default route: wan, for both families", async () => {
    const zones = zoneMapFromConfig(await objects());
    expect(zones.zoneOf(world, "93.184.216.34")).toBe("wan");
    expect(zones.zoneOf(world, "2606:4700::1111")).toBe("wan");
  });

  test("a static route's destination is in the zone of its gateway (longest prefix wins over the default)", async () => {
    const zones = zoneMapFromConfig(await objects());
    expect(zones.zoneOf(world, "10.20.3.4")).toBe("lan");
    expect(zones.zoneOf(world, "10.21.0.1")).toBe("wan");
  });

  test("a pod labelled fos1.io/zone, as the translated policies select zones' pods, is in that zone — in a namespace that allows it", async () => {
    const zones = zoneMapFromConfig(await objects());
    const allowed = "k8s:io.cilium.k8s.namespace.labels.fos1.io/pod-zones=true";
    expect(zones.zoneOf({ labels: ["k8s:app=web", "k8s:fos1.io/zone=guest", allowed] }, "192.168.10.23")).toBe("guest");
    expect(zones.zoneOf({ labels: ["k8s:fos1.io/zone=nosuchzone", allowed] }, "192.168.10.23")).toBe("lan");
    // Its own label in a namespace no admin allowed: placed by its address, as Cilium's policies treat it.
    expect(zones.zoneOf({ labels: ["k8s:app=web", "k8s:fos1.io/zone=guest"] }, "192.168.10.23")).toBe("lan");
  });

  test("a pod carrying a zone interface's cilium.labels is in that zone, whatever its address", async () => {
    const zones = zoneMapFromConfig(await objects());
    expect(zones.zoneOf({ labels: ["k8s:app=web", "k8s:zone=lan"] }, "10.0.1.15")).toBe("lan");
    expect(zones.zoneOf({ labels: ["k8s:app=web", "k8s:zone=guest"] }, "10.0.1.16")).toBe("guest");
    expect(zones.zoneOf({ labels: ["k8s:app=web"] }, "10.0.1.17")).toBe("wan");
  });

  test("on the node, the kernel's addresses of zone interfaces count (delegated prefixes are in no config)", async () => {
    const host: HostAddresses[] = [
      { name: "lan", mac: null, addresses: [{ cidr: "2001:db8:77:10::1/64" }] },
      { name: "eth9", mac: null, addresses: [{ cidr: "172.16.0.1/24" }] },
    ];
    const zones = zoneMapFromConfig(await objects(), host);
    expect(zones.zoneOf(world, "2001:db8:77:10::99")).toBe("lan");
    expect(zones.zoneOf(world, "2001:db8:77:10::1")).toBe("host");
    expect(zones.zoneOf(world, "172.16.0.5")).toBe("wan");
  });

  test("without a default route, an address in no zone network is unknown", () => {
    const text = [
      "apiVersion: network.fos1.io/v1alpha1\nkind: NetworkInterface\nmetadata: {name: mgmt}\nspec: {device: eth3, addresses: [192.168.99.1/24], zone: mgmt}",
      "apiVersion: security.fos1.io/v1alpha1\nkind: FirewallZone\nmetadata: {name: mgmt}\nspec: {management: true}",
    ].join("\n---\n");
    const zones = zoneMapFromConfig(loadConfigText(text, "inline.yaml").objects);
    expect(zones.zoneOf(world, "192.168.99.7")).toBe("mgmt");
    expect(zones.zoneOf(world, "8.8.8.8")).toBe("unknown");
    expect(zones.zoneOf(undefined, undefined)).toBe("unknown");
  });
});
